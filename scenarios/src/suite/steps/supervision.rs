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

/// One SLA figure (`daily` or `monthly`) of a meter's dongle for the Brussels days
/// `[first, next)`, checked against a verdict and counts.
#[allow(clippy::too_many_arguments)]
async fn check_sla(
    w: &mut LabWorld,
    variant: &str,
    first: ::clock::civil::Date,
    next: ::clock::civil::Date,
    count: &str,
    which: &str,
    verdict: &str,
    counts: (u64, u64),
) {
    let lab_ = w.lab().await;
    let Some(m) = lab_.meter(variant) else { panic!("no meter {variant} in the lab") };
    let dongle = m.dongle_id.clone();
    let all = lab(lab_.access.sla(&first.to_string(), &next.to_string(), count).await);
    let Some(fig) = all.as_array().and_then(|a| a.iter().find(|f| f["dongle"] == dongle.as_str()))
    else {
        panic!("no SLA figures for {dongle}: {all}")
    };
    let f = &fig[which];
    let requirement = if which == "daily" { "R-SLA-1" } else { "R-SLA-2" };
    assert_eq!(f["requirement"], requirement);
    assert_eq!(
        (f["on_time"].as_u64(), f["late"].as_u64()),
        (Some(counts.0), Some(counts.1)),
        "{f}"
    );
    assert_eq!(f["pass"], verdict == "pass", "{f}");
}

fn date(s: &str) -> ::clock::civil::Date {
    ::clock::parse_date_or_time(s).map(::clock::local_date).unwrap_or_else(|e| panic!("{s}: {e}"))
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
    let first = date(&day);
    let next = first.tomorrow().unwrap_or(first);
    check_sla(w, &variant, first, next, "calendar", "daily", &verdict, (on_time, late)).await;
}

#[then(
    expr = "counted in Belgian working days, the daily service level of the {word} meter for {word} is {word} with {int} on time and {int} late"
)]
async fn daily_sla_working(
    w: &mut LabWorld,
    variant: String,
    day: String,
    verdict: String,
    on_time: u64,
    late: u64,
) {
    let first = date(&day);
    let next = first.tomorrow().unwrap_or(first);
    check_sla(w, &variant, first, next, "working", "daily", &verdict, (on_time, late)).await;
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
    let first = date(&format!("{month}-01"));
    let next = first.last_of_month().tomorrow().unwrap_or(first);
    check_sla(w, &variant, first, next, "calendar", "monthly", &verdict, (on_time, late)).await;
}
