//! The Europe/Brussels calendar as pure functions of an instant or a local date.

use std::sync::OnceLock;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{self, TimeZone};
use jiff::{SignedDuration, Timestamp};

/// The Belgian rule since 1996 (EU summer time), used only if the bundled tzdb had no entry.
pub(crate) const BRUSSELS_POSIX: &str = "CET-1CEST,M3.5.0,M10.5.0/3";

const QUARTER_SECS: i64 = 15 * 60;
const NANOS_PER_SEC: i128 = 1_000_000_000;
const QUARTER_NS: i128 = QUARTER_SECS as i128 * NANOS_PER_SEC;
const QUARTER: SignedDuration = SignedDuration::from_secs(QUARTER_SECS);

/// Europe/Brussels, loaded once from the tz database bundled into the binary.
///
/// This never fails. If the bundled lookup ever did, the current EU rule (CET/CEST) is used
/// instead, which gives the same results for every date since 1996.
pub fn brussels() -> &'static TimeZone {
    static TZ: OnceLock<TimeZone> = OnceLock::new();
    TZ.get_or_init(|| {
        TimeZone::get("Europe/Brussels")
            .or_else(|_| TimeZone::posix(BRUSSELS_POSIX))
            // Unreachable: the constant above parses (a test checks it). There is no panic-free
            // way to say so, so we fall back to winter time.
            .unwrap_or(TimeZone::fixed(tz::offset(1)))
    })
}

/// Start of the quarter-hour containing `ts`: the last local :00, :15, :30 or :45.
///
/// The floor is taken on the local wall clock (the instant plus its own UTC offset). Brussels
/// offsets are whole hours and its DST changes fall on the hour, so local quarters match UTC
/// quarters and no quarter spans a change. The local floor stays correct for zones with
/// :30 or :45 offsets too.
pub fn quarter_start(ts: Timestamp) -> Timestamp {
    let offset_ns = i128::from(brussels().to_offset(ts).seconds()) * NANOS_PER_SEC;
    // Euclidean remainder, so instants before 1970 floor too (rather than round towards zero).
    // The remainder is below 15 minutes, so it fits in an i64.
    let into_quarter = (ts.as_nanosecond() + offset_ns).rem_euclid(QUARTER_NS) as i64;
    ts.checked_sub(SignedDuration::from_nanos(into_quarter)).unwrap_or(Timestamp::MIN)
}

/// Start of the quarter-hour after the one containing `ts`. On a boundary this is 15 minutes
/// later.
pub fn next_quarter(ts: Timestamp) -> Timestamp {
    quarter_start(ts).checked_add(QUARTER).unwrap_or(Timestamp::MAX)
}

/// The Brussels calendar date at `ts`.
pub fn local_date(ts: Timestamp) -> Date {
    brussels().to_datetime(ts).date()
}

/// The Brussels wall-clock time at `ts`. During the autumn repeated hour, two instants give
/// the same value; use [`is_dst`] to tell them apart.
pub fn local_datetime(ts: Timestamp) -> DateTime {
    brussels().to_datetime(ts)
}

/// Whether Brussels is on summer time (CEST, +02:00) at `ts`. This is the `S`/`W` suffix of
/// P1 timestamps.
pub fn is_dst(ts: Timestamp) -> bool {
    brussels().to_offset_info(ts).dst().is_dst()
}

/// Local midnight that starts `date` in Brussels.
pub fn day_start(date: Date) -> Timestamp {
    // Brussels changes its clocks at 02:00/03:00, so midnight exists exactly once. If a gap ever
    // covered it, `compatible` would pick the first instant after the gap, which is still
    // the start of the day.
    brussels()
        .to_ambiguous_timestamp(date.to_datetime(Time::midnight()))
        .compatible()
        .unwrap_or(if date.year() < 0 { Timestamp::MIN } else { Timestamp::MAX })
}

/// The half-open interval `[start, end)` of local `date`. It lasts 23, 24 or 25 hours.
pub fn day_bounds(date: Date) -> (Timestamp, Timestamp) {
    (day_start(date), date.tomorrow().map_or(Timestamp::MAX, day_start))
}

/// Quarter-hours in local `date`: 92 on the spring DST day, 100 on the autumn one, else 96.
pub fn quarters_in_day(date: Date) -> u32 {
    // A local day lasts 23–25 h, so the count always fits.
    (day_length(date).as_secs() / QUARTER_SECS) as u32
}

/// Hours in local `date`: 23 on the spring DST day, 25 on the autumn one, else 24.
pub fn hours_in_day(date: Date) -> u32 {
    (day_length(date).as_secs() / 3600) as u32
}

fn day_length(date: Date) -> SignedDuration {
    let (start, end) = day_bounds(date);
    end.duration_since(start)
}

/// Local midnight on the 1st of the Brussels month containing `ts`.
pub fn month_start(ts: Timestamp) -> Timestamp {
    day_start(local_date(ts).first_of_month())
}

/// Local midnight on the 1st of the Brussels month after the one containing `ts`.
pub fn next_month_start(ts: Timestamp) -> Timestamp {
    local_date(ts).last_of_month().tomorrow().map_or(Timestamp::MAX, day_start)
}
