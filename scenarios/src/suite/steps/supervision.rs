//! Supervision: dongle states and incidents (R-NRT-9).

use crate::suite::{LabWorld, lab};
use cucumber::then;

async fn dongle_status(w: &mut LabWorld, variant: &str) -> serde_json::Value {
    let lab_ = w.lab().await;
    let Some(m) = lab_.meter(variant) else {
        panic!("no meter {variant} on the lab");
    };
    let id = m.dongle_id.clone();
    let now = lab_.now();
    let Some(status) = lab_.app.ingest.supervision_status(&id, now) else {
        panic!("supervision knows no dongle {id}");
    };
    lab(serde_json::to_value(status).map_err(anyhow::Error::from))
}

fn open_incidents(s: &serde_json::Value) -> usize {
    match s["open_incidents"].as_array() {
        Some(a) => a.len(),
        None => panic!("no open_incidents in the status: {s}"),
    }
}

#[then(expr = "supervision shows the dongle of {word} offline with an open incident")]
async fn offline_with_incident(w: &mut LabWorld, variant: String) {
    let s = dongle_status(w, &variant).await;
    assert_eq!(s["state"], "offline", "{s}");
    assert_eq!(open_incidents(&s), 1, "{s}");
}

#[then(expr = "the offline incident of {word} is closed")]
async fn incident_closed(w: &mut LabWorld, variant: String) {
    let s = dongle_status(w, &variant).await;
    assert_eq!(s["state"], "online", "{s}");
    assert_eq!(open_incidents(&s), 0, "{s}");
}
