//! Data access over HTTP (issue 6): roles, mandates, consents, market scenarios, the access
//! register, webhooks, rate limits and outages — against SQLite and PostgreSQL.

use crate::{KEY, databases, t0, upload};
use clock::{Clock, SignedDuration, SimClock, Timestamp};
use domain::{Ean, Kbo};
use server::{App, BrokerSpec, Config, RateLimit, RetryPolicy};
use std::sync::Arc;
use wire::ingest::v1::Batch;

pub(crate) const ADMIN: &str = "meterlab-admin-dev";

fn ean(n: u32) -> Ean {
    Ean::with_check_digit(&format!("5414489{n:010}")).unwrap()
}

fn kbo(n: u32) -> Kbo {
    Kbo::with_check(&format!("0{n:07}")).unwrap()
}

/// Two access points (AP1 of grid user G1, AP2 of G2), each with one electricity data service
/// point; ESP A holds a quarter-hour mandate and an NRT consent on DSP1, ESP B holds nothing.
pub(crate) struct World {
    pub app: App,
    pub clock: Arc<SimClock>,
    pub ap1: Ean,
    pub dsp1: Ean,
    pub dsp2: Ean,
    pub esp_a: Kbo,
    pub esp_b: Kbo,
    pub tokens: std::collections::BTreeMap<&'static str, String>,
    pub secret_a: String,
    pub mandate: String,
    pub consent: String,
}

pub(crate) async fn post(url: &str, token: &str, body: serde_json::Value) -> reqwest::Response {
    reqwest::Client::new().post(url).bearer_auth(token).json(&body).send().await.unwrap()
}

pub(crate) async fn get(url: &str, token: &str) -> reqwest::Response {
    reqwest::Client::new().get(url).bearer_auth(token).send().await.unwrap()
}

async fn ok_json(r: reqwest::Response) -> serde_json::Value {
    let status = r.status();
    let body: serde_json::Value = r.json().await.unwrap_or_default();
    assert!(status.is_success(), "{status}: {body}");
    body
}

pub(crate) async fn world(db: &str, webhook: Option<String>, config: Config) -> World {
    let now: Timestamp = "2026-06-01T10:00:00Z".parse().unwrap();
    let clock = Arc::new(SimClock::new(now));
    let app = App::start_with_clock(
        Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            database: db.into(),
            mqtt: BrokerSpec::None,
            ..config
        },
        clock.clone(),
    )
    .await
    .unwrap();
    app.ingest.register_dongle("D1", KEY, Some("1SAG3100042002")).await.unwrap();
    let u = app.url();
    let (ap1, dsp1, ap2, dsp2) = (ean(1), ean(2), ean(3), ean(4));
    let (esp_a, esp_b) = (kbo(1234567), kbo(7654321));
    let since: Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
    for (ap, dsp, g) in [(&ap1, &dsp1, "G1"), (&ap2, &dsp2, "G2")] {
        ok_json(
            post(
                &format!("{u}/api/admin/v1/access-points"),
                ADMIN,
                serde_json::json!({
                    "access_point": { "ean": ap, "commodity": "electricity", "address": "Lab street 1", "data_service_points": [dsp] },
                    "data_service_points": [{ "id": dsp, "access_point": ap, "commodity": "electricity", "meter": "1SAG3100042002" }],
                    "grid_user": g,
                    "supplier": "S1",
                    "since": since,
                }),
            )
            .await,
        )
        .await;
    }
    let mut tokens = std::collections::BTreeMap::new();
    let mut secret_a = String::new();
    for (name, k) in [("esp_a", &esp_a), ("esp_b", &esp_b)] {
        let body = ok_json(
            post(
                &format!("{u}/api/admin/v1/esps"),
                ADMIN,
                serde_json::json!({ "esp": {
                    "kbo": k, "gln": null, "name": name, "channel": "api", "status": "active",
                    "webhook_url": if name == "esp_a" { webhook.clone() } else { None },
                    "services": [
                        { "id": "live", "name": "Live power", "needs": ["nrt"] },
                        { "id": "insights", "name": "Insights", "needs": ["day", "quarter-hour", "hour", "month-peak"] },
                    ],
                }}),
            )
            .await,
        )
        .await;
        tokens.insert(name, body["token"].as_str().unwrap().to_owned());
        if name == "esp_a" {
            secret_a = body["webhook_secret"].as_str().unwrap().to_owned();
        }
    }
    for (name, party) in [
        ("g1", serde_json::json!({ "role": "grid_user", "id": "G1" })),
        ("g2", serde_json::json!({ "role": "grid_user", "id": "G2" })),
        ("g3", serde_json::json!({ "role": "grid_user", "id": "G3" })),
        ("operator", serde_json::json!({ "role": "operator" })),
    ] {
        let body = ok_json(
            post(&format!("{u}/api/admin/v1/tokens"), ADMIN, serde_json::json!({ "party": party }))
                .await,
        )
        .await;
        tokens.insert(name, body["token"].as_str().unwrap().to_owned());
    }
    tokens.insert("admin", ADMIN.to_owned());
    ok_json(
        post(
            &format!("{u}/api/admin/v1/links"),
            &tokens["operator"],
            serde_json::json!({ "link": { "dongle": "D1", "meter": "1SAG3100042002", "data_service_point": dsp1, "since": since } }),
        )
        .await,
    )
    .await;
    // G1 grants ESP A quarter-hour data from May on, history included (R-MAN-2, R-MAN-6).
    let body = ok_json(
        post(
            &format!("{u}/api/registers/v1/dienstverlener/{}/stappenplan", esp_a.as_str()),
            &tokens["g1"],
            serde_json::json!({ "data_service_point": dsp1, "scope": "with_interval", "period_from": "2026-05-01", "history": true }),
        )
        .await,
    )
    .await;
    let mandate = body["notifications"][0]["mandate"].as_str().unwrap().to_owned();
    ok_json(
        post(
            &format!("{u}/api/registers/v1/mandates/{mandate}/approve"),
            &tokens["g1"],
            serde_json::json!({}),
        )
        .await,
    )
    .await;
    ok_json(
        post(
            &format!("{u}/api/registers/v1/terms"),
            &tokens["g1"],
            serde_json::json!({ "access_point": ap1 }),
        )
        .await,
    )
    .await;
    let body = ok_json(
        post(
            &format!("{u}/api/registers/v1/consents"),
            &tokens["g1"],
            serde_json::json!({ "data_service_point": dsp1, "esp": esp_a, "service": "live" }),
        )
        .await,
    )
    .await;
    let consent = body["notifications"][0]["consent"].as_str().unwrap().to_owned();
    // An hour of 1 kW from t0 (08:00 UTC): four quarter hours of 0.25 kWh.
    let batch = Batch { uploads: (0..3601).map(|s| upload("D1", s)).collect() };
    let r = app.ingest.submit(batch).await.unwrap();
    assert_eq!(r.stored.len(), 3601);
    World { app, clock, ap1, dsp1, dsp2, esp_a, esp_b, tokens, secret_a, mandate, consent }
}

fn hour() -> String {
    format!("from={}&to={}", t0(), t0() + SignedDuration::from_hours(1))
}

#[tokio::test]
async fn authorization_matrix_every_role_and_owner() {
    for db in databases().await {
        let w = world(&db, None, Config::default()).await;
        let u = w.app.url();
        let (d1, d2, ap1) = (&w.dsp1, &w.dsp2, &w.ap1);
        let roles = ["none", "bad", "admin", "operator", "g1", "g2", "esp_a", "esp_b"];
        // Expected status per role, in the order above; 401 for no or unknown tokens.
        type Row = (&'static str, String, Option<serde_json::Value>, [u16; 8]);
        let rows: Vec<Row> = vec![
            (
                "GET",
                format!("/api/esp/v1/points/{d1}/energy?{}", hour()),
                None,
                [401, 401, 200, 403, 200, 403, 200, 403],
            ),
            (
                "GET",
                format!(
                    "/api/esp/v1/points/{d1}/energy?granularity=day&from=2026-06-01&to=2026-06-02"
                ),
                None,
                [401, 401, 200, 403, 200, 403, 200, 403],
            ),
            (
                "GET",
                format!("/api/esp/v1/points/{d1}/months?from=2026-06-01&to=2026-07-01"),
                None,
                [401, 401, 200, 403, 200, 403, 200, 403],
            ),
            (
                "GET",
                format!("/api/esp/v1/points/{d2}/energy?{}", hour()),
                None,
                [401, 401, 200, 403, 403, 200, 403, 403],
            ),
            (
                "POST",
                "/api/esp/v1/mandates/status".into(),
                Some(serde_json::json!({ "points": [d1, d2] })),
                [401, 401, 403, 403, 403, 403, 200, 200],
            ),
            ("GET", "/api/esp/v1/mandates".into(), None, [401, 401, 403, 403, 403, 403, 200, 200]),
            (
                "GET",
                "/api/esp/v1/deliveries".into(),
                None,
                [401, 401, 403, 403, 403, 403, 200, 200],
            ),
            (
                "GET",
                format!("/api/registers/v1/points/{ap1}"),
                None,
                [401, 401, 200, 403, 200, 403, 403, 403],
            ),
            (
                "GET",
                format!("/api/registers/v1/points/{ap1}/access-log"),
                None,
                [401, 401, 200, 403, 200, 403, 403, 403],
            ),
            (
                "GET",
                format!("/api/registers/v1/points/{ap1}/parties"),
                None,
                [401, 401, 200, 403, 200, 403, 403, 403],
            ),
            (
                "GET",
                "/api/admin/v1/access-log".into(),
                None,
                [401, 401, 200, 403, 403, 403, 403, 403],
            ),
            (
                "GET",
                "/api/admin/v1/registers".into(),
                None,
                [401, 401, 200, 403, 403, 403, 403, 403],
            ),
            (
                "GET",
                "/api/admin/v1/deliveries".into(),
                None,
                [401, 401, 200, 403, 403, 403, 403, 403],
            ),
            ("GET", "/api/admin/v1/dongles".into(), None, [401, 401, 200, 200, 403, 403, 403, 403]),
            (
                "GET",
                "/api/admin/v1/incidents".into(),
                None,
                [401, 401, 200, 200, 403, 403, 403, 403],
            ),
            (
                "POST",
                "/api/admin/v1/outage".into(),
                Some(serde_json::json!({ "active": false })),
                [401, 401, 200, 403, 403, 403, 403, 403],
            ),
            // Nobody but an admin mints tokens, least of all admin tokens.
            (
                "POST",
                "/api/admin/v1/tokens".into(),
                Some(serde_json::json!({ "party": { "role": "admin" } })),
                [401, 401, 201, 403, 403, 403, 403, 403],
            ),
            (
                "POST",
                "/api/admin/v1/market-scenarios".into(),
                Some(
                    serde_json::json!({ "access_point": ap1, "kind": "SS", "effective": "2026-06-01", "new_supplier": "S2" }),
                ),
                [401, 401, 201, 403, 403, 403, 403, 403],
            ),
            // R-MAN-4: an ESP cannot end a mandate, nor can another grid user. (G1 and the
            // admin are left out here so the mandate lives on.) Those who are no party to the
            // mandate (G2, ESP B) get the answer for a mandate that does not exist: 404.
            (
                "POST",
                format!("/api/registers/v1/mandates/{}/end", w.mandate),
                Some(serde_json::json!({})),
                [401, 401, 0, 403, 0, 404, 403, 404],
            ),
            (
                "POST",
                format!("/api/registers/v1/consents/{}/revoke", w.consent),
                Some(serde_json::json!({})),
                [401, 401, 403, 403, 0, 404, 403, 403],
            ),
            (
                "GET",
                format!("/api/esp/v1/points/{d1}/stream"),
                None,
                [401, 401, 200, 403, 200, 403, 200, 403],
            ),
            ("GET", "/openapi.json".into(), None, [200; 8]),
        ];
        let mut checked = 0;
        for (method, path, body, expect) in &rows {
            for (role, want) in roles.iter().zip(expect) {
                if *want == 0 {
                    continue;
                }
                let token = match *role {
                    "none" => None,
                    "bad" => Some("mle_forged"),
                    r => Some(w.tokens[r].as_str()),
                };
                let mut req = match *method {
                    "GET" => client_plain().get(format!("{u}{path}")),
                    _ => client_plain().post(format!("{u}{path}")).json(body.as_ref().unwrap()),
                };
                if let Some(t) = token {
                    req = req.bearer_auth(t);
                }
                let r = req.send().await.unwrap();
                let status = r.status().as_u16();
                // A granted stream never ends: only its status is read.
                let text = if status == 200 && path.ends_with("/stream") {
                    String::new()
                } else {
                    r.text().await.unwrap_or_default()
                };
                assert_eq!(status, *want, "{db}: {role} {method} {path}: {text}");
                if status >= 400 {
                    let e: serde_json::Value = serde_json::from_str(&text).unwrap();
                    assert!(e["code"].as_str().is_some_and(|c| !c.is_empty()), "{text}");
                }
                checked += 1;
            }
        }
        assert!(checked > 150, "{checked}");
        // ESP B asking for ESP A's customer was refused and registered as such (R-ACC-1).
        let log: serde_json::Value = ok_json(
            get(
                &format!("{u}/api/admin/v1/access-log?point={d1}&party=esp:{}", w.esp_b.as_str()),
                ADMIN,
            )
            .await,
        )
        .await;
        let rows = log.as_array().unwrap();
        assert!(rows.len() >= 3, "{log}");
        assert!(
            rows.iter().all(|r| r["allowed"] == false
                && (r["basis"] == "no_mandate" || r["basis"] == "no_consent")),
            "{log}"
        );
        // ESP A's reads rest on the mandate.
        let log: serde_json::Value = ok_json(
            get(
                &format!("{u}/api/admin/v1/access-log?point={d1}&party=esp:{}", w.esp_a.as_str()),
                ADMIN,
            )
            .await,
        )
        .await;
        assert!(
            log.as_array()
                .unwrap()
                .iter()
                .any(|r| r["allowed"] == true && r["basis"] == format!("mandate:{}", w.mandate)),
            "{log}"
        );
    }
}

fn client_plain() -> reqwest::Client {
    reqwest::Client::new()
}

async fn quarters(w: &World, token: &str) -> Vec<(String, u64)> {
    let r = get(&format!("{}/api/esp/v1/points/{}/energy?{}", w.app.url(), w.dsp1, hour()), token)
        .await;
    if r.status() == 403 {
        return Vec::new();
    }
    let v = ok_json(r).await;
    v["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| (q["start"].as_str().unwrap().to_owned(), q["offtake_wh"].as_u64().unwrap()))
        .collect()
}

#[tokio::test]
async fn a_backdated_customer_switch_cuts_the_esp_and_the_old_grid_user_at_its_date() {
    for db in databases().await {
        let w = world(&db, None, Config::default()).await;
        let u = w.app.url();
        let before = quarters(&w, &w.tokens["esp_a"]).await;
        assert_eq!(before.len(), 4, "{db}: {before:?}");
        assert!(before.iter().all(|(_, wh)| wh.abs_diff(250) <= 2), "{before:?}");
        // A supplier switch changes nothing (R-MAN-5).
        ok_json(
            post(&format!("{u}/api/admin/v1/market-scenarios"), ADMIN,
                serde_json::json!({ "access_point": w.ap1, "kind": "SS", "effective": "2026-06-01T08:00:00Z", "new_supplier": "S2" })).await,
        )
        .await;
        assert_eq!(quarters(&w, &w.tokens["esp_a"]).await, before);
        // G3 takes over AP1 from 08:30 UTC, two hours in the past (backdated CS).
        let effective = t0() + SignedDuration::from_mins(30);
        w.clock.advance(SignedDuration::from_secs(1)).unwrap();
        let at_switch = w.clock.now();
        ok_json(
            post(&format!("{u}/api/admin/v1/market-scenarios"), ADMIN,
                serde_json::json!({ "access_point": w.ap1, "kind": "CS", "effective": effective, "new_grid_user": "G3" })).await,
        )
        .await;
        let after = quarters(&w, &w.tokens["esp_a"]).await;
        assert_eq!(
            after,
            before[..2].to_vec(),
            "{db}: the ESP keeps what came before the date (R-MAN-5)"
        );
        // The old grid user keeps his part, the new one sees only his own (R-NRT-7).
        assert_eq!(quarters(&w, &w.tokens["g1"]).await, before[..2].to_vec());
        assert_eq!(quarters(&w, &w.tokens["g3"]).await, before[2..].to_vec());
        // Proof from the access register: since the switch, nothing served to ESP A reaches
        // past the effective date.
        let log = ok_json(
            get(&format!("{u}/api/admin/v1/access-log?party=esp:{}", w.esp_a.as_str()), ADMIN)
                .await,
        )
        .await;
        let since: Vec<&serde_json::Value> = log
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["at"].as_str().unwrap().parse::<Timestamp>().unwrap() >= at_switch)
            .collect();
        assert!(!since.is_empty());
        for r in since {
            let detail = r["detail"].as_str().unwrap();
            for end in served_ends(detail) {
                assert!(end <= effective, "{db}: served past the switch: {detail}");
            }
        }
        // The NRT consent ended with the grid user: the stream is refused at once.
        let r = get(&format!("{u}/api/esp/v1/points/{}/stream", w.dsp1), &w.tokens["esp_a"]).await;
        assert_eq!(r.status(), 403, "{db}");
    }
}

/// The ends of the windows in an access-register detail (`served [a, b) [c, d)`).
fn served_ends(detail: &str) -> Vec<Timestamp> {
    detail
        .split(')')
        .filter_map(|w| w.split(", ").nth(1))
        .filter_map(|t| t.trim().parse().ok())
        .collect()
}

#[tokio::test]
async fn revoking_a_consent_ends_the_stream_at_that_instant_and_notifies_the_esp() {
    let mut esp = mockito::Server::new_async().await;
    let seen = Arc::new(std::sync::Mutex::new(Vec::<(String, String, String)>::new()));
    let sink = seen.clone();
    let hook = esp
        .mock("POST", "/hooks")
        .with_status(200)
        .with_body_from_request(move |req| {
            let h = |n: &str| {
                req.header(n).first().and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
            };
            let body = String::from_utf8_lossy(req.body().unwrap()).into_owned();
            sink.lock().unwrap().push((h("x-meterlab-event"), h("x-meterlab-signature"), body));
            b"ok".to_vec()
        })
        .expect_at_least(1)
        .create_async()
        .await;
    let w = world("sqlite::memory:", Some(format!("{}/hooks", esp.url())), Config::default()).await;
    let u = w.app.url();
    let mut stream =
        get(&format!("{u}/api/esp/v1/points/{}/stream", w.dsp1), &w.tokens["esp_a"]).await;
    assert_eq!(stream.status(), 200);
    // A sample captured after the consent was granted (10:00) flows while it lives.
    w.app.ingest.submit(Batch { uploads: vec![upload("D1", 7300)] }).await.unwrap();
    let first = next_event(&mut stream).await;
    assert!(first.contains("event: sample") && first.contains("\"dongle\":\"D1\""), "{first}");
    // G1 revokes; the very next sample is not sent: the stream ends with `revoked`.
    w.clock.advance(SignedDuration::from_secs(1)).unwrap();
    let revoked_at = w.clock.now();
    ok_json(
        post(
            &format!("{u}/api/registers/v1/consents/{}/revoke", w.consent),
            &w.tokens["g1"],
            serde_json::json!({}),
        )
        .await,
    )
    .await;
    w.app.ingest.submit(Batch { uploads: vec![upload("D1", 7301)] }).await.unwrap();
    let next = next_event(&mut stream).await;
    assert!(next.contains("event: revoked") && !next.contains("event: sample"), "{next}");
    assert!(stream.chunk().await.unwrap().is_none(), "the stream ends");
    // The access register shows the end of the stream at the instant of revocation.
    let log =
        ok_json(get(&format!("{u}/api/admin/v1/access-log?point={}", w.dsp1), ADMIN).await).await;
    let end = log
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["what"].as_str().unwrap().contains("stream (ended)"))
        .unwrap();
    assert_eq!(end["at"].as_str().unwrap().parse::<Timestamp>().unwrap(), revoked_at);
    // The ESP was told, signed with its secret (R-NRT-6).
    let mut waited = 0;
    while !seen.lock().unwrap().iter().any(|(e, _, _)| e == "consent_revoked") && waited < 100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        waited += 1;
    }
    let seen = seen.lock().unwrap().clone();
    let (_, sig, body) =
        seen.iter().find(|(e, _, _)| e == "consent_revoked").expect("a consent_revoked webhook");
    assert_eq!(sig, &server::signature(&w.secret_a, body.as_bytes()));
    assert_ne!(sig, &server::signature("another secret", body.as_bytes()));
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["consent"], w.consent.as_str());
    hook.assert_async().await;
    // The delivery log shows it delivered.
    let log = ok_json(get(&format!("{u}/api/esp/v1/deliveries"), &w.tokens["esp_a"]).await).await;
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .any(|d| d["event"] == "consent_revoked" && d["state"] == "delivered"),
        "{log}"
    );
}

async fn next_event(r: &mut reqwest::Response) -> String {
    let mut out = String::new();
    loop {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), r.chunk())
            .await
            .expect("an event within 10 s")
            .unwrap();
        let Some(c) = chunk else { return out };
        out.push_str(&String::from_utf8_lossy(&c));
        // Keep-alive comments are skipped; an event ends with a blank line.
        if out.contains("event:") && out.ends_with("\n\n") {
            return out;
        }
    }
}

#[tokio::test]
async fn mandates_signal_renewal_then_expire_after_three_years_on_the_simulated_clock() {
    let mut esp = mockito::Server::new_async().await;
    let events = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = events.clone();
    let _hook = esp
        .mock("POST", "/hooks")
        .with_status(204)
        .with_body_from_request(move |req| {
            let e = req
                .header("x-meterlab-event")
                .first()
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            sink.lock().unwrap().push(e);
            Vec::new()
        })
        .create_async()
        .await;
    let w = world("sqlite::memory:", Some(format!("{}/hooks", esp.url())), Config::default()).await;
    let u = w.app.url();
    let approved = w.clock.now();
    let valid_until: Timestamp = "2029-06-01T10:00:00Z".parse().unwrap();
    // Just before the 60-day notice nothing is due.
    w.clock.set(valid_until - SignedDuration::from_hours(24 * 61)).unwrap();
    assert!(w.app.access.tick().await.unwrap().is_empty());
    w.clock.set(valid_until - SignedDuration::from_hours(24 * 59)).unwrap();
    let notes = w.app.access.tick().await.unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    // Renewal works like the first grant (R-MAN-1): the customer grants again before the end.
    let body = ok_json(
        post(
            &format!("{u}/api/registers/v1/dienstverlener/{}/stappenplan", w.esp_a.as_str()),
            &w.tokens["g1"],
            serde_json::json!({ "data_service_point": w.dsp1, "scope": "with_interval", "period_from": "2026-05-01", "history": true, "renews": w.mandate }),
        )
        .await,
    )
    .await;
    let renewal = body["notifications"][0]["mandate"].as_str().unwrap().to_owned();
    ok_json(
        post(
            &format!("{u}/api/registers/v1/mandates/{renewal}/approve"),
            &w.tokens["g1"],
            serde_json::json!({}),
        )
        .await,
    )
    .await;
    let renewed_at = w.clock.now();
    // At the old mandate's end nothing expires and the data still flows, now on the renewal.
    w.clock.set(valid_until).unwrap();
    assert!(w.app.access.tick().await.unwrap().is_empty());
    let v = ok_json(
        get(&format!("{u}/api/esp/v1/points/{}/energy?{}", w.dsp1, hour()), &w.tokens["esp_a"])
            .await,
    )
    .await;
    assert_eq!(v["basis"], format!("mandate:{renewal}"));
    assert_eq!(v["values"].as_array().unwrap().len(), 4);
    // Without a second renewal, the renewal expires three years after its approval.
    let second_end: Timestamp = renewed_at
        .to_zoned(jiff::tz::TimeZone::get("Europe/Brussels").unwrap())
        .checked_add(jiff::Span::new().years(3))
        .unwrap()
        .timestamp();
    w.clock.set(second_end - SignedDuration::from_secs(1)).unwrap();
    let notes = w.app.access.tick().await.unwrap();
    assert_eq!(notes.len(), 1, "only the renewal signal: {notes:?}");
    assert_eq!(quarters(&w, &w.tokens["esp_a"]).await.len(), 4);
    w.clock.set(second_end).unwrap();
    assert_eq!(w.app.access.tick().await.unwrap().len(), 1);
    let r = get(&format!("{u}/api/esp/v1/points/{}/energy?{}", w.dsp1, hour()), &w.tokens["esp_a"])
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["code"], "mandate_expired");
    assert!(approved < valid_until);
    let mut waited = 0;
    while !events.lock().unwrap().iter().any(|e| e == "mandate_expired") && waited < 100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        waited += 1;
    }
    let got = events.lock().unwrap().clone();
    for e in ["mandate_approved", "renewal_due", "mandate_expired"] {
        assert!(got.iter().any(|g| g == e), "{e} missing from {got:?}");
    }
}

#[tokio::test]
async fn bad_requests_get_stable_codes() {
    let w = world("sqlite::memory:", None, Config::default()).await;
    let u = w.app.url();
    let a = &w.tokens["esp_a"];
    let d1 = &w.dsp1;
    let mut bad_ean = d1.to_string();
    let last = bad_ean.pop().unwrap();
    bad_ean.push(if last == '9' { '0' } else { char::from(last as u8 + 1) });
    // 404: a path that names nothing; 422: readable but breaks a rule no schema holds; 400: a
    // parameter that is missing or not one of its words.
    for (path, status, code) in [
        (format!("/api/esp/v1/points/{bad_ean}/energy?{}", hour()), 404, "ean_check_digit"),
        (
            format!("/api/esp/v1/points/54144890000000001/energy?{}", hour()),
            404,
            "ean_invalid_length",
        ),
        (format!("/api/esp/v1/points/54144890000000001X/energy?{}", hour()), 404, "ean_not_digits"),
        (
            format!("/api/esp/v1/points/{d1}/energy?from=2026-06-02&to=2026-06-01"),
            422,
            "period_reversed",
        ),
        (
            format!("/api/esp/v1/points/{d1}/energy?from=2026-01-01&to=2026-03-01"),
            422,
            "period_too_long",
        ),
        (
            format!("/api/esp/v1/points/{d1}/energy?granularity=minute&{}", hour()),
            400,
            "granularity_unknown",
        ),
        (
            format!("/api/esp/v1/points/{d1}/energy?granularity=hour&{}", hour()),
            422,
            "granularity_not_for_commodity",
        ),
        (format!("/api/esp/v1/points/{d1}/energy?from=yesterday&to=2026-06-01"), 422, "bad_time"),
        (format!("/api/esp/v1/points/{d1}/energy?format=xml&{}", hour()), 400, "format_unknown"),
        (format!("/api/esp/v1/points/{d1}/energy"), 400, "period_missing"),
    ] {
        let r = get(&format!("{u}{path}"), a).await;
        assert_eq!(r.status(), status, "{path}");
        assert_eq!(r.json::<serde_json::Value>().await.unwrap()["code"], code, "{path}");
    }
    // A KBO in the path that cannot be valid names no ESP.
    let r = post(&format!("{u}/api/registers/v1/dienstverlener/0123456789/stappenplan"), &w.tokens["g1"],
        serde_json::json!({ "data_service_point": d1, "scope": "day_only", "period_from": "2026-05-01" })).await;
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["code"], "kbo_check");
    // JSON of the wrong shape is a 422; no JSON at all a 400.
    let r = post(
        &format!("{u}/api/registers/v1/consents"),
        &w.tokens["g1"],
        serde_json::json!({ "nonsense": 1 }),
    )
    .await;
    assert_eq!(r.status(), 422);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["code"], "invalid_body");
    let r = reqwest::Client::new()
        .post(format!("{u}/api/registers/v1/consents"))
        .bearer_auth(&w.tokens["g1"])
        .header("content-type", "application/json")
        .body("{\"data_service_point\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["code"], "malformed");
    // Mandate status reports a malformed point in place, the rest still answered.
    let v = ok_json(
        post(
            &format!("{u}/api/esp/v1/mandates/status"),
            a,
            serde_json::json!({ "points": [d1, "123"] }),
        )
        .await,
    )
    .await;
    assert_eq!(v[0]["error"], "ean_invalid_length");
    assert_eq!(v[1]["mandate"]["id"], w.mandate.as_str());
    // Onboarding an ESP twice would mint a second token behind the first one's back.
    let again = post(
        &format!("{u}/api/admin/v1/esps"),
        ADMIN,
        serde_json::json!({ "esp": {
            "kbo": w.esp_a, "gln": null, "name": "again", "channel": "api", "status": "active",
            "webhook_url": null, "services": [],
        }}),
    )
    .await;
    assert_eq!(again.status(), 409);
    assert_eq!(again.json::<serde_json::Value>().await.unwrap()["code"], "esp_exists");
    // Quarters that have not ended (the clock reads 10:00 UTC) are not listed, not "missing".
    let day = format!("from={}&to={}", t0(), t0() + SignedDuration::from_hours(24));
    let v = ok_json(get(&format!("{u}/api/esp/v1/points/{d1}/energy?{day}"), a).await).await;
    let values = v["values"].as_array().unwrap();
    assert_eq!(values.len(), 8, "08:00-10:00 UTC");
    assert_eq!(values.iter().filter(|q| q["quality"] == "missing").count(), 4, "{v}");
    // CSV download (R-DAT-5).
    let r = get(&format!("{u}/api/esp/v1/points/{d1}/energy?format=csv&{}", hour()), a).await;
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = r.text().await.unwrap();
    assert_eq!(csv.lines().count(), 5, "{csv}");
    assert!(csv.starts_with("start,end,offtake_kwh,injection_kwh,quality\n"), "{csv}");
    // kWh with three decimals, written from the whole Wh the JSON gives.
    let json =
        ok_json(get(&format!("{u}/api/esp/v1/points/{d1}/energy?{}", hour()), a).await).await;
    for (line, v) in csv.lines().skip(1).zip(json["values"].as_array().unwrap()) {
        let field = line.split(',').nth(2).unwrap();
        match v["offtake_wh"].as_u64() {
            Some(wh) => assert_eq!(field, format!("{}.{:03}", wh / 1000, wh % 1000), "{line}"),
            None => assert_eq!(field, "", "{line}"),
        }
    }
}

#[tokio::test]
async fn rate_limits_answer_429_and_outages_503_with_retry_after() {
    let config =
        Config { rate_limit: RateLimit { burst: 5, per_second: 0.2 }, ..Config::default() };
    let w = world("sqlite::memory:", None, config).await;
    let u = w.app.url();
    let url = format!("{u}/api/esp/v1/mandates");
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let r = get(&url, &w.tokens["esp_b"]).await;
        statuses.push((r.status().as_u16(), r.headers().get("retry-after").cloned()));
    }
    assert_eq!(statuses.iter().filter(|(s, _)| *s == 200).count(), 5, "{statuses:?}");
    let (s, retry) = &statuses[6];
    assert_eq!(*s, 429);
    assert!(retry.as_ref().unwrap().to_str().unwrap().parse::<u64>().unwrap() >= 1);
    // Another token has its own bucket.
    assert_eq!(get(&url, &w.tokens["esp_a"]).await.status(), 200);

    // R-SLA-3: during an unplanned outage the data routes say so with a code.
    ok_json(
        post(
            &format!("{u}/api/admin/v1/outage"),
            ADMIN,
            serde_json::json!({ "active": true, "reason": "store failover" }),
        )
        .await,
    )
    .await;
    let r = get(&format!("{u}/api/esp/v1/points/{}/energy?{}", w.dsp1, hour()), &w.tokens["esp_a"])
        .await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let e: serde_json::Value = r.json().await.unwrap();
    assert_eq!(e["code"], "unplanned_outage");
    assert!(e["message"].as_str().unwrap().contains("store failover"));
    // Staff declared it and still see what it hides.
    let admin = get(&format!("{u}/api/esp/v1/points/{}/energy?{}", w.dsp1, hour()), ADMIN).await;
    assert_eq!(admin.status(), 200);
    ok_json(
        post(&format!("{u}/api/admin/v1/outage"), ADMIN, serde_json::json!({ "active": false }))
            .await,
    )
    .await;
    assert_eq!(quarters(&w, &w.tokens["esp_a"]).await.len(), 4);
}

#[tokio::test]
async fn webhooks_to_a_dead_endpoint_are_retried_on_the_labs_clock_then_marked_failed() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks", dead.local_addr().unwrap());
    drop(dead);
    let config = Config {
        webhooks: RetryPolicy {
            attempts: 3,
            first_backoff: std::time::Duration::from_secs(60),
            timeout: std::time::Duration::from_secs(2),
        },
        ..Config::default()
    };
    let w = world("sqlite::memory:", Some(url), config).await;
    let deliveries = || async {
        let url = format!("{}/api/esp/v1/deliveries", w.app.url());
        ok_json(get(&url, &w.tokens["esp_a"]).await).await.as_array().unwrap().clone()
    };
    let attempts = |log: &[serde_json::Value]| {
        log.iter().map(|d| d["attempts"].as_array().unwrap().len()).collect::<Vec<_>>()
    };
    // The first attempts fail at once; the retries wait for the lab's clock, not the wall's.
    let mut log = Vec::new();
    for _ in 0..100 {
        log = deliveries().await;
        if !log.is_empty() && attempts(&log).iter().all(|n| *n == 1) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(!log.is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(attempts(&deliveries().await).iter().all(|n| *n == 1), "no retry before its time");
    // 60 s of lab time: the second attempt; 120 s more: the third, and then failed.
    w.clock.advance(clock::SignedDuration::from_secs(60)).unwrap();
    w.clock.settle().await;
    for _ in 0..100 {
        if attempts(&deliveries().await).iter().all(|n| *n == 2) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(attempts(&deliveries().await).iter().all(|n| *n == 2));
    w.clock.advance(clock::SignedDuration::from_secs(120)).unwrap();
    w.clock.settle().await;
    for _ in 0..100 {
        log = deliveries().await;
        if log.iter().all(|d| d["state"] == "failed") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    for d in &log {
        assert_eq!(d["state"], "failed", "{d}");
        assert_eq!(d["attempts"].as_array().unwrap().len(), 3, "{d}");
        assert!(d["attempts"][0]["error"].as_str().is_some(), "{d}");
        let at = |i: usize| {
            d["attempts"][i]["at"].as_str().unwrap().parse::<clock::Timestamp>().unwrap()
        };
        assert_eq!(at(1).duration_since(at(0)).as_secs(), 60, "{d}");
        assert_eq!(at(2).duration_since(at(1)).as_secs(), 120, "{d}");
    }
}

#[tokio::test]
async fn registers_tokens_and_the_access_register_survive_a_restart() {
    let dir = std::env::temp_dir().join(format!("meterlab-access-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("lab.db");
    let _ = std::fs::remove_file(&file);
    let db = format!("sqlite:{}", file.display());
    let w = world(&db, None, Config::default()).await;
    let before = quarters(&w, &w.tokens["esp_a"]).await;
    let tokens = w.tokens.clone();
    let (dsp1, clock) = (w.dsp1.clone(), w.clock.clone());
    drop(w);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let app = App::start_with_clock(
        Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            database: db,
            mqtt: BrokerSpec::None,
            ..Config::default()
        },
        clock,
    )
    .await
    .unwrap();
    let v = ok_json(
        get(&format!("{}/api/esp/v1/points/{dsp1}/energy?{}", app.url(), hour()), &tokens["esp_a"])
            .await,
    )
    .await;
    assert_eq!(v["values"].as_array().unwrap().len(), before.len());
    let log =
        ok_json(get(&format!("{}/api/admin/v1/access-log?point={dsp1}", app.url()), ADMIN).await)
            .await;
    assert!(log.as_array().unwrap().len() >= 2);
    drop(app);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn every_documented_operation_is_served() {
    let w = world("sqlite::memory:", None, Config::default()).await;
    let doc = ok_json(get(&format!("{}/openapi.json", w.app.url()), "").await).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 30, "{}", paths.len());
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            let concrete = path
                .replace("{ean}", w.dsp1.as_str())
                .replace("{kbo}", w.esp_a.as_str())
                .replace("{id}", "1")
                .replace("{seq}", "1")
                .replace("{meter}", "AMR1");
            let url = format!("{}{concrete}", w.app.url());
            let r = match method.as_str() {
                "get" => reqwest::Client::new().get(&url).send().await.unwrap(),
                _ => reqwest::Client::new()
                    .post(&url)
                    .json(&serde_json::json!({}))
                    .send()
                    .await
                    .unwrap(),
            };
            // Without a token a served route answers 401 (or works, when public); an
            // unrouted one would be 404 or 405.
            let s = r.status().as_u16();
            assert!(![404, 405].contains(&s), "{method} {path}: {s}");
            let public = op["x-roles"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == "public" || r == "dongle" || r == "head-end");
            if !public {
                assert_eq!(s, 401, "{method} {path} must need a token");
            }
        }
    }
}
