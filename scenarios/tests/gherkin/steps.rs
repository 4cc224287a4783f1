//! Steps grouped by concept: clock, booking, rig, dongle, supervision.

use crate::LabWorld;
use clock::SignedDuration;
use cucumber::{given, then, when};

fn local(s: &str) -> clock::Timestamp {
    clock::parse_date_or_time(s).unwrap()
}

fn duration(n: i64, unit: &str) -> SignedDuration {
    match unit.trim_end_matches('s') {
        "second" => SignedDuration::from_secs(n),
        "minute" => SignedDuration::from_mins(n),
        "hour" => SignedDuration::from_hours(n),
        "day" => SignedDuration::from_hours(24 * n),
        u => panic!("unknown unit {u}"),
    }
}

// --- clock ---

#[given(expr = "the lab clock reads {word} in Brussels")]
async fn clock_reads(w: &mut LabWorld, t: String) {
    w.start = Some(local(&t));
}

#[when(expr = "the lab clock moves to {word} in Brussels")]
async fn clock_moves(w: &mut LabWorld, t: String) {
    w.lab().await.jump_to(local(&t)).unwrap();
}

#[when(expr = "the lab runs for {int} {word}")]
async fn runs_for(w: &mut LabWorld, n: i64, unit: String) {
    w.lab().await.run_for(duration(n, &unit)).await.unwrap();
}

// --- booking ---

#[given(expr = "{word} {word} has signed a usage agreement")]
async fn signed(w: &mut LabWorld, a: String, b: String) {
    let holder = format!("{a} {b}");
    let id = w.lab().await.sign_agreement(&holder).unwrap();
    w.agreements.insert(holder, id);
}

fn agreement(w: &LabWorld, a: &str, b: &str) -> u64 {
    w.agreements[&format!("{a} {b}")]
}

#[when(expr = "{word} {word} books {word} starting {word}")]
#[given(expr = "{word} {word} has booked {word} starting {word}")]
async fn books(w: &mut LabWorld, a: String, b: String, rig: String, start: String) {
    let id = agreement(w, &a, &b);
    let slot = w.lab().await.book(id, &rig, local(&start)).unwrap();
    w.slot_end = Some(slot.end);
    w.last_slot = Some(slot);
}

#[then(expr = "{word} {word} can book {word} starting {word}")]
async fn can_book(w: &mut LabWorld, a: String, b: String, rig: String, start: String) {
    books(w, a, b, rig, start).await;
}

#[then(expr = "{word} {word} cannot book {word} starting {word} because {string}")]
async fn cannot_book(
    w: &mut LabWorld,
    a: String,
    b: String,
    rig: String,
    start: String,
    why: String,
) {
    let id = agreement(w, &a, &b);
    let err = w.lab().await.book(id, &rig, local(&start)).unwrap_err();
    assert!(err.contains(&why), "refused, but for another reason: {err}");
}

#[then(expr = "the slot ends 22 hours later, at {word} in Brussels")]
async fn slot_ends(w: &mut LabWorld, end: String) {
    let slot = w.last_slot.as_ref().unwrap();
    assert_eq!(slot.start.duration_until(slot.end), SignedDuration::from_hours(22));
    assert_eq!(slot.end, local(&end));
}

// --- rig ---

#[given(expr = "{word} is attached to the lab")]
async fn attached(w: &mut LabWorld, rig: String) {
    w.lab().await.attach_rig(&rig, false).await.unwrap();
}

#[given(expr = "{word} is attached to the lab as an ephemeral CI rig")]
async fn attached_ephemeral(w: &mut LabWorld, rig: String) {
    w.lab().await.attach_rig(&rig, true).await.unwrap();
}

#[then(expr = "every meter variant of {word} delivered all its telegrams to the platform")]
async fn every_variant_delivered(w: &mut LabWorld, rig: String) {
    let lab = w.lab().await;
    let meters: Vec<(String, u64)> = lab
        .meters
        .iter()
        .filter(|m| m.rig == rig)
        .map(|m| (m.variant.clone(), m.telegrams))
        .collect();
    assert_eq!(meters.len(), 7, "every P1 variant of the rig (R-LAB-1)");
    for (variant, telegrams) in &meters {
        let interval = meter::Catalogue::builtin().get(variant).unwrap().interval_s;
        let expected = 22 * 3600 / u64::from(interval);
        assert!(
            telegrams.abs_diff(expected) <= 1,
            "{variant}: {telegrams} telegrams, expected {expected}"
        );
        let stored = lab.stored(variant).await;
        // The last second's upload may still be in the dongle: everything else is stored.
        assert!(
            stored.len() as u64 + 1 >= *telegrams,
            "{variant}: {} of {telegrams} stored",
            stored.len()
        );
    }
    let at_end: Vec<(String, u64)> = lab
        .meters
        .iter()
        .filter(|m| m.rig == rig)
        .map(|m| (m.variant.clone(), m.telegrams))
        .collect();
    w.telegrams_at_end.extend(at_end);
}

#[then(expr = "no meter of {word} sent a telegram after the slot ended")]
async fn nothing_after_end(w: &mut LabWorld, rig: String) {
    let before = w.telegrams_at_end.clone();
    let lab = w.lab().await;
    for m in lab.meters.iter().filter(|m| m.rig == rig) {
        assert_eq!(
            m.telegrams, before[&m.variant],
            "{}: the hard stop released the line",
            m.variant
        );
        assert!(!m.live);
    }
}

// --- dongle and supervision ---

#[when(expr = "the dongle of {word} loses its Wi-Fi for {int} {word}")]
async fn loses_wifi(w: &mut LabWorld, variant: String, n: i64, unit: String) {
    w.lab().await.link_down(&variant, duration(n, &unit));
}

async fn dongle_status(w: &mut LabWorld, variant: &str) -> serde_json::Value {
    let lab = w.lab().await;
    let id = lab.meter(variant).unwrap().dongle_id.clone();
    let now = lab.now();
    let status = lab.app.ingest.supervision_status(&id, now).unwrap();
    serde_json::to_value(status).unwrap()
}

#[then(expr = "supervision shows the dongle of {word} offline with an open incident")]
async fn offline_with_incident(w: &mut LabWorld, variant: String) {
    let s = dongle_status(w, &variant).await;
    assert_eq!(s["state"], "offline", "{s}");
    assert_eq!(s["open_incidents"].as_array().unwrap().len(), 1, "{s}");
}

#[then(expr = "every telegram of {word} is stored exactly once")]
async fn stored_once(w: &mut LabWorld, variant: String) {
    let lab = w.lab().await;
    let stored = lab.stored(&variant).await;
    let telegrams = lab.meter(&variant).unwrap().telegrams;
    assert!(stored.windows(2).all(|p| p[1] == p[0] + 1), "no gaps, no duplicates");
    assert!(stored.len() as u64 + 1 >= telegrams, "{} of {telegrams} stored", stored.len());
    let stats = lab.dongle_stats(&variant).unwrap();
    assert_eq!(stats.dropped, 0);
}

#[then(expr = "the offline incident of {word} is closed")]
async fn incident_closed(w: &mut LabWorld, variant: String) {
    let s = dongle_status(w, &variant).await;
    assert_eq!(s["state"], "online", "{s}");
    assert!(s["open_incidents"].as_array().unwrap().is_empty(), "{s}");
}
