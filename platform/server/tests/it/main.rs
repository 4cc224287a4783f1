//! The platform over real sockets: REST, the embedded broker, Mosquitto (MLAB_MQTT_URL),
//! SQLite and PostgreSQL (MLAB_PG_URL). Missing services are reported as SKIPPED, loudly.
#![allow(clippy::unwrap_used)]

mod access;
mod bad_input;
mod contract;
mod inproc;
mod mqtt;
mod onboarding;
mod rest;
mod robust;

use clock::{SignedDuration, Timestamp};
use p1::{Dialect, Phase, Reading, Season, Tst};
use server::{App, BrokerSpec, Config};
use wire::ingest::v1::Upload;

pub(crate) const KEY: &[u8] = b"0123456789abcdef-dongle-key";

pub(crate) fn t0() -> Timestamp {
    "2026-06-01T08:00:00Z".parse().unwrap()
}

/// A Belgian telegram at `t0 + i` seconds of a meter drawing a constant 1 kW.
pub(crate) fn telegram(i: i64) -> String {
    let at = t0() + SignedDuration::from_secs(i);
    let l = clock::local_datetime(at);
    let r = Reading {
        time: Tst {
            yy: (l.year() % 100) as u8,
            month: l.month() as u8,
            day: l.day() as u8,
            hour: l.hour() as u8,
            minute: l.minute() as u8,
            second: l.second() as u8,
            season: if clock::is_dst(at) { Season::Summer } else { Season::Winter },
        },
        equipment_id: "1SAG3100042002".into(),
        import_wh: [1_000_000 + (i as u64 * 1000) / 3600, 500_000],
        power_import_w: 1000,
        phases: vec![Phase {
            voltage_dv: 2300,
            current_ca: 435,
            import_w: 1000,
            ..Phase::default()
        }],
        ..Reading::default()
    };
    String::from_utf8(Dialect::EMucs171.build("FLU5\\253769484_A", &r).encode()).unwrap()
}

pub(crate) fn upload(dongle: &str, seq: u64) -> Upload {
    let mut u = Upload {
        dongle: dongle.into(),
        seq,
        captured_at: t0() + SignedDuration::from_secs(seq as i64),
        telegram: telegram(seq as i64),
        crc_ok: true,
        sig: String::new(),
    };
    u.sign(KEY);
    u
}

pub(crate) async fn databases() -> Vec<String> {
    let mut out = vec!["sqlite::memory:".to_owned()];
    match std::env::var("MLAB_PG_URL") {
        Ok(url) => {
            // A private schema per test run keeps runs apart in the shared database.
            let schema = format!("srv_{}_{}", std::process::id(), out.len() + rand_suffix());
            let admin = store::SqlStore::open(&url).await.unwrap();
            admin.exec(&format!("CREATE SCHEMA IF NOT EXISTS {schema}")).await.unwrap();
            let sep = if url.contains('?') { '&' } else { '?' };
            out.push(format!("{url}{sep}options=-csearch_path%3D{schema}"));
        }
        Err(_) => eprintln!(
            "\n*** SKIPPED on PostgreSQL: MLAB_PG_URL is not set (run `. ci/services.sh`) ***\n"
        ),
    }
    out
}

fn rand_suffix() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::Relaxed) * 1000
        + (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos() as usize
            % 1000)
}

pub(crate) async fn start(database: &str, mqtt: BrokerSpec) -> App {
    let app = App::start(Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database: database.into(),
        mqtt,
        // Each test its own broker session: tests run at once on one Mosquitto.
        mqtt_client_id: format!("meterlab-test-{}-{}", std::process::id(), rand_suffix()),
        ..Config::default()
    })
    .await
    .unwrap();
    app.ingest.register_dongle("D1", KEY, Some("1SAG3100042002")).await.unwrap();
    app
}

/// A client that authenticates as the configured admin (supervision endpoints need a token).
pub(crate) fn client() -> reqwest::Client {
    let mut h = reqwest::header::HeaderMap::new();
    h.insert(
        reqwest::header::AUTHORIZATION,
        reqwest::header::HeaderValue::from_static("Bearer meterlab-admin-dev"),
    );
    reqwest::Client::builder().default_headers(h).build().unwrap()
}

/// `GET path` on the platform as the admin, as JSON.
pub(crate) async fn admin_json(app: &App, path: &str) -> serde_json::Value {
    client().get(format!("{}{path}", app.url())).send().await.unwrap().json().await.unwrap()
}
