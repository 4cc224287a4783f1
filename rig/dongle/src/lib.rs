//! A simulated P1 dongle: it reads a meter's P1 port, turns each telegram into a signed
//! [`wire::ingest::v1::Upload`], keeps uploads through outages, and hands batches to an
//! uplink (REST or MQTT, which the driver owns), with the seeded field failures of R-NRT-10.
//! Invariants: sans-IO (no sockets, ports, threads or timers); it never reads the clock, so
//! every method takes `now`; all randomness (fault windows, backoff jitter) comes from
//! [`Config::seed`], so the same bytes at the same instants give the same uploads, batches
//! and windows. No input panics, and memory is bounded by the buffer capacity.
//!
//! The driver loop, in the style of rumqttc's `MqttState` with time passed in:
//!
//! ```text
//! dongle.on_serial_bytes(now, &bytes);                 // whenever the line delivers
//! while let Some(tx) = dongle.poll_transmit(now) {     // send what is due
//!     let outcome = uplink.send(tx.clone().into_batch());  // later: Ok(receipt) | Failed
//!     dongle.on_transmit_result(now, tx.id, outcome);
//! }
//! sleep_until(dongle.next_deadline());                 // or the next serial bytes
//! ```
//!
//! Policies:
//! - **Sequence numbers** start at [`Config::first_seq`] (default 0), go up by one per
//!   uploaded telegram (valid or with a corrupt CRC), and are never reused. The counter is
//!   persistent, as in the flash of real dongles: a [`Dongle::reset`] carries it on.
//! - **Buffer**: at most [`Config::buffer_capacity`] waiting uploads (the transmit in flight
//!   comes on top). When full, the oldest are dropped and counted in [`Stats::dropped`]. The
//!   transmit in flight is kept until its result: acknowledged uploads leave, failed ones go
//!   back in sequence order.
//! - **Order**: each batch is the newest waiting uploads, newest first, at most
//!   [`Config::batch_max`] and [`Config::batch_max_bytes`]; the backlog follows from newest to
//!   oldest in later batches. New telegrams that arrive during a backfill go first (R-NRT-2:
//!   prioritise to limit latency). A full batch goes at once; a partial one once
//!   [`Config::send_interval`] has passed since the previous transmit. One transmit is in
//!   flight at a time; with no result within [`Config::transmit_timeout`] it has failed.
//! - **Backoff**: after `k` consecutive failures the dongle waits a uniform draw in
//!   `[backoff_min, min(backoff_max, backoff_min × 2^k)]` (full jitter above the floor, from
//!   the seed). A receipt resets it. Link-down windows are not failures: when the link
//!   returns, the dongle sends at once.
//! - **Reset** (power cycle): clears a hang, the backoff, the half-read frame and the clock
//!   error. A RAM buffer (the default) loses its waiting and in-flight uploads, counted in
//!   [`Stats::dropped`] and [`Stats::lost_at_reset`]; with [`Config::flash_backed`] they
//!   survive and are sent after the reset.
//! - **Faults** ([`FaultModel`], or [`Fault`] by hand): while the link is down or the
//!   firmware hangs, nothing is sent and telegrams keep buffering. Capture times carry the
//!   clock drift and jumps, to the millisecond.
#![deny(missing_docs)]

mod config;
mod dongle;
mod fault;

pub use config::Config;
pub use dongle::{Dongle, State, Stats, Transmit, TransmitOutcome};
pub use fault::{Fault, FaultModel, FaultModelError, Outages, Scheduled};

#[cfg(test)]
mod tests;
