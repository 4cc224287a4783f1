//! Time for the whole lab, at run time. This is the only crate that reads the system clock:
//! models take `now: Timestamp` as an argument, and drivers own a [`Clock`] ([`SystemClock`]
//! in production, [`SimClock`] in simulation), so every test can run on simulated calendar
//! time. The Brussels calendar itself is the pure `calendar` crate, re-exported here so a
//! driver needs one import. Real time that is not calendar time (a socket's timeout, a
//! terminal's refresh, a run's wall time) is measured with [`Stopwatch`] and waited with
//! [`pause`]: named, so it cannot be mistaken for lab time.
//!
//! Invariants:
//! - A [`SimClock`] never goes backwards. [`SystemClock`] is wall time and may be stepped by NTP.
//! - Nothing here keeps global mutable state. Every simulated clock is its own value, so
//!   concurrent tests and scenarios never share time.
#![deny(missing_docs)]

mod real;
mod sim;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use calendar::*;
pub use real::{Stopwatch, pause};
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
