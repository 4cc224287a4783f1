//! The platform's registers (seed brief R-MAN-*, R-NRT-*, R-ACC-*): mandates, NRT consents,
//! the occupancy of access points under Belgian market scenarios, and the access decision
//! that says which stretches of which data a party may read.
//!
//! Pure and event-sourced: [`Registers::apply`] takes a [`Command`] and the instant `now` and
//! returns the [`Notification`]s to send; nothing else changes the state, no I/O, no clock.
//! The server persists each accepted command with its `now` and replays the log at start, so
//! commands serialize (tagged by `type`) and replay gives the same state bit for bit.
//!
//! Flow: [`Command::RegisterAccessPoint`] / [`Command::RegisterEsp`] →
//! [`Command::RequestMandate`] through the ESP's step plan → [`Command::ApproveMandate`] (by
//! the customer, and by the grid user when they differ) → [`Registers::authorize`] on every
//! read → [`Command::Tick`] now and then (renewal due, expiry) → [`Command::MarketScenario`]
//! as the DSO reports them (truncates periods, revokes consents).

mod access;
mod command;
mod error;
mod model;
mod notify;
mod registers;
#[cfg(test)]
mod tests;
mod window;

pub use access::{Basis, Decision, Refusal};
pub use command::Command;
pub use error::RegisterError;
pub use model::{
    Consent, DSO_SOCIAL_SUPPLIER, EndReason, Mandate, MandateState, MandateView, Occupancy, Party,
    RevokeReason, Rules, ScenarioKind, Scope, TermsAcceptance,
};
pub use notify::{Notification, NotificationKind};
pub use registers::Registers;
