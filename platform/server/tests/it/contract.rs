//! The ESP's contract on a running platform: suspension and reinstatement (R-ACC-2), the
//! channel and the service catalogue's needs (R-NRT-8) on every read, the grid user's notices
//! (R-MAN-3), and an ESP changing its webhook URL and rotating its secret with an overlap.

use crate::access::{ADMIN, get, post, world};
use crate::databases;
use clock::{Clock, SignedDuration};
use server::Config;
use std::sync::{Arc, Mutex};
use wire::api::v1 as w;

fn energy(w: &crate::access::World, granularity: &str) -> String {
    let (from, to) = (crate::t0(), crate::t0() + SignedDuration::from_hours(1));
    format!(
        "{}/api/esp/v1/points/{}/energy?from={from}&to={to}&granularity={granularity}",
        w.app.url(),
        w.dsp1
    )
}

async fn code(r: reqwest::Response) -> (u16, w::Code) {
    let status = r.status().as_u16();
    let e: w::ApiError = r.json().await.unwrap();
    (status, e.code)
}

/// The refusal codes the access register holds for ESP A's reads, in order.
async fn refusals(w: &crate::access::World) -> Vec<String> {
    let log: Vec<w::AccessEntry> =
        get(&format!("{}/api/admin/v1/access-log", w.app.url()), ADMIN).await.json().await.unwrap();
    let party = format!("esp:{}", w.esp_a.as_str());
    log.iter().filter(|e| e.party == party && !e.allowed).map(|e| e.basis.clone()).collect()
}

/// What the registers told the holder of `token`.
async fn notices(u: &str, token: &str) -> Vec<w::Notification> {
    let n: w::Notifications =
        get(&format!("{u}/api/registers/v1/notifications"), token).await.json().await.unwrap();
    n.notifications
}

#[tokio::test]
async fn a_suspended_esp_is_refused_at_once_and_reinstated() {
    for db in databases().await {
        let w = world(&db, None, Config::default()).await;
        let u = w.app.url();
        let a = &w.tokens["esp_a"];
        assert_eq!(get(&energy(&w, "quarter-hour"), a).await.status(), 200, "{db}");
        let suspend = format!("{u}/api/admin/v1/esps/{}/suspend", w.esp_a);
        let r = post(&suspend, ADMIN, serde_json::json!({ "reason": " " })).await;
        assert_eq!(code(r).await, (422, w::Code::InvalidBody), "{db}: a reason is needed");
        let r = post(&suspend, ADMIN, serde_json::json!({ "reason": "failed ESP-NRT-03" })).await;
        assert_eq!(r.status(), 200, "{db}");
        let notes: w::Notifications = r.json().await.unwrap();
        assert!(notes.notifications.len() >= 2, "{db}: the ESP and G1: {notes:?}");
        let r = get(&energy(&w, "quarter-hour"), a).await;
        assert_eq!(code(r).await, (403, w::Code::EspNotActive), "{db}");
        assert_eq!(refusals(&w).await.last().map(String::as_str), Some("esp_not_active"));
        // G1 is told who lost access to its data.
        let inbox = notices(&u, &w.tokens["g1"]).await;
        let last = inbox.last().unwrap();
        assert_eq!(last.kind, w::NotificationKind::EspSuspended, "{db}: {inbox:?}");
        assert!(last.detail.contains("failed ESP-NRT-03"), "{db}");
        let r = post(&suspend, ADMIN, serde_json::json!({ "reason": "again" })).await;
        assert_eq!(code(r).await, (409, w::Code::EspState), "{db}");
        let r = post(
            &format!("{u}/api/admin/v1/esps/{}/reinstate", w.esp_a),
            ADMIN,
            serde_json::json!({}),
        )
        .await;
        assert_eq!(r.status(), 200, "{db}");
        assert_eq!(get(&energy(&w, "quarter-hour"), a).await.status(), 200, "{db}");
        let r = post(
            &format!("{u}/api/admin/v1/esps/{}/reinstate", w.esp_a),
            ADMIN,
            serde_json::json!({}),
        )
        .await;
        assert_eq!(code(r).await, (409, w::Code::EspState), "{db}");
    }
}

#[tokio::test]
async fn the_channel_and_the_catalogues_needs_are_enforced_and_recorded() {
    for db in databases().await {
        let w = world(&db, None, Config::default()).await;
        let a = &w.tokens["esp_a"];
        let mut esp = w.app.access.read(|r| r.esp(&w.esp_a).cloned()).await.unwrap();
        // A portal-only ESP reads nothing through the API.
        esp.channel = domain::Channel::Portal;
        w.app.access.execute(registers::Command::RegisterEsp { esp: esp.clone() }).await.unwrap();
        let r = get(&energy(&w, "quarter-hour"), a).await;
        assert_eq!(code(r).await, (403, w::Code::WrongChannel), "{db}");
        // Back on the API, with a catalogue that needs day data only.
        esp.channel = domain::Channel::Api;
        esp.services = vec![domain::Service {
            id: "insights".into(),
            name: "Insights".into(),
            needs: vec![domain::DataKind::Day],
        }];
        w.app.access.execute(registers::Command::RegisterEsp { esp }).await.unwrap();
        let r = get(&energy(&w, "quarter-hour"), a).await;
        assert_eq!(code(r).await, (403, w::Code::NotNeeded), "{db}");
        assert_eq!(get(&energy(&w, "day"), a).await.status(), 200, "{db}");
        // Both refusals are in the access register with their codes (R-ACC-1).
        let codes = refusals(&w).await;
        assert_eq!(codes, ["wrong_channel", "not_needed"], "{db}");
    }
}

#[tokio::test]
async fn the_grid_user_is_asked_for_co_consent_in_its_notices() {
    for db in databases().await {
        let w = world(&db, None, Config::default()).await;
        let u = w.app.url();
        // G2 is a customer of AP1's point but not its grid user: G1 must co-consent (R-MAN-3).
        let r = post(
            &format!("{u}/api/registers/v1/dienstverlener/{}/stappenplan", w.esp_a.as_str()),
            &w.tokens["g2"],
            serde_json::json!({ "data_service_point": w.dsp1, "scope": "day_only", "period_from": "2026-05-01", "history": false }),
        )
        .await;
        assert_eq!(r.status(), 201, "{db}");
        let asked: w::Notifications = r.json().await.unwrap();
        let mandate = asked.notifications[0].mandate.clone().unwrap();
        let inbox = notices(&u, &w.tokens["g1"]).await;
        let notice = inbox
            .iter()
            .find(|n| n.mandate.as_deref() == Some(mandate.as_str()))
            .unwrap_or_else(|| panic!("{db}: no co-consent notice for {mandate}: {inbox:?}"));
        assert_eq!(notice.kind, w::NotificationKind::MandateRequested, "{db}");
        // Nobody else's inbox holds it, and an ESP has none.
        let g3 = notices(&u, &w.tokens["g3"]).await;
        assert!(g3.iter().all(|n| n.mandate.as_deref() != Some(&mandate)));
        let r = get(&format!("{u}/api/registers/v1/notifications"), &w.tokens["esp_a"]).await;
        assert_eq!(r.status(), 403, "{db}");
    }
}

#[tokio::test]
async fn a_grid_users_notices_survive_a_restart() {
    let dir = std::env::temp_dir().join(format!("meterlab-notices-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let _ = std::fs::remove_file(dir.join("p.db"));
    let db = format!("sqlite:{}", dir.join("p.db").display());
    let w = world(&db, None, Config::default()).await;
    let before = notices(&w.app.url(), &w.tokens["g1"]).await;
    assert!(!before.is_empty(), "G1 granted a mandate and a consent: {before:?}");
    let (g1, clock) = (w.tokens["g1"].clone(), w.clock.clone());
    drop(w);
    // The notices are rebuilt from the register log; nothing else keeps them.
    let again = server::App::start_with_clock(
        Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            database: db.clone(),
            mqtt: server::BrokerSpec::None,
            ..Config::default()
        },
        clock,
    )
    .await
    .unwrap();
    assert_eq!(notices(&again.url(), &g1).await, before);
    drop(again);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_esp_moves_its_webhook_and_rotates_its_secret_with_a_days_overlap() {
    let mut hooks = mockito::Server::new_async().await;
    let seen = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let sink = seen.clone();
    hooks
        .mock("POST", "/moved")
        .with_status(200)
        .with_body_from_request(move |req| {
            let sig = req.header("x-meterlab-signature");
            let sig = sig.first().and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            sink.lock().unwrap().push((sig, String::from_utf8_lossy(req.body().unwrap()).into()));
            b"ok".to_vec()
        })
        .expect_at_least(2)
        .create_async()
        .await;
    let w = world("sqlite::memory:", None, Config::default()).await;
    let u = w.app.url();
    let a = w.tokens["esp_a"].clone();
    let profile = format!("{u}/api/esp/v1/profile");
    let patch = |url: serde_json::Value, token: String| {
        let profile = profile.clone();
        async move {
            reqwest::Client::new()
                .patch(&profile)
                .bearer_auth(token)
                .json(&serde_json::json!({ "webhook_url": url }))
                .send()
                .await
                .unwrap()
        }
    };
    let r = patch(serde_json::json!("ftp://nowhere"), a.clone()).await;
    assert_eq!(code(r).await, (422, w::Code::InvalidBody));
    let r = patch(serde_json::json!(format!("{}/moved", hooks.url())), a.clone()).await;
    assert_eq!(r.status(), 200);
    let esp: domain::Esp = r.json().await.unwrap();
    assert_eq!(esp.webhook_url, Some(format!("{}/moved", hooks.url())));
    // The ESP rotates its own secret; the old one signs along for a day.
    let r = post(&format!("{u}/api/esp/v1/credentials"), &a, serde_json::json!({ "token": false }))
        .await;
    assert_eq!(r.status(), 201);
    let issued: w::CredentialsIssued = r.json().await.unwrap();
    let new = issued.webhook_secret.unwrap();
    assert_eq!(
        issued.previous_secret_valid_until,
        Some(w.clock.now() + SignedDuration::from_hours(24))
    );
    let revoke = format!("{u}/api/registers/v1/consents/{}/revoke", w.consent);
    assert_eq!(post(&revoke, &w.tokens["g1"], serde_json::json!({})).await.status(), 200);
    let first = wait_for(&seen, 1).await;
    let both = format!(
        "{},{}",
        server::signature(&new, first.1.as_bytes()),
        server::signature(&w.secret_a, first.1.as_bytes())
    );
    assert_eq!(first.0, both, "inside the overlap: the new signature, then the old");
    // A day and an hour later, only the new secret signs (a new consent, revoked again).
    w.clock.advance(SignedDuration::from_hours(25)).unwrap();
    let g1 = &w.tokens["g1"];
    let r = post(
        &format!("{u}/api/registers/v1/consents"),
        g1,
        serde_json::json!({ "data_service_point": w.dsp1, "esp": w.esp_a, "service": "live" }),
    )
    .await;
    assert_eq!(r.status(), 201);
    let second = wait_for(&seen, 2).await;
    assert_eq!(second.0, server::signature(&new, second.1.as_bytes()), "after the overlap");
    // Rotating the token ends the old one at once.
    let r = post(
        &format!("{u}/api/esp/v1/credentials"),
        &a,
        serde_json::json!({ "webhook_secret": false }),
    )
    .await;
    let issued: w::CredentialsIssued = r.json().await.unwrap();
    assert_eq!(get(&format!("{u}/api/esp/v1/mandates"), &a).await.status(), 401);
    let token = issued.token.unwrap();
    assert_eq!(get(&format!("{u}/api/esp/v1/mandates"), &token).await.status(), 200);
}

/// The `n`th webhook the sink received (waits up to 5 s).
async fn wait_for(seen: &Arc<Mutex<Vec<(String, String)>>>, n: usize) -> (String, String) {
    for _ in 0..100 {
        if let Some(x) = seen.lock().unwrap().get(n - 1).cloned() {
            return x;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("webhook {n} never came: {:?}", seen.lock().unwrap());
}
