//! Time for the whole lab. This is the only crate that reads the system clock: models take
//! `now: Timestamp` as an argument, and drivers own a [`Clock`] ([`SystemClock`] in production,
//! [`SimClock`] in simulation), so every test can run on simulated calendar time. The crate also
//! owns the Europe/Brussels calendar (quarter-hours, local days of 23/24/25 hours, months, the DST
//! flag of P1 timestamps) and the parsing of CLI durations and instants.
//!
//! Invariants:
//! - Instants are [`Timestamp`]s (UTC). Local Brussels time appears only as [`civil`] values
//!   computed from an instant here; nothing stores local time.
//! - Calendar intervals are half-open `[start, end)`.
//! - Brussels rules come from the tz database bundled in the binary, never from the host.
//! - A [`SimClock`] never goes backwards. [`SystemClock`] is wall time and may be stepped by NTP.
//! - Nothing here keeps global mutable state. Every simulated clock is its own value, so
//!   concurrent tests and scenarios never share time.
#![deny(missing_docs)]

mod calendar;
mod holidays;
mod parse;
mod sim;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use calendar::{
    brussels, day_bounds, day_start, hours_in_day, is_dst, local_date, local_datetime, month_start,
    next_month_start, next_quarter, quarter_start, quarters_in_day,
};
pub use holidays::{belgian_holidays, easter_sunday, is_belgian_holiday, is_working_day};
pub use jiff::{SignedDuration, Timestamp, civil};
pub use parse::{ParseDurationError, ParseTimeError, parse_date_or_time, parse_duration};
pub use sim::{SimClock, SimClockError};

/// A source of calendar time that can also wait for it.
///
/// Pass it to drivers as a value (`Arc<dyn Clock>` or a generic), never as a global. Models do
/// not get a clock. They get `now`.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Timestamp;

    /// Completes once [`now`](Clock::now) has reached `deadline`, or at once if it already
    /// has. Dropping the future cancels the wait.
    fn sleep_until(&self, deadline: Timestamp) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Timestamp {
        (**self).now()
    }

    fn sleep_until(&self, deadline: Timestamp) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        (**self).sleep_until(deadline)
    }
}

/// Wall-clock time. Sleeps use tokio's timer, so they need a runtime with time enabled.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    fn sleep_until(&self, deadline: Timestamp) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            // tokio sleeps on the monotonic clock. If the wall clock is stepped back while we
            // sleep, we wake up early, so check again and sleep the rest.
            loop {
                let left = deadline.duration_since(Timestamp::now());
                if !left.is_positive() {
                    return;
                }
                tokio::time::sleep(left.unsigned_abs()).await;
            }
        })
    }
}
