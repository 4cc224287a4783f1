//! The lab clock: where it starts, jumps and how long the lab runs.

use super::{duration, local};
use crate::suite::{LabWorld, lab};
use cucumber::{given, when};

#[given(expr = "the lab clock reads {word} in Brussels")]
async fn clock_reads(w: &mut LabWorld, t: String) {
    w.start = Some(local(&t));
}

#[when(expr = "the lab clock moves to {word} in Brussels")]
async fn clock_moves(w: &mut LabWorld, t: String) {
    lab(w.lab().await.jump_to(local(&t)));
}

#[given(expr = "the lab runs for {int} {word}")]
#[when(expr = "the lab runs for {int} {word}")]
async fn runs_for(w: &mut LabWorld, n: i64, unit: String) {
    lab(w.lab().await.run_for(duration(n, &unit)).await);
}
