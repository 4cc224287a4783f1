//! The lab API over its own listener, with the platform in process: the reads, the actions on
//! the registers, and the refusals at the edge (token, body) and from the platform.

use super::live::MeterWatch;
use super::{LabApi, provision, runs};
use crate::labdb::LabDb;
use clock::{Clock, SignedDuration, SimClock, SystemClock};
use scenarios::access::AccessClient;
use server::{App, BrokerSpec, Config};
use std::sync::Arc;
use wire::lab::v1::{self as lab, LabCode};

const TOKEN: &str = "lab-test-token";

struct Fixture {
    _app: App,
    /// The platform's base URL.
    platform: String,
    _access: AccessClient,
    url: String,
    dir: std::path::PathBuf,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A platform with the demo registers of two meters, and the lab API on a free port; on a
/// simulated clock (starting now, at real speed) when `sim`.
async fn fixture(sim: bool) -> Fixture {
    let sim = sim.then(|| SimClock::accelerated(SystemClock.now(), 1.0).unwrap());
    let clock: Arc<dyn Clock> = match &sim {
        Some(s) => Arc::new(s.clone()),
        None => Arc::new(SystemClock),
    };
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database: "sqlite::memory:".into(),
        mqtt: BrokerSpec::None,
        admin_token: TOKEN.into(),
        ..Config::default()
    };
    let app = App::start_with_clock(config, clock.clone()).await.unwrap();
    let v = meter::Catalogue::builtin().get("fluvius-t211-1.7.1").unwrap().clone();
    let meters: Vec<_> = ["meter-01", "meter-02"]
        .iter()
        .map(|n| Arc::new(MeterWatch::new("rig-a", n, &v)))
        .collect();
    let mut access = AccessClient::new(&app.url(), TOKEN);
    provision::demo(&mut access, &app, &meters, clock.now()).await.unwrap().unwrap();
    let dir = std::env::temp_dir().join(format!(
        "meterlab-labapi-{}-{}",
        std::process::id(),
        sim.is_some()
    ));
    let db = LabDb::open("sqlite::memory:").await.unwrap();
    let runs = runs::Runs::new(&dir).unwrap();
    let lab = Arc::new(LabApi::new(&app, TOKEN, clock, sim, db, meters, runs));
    let (addr, tasks) = super::serve(lab, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    Fixture {
        platform: app.url(),
        _app: app,
        _access: access,
        url: format!("http://{addr}"),
        dir,
        tasks,
    }
}

async fn post(f: &Fixture, path: &str, token: &str, body: &str) -> (u16, serde_json::Value) {
    let r = reqwest::Client::new()
        .post(format!("{}{path}", f.url))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

fn code(body: &serde_json::Value) -> LabCode {
    serde_json::from_value::<lab::LabError>(body.clone()).unwrap().code
}

async fn snapshot(f: &Fixture) -> tui::Snapshot {
    let r = reqwest::Client::new()
        .get(format!("{}/api/lab/v1/snapshot", f.url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn the_lab_api_reads_and_acts_on_the_platform_in_process() {
    let f = fixture(false).await;
    let snap = snapshot(&f).await;
    assert_eq!(snap.points.len(), 2, "{:?}", snap.status_line);
    assert_eq!(snap.status_line, None, "every part of the platform was read");
    let consent = snap.points[0].consents[0].id.clone();
    let point = snap.points[1].ean.clone();

    // The edge: the token, and a body that is not the documented shape.
    let (status, body) = post(&f, "/api/lab/v1/market-scenarios", "wrong", "{}").await;
    assert_eq!((status, code(&body)), (401, LabCode::Unauthorized));
    let (status, body) = post(&f, "/api/lab/v1/market-scenarios", TOKEN, r#"{"kind": 1}"#).await;
    assert_eq!((status, code(&body)), (400, LabCode::Malformed));
    assert!(body["message"].as_str().unwrap().contains(r#""kind": "CS""#), "{body}");

    // Market scenarios: an unknown kind, an unknown point, then a customer switch.
    let market = |point: &str, kind: &str| format!(r#"{{"point": "{point}", "kind": "{kind}"}}"#);
    let (status, body) =
        post(&f, "/api/lab/v1/market-scenarios", TOKEN, &market(&point, "XX")).await;
    assert_eq!((status, code(&body)), (400, LabCode::UnknownScenario));
    let (status, body) =
        post(&f, "/api/lab/v1/market-scenarios", TOKEN, &market("541448900000000000", "CS")).await;
    assert_eq!((status, code(&body)), (404, LabCode::UnknownPoint));
    let (status, body) =
        post(&f, "/api/lab/v1/market-scenarios", TOKEN, &market(&point, "cs")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["message"].as_str().unwrap().starts_with("CS on "), "{body}");

    // The consent's grid user revokes it, once; the second time is refused.
    let path = format!("/api/lab/v1/consents/{consent}/revoke");
    let (status, body) = post(&f, &path, TOKEN, "").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = post(&f, &path, TOKEN, "").await;
    assert_eq!((status, code(&body)), (409, LabCode::AlreadyRevoked));
    let (status, body) = post(&f, "/api/lab/v1/consents/nope/revoke", TOKEN, "").await;
    assert_eq!((status, code(&body)), (404, LabCode::UnknownConsent));
    let after = snapshot(&f).await;
    let c = after.points.iter().flat_map(|p| &p.consents).find(|c| c.id == consent).unwrap();
    assert!(c.revoked_at.is_some(), "{c:?}");
    // The customer switch ended the other point's consent with its old grid user (R-MAN-5).
    let p = after.points.iter().find(|p| p.ean == point).unwrap();
    assert!(p.consents.iter().all(|c| c.revoked_at.is_some()), "{p:?}");
}

#[tokio::test]
async fn a_simulated_lab_clock_moves_forward_and_the_platform_follows() {
    let f = fixture(true).await;
    let before = snapshot(&f).await.at;
    let (status, body) = post(&f, "/api/lab/v1/clock", TOKEN, r#"{"advance": "3y"}"#).await;
    assert_eq!(status, 200, "{body}");
    let after = snapshot(&f).await.at;
    let moved = after.duration_since(before);
    assert!(moved >= SignedDuration::from_hours(3 * 365 * 24), "{before} → {after}");
    // The platform answers on the same clock, and says its time on every answer.
    let r = reqwest::get(format!("{}/health", f.platform)).await.unwrap();
    let t: clock::Timestamp = r.headers()["x-meterlab-time"].to_str().unwrap().parse().unwrap();
    assert!(t >= after, "{t} < {after}");
    // Back in time, both at once, nothing, or nonsense: refused.
    let past = r#"{"to": "2020-01-01"}"#;
    let (status, body) = post(&f, "/api/lab/v1/clock", TOKEN, past).await;
    assert_eq!((status, code(&body)), (409, LabCode::ClockBackwards), "{body}");
    for bad in [r#"{"advance": "1d", "to": "2040-01-01"}"#, "{}"] {
        let (status, body) = post(&f, "/api/lab/v1/clock", TOKEN, bad).await;
        assert_eq!((status, code(&body)), (400, LabCode::Malformed), "{bad}: {body}");
    }
    for bad in [r#"{"advance": "soon"}"#, r#"{"advance": "-1d"}"#, r#"{"to": "tomorrow"}"#] {
        let (status, body) = post(&f, "/api/lab/v1/clock", TOKEN, bad).await;
        assert_eq!((status, code(&body)), (400, LabCode::BadTime), "{bad}: {body}");
    }
}

#[tokio::test]
async fn the_system_clock_is_not_moved() {
    let f = fixture(false).await;
    let (status, body) = post(&f, "/api/lab/v1/clock", TOKEN, r#"{"advance": "1h"}"#).await;
    assert_eq!((status, code(&body)), (409, LabCode::NotSimulated), "{body}");
    assert!(body["message"].as_str().unwrap().contains("--clock sim"), "{body}");
}

#[test]
fn a_clock_move_reads_in_days_hours_and_minutes() {
    assert_eq!(super::span(40), "40 s");
    assert_eq!(super::span(300), "5 min");
    assert_eq!(super::span(3 * 3600 + 5 * 60), "3 h 5 min");
    assert_eq!(super::span(1095 * 86_400 + 7200), "1095 d 2 h");
}
