//! ESP onboarding is one transaction; an onboarded ESP's credentials can be rotated (and a
//! half-onboarded one repaired); a grid user's step-plan answer names nobody else.

use crate::access::{ADMIN, get, post, world};
use crate::databases;
use server::Config;
use store::Store as _;

fn esp_body(kbo: &str) -> serde_json::Value {
    serde_json::json!({ "esp": {
        "kbo": kbo, "gln": null, "name": "Gamma", "channel": "api", "status": "active",
        "webhook_url": null, "services": [{ "id": "live", "name": "Live", "needs": ["nrt"] }],
    }})
}

#[tokio::test]
async fn credentials_rotate_and_old_tokens_stop_at_once() {
    for db in databases().await {
        let w = world(&db, None, Config::default()).await;
        let u = w.app.url();
        let esp_a = w.esp_a.as_str();
        let old = w.tokens["esp_a"].clone();
        let mandates = format!("{u}/api/esp/v1/mandates");
        assert_eq!(get(&mandates, &old).await.status(), 200, "{db}");
        // Onboarding again is refused and says what to do instead.
        let again = post(&format!("{u}/api/admin/v1/esps"), ADMIN, esp_body(esp_a)).await;
        assert_eq!(again.status(), 409, "{db}");
        let e: wire::ApiError = again.json().await.unwrap();
        assert!(e.message.contains("/credentials"), "{e:?}");
        // Only the admin rotates.
        let creds = format!("{u}/api/admin/v1/esps/{esp_a}/credentials");
        let r = post(&creds, &old, serde_json::json!({})).await;
        assert_eq!(r.status(), 403, "{db}");
        // The webhook secret alone: the token keeps working.
        let r = post(&creds, ADMIN, serde_json::json!({ "token": false })).await;
        assert_eq!(r.status(), 201, "{db}");
        let b: serde_json::Value = r.json().await.unwrap();
        assert!(
            b["token"].is_null() && b["webhook_secret"].as_str().unwrap().starts_with("whsec_")
        );
        assert_ne!(b["webhook_secret"].as_str().unwrap(), w.secret_a, "{db}");
        assert_eq!(get(&mandates, &old).await.status(), 200, "{db}");
        // Both: the old token stops at once, the new one works.
        let r = post(&creds, ADMIN, serde_json::json!({})).await;
        let b: serde_json::Value = r.json().await.unwrap();
        assert_eq!(b["revoked_tokens"], 1, "{db}: {b}");
        let new = b["token"].as_str().unwrap();
        assert_eq!(get(&mandates, &old).await.status(), 401, "{db}");
        assert_eq!(get(&mandates, new).await.status(), 200, "{db}");
        // Unreadable JSON is a 400, the wrong shape or asking for nothing a 422.
        for (body, status, code) in [
            ("{", 400, "malformed"),
            ("{\"token\": \"yes\"}", 422, "invalid_body"),
            ("{\"token\": false, \"webhook_secret\": false}", 422, "nothing_to_rotate"),
        ] {
            let r = reqwest::Client::new()
                .post(&creds)
                .bearer_auth(ADMIN)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), status, "{db}: {body}");
            let e: wire::ApiError = r.json().await.unwrap();
            assert_eq!(e.code.as_str(), code, "{db}: {body}");
        }
        // An unknown ESP is a 404.
        let r = post(
            &format!("{u}/api/admin/v1/esps/0987654312/credentials"),
            ADMIN,
            serde_json::json!({}),
        )
        .await;
        assert!([400, 404].contains(&r.status().as_u16()), "{db}: {}", r.status());
    }
}

#[tokio::test]
async fn a_half_onboarded_esp_is_repaired_by_a_rotation() {
    for db in databases().await {
        let w = world(&db, None, Config::default()).await;
        let u = w.app.url();
        // What an interrupted onboarding of an earlier version left: the ESP registered,
        // without a token or a webhook secret.
        let esp: domain::Esp =
            serde_json::from_value(esp_body("0111.111.124")["esp"].clone()).unwrap();
        let kbo = esp.kbo.as_str().to_owned();
        w.app.access.execute(registers::Command::RegisterEsp { esp }).await.unwrap();
        let r =
            post(&format!("{u}/api/admin/v1/esps/{kbo}/credentials"), ADMIN, serde_json::json!({}))
                .await;
        assert_eq!(r.status(), 201, "{db}");
        let b: serde_json::Value = r.json().await.unwrap();
        let token = b["token"].as_str().unwrap();
        assert_eq!(get(&format!("{u}/api/esp/v1/mandates"), token).await.status(), 200, "{db}");
    }
}

#[tokio::test]
async fn an_onboarding_the_store_fails_leaves_nothing_behind() {
    let dir = std::env::temp_dir().join(format!("meterlab-onboard-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("onboard.db");
    let _ = std::fs::remove_file(&file);
    let db = format!("sqlite:{}", file.display());
    let w = world(&db, None, Config::default()).await;
    let u = w.app.url();
    // The token row (written after the registration and the secret) is refused: before,
    // the ESP stayed registered without a token and every later onboarding was a 409.
    let side = store::SqlStore::open(&db).await.unwrap();
    side.exec("CREATE TRIGGER no_tokens BEFORE INSERT ON tokens BEGIN SELECT RAISE(ABORT, 'disk full'); END")
        .await
        .unwrap();
    let r = post(&format!("{u}/api/admin/v1/esps"), ADMIN, esp_body("0111.111.124")).await;
    assert_eq!(r.status(), 503);
    assert!(!r.text().await.unwrap().contains("disk full"), "database text leaked");
    let registers = get(&format!("{u}/api/admin/v1/registers"), ADMIN).await.text().await.unwrap();
    assert!(!registers.contains("0111111124"), "the ESP stayed registered: {registers}");
    assert!(
        side.records(store::Record::EspSecrets)
            .await
            .unwrap()
            .iter()
            .all(|(k, _)| k != "0111111124")
    );
    side.exec("DROP TRIGGER no_tokens").await.unwrap();
    let r = post(&format!("{u}/api/admin/v1/esps"), ADMIN, esp_body("0111.111.124")).await;
    assert_eq!(r.status(), 201, "onboarding again works once the store does");
    // And after a restart the ESP is whole: registered, token and secret.
    let b: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        get(&format!("{u}/api/esp/v1/mandates"), b["token"].as_str().unwrap()).await.status(),
        200
    );
}

#[tokio::test]
async fn a_step_plan_on_another_grid_users_point_names_nobody_else() {
    let w = world("sqlite::memory:", None, Config::default()).await;
    let u = w.app.url();
    // G2 (a customer who is not the grid user of DSP1) asks ESP A for a mandate on it: the
    // registers tell G1 (co-consent, R-MAN-3), but G2's answer must not say so.
    let r = post(
        &format!("{u}/api/registers/v1/dienstverlener/{}/stappenplan", w.esp_a.as_str()),
        &w.tokens["g2"],
        serde_json::json!({ "data_service_point": w.dsp1, "scope": "day_only", "period_from": "2026-05-01" }),
    )
    .await;
    assert_eq!(r.status(), 201);
    let body = r.text().await.unwrap();
    assert!(!body.contains("G1"), "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v["notifications"][0]["mandate"].is_string(), "{v}");
}
