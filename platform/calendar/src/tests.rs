use jiff::civil::date;
use jiff::tz::TimeZone;

use super::*;
use crate::calendar::BRUSSELS_POSIX;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn secs(n: i64) -> SignedDuration {
    SignedDuration::from_secs(n)
}

// --- Brussels calendar -----------------------------------------------------------------------

#[test]
fn brussels_comes_from_the_bundled_tzdb_and_the_fallback_agrees() {
    assert_eq!(brussels().iana_name(), Some("Europe/Brussels"));
    let posix = TimeZone::posix(BRUSSELS_POSIX).unwrap();
    for t in [
        "2026-01-15T12:00:00Z",
        "2026-03-29T00:59:59Z",
        "2026-03-29T01:00:00Z",
        "2026-07-01T12:00:00Z",
        "2026-10-25T00:59:59Z",
        "2026-10-25T01:00:00Z",
        "2031-03-30T01:00:00Z",
    ] {
        let t = ts(t);
        assert_eq!(posix.to_offset(t), brussels().to_offset(t), "{t}");
    }
}

#[test]
fn dst_days_have_92_and_100_quarters_ordinary_days_96() {
    assert_eq!(quarters_in_day(date(2026, 3, 29)), 92);
    assert_eq!(quarters_in_day(date(2026, 10, 25)), 100);
    assert_eq!(hours_in_day(date(2026, 3, 29)), 23);
    assert_eq!(hours_in_day(date(2026, 10, 25)), 25);
    for d in [date(2026, 3, 28), date(2026, 3, 30), date(2026, 6, 21), date(2026, 12, 31)] {
        assert_eq!(quarters_in_day(d), 96, "{d}");
        assert_eq!(hours_in_day(d), 24, "{d}");
    }
    // Computed from the rules, not a table: 2027's change days are the 28th and the 31st.
    assert_eq!(quarters_in_day(date(2027, 3, 28)), 92);
    assert_eq!(quarters_in_day(date(2027, 10, 31)), 100);
}

#[test]
fn day_bounds_are_local_midnights() {
    assert_eq!(
        day_bounds(date(2026, 3, 29)),
        (ts("2026-03-28T23:00:00Z"), ts("2026-03-29T22:00:00Z"))
    );
    assert_eq!(
        day_bounds(date(2026, 10, 25)),
        (ts("2026-10-24T22:00:00Z"), ts("2026-10-25T23:00:00Z"))
    );
    assert_eq!(day_start(date(2026, 7, 1)), ts("2026-06-30T22:00:00Z"));
}

#[test]
fn quarter_start_across_the_dst_changes() {
    let cases = [
        // Spring: 01:59:59 CET is followed by 03:00:00 CEST.
        ("2026-03-29T00:59:59.999Z", "2026-03-29T00:45:00Z"),
        ("2026-03-29T01:00:00Z", "2026-03-29T01:00:00Z"),
        ("2026-03-29T01:14:59Z", "2026-03-29T01:00:00Z"),
        // Autumn: 02:37 local happens twice, once in each offset.
        ("2026-10-25T00:37:00Z", "2026-10-25T00:30:00Z"),
        ("2026-10-25T01:37:00Z", "2026-10-25T01:30:00Z"),
        ("1969-12-31T23:59:59.5Z", "1969-12-31T23:45:00Z"),
    ];
    for (t, q) in cases {
        assert_eq!(quarter_start(ts(t)), ts(q), "{t}");
    }
    // Local 01:50 CET is followed by the 03:00 CEST quarter.
    assert_eq!(next_quarter(ts("2026-03-29T00:50:00Z")), ts("2026-03-29T01:00:00Z"));
    assert_eq!(local_datetime(ts("2026-03-29T01:00:00Z")), date(2026, 3, 29).at(3, 0, 0, 0));
    // On a boundary, next_quarter is the following boundary.
    assert_eq!(next_quarter(ts("2026-03-29T01:00:00Z")), ts("2026-03-29T01:15:00Z"));
}

#[test]
fn is_dst_flips_at_the_change_instants() {
    assert!(!is_dst(ts("2026-03-29T00:59:59Z")));
    assert!(is_dst(ts("2026-03-29T01:00:00Z")));
    assert!(is_dst(ts("2026-10-25T00:59:59Z")));
    assert!(!is_dst(ts("2026-10-25T01:00:00Z")));
    // The repeated hour: same wall clock, different flag.
    let (first, second) = (ts("2026-10-25T00:30:00Z"), ts("2026-10-25T01:30:00Z"));
    assert_eq!(local_datetime(first), local_datetime(second));
    assert!(is_dst(first) && !is_dst(second));
}

#[test]
fn local_date_uses_brussels_midnight() {
    assert_eq!(local_date(ts("2026-03-28T22:59:59Z")), date(2026, 3, 28));
    assert_eq!(local_date(ts("2026-03-28T23:00:00Z")), date(2026, 3, 29));
    assert_eq!(local_date(ts("2026-06-30T22:00:00Z")), date(2026, 7, 1));
}

#[test]
fn month_start_is_local_midnight_on_the_first_across_dst() {
    // April starts in summer time, March in winter time.
    assert_eq!(month_start(ts("2026-04-15T12:00:00Z")), ts("2026-03-31T22:00:00Z"));
    assert_eq!(month_start(ts("2026-03-31T22:00:00Z")), ts("2026-03-31T22:00:00Z"));
    assert_eq!(month_start(ts("2026-03-31T21:59:59Z")), ts("2026-02-28T23:00:00Z"));
    assert_eq!(next_month_start(ts("2026-03-10T00:00:00Z")), ts("2026-03-31T22:00:00Z"));
    assert_eq!(next_month_start(ts("2026-10-10T00:00:00Z")), ts("2026-10-31T23:00:00Z"));
    assert_eq!(next_month_start(ts("2026-12-31T22:59:59Z")), ts("2026-12-31T23:00:00Z"));
    assert_eq!(next_month_start(ts("2026-12-31T23:00:00Z")), ts("2027-01-31T23:00:00Z"));
}

// --- parsing ---------------------------------------------------------------------------------

#[test]
fn parse_duration_accepts_cli_forms() {
    for (s, want) in [
        ("22h", secs(22 * 3600)),
        ("90s", secs(90)),
        ("15m", secs(15 * 60)),
        ("7d", secs(7 * 86_400)),
        ("365d", secs(365 * 86_400)),
        ("3y", secs(3 * 365 * 86_400)),
        ("1y2d", secs(367 * 86_400)),
        ("1h30m", secs(5400)),
        ("1d2h3m4s", secs(86_400 + 2 * 3600 + 3 * 60 + 4)),
        (" 0s ", SignedDuration::ZERO),
        ("250ms", SignedDuration::from_millis(250)),
        ("1s500ms", SignedDuration::from_millis(1500)),
    ] {
        assert_eq!(parse_duration(s), Ok(want), "{s}");
    }
}

#[test]
fn parse_duration_says_what_is_wrong() {
    use ParseDurationError as E;
    let owned = str::to_owned;
    for (s, want) in [
        ("", E::Empty),
        ("  ", E::Empty),
        ("22", E::MissingUnit { number: owned("22") }),
        ("h", E::Unexpected { found: 'h' }),
        ("-5m", E::Unexpected { found: '-' }),
        ("1.5h", E::Unexpected { found: '.' }),
        ("1h 30m", E::Unexpected { found: ' ' }),
        ("5w", E::UnknownUnit { unit: owned("w") }),
        ("5min", E::UnknownUnit { unit: owned("min") }),
        ("30m1h", E::Order { unit: owned("h") }),
        ("1h1h", E::Order { unit: owned("h") }),
        ("5ms1s", E::Order { unit: owned("s") }),
        ("99999999999999999999s", E::TooLarge),
        ("999999999999999999d", E::TooLarge),
    ] {
        assert_eq!(parse_duration(s), Err(want), "{s:?}");
    }
    assert_eq!(
        E::MissingUnit { number: owned("22") }.to_string(),
        "`22` has no unit; add y, d, h, m, s or ms"
    );
}

#[test]
fn parse_date_or_time_reads_dates_local_times_and_rfc3339() {
    let ok = |s| parse_date_or_time(s).unwrap();
    assert_eq!(ok("2026-03-29"), ts("2026-03-28T23:00:00Z"));
    assert_eq!(ok("2026-03-29T01:59:00"), ts("2026-03-29T00:59:00Z"));
    assert_eq!(ok("2026-07-01T12:00:00"), ts("2026-07-01T10:00:00Z"));
    assert_eq!(ok("2026-03-29T01:59:00+01:00"), ts("2026-03-29T00:59:00Z"));
    assert_eq!(ok("2026-10-25T02:30:00+02:00"), ts("2026-10-25T00:30:00Z"));
    assert_eq!(ok("2026-10-25T02:30:00Z"), ts("2026-10-25T02:30:00Z"));

    let local = date(2026, 3, 29).at(2, 30, 0, 0);
    assert_eq!(parse_date_or_time("2026-03-29T02:30:00"), Err(ParseTimeError::Skipped { local }));
    let local = date(2026, 10, 25).at(2, 30, 0, 0);
    assert_eq!(parse_date_or_time("2026-10-25T02:30:00"), Err(ParseTimeError::Ambiguous { local }));
    for bad in ["", "tomorrow", "2026-02-30", "2026-03-29T25:00:00"] {
        assert_eq!(
            parse_date_or_time(bad),
            Err(ParseTimeError::Invalid { input: bad.to_owned() }),
            "{bad:?}"
        );
    }
}
