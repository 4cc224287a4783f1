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

#[then(
    expr = "the daily service level of the {word} meter for {word} is {word} with {int} on time and {int} late"
)]
async fn daily_sla(
    w: &mut LabWorld,
    variant: String,
    day: String,
    verdict: String,
    on_time: u64,
    late: u64,
) {
    let lab_ = w.lab().await;
    let Some(m) = lab_.meter(&variant) else { panic!("no meter {variant} in the lab") };
    let dongle = m.dongle_id.clone();
    let next = ::clock::parse_date_or_time(&day)
        .ok()
        .map(::clock::local_date)
        .and_then(|d| d.tomorrow().ok())
        .map(|d| d.to_string())
        .unwrap_or_default();
    let all = lab(lab_.access.sla(&day, &next).await);
    let Some(fig) = all.as_array().and_then(|a| a.iter().find(|f| f["dongle"] == dongle.as_str()))
    else {
        panic!("no SLA figures for {dongle}: {all}")
    };
    let d = &fig["daily"];
    assert_eq!(d["requirement"], "R-SLA-1");
    assert_eq!((d["on_time"].as_u64(), d["late"].as_u64()), (Some(on_time), Some(late)), "{d}");
    assert_eq!(d["pass"], verdict == "pass", "{d}");
}

#[then(
    expr = "the monthly service level of the {word} meter for {word} is {word} with {int} on time and {int} late"
)]
async fn monthly_sla(
    w: &mut LabWorld,
    variant: String,
    month: String,
    verdict: String,
    on_time: u64,
    late: u64,
) {
    let lab_ = w.lab().await;
    let Some(m) = lab_.meter(&variant) else { panic!("no meter {variant} in the lab") };
    let dongle = m.dongle_id.clone();
    let first = ::clock::parse_date_or_time(&format!("{month}-01"))
        .map(::clock::local_date)
        .unwrap_or_else(|e| panic!("{month}: {e}"));
    let next = first.last_of_month().tomorrow().map(|d| d.to_string()).unwrap_or_default();
    let all = lab(lab_.access.sla(&first.to_string(), &next).await);
    let Some(fig) = all.as_array().and_then(|a| a.iter().find(|f| f["dongle"] == dongle.as_str()))
    else {
        panic!("no SLA figures for {dongle}: {all}")
    };
    let m = &fig["monthly"];
    assert_eq!(m["requirement"], "R-SLA-2");
    assert_eq!((m["on_time"].as_u64(), m["late"].as_u64()), (Some(on_time), Some(late)), "{m}");
    assert_eq!(m["pass"], verdict == "pass", "{m}");
}
