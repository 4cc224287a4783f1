//! A platform that broke one of its own rules says so: a poisoned lock is a 500 with the code
//! `internal` and a request id, logged and counted, never a step silently skipped or a
//! request let through.
#![allow(clippy::unwrap_used)]

use crate::{App, BrokerSpec, Config};
use std::sync::atomic::Ordering;

async fn app() -> App {
    App::start(Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database: "sqlite::memory:".into(),
        mqtt: BrokerSpec::None,
        ..Config::default()
    })
    .await
    .unwrap()
}

fn admin() -> reqwest::Client {
    let mut h = reqwest::header::HeaderMap::new();
    h.insert(
        reqwest::header::AUTHORIZATION,
        reqwest::header::HeaderValue::from_static("Bearer meterlab-admin-dev"),
    );
    reqwest::Client::builder().default_headers(h).build().unwrap()
}

async fn internal(r: reqwest::Response) {
    assert_eq!(r.status(), 500);
    let e: wire::ApiError = r.json().await.unwrap();
    assert_eq!(e.code, wire::Code::Internal);
    assert!(e.request_id.is_some(), "{e:?}");
}

#[tokio::test]
async fn a_poisoned_supervisor_fails_the_registration_instead_of_skipping_it() {
    let app = app().await;
    let _ = std::thread::scope(|s| {
        s.spawn(|| {
            let _held = app.ingest.supervisor.lock();
            panic!("poisoning the supervisor on purpose");
        })
        .join()
    });
    let before = crate::edge::SERVER_ERRORS.load(Ordering::Relaxed);
    // In process: an error, not Ok with the dongle half registered.
    let err = app.ingest.register_dongle("D9", &[7; 16], None).await.unwrap_err();
    assert!(matches!(err, crate::IngestError::Broken(_)), "{err}");
    // Over HTTP: a 500 with its code and request id, counted.
    let body = serde_json::json!({ "id": "D9", "key_hex": "07".repeat(16) });
    let r = admin().post(format!("{}/api/admin/v1/dongles", app.url())).json(&body).send().await;
    internal(r.unwrap()).await;
    assert!(crate::edge::SERVER_ERRORS.load(Ordering::Relaxed) > before);
}

#[tokio::test]
async fn a_poisoned_rate_limiter_refuses_instead_of_letting_requests_through() {
    let app = app().await;
    let url = app.url();
    let issued: serde_json::Value = admin()
        .post(format!("{url}/api/admin/v1/tokens"))
        .json(&serde_json::json!({ "party": { "role": "grid_user", "id": "G1" } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = issued["token"].as_str().unwrap().to_owned();
    let point = format!("{url}/api/registers/v1/points/541448900000000014");
    let get = || reqwest::Client::new().get(&point).bearer_auth(&token).send();
    // Limited as usual: the limiter answers (403: not his point).
    assert_eq!(get().await.unwrap().status(), 403);
    app.access.poison_limiter();
    internal(get().await.unwrap()).await;
}
