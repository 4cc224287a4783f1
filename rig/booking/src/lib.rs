//! The booking ledger of the test rigs (seed 002, R-LAB-1..5): usage agreements with their
//! access codes, 22-hour slots on two rigs, the lead-time and overlap rules, update notices
//! to agreement holders, and an append-only audit log. It is a pure ledger: no I/O, no clock
//! (`now` is an argument of every call that depends on time), no randomness (access codes
//! are made from entropy the caller passes in, from its seeded or OS generator). The database
//! (the `store` crate) persists it and enforces non-overlap of slots under concurrency; this
//! crate decides the rules, and produces the audit entries, the slot events the driver acts
//! on (activate, hard stop with release of the rig's lines and sessions) and the notices it
//! mails.
//!
//! Time: slots are half-open `[start, end)` intervals of elapsed time. A slot lasts 22 hours
//! and keeps running across days (R-LAB-2), so on the Brussels DST change days it ends 23
//! (spring) or 21 (autumn) hours later on the wall clock. Starts are on whole hours. Messages
//! show instants on the Brussels wall clock with the zone abbreviation (`2026-12-01T00:00 CET`).
//!
//! CI pipelines do not book: a pipeline builds its own virtual rig (simulated meters on
//! in-memory or pty lines) for the length of its job, so it never takes a physical rig away
//! from a developer and never appears in this ledger.
//!
//! Flow: [`Ledger::new`] over [`default_rigs`] → [`Ledger::sign_agreement`] (hand out the
//! [`AccessCode`]) → [`Ledger::book`] / [`Ledger::cancel`] → [`Ledger::tick`] at every slot
//! boundary (act on the [`LedgerEvent`]s) → [`Ledger::log_in`] while a slot runs →
//! [`Ledger::update_rig`] (mail the [`Notice`]s).

mod code;
mod error;
mod event;
mod ledger;
mod model;
#[cfg(test)]
mod tests;

pub use code::{AccessCode, verify_code};
pub use error::BookingError;
pub use event::{
    Actor, AuditAction, AuditEntry, EndReason, LedgerEvent, Notice, Operation, RigChange,
};
pub use ledger::Ledger;
pub use model::{
    Agreement, AgreementId, LeadTime, Policy, Rig, RigVariant, Slot, SlotId, SlotState,
    default_rigs,
};
