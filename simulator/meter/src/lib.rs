//! Simulated smart meters: the variants of the lab's rigs as data, and meter state machines
//! that turn a seeded load profile into what a real meter shows and sends.
//!
//! This crate does no I/O and never reads the clock: every call takes `now`. A [`Meter`]
//! integrates its registers from a [`profiles::Home`], keeps the Belgian capacity-tariff objects
//! (running quarter-hour demand, month peak, 13-month history), the tariff schedule of its
//! country, M-Bus gas and water captures, and emits encoded telegrams — with seeded faults
//! when asked. An [`AmrMeter`] has no P1 port; it closes quarter-hour records (R-DAT-2).
//!
//! Invariant: the same variant, profile, seed and sequence of `now` give the same bytes.

mod amr;
mod fault;
mod meter;
mod summary;
mod variant;

pub use amr::AmrMeter;
pub use domain::AmrQuarter;
pub use fault::{FaultKind, FaultPlan, FaultSpecError};
pub use meter::{Meter, MeterError, Tariffs};
pub use summary::{MonthSummary, quarter_series, summarize};
pub use variant::{Catalogue, Kind, MbusSpec, Variant, VariantError};
