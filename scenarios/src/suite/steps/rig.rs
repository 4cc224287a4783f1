//! Rigs on the lab: every meter variant (R-LAB-1), lines live during a slot, the hard stop.

use crate::suite::{LabWorld, lab};
use cucumber::{given, then};

#[given(expr = "{word} is attached to the lab")]
async fn attached(w: &mut LabWorld, rig: String) {
    lab(w.lab().await.attach_rig(&rig, false).await);
}

#[given(expr = "{word} is attached to the lab as an ephemeral CI rig")]
async fn attached_ephemeral(w: &mut LabWorld, rig: String) {
    lab(w.lab().await.attach_rig(&rig, true).await);
}

#[then(expr = "every meter variant of {word} delivered all its telegrams to the platform")]
async fn every_variant_delivered(w: &mut LabWorld, rig: String) {
    let lab_ = w.lab().await;
    let meters: Vec<(String, u64)> = lab_
        .meters
        .iter()
        .filter(|m| m.rig == rig)
        .map(|m| (m.variant.clone(), m.station.telegrams()))
        .collect();
    assert_eq!(meters.len(), 7, "every P1 variant of the rig (R-LAB-1)");
    let catalogue = meter::Catalogue::builtin();
    for (variant, telegrams) in &meters {
        let interval = lab(catalogue.get(variant).map_err(anyhow::Error::from)).interval_s;
        let expected = 22 * 3600 / u64::from(interval);
        assert!(
            telegrams.abs_diff(expected) <= 1,
            "{variant}: {telegrams} telegrams, expected {expected}"
        );
        let stored = lab(lab_.stored(variant).await.map_err(anyhow::Error::from));
        // The last second's upload may still be in the dongle: everything else is stored.
        assert!(
            stored.len() as u64 + 1 >= *telegrams,
            "{variant}: {} of {telegrams} stored",
            stored.len()
        );
    }
    w.telegrams_at_end.extend(meters);
}

#[then(expr = "no meter of {word} sent a telegram after the slot ended")]
async fn nothing_after_end(w: &mut LabWorld, rig: String) {
    let before = w.telegrams_at_end.clone();
    let lab = w.lab().await;
    for m in lab.meters.iter().filter(|m| m.rig == rig) {
        let Some(at_end) = before.get(&m.variant) else {
            panic!(
                "{}: no count at the slot's end (a `delivered all its telegrams` step comes first)",
                m.variant
            );
        };
        assert_eq!(
            m.station.telegrams(),
            *at_end,
            "{}: the hard stop released the line",
            m.variant
        );
        assert!(!m.station.live(), "{}: the line is still live after the slot", m.variant);
    }
}

#[given(expr = "the {word} meter of {word} is attached to the lab as an ephemeral CI rig")]
async fn one_meter(w: &mut LabWorld, variant: String, rig: String) {
    lab(w.lab().await.attach_variant(&rig, &variant, true).await);
}
