use crate::{KEY, client, start, upload};
use server::BrokerSpec;
use wire::ApiError;
use wire::ingest::v1::{Batch, Receipt};

async fn post(url: &str, body: Vec<u8>) -> (u16, serde_json::Value) {
    let r = client()
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[tokio::test]
async fn bad_input_gets_its_4xx_with_a_reason_is_counted_and_loses_nothing_valid() {
    let app = start("sqlite::memory:", BrokerSpec::None).await;
    let url = format!("{}/api/ingest/v1/uploads", app.url());
    let json = |b: &Batch| serde_json::to_vec(b).unwrap();
    let good = Batch { uploads: (0..10).map(|s| upload("D1", s)).collect() };
    assert_eq!(post(&url, json(&good)).await.0, 200);

    // Malformed JSON.
    let (status, body) = post(&url, b"{\"uploads\": [".to_vec()).await;
    let e: ApiError = serde_json::from_value(body).unwrap();
    assert_eq!((status, e.code.as_str()), (400, "malformed"));
    assert!(e.message.contains("not an ingest v1 batch"), "{}", e.message);

    // Unknown dongle.
    let mut stranger = upload("D404", 1);
    stranger.sign(b"some other key...");
    let (status, body) = post(&url, json(&Batch { uploads: vec![stranger] })).await;
    let r: Receipt = serde_json::from_value(body).unwrap();
    assert_eq!((status, r.rejected[0].code.as_str()), (401, "unknown_dongle"));

    // Forged HMAC: a known dongle id, the wrong key.
    let mut forged = upload("D1", 10);
    forged.telegram = forged.telegram.replace("1-0:1.7.0(01.000", "1-0:1.7.0(09.999");
    let (status, body) = post(&url, json(&Batch { uploads: vec![forged] })).await;
    let r: Receipt = serde_json::from_value(body).unwrap();
    assert_eq!((status, r.rejected[0].code.as_str()), (401, "bad_signature"));

    // Oversized body.
    let (status, body) = post(&url, vec![b' '; 300 * 1024]).await;
    assert_eq!((status, body["code"].as_str()), (413, Some("too_large")));

    // A replayed sequence number with other (validly signed) content.
    let mut replay = upload("D1", 3);
    replay.captured_at += clock::SignedDuration::from_hours(1);
    replay.sign(KEY);
    let (status, body) = post(&url, json(&Batch { uploads: vec![replay] })).await;
    let r: Receipt = serde_json::from_value(body).unwrap();
    assert_eq!((status, r.rejected[0].code.as_str()), (409, "replay"));

    // Nothing valid was lost and the original upload 3 is intact.
    assert_eq!(app.ingest.stored_sequences("D1").await.unwrap(), (0..10).collect::<Vec<u64>>());
    let metrics =
        client().get(format!("{}/metrics", app.url())).send().await.unwrap().text().await.unwrap();
    // Uploads: 10 stored + 3 rejected of 13 received; the two requests that never became
    // uploads (bad JSON, too large) are counted apart.
    assert!(metrics.contains("meterlab_ingest_received_total 13"), "{metrics}");
    assert!(metrics.contains("meterlab_ingest_rejected_total 3"), "{metrics}");
    assert!(metrics.contains("meterlab_ingest_stored_total 10"), "{metrics}");
    assert!(metrics.contains("meterlab_ingest_malformed_requests_total 2"), "{metrics}");
    // Supervision counts rejections by reason, and a forged dongle opens a security incident.
    let incidents = crate::admin_json(&app, "/api/admin/v1/incidents").await;
    assert!(incidents.to_string().to_lowercase().contains("security"), "{incidents}");
}

#[tokio::test]
async fn a_gap_in_sequence_numbers_is_reported_and_closed_by_the_backfill() {
    // What a broker dropping QoS 1 messages would leave behind: the platform notices.
    let app = start("sqlite::memory:", BrokerSpec::None).await;
    let url = format!("{}/api/ingest/v1/uploads", app.url());
    let send = |seqs: Vec<u64>| {
        let url = url.clone();
        async move {
            let b = Batch { uploads: seqs.into_iter().map(|s| upload("D1", s)).collect() };
            client().post(&url).json(&b).send().await.unwrap().status().as_u16()
        }
    };
    assert_eq!(send((0..10).chain(20..30).collect()).await, 200);
    let get = || async {
        client()
            .get(format!("{}/api/admin/v1/incidents", app.url()))
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()
    };
    let open_gap = |v: &serde_json::Value| {
        v.as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "sequence_gap" && i["closed_at"].is_null())
    };
    assert!(open_gap(&get().await), "{}", get().await);
    let status: serde_json::Value = client()
        .get(format!("{}/api/admin/v1/dongles", app.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status[0]["missing"], 10, "{status}");
    assert_eq!(send((10..20).collect()).await, 200);
    assert!(!open_gap(&get().await), "the backfill closes the gap: {}", get().await);
}
