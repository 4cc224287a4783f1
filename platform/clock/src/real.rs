//! Real time that is not the lab's calendar time: how long something took on this machine,
//! and short blocking waits while polling a socket or a child process. A simulated clock
//! must not drive these (a socket does not answer faster because the lab runs a month in a
//! minute), so they are named apart from [`Clock`](crate::Clock).

use std::time::{Duration, Instant};

/// Monotonic elapsed time since [`Stopwatch::start`].
#[derive(Clone, Copy, Debug)]
pub struct Stopwatch(Instant);

impl Stopwatch {
    /// Starts now.
    pub fn start() -> Stopwatch {
        Stopwatch(Instant::now())
    }

    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }

    /// Whether `limit` has passed since the start.
    pub fn passed(&self, limit: Duration) -> bool {
        self.elapsed() >= limit
    }

    /// The instant `limit` after the start, for APIs that wait until one.
    pub fn deadline(&self, limit: Duration) -> Instant {
        self.0 + limit
    }

    /// What is left of `limit` (zero once it has passed).
    pub fn left(&self, limit: Duration) -> Duration {
        limit.saturating_sub(self.elapsed())
    }
}

/// Blocks the thread for `d` of real time (polling loops outside a runtime).
pub fn pause(d: Duration) {
    std::thread::sleep(d);
}
