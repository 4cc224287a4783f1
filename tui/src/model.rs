//! What the console shows: one [`Snapshot`] of the lab, filled by the binary from the lab's
//! HTTP API. The types are the lab API's contract, `wire::lab::v1`, so the console reads
//! exactly what the lab writes; a document missing a field is an error, not a blank screen.

pub use wire::lab::v1::{
    AccessRow, ConsentRow, DongleLive, Incident, Kpis, MandateRow, MeterLive, PointView, Rig,
    ScenarioRow, Sla, Slot, Snapshot,
};
