use crate::{client, databases, start, t0, upload};
use server::BrokerSpec;
use wire::ingest::v1::{Batch, Receipt};

#[tokio::test]
async fn rest_ingest_stores_once_and_derives_quarter_hours() {
    for db in databases().await {
        let app = start(&db, BrokerSpec::None).await;
        let url = format!("{}/api/ingest/v1/uploads", app.url());
        // 40 minutes at 1 Hz, sent newest batch first as a dongle backfilling would.
        let seqs: Vec<u64> = (0..2400).collect();
        for chunk in seqs.chunks(200).rev() {
            let batch = Batch { uploads: chunk.iter().map(|&s| upload("D1", s)).collect() };
            let r = client().post(&url).json(&batch).send().await.unwrap();
            assert_eq!(r.status(), 200, "{db}");
            let receipt: Receipt = r.json().await.unwrap();
            assert_eq!(receipt.stored.len(), 200, "{db}");
        }
        // A retry is safe: nothing is stored twice.
        let batch = Batch { uploads: (100..150).map(|s| upload("D1", s)).collect() };
        let receipt: Receipt =
            client().post(&url).json(&batch).send().await.unwrap().json().await.unwrap();
        assert_eq!((receipt.stored.len(), receipt.duplicates.len()), (0, 50), "{db}");
        assert_eq!(app.ingest.stored_sequences("D1").await.unwrap().len(), 2400, "{db}");

        // 1 kW for a quarter hour is 0.25 kWh (R-DAT-1), from register differences.
        let from = t0().to_string();
        let to = (t0() + clock::SignedDuration::from_mins(30)).to_string();
        let q: serde_json::Value = client()
            .get(format!("{}/api/admin/v1/dongles/D1/quarter-hours?from={from}&to={to}", app.url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let q = q.as_array().unwrap();
        assert_eq!(q.len(), 2, "{db}: {q:?}");
        for i in q {
            let wh = i["offtake_wh"].as_u64().unwrap();
            assert!(wh.abs_diff(250) <= 2, "{db}: {wh}");
        }
        let health: serde_json::Value = client()
            .get(format!("{}/health", app.url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(health["status"], "ok");
    }
}

#[tokio::test]
async fn amr_batches_need_the_head_end_token_and_are_idempotent() {
    let app = start("sqlite::memory:", BrokerSpec::None).await;
    let url = format!("{}/api/ingest/v1/amr/AMR1", app.url());
    let batch = wire::ingest::v1::AmrBatch {
        meter: "AMR1".into(),
        quarters: (0..96)
            .map(|q| wire::ingest::v1::AmrQuarter {
                start: t0() + clock::SignedDuration::from_secs(q * 900),
                active_import_wh: domain::Energy::wh(2500),
                active_export_wh: domain::Energy::ZERO,
                reactive_import_varh: domain::ReactiveEnergy::varh(1200),
                reactive_export_varh: domain::ReactiveEnergy::ZERO,
                production_wh: domain::Energy::ZERO,
                auxiliary_wh: domain::Energy::wh(4),
            })
            .collect(),
    };
    let r = client().post(&url).json(&batch).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let ok: serde_json::Value = client()
        .post(&url)
        .bearer_auth("meterlab-headend-dev")
        .json(&batch)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ok["stored"], 96);
    let again: serde_json::Value = client()
        .post(&url)
        .bearer_auth("meterlab-headend-dev")
        .json(&batch)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((again["stored"].as_u64(), again["duplicates"].as_u64()), (Some(0), Some(96)));
}
