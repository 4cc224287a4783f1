use std::time::Instant;

use calendar::civil::{Date, date};
use proptest::prelude::*;
use rstest::rstest;

use super::*;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn secs(n: i64) -> SignedDuration {
    SignedDuration::from_secs(n)
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

fn sample(at: Timestamp, import_wh: u64, export_wh: u64) -> Sample {
    Sample::new(at, Energy::wh(import_wh), Energy::wh(export_wh))
}

/// In kWh, m³ and kW: the tests state figures as a person reads them.
fn in_kwh(e: Option<Energy>) -> Option<f64> {
    e.map(Energy::kwh_f64)
}

fn in_m3(v: Option<Volume>) -> Option<f64> {
    v.map(Volume::m3_f64)
}

fn in_kw(p: Option<Power>) -> Option<f64> {
    p.map(Power::kw_f64)
}

const BASE_IMPORT_WH: u64 = 12_345_678;
const BASE_EXPORT_WH: u64 = 2_345_678;
const BASE_GAS_DM3: u64 = 4_567_890;

/// A meter running from `from` for `len_s` seconds with power given per second (import W,
/// export W over `[t, t+1s)`, `t` in seconds since `from`). Registers are whole Wh, floored,
/// as real meters report them. A sample is taken every `every_s` seconds starting `offset_s`
/// seconds after `from`, if `keep(t)`.
fn simulate(
    from: Timestamp,
    len_s: i64,
    every_s: i64,
    offset_s: i64,
    power: impl Fn(i64) -> (u64, u64),
    keep: impl Fn(i64) -> bool,
) -> Vec<Sample> {
    let (mut imp_ws, mut exp_ws) = (0u64, 0u64);
    let mut out = Vec::with_capacity((len_s / every_s + 1) as usize);
    for t in 0..=len_s {
        if t >= offset_s && (t - offset_s) % every_s == 0 && keep(t) {
            let at = from.checked_add(secs(t)).unwrap();
            out.push(sample(at, BASE_IMPORT_WH + imp_ws / 3600, BASE_EXPORT_WH + exp_ws / 3600));
        }
        let (i, e) = power(t);
        imp_ws += i;
        exp_ws += e;
    }
    out
}

fn one_kw(_: i64) -> (u64, u64) {
    (1000, 0)
}

fn all(_: i64) -> bool {
    true
}

/// Seconds of `at` since `from`.
fn since(from: Timestamp, at: &str) -> i64 {
    ts(at).duration_since(from).as_secs()
}

/// Adds gas readings: the gas meter captures every 5 minutes (at `capture_offset_s` past the
/// 5-minute mark), adding `dm3_per_capture(capture instant)`; each sample carries the latest
/// capture at or before it.
fn with_gas(
    mut samples: Vec<Sample>,
    capture_offset_s: i64,
    dm3_per_capture: impl Fn(Timestamp) -> u64,
) -> Vec<Sample> {
    let first = samples[0].at.as_second();
    let mut capture = first - first.rem_euclid(300) - 300 + capture_offset_s;
    let mut dm3 = BASE_GAS_DM3;
    for s in &mut samples {
        while capture + 300 <= s.at.as_second() {
            capture += 300;
            dm3 += dm3_per_capture(Timestamp::from_second(capture).unwrap());
        }
        *s = s.with_gas(Timestamp::from_second(capture).unwrap(), Volume::dm3(dm3));
    }
    samples
}

/// 1 Hz, 1 kW, covering local `day` with an hour of margin on each side.
fn day_at_1hz(day: Date) -> Vec<Sample> {
    let (start, end) = calendar::day_bounds(day);
    let from = start.checked_sub(SignedDuration::from_hours(1)).unwrap();
    let len = end.duration_since(from).as_secs() + 3600;
    simulate(from, len, 1, 0, one_kw, all)
}

fn assert_missing(q: &Interval, cause: MissingCause) {
    assert_eq!(q.quality, Quality::Missing, "{q:?}");
    assert_eq!(q.missing, Some(cause), "{q:?}");
    assert_eq!((in_kwh(q.offtake), in_kwh(q.injection)), (None, None), "{q:?}");
}

fn assert_quarter(q: &Interval, kwh: f64, quality: Quality) {
    assert_eq!(q.quality, quality, "{q:?}");
    assert_eq!(q.missing, None, "{q:?}");
    assert!(close(in_kwh(q.offtake).unwrap(), kwh, 1e-9), "{q:?}");
    assert_eq!(in_kwh(q.injection), Some(0.0), "{q:?}");
}

fn find<'a>(quarters: &'a [Interval], start: &str) -> &'a Interval {
    quarters.iter().find(|q| q.start == ts(start)).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Quarter hours and days

#[test]
fn constant_1kw_at_1hz_gives_measured_quarters_of_a_quarter_in_kwh() {
    let day = date(2026, 2, 10);
    let samples = day_at_1hz(day);
    let (start, end) = calendar::day_bounds(day);
    let quarters = quarter_hours(&samples, start, end, &Options::default());
    assert_eq!(quarters.len(), 96);
    assert_eq!(quarters[0].start, ts("2026-02-10T00:00:00+01:00"));
    assert_eq!(quarters[95].end, end);
    for (q, w) in quarters.iter().zip(quarters.iter().skip(1)) {
        assert_eq!(q.end, w.start);
    }
    for q in &quarters {
        assert_quarter(q, 0.25, Quality::Measured);
    }
}

#[test]
fn a_day_at_1kw_has_24_in_kwh() {
    let day = date(2026, 2, 10);
    let days = days(&day_at_1hz(day), day, day, &Options::default());
    assert_eq!(days.len(), 1);
    let d = &days[0];
    assert_eq!((d.date, d.quarters, d.quality, d.missing), (day, 96, Quality::Measured, None));
    assert_eq!(in_kwh(d.offtake), Some(24.0));
    assert_eq!(in_kwh(d.injection), Some(0.0));
}

#[rstest]
#[case::spring_forward(date(2026, 3, 29), 92, 23.0)]
#[case::ordinary(date(2026, 7, 1), 96, 24.0)]
#[case::fall_back(date(2026, 10, 25), 100, 25.0)]
fn dst_days_have_their_quarters_and_volume(
    #[case] day: Date,
    #[case] quarters: usize,
    #[case] kwh: f64,
) {
    let samples = day_at_1hz(day);
    let (start, end) = calendar::day_bounds(day);
    let opt = Options::default();
    let qs = quarter_hours(&samples, start, end, &opt);
    assert_eq!(qs.len(), quarters);
    assert!(qs.iter().all(|q| q.quality == Quality::Measured && in_kwh(q.offtake) == Some(0.25)));
    let d = days(&samples, day, day, &opt)[0];
    assert_eq!(d.quarters as usize, quarters);
    assert_eq!(in_kwh(d.offtake), Some(kwh));
    assert_eq!((d.start, d.end), (start, end));
}

#[test]
fn gaps_leave_quarters_missing_or_estimated_never_zero() {
    let day = date(2026, 2, 10);
    let (start, end) = calendar::day_bounds(day);
    let from = start.checked_sub(SignedDuration::from_hours(1)).unwrap();
    let len = end.duration_since(from).as_secs() + 3600;
    // A 40-minute hole: the samples around 10:15 and 10:30 are 40 min apart (> max_gap).
    let hole = since(from, "2026-02-10T10:05:00Z")..since(from, "2026-02-10T10:45:00Z");
    // A 10-minute hole: 12:15 is interpolated between samples 10 min apart, 5 min away.
    let short = since(from, "2026-02-10T12:10:00Z")..since(from, "2026-02-10T12:20:00Z");
    let samples = simulate(from, len, 1, 0, one_kw, |t| !hole.contains(&t) && !short.contains(&t));
    let opt = Options::default();
    let qs = quarter_hours(&samples, start, end, &opt);
    assert_eq!(qs.len(), 96);
    assert_quarter(find(&qs, "2026-02-10T09:45:00Z"), 0.25, Quality::Measured);
    for s in ["2026-02-10T10:00:00Z", "2026-02-10T10:15:00Z", "2026-02-10T10:30:00Z"] {
        assert_missing(find(&qs, s), MissingCause::NoData);
    }
    assert_quarter(find(&qs, "2026-02-10T10:45:00Z"), 0.25, Quality::Measured);
    for s in ["2026-02-10T12:00:00Z", "2026-02-10T12:15:00Z"] {
        let q = find(&qs, s);
        assert_eq!(q.quality, Quality::Estimated);
        assert!(close(in_kwh(q.offtake).unwrap(), 0.25, 1e-3), "{q:?}");
    }
    assert_eq!(qs.iter().filter(|q| q.quality == Quality::Missing).count(), 3);
    assert_eq!(qs.iter().filter(|q| q.quality == Quality::Estimated).count(), 2);
    assert!(qs.iter().all(|q| in_kwh(q.offtake) != Some(0.0)));
    // The day's midnights are measured, so the day volume is known despite the holes.
    let d = days(&samples, day, day, &opt)[0];
    assert_eq!((in_kwh(d.offtake), d.quality), (Some(24.0), Quality::Measured));
}

#[test]
fn no_samples_at_all_is_missing_not_zero() {
    let day = date(2026, 2, 10);
    let (start, end) = calendar::day_bounds(day);
    let opt = Options::default();
    let qs = quarter_hours(&[], start, end, &opt);
    assert_eq!(qs.len(), 96);
    qs.iter().for_each(|q| assert_missing(q, MissingCause::NoData));
    let d = days(&[], day, day, &opt)[0];
    assert_eq!(
        (in_kwh(d.offtake), d.quality, d.missing),
        (None, Quality::Missing, Some(MissingCause::NoData))
    );
    let g = gas_days(&day_at_1hz(day), day, day, &opt)[0];
    assert_eq!((in_m3(g.volume), in_kwh(g.energy), g.quality), (None, None, Quality::Missing));
}

#[rstest]
#[case::aligned(0, 0.0)]
#[case::offset_3s(3, 0.002)]
#[case::offset_7s(7, 0.002)]
fn dsmr4_samples_every_10s_give_the_same_volumes(#[case] offset_s: i64, #[case] tol: f64) {
    let day = date(2026, 2, 10);
    let (start, end) = calendar::day_bounds(day);
    let from = start.checked_sub(SignedDuration::from_hours(1)).unwrap();
    let len = end.duration_since(from).as_secs() + 3600;
    let samples = simulate(from, len, 10, offset_s, one_kw, all);
    let opt = Options::default();
    let qs = quarter_hours(&samples, start, end, &opt);
    assert_eq!(qs.len(), 96);
    for q in &qs {
        assert_eq!(q.quality, Quality::Measured);
        assert!(close(in_kwh(q.offtake).unwrap(), 0.25, tol), "{q:?}");
    }
    let d = days(&samples, day, day, &opt)[0];
    assert!(close(in_kwh(d.offtake).unwrap(), 24.0, tol), "{d:?}");
}

#[rstest]
#[case::inside_a_quarter("2026-02-10T10:07:00Z")]
#[case::at_a_boundary_sample("2026-02-10T10:15:00Z")]
fn a_register_going_backwards_makes_its_interval_missing(#[case] at: &str) {
    let day = date(2026, 2, 10);
    let mut samples = day_at_1hz(day);
    for s in samples.iter_mut().filter(|s| s.at >= ts(at)) {
        s.import = s.import.minus(Energy::wh(5000)).unwrap();
    }
    let (start, end) = calendar::day_bounds(day);
    let opt = Options::default();
    let qs = quarter_hours(&samples, start, end, &opt);
    assert_missing(find(&qs, "2026-02-10T10:00:00Z"), MissingCause::RegisterDecrease);
    assert_quarter(find(&qs, "2026-02-10T09:45:00Z"), 0.25, Quality::Measured);
    assert_quarter(find(&qs, "2026-02-10T10:15:00Z"), 0.25, Quality::Measured);
    assert_eq!(qs.iter().filter(|q| q.quality == Quality::Missing).count(), 1);
    let d = days(&samples, day, day, &opt)[0];
    assert_eq!((in_kwh(d.offtake), d.missing), (None, Some(MissingCause::RegisterDecrease)));
    assert_eq!(months(&samples, day, day, &opt)[0].electricity.missing_days, 28);
}

#[test]
fn an_export_decrease_also_makes_the_interval_missing() {
    let day = date(2026, 2, 10);
    let mut samples = day_at_1hz(day);
    for s in samples.iter_mut().filter(|s| s.at >= ts("2026-02-10T10:07:00Z")) {
        s.export = s.export.minus(Energy::wh(1)).unwrap();
    }
    let (start, end) = calendar::day_bounds(day);
    let qs = quarter_hours(&samples, start, end, &Options::default());
    assert_missing(find(&qs, "2026-02-10T10:00:00Z"), MissingCause::RegisterDecrease);
}

/// Registers rise 1 Wh/s (3.6 kW); exact samples at 11:45 and 12:15 plus `around` (seconds
/// from 12:00). Quarter 11:45–12:00 then has the quality of the 12:00 boundary.
#[rstest]
#[case::exact(&[0], Some(0.9), Quality::Measured)]
#[case::interpolated_with_one_close(&[-30, 600], Some(0.9), Quality::Measured)]
#[case::interpolated_within_max_gap(&[-300, 300], Some(0.9), Quality::Estimated)]
#[case::interpolated_at_max_gap(&[-600, 300], Some(0.9), Quality::Estimated)]
#[case::gap_too_long(&[-600, 600], None, Quality::Missing)]
#[case::nearest_only(&[-30], Some(0.87), Quality::Measured)]
#[case::nearest_after_only(&[45], Some(0.945), Quality::Measured)]
#[case::too_far_and_gap_too_long(&[-90], None, Quality::Missing)]
fn boundary_register_rules(
    #[case] around: &[i64],
    #[case] kwh: Option<f64>,
    #[case] quality: Quality,
) {
    let b = ts("2026-02-10T12:00:00Z");
    let mut offsets = vec![-900, 900];
    offsets.extend_from_slice(around);
    let samples: Vec<Sample> = offsets
        .iter()
        .map(|&o| sample(b.checked_add(secs(o)).unwrap(), (10_000 + o) as u64, 0))
        .collect();
    let q = quarter_hours(&samples, ts("2026-02-10T11:45:00Z"), b, &Options::default())[0];
    assert_eq!(q.quality, quality, "{q:?}");
    match kwh {
        Some(kwh) => assert!(close(in_kwh(q.offtake).unwrap(), kwh, 1e-9), "{q:?}"),
        None => assert_eq!(in_kwh(q.offtake), None),
    }
}

#[test]
fn one_sample_never_bounds_both_ends_of_an_interval() {
    let opt = Options { exact_within: SignedDuration::from_mins(10), ..Options::default() };
    let samples = [sample(ts("2026-02-10T12:07:00Z"), 100, 0)];
    let q =
        quarter_hours(&samples, ts("2026-02-10T12:00:00Z"), ts("2026-02-10T12:15:00Z"), &opt)[0];
    assert_missing(&q, MissingCause::NoData);
}

#[test]
fn unsorted_duplicated_samples_give_the_same_figures() {
    let day = date(2026, 2, 10);
    let sorted = simulate(
        calendar::day_start(day).checked_sub(secs(600)).unwrap(),
        86_400 + 1200,
        10,
        0,
        one_kw,
        all,
    );
    let mut messy: Vec<Sample> = sorted.iter().rev().copied().collect();
    messy.extend(sorted.iter().step_by(7).copied());
    messy.swap(3, 500);
    let opt = Options::default();
    let (start, end) = calendar::day_bounds(day);
    assert_eq!(quarter_hours(&messy, start, end, &opt), quarter_hours(&sorted, start, end, &opt));
    assert_eq!(days(&messy, day, day, &opt), days(&sorted, day, day, &opt));
}

#[test]
fn quarter_range_is_floored_to_the_quarter_and_half_open() {
    let samples = day_at_1hz(date(2026, 2, 10));
    let opt = Options::default();
    let qs = quarter_hours(&samples, ts("2026-02-10T10:07:00Z"), ts("2026-02-10T10:30:00Z"), &opt);
    assert_eq!(
        qs.iter().map(|q| q.start).collect::<Vec<_>>(),
        [ts("2026-02-10T10:00:00Z"), ts("2026-02-10T10:15:00Z")]
    );
    let qs = quarter_hours(&samples, ts("2026-02-10T10:07:00Z"), ts("2026-02-10T10:30:01Z"), &opt);
    assert_eq!(qs.len(), 3);
    assert!(
        quarter_hours(&samples, ts("2026-02-10T10:30:00Z"), ts("2026-02-10T10:30:00Z"), &opt)
            .is_empty()
    );
    assert!(
        quarter_hours(&samples, ts("2026-02-10T11:00:00Z"), ts("2026-02-10T10:00:00Z"), &opt)
            .is_empty()
    );
    assert!(days(&samples, date(2026, 2, 11), date(2026, 2, 10), &opt).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Months

/// February 2026 at 10 s: 1 kW, except 3 kW on 10 Feb 17:00–17:15 Z, and 2 kW injection on
/// 20 Feb 11:00–11:15 Z. Gas: 50 dm³ per 5 min, 200 dm³ per 5 min on 14 Feb 06:00–07:00 Z.
fn february(keep: impl Fn(i64) -> bool) -> Vec<Sample> {
    let from = ts("2026-01-31T22:00:00Z");
    let len = ts("2026-03-01T01:00:00Z").duration_since(from).as_secs();
    let peak = since(from, "2026-02-10T17:00:00Z")..since(from, "2026-02-10T17:15:00Z");
    let inj = since(from, "2026-02-20T11:00:00Z")..since(from, "2026-02-20T11:15:00Z");
    let samples = simulate(
        from,
        len,
        10,
        0,
        |t| (if peak.contains(&t) { 3000 } else { 1000 }, if inj.contains(&t) { 2000 } else { 0 }),
        keep,
    );
    let (g0, g1) = (ts("2026-02-14T06:00:00Z"), ts("2026-02-14T07:00:00Z"));
    // A capture at instant c adds the gas of the 5 minutes before it.
    with_gas(samples, 0, |c| if c > g0 && c <= g1 { 200 } else { 50 })
}

#[test]
fn month_figures_sum_days_and_pick_the_highest_quarter_and_hour() {
    let samples = february(all);
    let opt = Options::default();
    let m = months(&samples, date(2026, 2, 14), date(2026, 2, 14), &opt);
    assert_eq!(m.len(), 1);
    let m = m[0];
    assert_eq!((m.month, m.days), (date(2026, 2, 1), 28));
    assert_eq!(
        (m.start, m.end),
        (ts("2026-02-01T00:00:00+01:00"), ts("2026-03-01T00:00:00+01:00"))
    );
    let e = m.electricity;
    assert_eq!(
        (e.complete_days, e.missing_days, e.missing_quarters, e.quality),
        (28, 0, 0, Quality::Measured)
    );
    let ds = days(&samples, date(2026, 2, 1), date(2026, 2, 28), &opt);
    let sum: Energy = ds.iter().map(|d| d.offtake.unwrap()).sum();
    assert_eq!(e.offtake, Some(sum));
    assert_eq!(sum, Energy::wh(28 * 24_000 + 500));
    assert_eq!(e.injection, Some(Energy::wh(500)));
    let peak = e.offtake_peak.unwrap();
    assert_eq!((peak.start, peak.quality), (ts("2026-02-10T17:00:00Z"), Quality::Measured));
    assert!(close(peak.power.kw_f64(), 3.0, 1e-9));
    let inj = e.injection_peak.unwrap();
    assert_eq!(inj.start, ts("2026-02-20T11:00:00Z"));
    assert!(close(inj.power.kw_f64(), 2.0, 1e-9));

    let g = m.gas;
    assert_eq!(
        (g.complete_days, g.missing_days, g.missing_hours, g.quality),
        (28, 0, 0, Quality::Measured)
    );
    let m3 = (28.0 * 24.0 - 1.0) * 0.6 + 2.4;
    assert!(close(in_m3(g.volume).unwrap(), m3, 1e-9), "{g:?}");
    assert!(close(in_kwh(g.energy).unwrap(), m3 * 10.55, 1e-6), "{g:?}");
    let gd: f64 = gas_days(&samples, date(2026, 2, 1), date(2026, 2, 28), &opt)
        .iter()
        .map(|d| in_m3(d.volume).unwrap())
        .sum();
    assert!(close(in_m3(g.volume).unwrap(), gd, 1e-9));
    let gp = g.peak.unwrap();
    assert_eq!(gp.start, ts("2026-02-14T06:00:00Z"));
    assert!(
        close(gp.volume.m3_f64(), 2.4, 1e-9) && close(gp.power.kw_f64(), 2.4 * 10.55, 1e-9),
        "{gp:?}"
    );
}

#[test]
fn a_month_with_a_missing_day_has_no_volume_but_counts_days() {
    // Samples stop on 27 Feb 12:00 Z: 27 Feb (local) and 28 Feb are missing.
    let stop = since(ts("2026-01-31T22:00:00Z"), "2026-02-27T12:00:00Z");
    let samples = february(|t| t < stop);
    let opt = Options::default();
    let m = months(&samples, date(2026, 1, 1), date(2026, 3, 31), &opt);
    assert_eq!(
        m.iter().map(|m| m.month).collect::<Vec<_>>(),
        [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]
    );
    let e = m[1].electricity;
    assert_eq!((in_kwh(e.offtake), in_kwh(e.injection), e.quality), (None, None, Quality::Missing));
    assert_eq!((e.complete_days, e.missing_days), (26, 2));
    // 27 Feb has its quarters until 12:00 Z (the last sample is 10 s before): 44 are missing.
    assert_eq!(e.missing_quarters, 96 + 44);
    assert!(close(e.offtake_peak.unwrap().power.kw_f64(), 3.0, 1e-9));
    assert_eq!(
        (in_m3(m[1].gas.volume), m[1].gas.complete_days, m[1].gas.missing_days),
        (None, 26, 2)
    );
    // January has only its last hour; March nothing.
    assert_eq!((m[0].electricity.complete_days, m[0].electricity.missing_days), (0, 31));
    assert_eq!(m[0].electricity.missing_quarters, 31 * 96 - 4);
    assert_eq!(m[2].electricity.offtake_peak, None);
    assert_eq!(m[2].gas.peak, None);
}

// ---------------------------------------------------------------------------------------------
// Gas

#[rstest]
#[case::on_the_mark(0, Quality::Measured)]
#[case::thirty_seconds_late(30, Quality::Measured)]
#[case::ninety_seconds_late(90, Quality::Estimated)]
fn gas_hours_from_five_minute_captures(#[case] capture_offset_s: i64, #[case] quality: Quality) {
    let day = date(2026, 2, 10);
    let (start, end) = calendar::day_bounds(day);
    let from = start.checked_sub(SignedDuration::from_hours(1)).unwrap();
    let samples = simulate(from, 26 * 3600, 10, 0, one_kw, all);
    // 100 dm³ per 5 min (1.2 m³/h), 300 per 5 min (3.6 m³/h) between 18:00 and 19:00 Z.
    let (g0, g1) = (ts("2026-02-10T18:00:00Z"), ts("2026-02-10T19:00:00Z"));
    let shift = secs(capture_offset_s);
    let samples = with_gas(samples, capture_offset_s, |c| {
        let c = c.checked_sub(shift).unwrap();
        if c > g0 && c <= g1 { 300 } else { 100 }
    });
    let opt = Options::default();
    let hours = gas_hours(&samples, start, end, &opt);
    assert_eq!(hours.len(), 24);
    for h in &hours {
        let m3 = if h.start == g0 { 3.6 } else { 1.2 };
        // Late captures move the rate change late by the offset (each capture holds the 5
        // minutes before it): the hours at the change shift by offset × 2.4 m³/h.
        let shifted = capture_offset_s as f64 * 2.4 / 3600.0;
        let tol = if h.start == g0 || h.start == g1 { shifted + 1e-9 } else { 1e-9 };
        assert_eq!((h.quality, h.missing), (quality, None), "{h:?}");
        assert!(close(in_m3(h.volume).unwrap(), m3, tol), "{h:?}");
        assert!(close(in_kwh(h.energy).unwrap(), in_m3(h.volume).unwrap() * 10.55, 1e-9), "{h:?}");
    }
    let d = gas_days(&samples, day, day, &opt)[0];
    assert!(close(in_m3(d.volume).unwrap(), 23.0 * 1.2 + 3.6, 1e-9), "{d:?}");
    let custom = Options { gas: GasFactor { wh_per_m3: 11_000 }, ..opt };
    assert!(close(
        in_kwh(gas_days(&samples, day, day, &custom)[0].energy).unwrap(),
        (23.0 * 1.2 + 3.6) * 11.0,
        1e-9
    ));
}

#[test]
fn gas_hours_on_dst_days_follow_the_local_day() {
    let day = date(2026, 10, 25);
    let samples = with_gas(day_at_1hz(day), 0, |_| 100);
    let (start, end) = calendar::day_bounds(day);
    let opt = Options::default();
    let hours = gas_hours(&samples, start, end, &opt);
    assert_eq!(hours.len(), 25);
    assert!(hours.iter().all(|h| h.quality == Quality::Measured));
    assert!(close(in_m3(gas_days(&samples, day, day, &opt)[0].volume).unwrap(), 25.0 * 1.2, 1e-9));
}

// ---------------------------------------------------------------------------------------------
// Average power

#[test]
fn average_power_per_minute() {
    let from = ts("2026-02-10T09:00:00Z");
    // 1 kW, and 3 kW between 10:00:30 and 10:01:30.
    let (a, b) = (since(from, "2026-02-10T10:00:30Z"), since(from, "2026-02-10T10:01:30Z"));
    let samples =
        simulate(from, 7200, 1, 0, |t| (if (a..b).contains(&t) { 3000 } else { 1000 }, 0), all);
    let opt = Options::default();
    let pts = average_power(
        &samples,
        ts("2026-02-10T09:59:20Z"),
        ts("2026-02-10T10:03:00Z"),
        SignedDuration::from_mins(1),
        &opt,
    )
    .unwrap();
    assert_eq!(pts.len(), 4);
    assert_eq!(pts[0].start, ts("2026-02-10T09:59:00Z"));
    let kw: Vec<f64> = pts.iter().map(|p| in_kw(p.offtake).unwrap()).collect();
    for (got, want) in kw.iter().zip([1.0, 2.0, 2.0, 1.0]) {
        assert!(close(*got, want, 0.061), "{kw:?}");
    }
    assert!(pts.iter().all(|p| p.quality == Quality::Measured && in_kw(p.injection) == Some(0.0)));
    // Past the last sample: missing, not zero.
    let late = average_power(
        &samples,
        ts("2026-02-10T10:59:00Z"),
        ts("2026-02-10T11:03:00Z"),
        SignedDuration::from_mins(1),
        &opt,
    )
    .unwrap();
    assert_eq!(
        late.iter().map(|p| p.quality).collect::<Vec<_>>(),
        [Quality::Measured, Quality::Missing, Quality::Missing, Quality::Missing]
    );
    assert_eq!(in_kw(late[1].offtake), None);
    // A second per bucket.
    let fine = average_power(
        &samples,
        ts("2026-02-10T10:00:00Z"),
        ts("2026-02-10T10:10:00Z"),
        secs(1),
        &opt,
    )
    .unwrap();
    assert_eq!(fine.len(), 600);
    let wh: f64 = fine.iter().map(|p| in_kw(p.offtake).unwrap() / 3600.0).sum();
    assert!(close(wh, 1.0 / 6.0 + 2.0 / 60.0, 1e-3), "{wh}");
}

#[rstest]
#[case(SignedDuration::ZERO)]
#[case(secs(-60))]
fn average_power_rejects_empty_buckets(#[case] bucket: SignedDuration) {
    let r = average_power(
        &[],
        ts("2026-02-10T09:00:00Z"),
        ts("2026-02-10T10:00:00Z"),
        bucket,
        &Options::default(),
    );
    assert_eq!(r, Err(DeriveError::NonPositiveBucket(bucket)));
}

// ---------------------------------------------------------------------------------------------
// Properties

/// Monotone registers sampled at random intervals (mostly 1–300 s, sometimes a long gap)
/// across a local day picked among an ordinary and the two DST days.
fn monotone_day() -> impl Strategy<Value = (Date, Vec<Sample>)> {
    let step = (prop_oneof![60 => 1i64..=300, 1 => 300i64..=3000], 0u64..=400, 0u64..=150);
    (
        prop::sample::select(vec![date(2026, 2, 10), date(2026, 3, 29), date(2026, 10, 25)]),
        prop::collection::vec(step, 400..900),
    )
        .prop_map(|(day, steps)| {
            let mut at = calendar::day_start(day).checked_sub(secs(1200)).unwrap();
            let (mut imp, mut exp) = (BASE_IMPORT_WH, BASE_EXPORT_WH);
            let samples = steps
                .into_iter()
                .map(|(dt, di, de)| {
                    at = at.checked_add(secs(dt)).unwrap();
                    imp += di;
                    exp += de;
                    sample(at, imp, exp)
                })
                .collect();
            (day, samples)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn quarters_add_up_to_the_day_and_are_never_negative((day, samples) in monotone_day()) {
        let opt = Options::default();
        let (start, end) = calendar::day_bounds(day);
        let qs = quarter_hours(&samples, start, end, &opt);
        prop_assert_eq!(qs.len() as u32, calendar::quarters_in_day(day));
        for q in &qs {
            prop_assert_eq!(in_kwh(q.offtake).is_some(), q.quality != Quality::Missing);
            prop_assert_eq!(q.missing.is_some(), q.quality == Quality::Missing);
            prop_assert!(in_kwh(q.offtake).unwrap_or(0.0) >= 0.0 && in_kwh(q.injection).unwrap_or(0.0) >= 0.0);
            // Monotone registers never decrease.
            prop_assert_ne!(q.missing, Some(MissingCause::RegisterDecrease));
        }
        let d = days(&samples, day, day, &opt)[0];
        if qs.iter().all(|q| q.quality != Quality::Missing) {
            // Exactly: each boundary's register is rounded once, shared by both sides.
            let imp: Energy = qs.iter().map(|q| q.offtake.unwrap()).sum();
            let exp: Energy = qs.iter().map(|q| q.injection.unwrap()).sum();
            prop_assert_eq!(Some(imp), d.offtake, "{:?}", d);
            prop_assert_eq!(Some(exp), d.injection, "{:?}", d);
            let worst = qs.iter().map(|q| q.quality).max().unwrap();
            prop_assert!(d.quality <= worst);
        }
    }

    #[test]
    fn any_samples_in_any_order_give_sane_intervals(
        raw in prop::collection::vec((0i64..20_000, 0u64..5_000, 0u64..5_000), 0..300),
        seed in any::<u64>(),
    ) {
        let t0 = ts("2026-02-10T00:00:00Z");
        let samples: Vec<Sample> =
            raw.iter().map(|&(s, i, e)| sample(t0.checked_add(secs(s)).unwrap(), i, e)).collect();
        // A deterministic shuffle of the same samples, with some repeated.
        let mut shuffled = samples.clone();
        let n = shuffled.len();
        for k in 0..n {
            let j = (seed.wrapping_mul(k as u64 + 1).rotate_left(17) % n as u64) as usize;
            shuffled.swap(k, j);
        }
        shuffled.extend(samples.iter().take(5).copied());
        let opt = Options::default();
        let to = t0.checked_add(secs(20_000)).unwrap();
        let qs = quarter_hours(&samples, t0, to, &opt);
        prop_assert_eq!(&qs, &quarter_hours(&shuffled, t0, to, &opt));
        for q in &qs {
            prop_assert_eq!(in_kwh(q.offtake).is_some(), q.quality != Quality::Missing);
            prop_assert!(in_kwh(q.offtake).unwrap_or(0.0) >= 0.0 && in_kwh(q.injection).unwrap_or(0.0) >= 0.0);
        }
        let pts = average_power(&shuffled, t0, to, SignedDuration::from_mins(1), &opt).unwrap();
        prop_assert!(pts.iter().all(|p| in_kw(p.offtake).unwrap_or(0.0) >= 0.0));
    }
}

// ---------------------------------------------------------------------------------------------
// Performance smoke test

/// A month of 1 Hz samples (2.7 M) with 5-minute gas captures: quarter hours and month figures
/// must come out complete. No timing assertion; run in release to see the time.
#[test]
fn a_month_of_1hz_samples() {
    let (start, end) =
        (calendar::day_start(date(2026, 1, 1)), calendar::day_start(date(2026, 2, 1)));
    let n = end.duration_since(start).as_secs() + 1;
    let (s0, imp0) = (start.as_second(), BASE_IMPORT_WH);
    let mut samples: Vec<Sample> = (0..n)
        .map(|k| {
            let at = Timestamp::from_second(s0 + k).unwrap();
            let g = s0 + k - (s0 + k).rem_euclid(300);
            sample(at, imp0 + (k as u64) * 1000 / 3600, 0).with_gas(
                Timestamp::from_second(g).unwrap(),
                Volume::dm3(BASE_GAS_DM3 + (g - s0) as u64 / 3),
            )
        })
        .collect();
    // The store gives them sorted; the first gas capture sits 0 s before start, on the mark.
    assert_eq!(samples.len(), 31 * 86_400 + 1);
    let opt = Options::default();

    let t = Instant::now();
    let qs = quarter_hours(&samples, start, end, &opt);
    let quarters_time = t.elapsed();
    let t = Instant::now();
    let m = months(&samples, date(2026, 1, 1), date(2026, 1, 1), &opt)[0];
    let month_time = t.elapsed();
    eprintln!(
        "{} samples: quarter hours {quarters_time:?}, month figures {month_time:?}",
        samples.len()
    );

    assert_eq!(qs.len(), 31 * 96);
    assert!(qs.iter().all(|q| q.quality == Quality::Measured));
    let total: Energy = qs.iter().map(|q| q.offtake.unwrap()).sum();
    assert_eq!(total, Energy::wh(744_000));
    assert_eq!(m.electricity.offtake, Some(total));
    assert_eq!(
        (m.electricity.complete_days, m.gas.complete_days, m.gas.missing_hours),
        (31, 31, 0)
    );
    assert!(close(in_m3(m.gas.volume).unwrap(), 744.0 * 1.2, 1e-6), "{:?}", m.gas);

    // Unsorted input takes the sorting path and must give the same result.
    samples.swap(0, 1);
    assert_eq!(quarter_hours(&samples, start, end, &opt), qs);
}
