//! The Gherkin suites in `features/`, run with `cargo test -p scenarios --test gherkin`
//! (cucumber binaries do not speak nextest's protocol). Steps are thin calls on the `Lab`.
#![allow(clippy::unwrap_used)]

mod steps;

use cucumber::World as _;

#[derive(Default, cucumber::World)]
pub struct LabWorld {
    pub lab: Option<scenarios::Lab>,
    pub start: Option<clock::Timestamp>,
    pub agreements: std::collections::BTreeMap<String, u64>,
    pub last_slot: Option<booking::Slot>,
    pub slot_end: Option<clock::Timestamp>,
    pub telegrams_at_end: std::collections::BTreeMap<String, u64>,
}

impl std::fmt::Debug for LabWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabWorld")
            .field("start", &self.start)
            .field("agreements", &self.agreements)
            .finish()
    }
}

impl LabWorld {
    pub async fn lab(&mut self) -> &mut scenarios::Lab {
        if self.lab.is_none() {
            let start = self.start.expect("a Given step sets the lab clock first");
            self.lab = Some(scenarios::Lab::new(start, 7).await.unwrap());
        }
        self.lab.as_mut().unwrap()
    }
}

#[tokio::main]
async fn main() {
    let features = concat!(env!("CARGO_MANIFEST_DIR"), "/../features");
    LabWorld::cucumber().fail_on_skipped().max_concurrent_scenarios(2).run_and_exit(features).await;
}
