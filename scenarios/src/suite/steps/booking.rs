//! Usage agreements and slots (R-LAB-2, R-LAB-3, R-LAB-5). A refused booking is the booking
//! ledger's answer, so an unexpected refusal is a failure, not a lab error.

use super::{bxl, local};
use crate::suite::{LabWorld, lab};
use cucumber::{given, then, when};

#[given(expr = "{word} {word} has signed a usage agreement")]
async fn signed(w: &mut LabWorld, a: String, b: String) {
    let holder = format!("{a} {b}");
    let id = lab(w.lab().await.sign_agreement(&holder));
    w.agreements.insert(holder, id);
}

fn agreement(w: &LabWorld, a: &str, b: &str) -> u64 {
    let holder = format!("{a} {b}");
    match w.agreements.get(&holder) {
        Some(id) => *id,
        None => panic!(
            "{holder} has no usage agreement: a `Given {holder} has signed a usage agreement` step comes first"
        ),
    }
}

#[when(expr = "{word} {word} books {word} starting {word}")]
#[given(expr = "{word} {word} has booked {word} starting {word}")]
async fn books(w: &mut LabWorld, a: String, b: String, rig: String, start: String) {
    let id = agreement(w, &a, &b);
    let slot = w
        .lab()
        .await
        .book(id, &rig, local(&start))
        .unwrap_or_else(|e| panic!("{a} {b} could not book {rig} starting {start}: {e}"));
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
    match w.lab().await.book(id, &rig, local(&start)) {
        Ok(slot) => panic!("booked slot {} although it should be refused ({why})", slot.id.0),
        Err(err) => assert!(err.contains(&why), "refused, but for another reason: {err}"),
    }
}

#[then(expr = "the slot ends 22 hours later, at {word} in Brussels")]
pub(super) async fn slot_ends(w: &mut LabWorld, end: String) {
    let Some(slot) = w.last_slot.as_ref() else {
        panic!("no slot booked yet");
    };
    let (start, until) = (bxl(slot.start), bxl(slot.end));
    let length = slot.start.duration_until(slot.end);
    assert!(
        length == ::clock::SignedDuration::from_hours(22),
        "the slot lasts {:.2} hours: {start} to {until}",
        length.as_secs_f64() / 3600.0
    );
    let want = local(&end);
    assert!(slot.end == want, "the slot ends at {until}, not at {}", bxl(want));
}

#[when(expr = "the operator updates the firmware of {word} on {word} to {word}")]
async fn firmware_update(w: &mut LabWorld, variant: String, rig: String, firmware: String) {
    let notices = lab(w.lab().await.update_firmware(&rig, &variant, &firmware));
    w.notices.extend(notices);
}

#[then(expr = "{word} {word} is notified that {word} on {word} went to firmware {word}")]
async fn notified_of_update(
    w: &mut LabWorld,
    a: String,
    b: String,
    variant: String,
    rig: String,
    firmware: String,
) {
    let holder = format!("{a} {b}");
    let Some(n) = w.notices.iter().find(|n| n.holder == holder) else {
        panic!(
            "no notice to {holder}: {:?}",
            w.notices.iter().map(|n| &n.holder).collect::<Vec<_>>()
        )
    };
    assert_eq!(n.rig, rig);
    let expected = booking::RigChange::FirmwareChanged {
        variant_id: variant.clone(),
        from: n
            .changes
            .iter()
            .find_map(|c| match c {
                booking::RigChange::FirmwareChanged { variant_id, from, .. }
                    if *variant_id == variant =>
                {
                    Some(from.clone())
                }
                _ => None,
            })
            .unwrap_or_default(),
        to: firmware,
    };
    assert_eq!(n.changes, vec![expected], "{}", n.subject());
}
