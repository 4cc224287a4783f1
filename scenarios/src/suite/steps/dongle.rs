//! Dongles: field faults, store-and-forward (R-NRT-2, R-NRT-10).

use super::duration;
use crate::suite::LabWorld;
use cucumber::{then, when};

#[when(expr = "the dongle of {word} loses its Wi-Fi for {int} {word}")]
async fn loses_wifi(w: &mut LabWorld, variant: String, n: i64, unit: String) {
    w.lab().await.link_down(&variant, duration(n, &unit));
}

#[then(expr = "every telegram of {word} is stored exactly once")]
async fn stored_once(w: &mut LabWorld, variant: String) {
    let lab = w.lab().await;
    let stored = crate::suite::lab(lab.stored(&variant).await.map_err(anyhow::Error::from));
    let Some(m) = lab.meter(&variant) else {
        panic!("no meter {variant} on the lab");
    };
    let telegrams = m.station.telegrams();
    assert!(stored.windows(2).all(|p| p[1] == p[0] + 1), "no gaps, no duplicates");
    assert!(stored.len() as u64 + 1 >= telegrams, "{} of {telegrams} stored", stored.len());
    let Some(stats) = lab.dongle_stats(&variant) else {
        panic!("no dongle for {variant}");
    };
    assert_eq!(stats.dropped, 0, "{variant}: the dongle dropped telegrams");
}
