//! The platform in process (`App::in_process`, what the lab API of `meterlab up` uses) answers
//! as its admin routes do: the same documents, and the same refusals with the same codes.

use crate::access::{ADMIN, get, post, world};
use crate::databases;
use server::Config;
use wire::api::v1 as w;

async fn json<T: serde::de::DeserializeOwned>(r: reqwest::Response) -> (u16, T) {
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[tokio::test]
async fn the_in_process_platform_reads_and_refuses_as_its_admin_routes() {
    for db in databases().await {
        let w = world(&db, None, Config::default()).await;
        let (u, p) = (w.app.url(), w.app.in_process());
        let (_, http): (_, w::RegistersView) =
            json(get(&format!("{u}/api/admin/v1/registers"), ADMIN).await).await;
        assert_eq!(p.registers().await, http, "{db}");
        assert!(!http.points.is_empty());
        let (_, http): (_, Vec<w::DongleStatus>) =
            json(get(&format!("{u}/api/admin/v1/dongles"), ADMIN).await).await;
        assert_eq!(p.dongles().unwrap(), http, "{db}");
        let (_, http): (_, Vec<w::AccessEntry>) =
            json(get(&format!("{u}/api/admin/v1/access-log"), ADMIN).await).await;
        assert_eq!(p.access_log().await.unwrap(), http, "{db}");

        // G2 may not revoke G1's consent: refused in process exactly as over HTTP.
        let (status, http): (_, w::ApiError) = json(
            post(
                &format!("{u}/api/registers/v1/consents/{}/revoke", w.consent),
                &w.tokens["g2"],
                serde_json::json!({}),
            )
            .await,
        )
        .await;
        let refused = p.revoke_consent(domain::GridUserId("G2".into()), &w.consent).await;
        let refused = refused.expect_err("G2 revoked G1's consent");
        assert_eq!((refused.status, refused.error.code), (status, http.code), "{db}");
        assert!(status >= 400, "{db}: {status}");

        // A scenario on a point that does not exist: the same refusal.
        let scenario = w::NewScenario {
            access_point: "541448900000000000".into(),
            kind: w::ScenarioKind::SupplierSwitch,
            effective: "2026-06-01T08:00:00Z".into(),
            new_grid_user: None,
            new_supplier: Some(domain::SupplierId("S2".into())),
        };
        let (status, http): (_, w::ApiError) = json(
            post(
                &format!("{u}/api/admin/v1/market-scenarios"),
                ADMIN,
                serde_json::to_value(&scenario).unwrap(),
            )
            .await,
        )
        .await;
        let refused = p.market_scenario(scenario).await.expect_err("a scenario on no point");
        assert_eq!((refused.status, refused.error.code), (status, http.code), "{db}");

        // G1 revokes in process; the HTTP side sees it.
        let done = p.revoke_consent(domain::GridUserId("G1".into()), &w.consent).await.unwrap();
        assert!(!done.notifications.is_empty(), "{db}: {done:?}");
        let (_, after): (_, w::RegistersView) =
            json(get(&format!("{u}/api/admin/v1/registers"), ADMIN).await).await;
        let c = after.points.iter().flat_map(|p| &p.consents).find(|c| c.id == w.consent);
        assert!(c.unwrap().revoked_at.is_some(), "{db}");
    }
}
