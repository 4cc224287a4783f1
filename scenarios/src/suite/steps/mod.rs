//! Steps grouped by concept. Each is a thin call on the `Lab`: its `Err`s go through
//! [`lab`](super::lab) (a lab error), assertions about the system under test panic plainly
//! (a failure).

mod access;
mod booking;
mod clock;
mod dongle;
mod rig;
mod supervision;

use ::clock::{SignedDuration, Timestamp};

/// A Brussels local time (`2026-12-08T20:00:00`) or RFC 3339, as a scenario writes it.
fn local(s: &str) -> Timestamp {
    ::clock::parse_date_or_time(s)
        .unwrap_or_else(|e| panic!("`{s}` is not a Brussels date or time: {e:#}"))
}

/// `22 hours`, `1 minute`, `30 seconds`, `2 days`.
fn duration(n: i64, unit: &str) -> SignedDuration {
    match unit.trim_end_matches('s') {
        "second" => SignedDuration::from_secs(n),
        "minute" => SignedDuration::from_mins(n),
        "hour" => SignedDuration::from_hours(n),
        "day" => SignedDuration::from_hours(24 * n),
        u => panic!("unknown unit {u} (seconds, minutes, hours, days)"),
    }
}
