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

/// An instant for a step's message, in Brussels local time as the scenarios write them
/// (`2026-12-09T18:00:00 CET`), never UTC; fractions of a second only when there are some.
fn bxl(t: Timestamp) -> String {
    t.to_zoned(::clock::brussels().clone()).strftime("%Y-%m-%dT%H:%M:%S%.f %Z").to_string()
}

/// Instants for a step's message (see [`bxl`]).
fn bxl_all(ts: &[Timestamp]) -> String {
    format!("[{}]", ts.iter().map(|t| bxl(*t)).collect::<Vec<_>>().join(", "))
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::suite::LabWorld;

    #[test]
    fn messages_show_brussels_time() {
        assert_eq!(bxl(local("2026-12-09T18:00:00")), "2026-12-09T18:00:00 CET");
        assert_eq!(bxl(local("2026-07-01T09:30:00")), "2026-07-01T09:30:00 CEST");
        let t = local("2026-07-01T09:30:00") + SignedDuration::from_millis(250);
        assert_eq!(bxl(t), "2026-07-01T09:30:00.25 CEST");
        let ts = [local("2026-12-09T18:00:00"), local("2026-12-09T18:00:01")];
        assert_eq!(bxl_all(&ts), "[2026-12-09T18:00:00 CET, 2026-12-09T18:00:01 CET]");
    }

    /// A step written in Brussels time that fails says so in Brussels time, not UTC.
    #[test]
    fn a_failing_slot_end_is_reported_in_brussels_time() {
        let start = local("2026-12-08T20:00:00");
        let slot = Some(::booking::Slot {
            id: ::booking::SlotId(1),
            rig: "rig-a".into(),
            agreement: ::booking::AgreementId(1),
            start,
            end: start + SignedDuration::from_hours(22),
            state: ::booking::SlotState::Booked,
            created_at: start,
            closed_at: None,
        });
        let mut w = LabWorld { last_slot: slot, ..LabWorld::default() };
        let step = booking::slot_ends(&mut w, "2026-12-09T19:00:00".into());
        let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            futures::executor::block_on(step)
        }))
        .unwrap_err();
        let text = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(text.contains("2026-12-09T18:00:00 CET"), "{text}");
        assert!(text.contains("2026-12-09T19:00:00 CET"), "{text}");
        assert!(!text.contains("Z"), "UTC in the message: {text}");
    }
}
