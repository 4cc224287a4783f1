//! Derived volumes from stored cumulative registers (R-DAT-1..3, R-NRT-1). The platform stores
//! one [`Sample`] per telegram — a capture instant and the meter's cumulative registers — and
//! this crate turns a slice of them into electricity quarter hours and days, gas hours and days,
//! monthly volumes and peaks, and average power per bucket for near-real-time curves. It owns
//! the rules for reading a register at a boundary (exact, interpolated or unknown) and for
//! judging quality; the platform server and the ESP API only call it.
//!
//! Invariants:
//! - Pure: no I/O, no clock, no state. The same samples give the same figures, whatever order
//!   they arrive in and however often they are repeated.
//! - Missing data stays missing — never zero. A volume is `Some` exactly when its quality is
//!   [`Quality::Measured`] or [`Quality::Estimated`]; otherwise it is `None` with a
//!   [`MissingCause`].
//! - No volume is negative: a register that goes backwards makes the intervals around it
//!   missing ([`MissingCause::RegisterDecrease`]).
//! - Intervals are half-open `[start, end)` on the Brussels calendar of the `clock` crate:
//!   quarters at local :00/:15/:30/:45, hours, local days of 92/96/100 quarters, months.
//! - A volume is `register(end) − register(start)`, so volumes of adjacent intervals add up to
//!   the volume of their union (days equal the sum of their quarters when all are present).
//! - Linear in the samples: one pass to check order (or a sort when unsorted) and a cursor over
//!   the boundaries; a month of 1 Hz samples derives in milliseconds in release.
//!
//! Reading a register at a boundary instant `b` (see [`Options`]):
//! 1. a sample exactly at `b` gives it as it is: `Measured`;
//! 2. else, if the samples just before and just after `b` are at most `max_gap` apart, the
//!    register is interpolated linearly between them: `Measured` if one of them is within
//!    `exact_within` of `b`, `Estimated` otherwise;
//! 3. else the nearer of those two samples, if within `exact_within` of `b`, gives it as it is:
//!    `Measured`;
//! 4. else it is unknown and every interval bounded by `b` is `Missing`.
//!
//! An interval is also `Missing` when both its boundaries come from one and the same sample
//! (rule 3 on both sides), since its volume would be an invented zero; with the default
//! `exact_within` that cannot happen to a quarter hour.
//!
//! An interval's quality is the worse of its two boundaries. Volumes are unvalidated readings
//! of the meter's own registers; validation proper (substitution by the DSO) is not done here.

mod series;
#[cfg(test)]
mod tests;

use calendar::{SignedDuration, Timestamp, civil};
use domain::{Energy, GasFactor, Power, Volume};
use serde::{Deserialize, Serialize};

use crate::series::{Series, Step};

/// One stored sample of a meter's cumulative registers at a capture instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Sample {
    /// Capture instant of the electricity registers (the telegram's timestamp).
    pub at: Timestamp,
    /// Offtake (import) register, summed over the tariffs.
    pub import: Energy,
    /// Injection (export) register, summed over the tariffs.
    pub export: Energy,
    /// The gas register the telegram carried, with its own capture instant (M-Bus values are
    /// captured every 5 minutes in Belgium, so many samples repeat the same reading).
    pub gas: Option<GasReading>,
}

impl Sample {
    /// An electricity-only sample.
    pub fn new(at: Timestamp, import: Energy, export: Energy) -> Self {
        Self { at, import, export, gas: None }
    }

    /// The same sample carrying a gas reading.
    #[must_use]
    pub fn with_gas(self, at: Timestamp, volume: Volume) -> Self {
        Self { gas: Some(GasReading { at, volume }), ..self }
    }
}

/// A gas register value and the instant the gas meter captured it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GasReading {
    /// Capture instant of the gas register.
    pub at: Timestamp,
    /// The gas register.
    pub volume: Volume,
}

/// How a derived value was obtained. Ordered from best to worst, so the quality of a
/// combination is the maximum of its parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quality {
    /// Both boundary registers come from samples within `exact_within` of the boundary.
    Measured,
    /// At least one boundary register is interpolated between samples farther away than
    /// `exact_within` but at most `max_gap` apart.
    Estimated,
    /// The value is unknown (see [`MissingCause`]). Its volume is `None`, never zero.
    Missing,
}

/// Why a value is missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingCause {
    /// A boundary register is unknown: no sample close enough, and the samples around it are
    /// more than `max_gap` apart (or there are none on one side).
    NoData,
    /// A register goes backwards among the samples the interval uses (a meter exchange, a
    /// reset, or corrupt data). Flagged, so it can be raised as an anomaly.
    RegisterDecrease,
}

/// How boundary registers are read from samples.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Options {
    /// The largest distance between the two samples around a boundary that still allows
    /// interpolating the register at the boundary. Default 15 minutes.
    pub max_gap: SignedDuration,
    /// A sample at most this far from a boundary makes that boundary `Measured`. Default 60 s.
    /// Keep it well below half the interval length (a quarter hour); [`average_power`] caps it
    /// at half a bucket.
    pub exact_within: SignedDuration,
    /// Conversion factor from gas volume to energy. Default [`GasFactor::TYPICAL`] (10.55
    /// kWh/m³), an assumption: Fluvius publishes the real factor per month, and callers that
    /// know it should pass it.
    pub gas: GasFactor,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_gap: SignedDuration::from_mins(15),
            exact_within: SignedDuration::from_secs(60),
            gas: GasFactor::TYPICAL,
        }
    }
}

/// Electricity volumes over one interval (a quarter hour).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Start of the interval (inclusive).
    pub start: Timestamp,
    /// End of the interval (exclusive).
    pub end: Timestamp,
    /// Offtake; `None` when missing.
    pub offtake: Option<Energy>,
    /// Injection; `None` when missing.
    pub injection: Option<Energy>,
    /// The worse quality of the two boundaries.
    pub quality: Quality,
    /// Why the volumes are missing; `Some` exactly when `quality` is `Missing`.
    pub missing: Option<MissingCause>,
}

/// Electricity volumes over one local Brussels day.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DayVolume {
    /// The local date.
    pub date: civil::Date,
    /// Local midnight starting the day.
    pub start: Timestamp,
    /// Local midnight ending the day.
    pub end: Timestamp,
    /// Quarter hours in the day: 92 on the spring DST day, 100 on the autumn one, else 96.
    pub quarters: u32,
    /// Offtake (register difference over the day); `None` when missing.
    pub offtake: Option<Energy>,
    /// Injection; `None` when missing.
    pub injection: Option<Energy>,
    /// The worse quality of the two midnight boundaries.
    pub quality: Quality,
    /// Why the volumes are missing; `Some` exactly when `quality` is `Missing`.
    pub missing: Option<MissingCause>,
}

/// Gas volume over one interval (an hour or a local day).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GasInterval {
    /// Start of the interval (inclusive).
    pub start: Timestamp,
    /// End of the interval (exclusive).
    pub end: Timestamp,
    /// Gas offtake; `None` when missing.
    pub volume: Option<Volume>,
    /// Its energy (`volume × Options::gas`); `None` when missing.
    pub energy: Option<Energy>,
    /// The worse quality of the two boundaries.
    pub quality: Quality,
    /// Why the volume is missing; `Some` exactly when `quality` is `Missing`.
    pub missing: Option<MissingCause>,
}

/// The highest quarter-hour average power of a month.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Peak {
    /// Start of the quarter hour.
    pub start: Timestamp,
    /// Average power over the quarter (its Wh × 4, exact).
    pub power: Power,
    /// Quality of that quarter hour.
    pub quality: Quality,
}

/// The highest hourly gas value of a month.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GasPeak {
    /// Start of the hour.
    pub start: Timestamp,
    /// Gas offtake in that hour.
    pub volume: Volume,
    /// Average power over the hour (equal to its energy per hour).
    pub power: Power,
    /// Quality of that hour.
    pub quality: Quality,
}

/// Monthly electricity figures.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ElectricityMonth {
    /// Offtake: the sum of the daily volumes; `None` if any day is missing.
    pub offtake: Option<Energy>,
    /// Injection: the sum of the daily volumes; `None` if any day is missing.
    pub injection: Option<Energy>,
    /// The worst quality of the days.
    pub quality: Quality,
    /// Days whose volumes are known.
    pub complete_days: u32,
    /// Days whose volumes are missing.
    pub missing_days: u32,
    /// Highest quarter-hour offtake power among the quarters present; `None` if none is.
    pub offtake_peak: Option<Peak>,
    /// Highest quarter-hour injection power among the quarters present; `None` if none is.
    pub injection_peak: Option<Peak>,
    /// Quarter hours of the month that are missing. When nonzero, the peaks are lower bounds.
    pub missing_quarters: u32,
}

/// Monthly gas figures.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GasMonth {
    /// Gas offtake: the sum of the daily volumes; `None` if any day is missing.
    pub volume: Option<Volume>,
    /// Its energy; `None` if any day is missing.
    pub energy: Option<Energy>,
    /// The worst quality of the days.
    pub quality: Quality,
    /// Days whose gas volume is known.
    pub complete_days: u32,
    /// Days whose gas volume is missing.
    pub missing_days: u32,
    /// Highest hourly gas value among the hours present; `None` if none is.
    pub peak: Option<GasPeak>,
    /// Hours of the month that are missing. When nonzero, the peak is a lower bound.
    pub missing_hours: u32,
}

/// Figures of one local Brussels month (R-DAT-3).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MonthFigures {
    /// The first day of the month.
    pub month: civil::Date,
    /// Local midnight starting the month.
    pub start: Timestamp,
    /// Local midnight starting the next month.
    pub end: Timestamp,
    /// Days in the month.
    pub days: u32,
    /// Electricity volumes and peaks.
    pub electricity: ElectricityMonth,
    /// Gas volumes and peak. All missing for a meter without gas.
    pub gas: GasMonth,
}

/// Average power over one bucket of a near-real-time series.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PowerPoint {
    /// Start of the bucket.
    pub start: Timestamp,
    /// Average offtake power over the bucket (rounded to a W); `None` when missing.
    pub offtake: Option<Power>,
    /// Average injection power over the bucket; `None` when missing.
    pub injection: Option<Power>,
    /// The worse quality of the two boundaries.
    pub quality: Quality,
    /// Why the power is missing; `Some` exactly when `quality` is `Missing`.
    pub missing: Option<MissingCause>,
}

/// Errors of [`average_power`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeriveError {
    /// The bucket length is zero or negative.
    #[error("the bucket must be longer than zero, got {0}")]
    NonPositiveBucket(SignedDuration),
}

const QUARTER: SignedDuration = SignedDuration::from_mins(15);
const HOUR: SignedDuration = SignedDuration::from_hours(1);

/// Electricity quarter hours overlapping `[from, to)`: fixed local clock quarters
/// :00/:15/:30/:45 (equal to UTC quarters in Brussels), from the quarter containing `from` to
/// the last one starting before `to`. Volume = register(end) − register(start), each boundary
/// read as the [crate docs](crate) describe. Empty when `from >= to`.
pub fn quarter_hours(
    samples: &[Sample],
    from: Timestamp,
    to: Timestamp,
    opt: &Options,
) -> Vec<Interval> {
    electricity_intervals(&Series::electricity(samples), &quarter_grid(from, to), opt)
}

/// Electricity volumes of the local Brussels days `first..=last` (boundaries at local
/// midnight; 23, 24 or 25 hours). Day volume = register difference over the day, so it is
/// known even when quarters inside are missing; quality is the worse of the two midnights.
/// Empty when `first > last`.
pub fn days(
    samples: &[Sample],
    first: civil::Date,
    last: civil::Date,
    opt: &Options,
) -> Vec<DayVolume> {
    electricity_days(&Series::electricity(samples), first, last, opt)
}

/// Gas volumes per local hour overlapping `[from, to)` (Brussels offsets are whole hours, so
/// these are UTC hours), from the gas readings the samples carry. Empty when `from >= to`.
pub fn gas_hours(
    samples: &[Sample],
    from: Timestamp,
    to: Timestamp,
    opt: &Options,
) -> Vec<GasInterval> {
    gas_intervals(&Series::gas(samples), &hour_grid(from, to), opt)
}

/// Gas volumes of the local Brussels days `first..=last`. Empty when `first > last`.
pub fn gas_days(
    samples: &[Sample],
    first: civil::Date,
    last: civil::Date,
    opt: &Options,
) -> Vec<GasInterval> {
    gas_intervals(&Series::gas(samples), &day_grid(first, last), opt)
}

/// Monthly figures (R-DAT-3) of the local months from the one containing `first` to the one
/// containing `last`.
///
/// - Monthly volume = the sum of the daily volumes. It is `None` if any day of the month is
///   missing — a partial sum would read as a small month — and `complete_days`/`missing_days`
///   say how far the month got (a month in progress counts its future days as missing).
/// - Electricity peak = the highest quarter-hour average power (kWh × 4) among the quarters
///   present, with its quarter start; the earliest wins a tie. `missing_quarters` tells
///   whether it may be understated.
/// - Gas peak = the highest hourly value among the hours present, likewise with
///   `missing_hours`.
pub fn months(
    samples: &[Sample],
    first: civil::Date,
    last: civil::Date,
    opt: &Options,
) -> Vec<MonthFigures> {
    let elec = Series::electricity(samples);
    let gas = Series::gas(samples);
    let mut out = Vec::new();
    let mut month = first.first_of_month();
    let last = last.first_of_month();
    while month <= last {
        let month_last = month.last_of_month();
        let start = calendar::day_start(month);
        let end = calendar::day_bounds(month_last).1;
        let days = electricity_days(&elec, month, month_last, opt);
        let quarters = electricity_intervals(&elec, &quarter_grid(start, end), opt);
        let gas_days = gas_intervals(&gas, &day_grid(month, month_last), opt);
        let gas_hours = gas_intervals(&gas, &hour_grid(start, end), opt);
        out.push(MonthFigures {
            month,
            start,
            end,
            days: u32::from(month.days_in_month().unsigned_abs()),
            electricity: electricity_month(&days, &quarters),
            gas: gas_month(&gas_days, &gas_hours),
        });
        match month_last.tomorrow() {
            Ok(next) => month = next,
            Err(_) => break,
        }
    }
    out
}

/// Average power per bucket over `[from, to)` for near-real-time curves (R-NRT-1), from
/// register differences: W = ΔWh / bucket hours, rounded half up. Buckets are aligned to multiples of
/// `bucket` since the Unix epoch (for buckets dividing an hour, that is the local clock), from
/// the one containing `from` to the last one starting before `to`. Unvalidated, like the
/// samples. Empty when `from >= to`.
///
/// `exact_within` is capped at half a bucket here, so a bucket never takes both its boundaries
/// from one sample and a sample is never moved past the middle of a bucket: at the live edge,
/// the buckets after the last sample are missing rather than zero.
///
/// # Errors
/// [`DeriveError::NonPositiveBucket`] when `bucket` is zero or negative.
pub fn average_power(
    samples: &[Sample],
    from: Timestamp,
    to: Timestamp,
    bucket: SignedDuration,
    opt: &Options,
) -> Result<Vec<PowerPoint>, DeriveError> {
    if !bucket.is_positive() {
        return Err(DeriveError::NonPositiveBucket(bucket));
    }
    let series = Series::electricity(samples);
    let grid = grid(floor_to(from, bucket), to, |t| t.checked_add(bucket).ok());
    let opt = Options { exact_within: opt.exact_within.min(bucket / 2), ..*opt };
    Ok(series
        .steps(&grid, &opt)
        .into_iter()
        .map(|s| {
            let span = s.end.duration_since(s.start);
            let power = |wh: u64| Energy::wh(wh).over(span);
            PowerPoint {
                start: s.start,
                offtake: s.delta.wh.and_then(|w| power(w[0])),
                injection: s.delta.wh.and_then(|w| power(w[1])),
                quality: s.delta.quality,
                missing: s.delta.missing,
            }
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Grids: increasing boundary instants `b0 < b1 < … < bn`; interval k is `[b(k), b(k+1))`.

/// `floor(from)`, then `next` until the first boundary at or after `to`. Empty when
/// `from >= to` (or when `next` stops advancing, at the ends of time).
fn grid(
    first: Timestamp,
    to: Timestamp,
    next: impl Fn(Timestamp) -> Option<Timestamp>,
) -> Vec<Timestamp> {
    let mut out = Vec::new();
    if first >= to {
        return out;
    }
    out.push(first);
    let mut b = first;
    while b < to {
        match next(b) {
            Some(n) if n > b => {
                out.push(n);
                b = n;
            }
            _ => break,
        }
    }
    if out.len() < 2 { Vec::new() } else { out }
}

fn quarter_grid(from: Timestamp, to: Timestamp) -> Vec<Timestamp> {
    grid(calendar::quarter_start(from), to, |t| t.checked_add(QUARTER).ok())
}

fn hour_grid(from: Timestamp, to: Timestamp) -> Vec<Timestamp> {
    grid(hour_start(from), to, |t| t.checked_add(HOUR).ok())
}

/// Local midnights starting `first..=last`, then the one ending `last`.
fn day_grid(first: civil::Date, last: civil::Date) -> Vec<Timestamp> {
    let mut out = Vec::new();
    if first > last {
        return out;
    }
    let mut d = first;
    out.push(calendar::day_start(d));
    while d <= last {
        let (_, end) = calendar::day_bounds(d);
        out.push(end);
        match d.tomorrow() {
            Ok(n) => d = n,
            Err(_) => break,
        }
    }
    out
}

/// Start of the local hour containing `ts`, floored on the wall clock like
/// [`calendar::quarter_start`].
fn hour_start(ts: Timestamp) -> Timestamp {
    let offset = SignedDuration::from_secs(i64::from(calendar::brussels().to_offset(ts).seconds()));
    let local = ts.checked_add(offset).unwrap_or(ts);
    floor_to(local, HOUR).checked_sub(offset).unwrap_or(Timestamp::MIN)
}

/// `ts` floored to a multiple of `step` (positive) since the Unix epoch.
fn floor_to(ts: Timestamp, step: SignedDuration) -> Timestamp {
    let into = ts.as_nanosecond().rem_euclid(step.as_nanos());
    // The remainder is below `step`, which is a SignedDuration, so it fits in one.
    let into = SignedDuration::from_nanos(i64::try_from(into).unwrap_or(i64::MAX));
    ts.checked_sub(into).unwrap_or(Timestamp::MIN)
}

// ---------------------------------------------------------------------------------------------
// Shaping steps into the public types.

fn electricity_intervals(
    series: &Series<'_, Sample>,
    grid: &[Timestamp],
    opt: &Options,
) -> Vec<Interval> {
    series
        .steps(grid, opt)
        .into_iter()
        .map(|Step { start, end, delta }| Interval {
            start,
            end,
            offtake: delta.wh.map(|w| Energy::wh(w[0])),
            injection: delta.wh.map(|w| Energy::wh(w[1])),
            quality: delta.quality,
            missing: delta.missing,
        })
        .collect()
}

fn electricity_days(
    series: &Series<'_, Sample>,
    first: civil::Date,
    last: civil::Date,
    opt: &Options,
) -> Vec<DayVolume> {
    series
        .steps(&day_grid(first, last), opt)
        .into_iter()
        .map(|Step { start, end, delta }| {
            let date = calendar::local_date(start);
            DayVolume {
                date,
                start,
                end,
                quarters: calendar::quarters_in_day(date),
                offtake: delta.wh.map(|w| Energy::wh(w[0])),
                injection: delta.wh.map(|w| Energy::wh(w[1])),
                quality: delta.quality,
                missing: delta.missing,
            }
        })
        .collect()
}

fn gas_intervals(
    series: &Series<'_, GasReading>,
    grid: &[Timestamp],
    opt: &Options,
) -> Vec<GasInterval> {
    series
        .steps(grid, opt)
        .into_iter()
        .map(|Step { start, end, delta }| {
            let volume = delta.wh.map(|w| Volume::dm3(w[0]));
            GasInterval {
                start,
                end,
                volume,
                energy: volume.map(|v| v.energy(opt.gas)),
                quality: delta.quality,
                missing: delta.missing,
            }
        })
        .collect()
}

/// Sum of `values` with the worst quality and the day counts; the sum is `None` if any is.
fn month_sum<T>(
    items: &[T],
    quality: impl Fn(&T) -> Quality,
    values: impl Fn(&T) -> Option<[u64; 2]>,
) -> (Option<[u64; 2]>, Quality, u32, u32) {
    let mut sum: Option<[u64; 2]> = Some([0, 0]);
    let (mut worst, mut complete, mut missing) = (Quality::Measured, 0, 0);
    for item in items {
        worst = worst.max(quality(item));
        match values(item) {
            Some(v) => {
                complete += 1;
                sum = sum.map(|s| [s[0].saturating_add(v[0]), s[1].saturating_add(v[1])]);
            }
            None => {
                missing += 1;
                sum = None;
            }
        }
    }
    if items.is_empty() { (None, Quality::Missing, 0, 0) } else { (sum, worst, complete, missing) }
}

/// The item with the highest value (the earliest on a tie), among those present.
fn highest<T, V: PartialOrd + Copy>(
    items: &[T],
    value: impl Fn(&T) -> Option<V>,
) -> Option<(&T, V)> {
    let mut best: Option<(&T, V)> = None;
    for item in items {
        if let Some(v) = value(item)
            && best.is_none_or(|(_, b)| v > b)
        {
            best = Some((item, v));
        }
    }
    best
}

fn count_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn electricity_month(days: &[DayVolume], quarters: &[Interval]) -> ElectricityMonth {
    let (sum, quality, complete_days, missing_days) =
        month_sum(days, |d| d.quality, |d| Some([d.offtake?.as_wh(), d.injection?.as_wh()]));
    // A quarter's average power is its energy × 4, exactly.
    let peak = |value: fn(&Interval) -> Option<Energy>| {
        highest(quarters, value).map(|(q, e)| Peak {
            start: q.start,
            power: Power::w(e.as_wh().saturating_mul(4)),
            quality: q.quality,
        })
    };
    ElectricityMonth {
        offtake: sum.map(|s| Energy::wh(s[0])),
        injection: sum.map(|s| Energy::wh(s[1])),
        quality,
        complete_days,
        missing_days,
        offtake_peak: peak(|q| q.offtake),
        injection_peak: peak(|q| q.injection),
        missing_quarters: count_u32(
            quarters.iter().filter(|q| q.quality == Quality::Missing).count(),
        ),
    }
}

fn gas_month(days: &[GasInterval], hours: &[GasInterval]) -> GasMonth {
    let (sum, quality, complete_days, missing_days) =
        month_sum(days, |d| d.quality, |d| Some([d.volume?.as_dm3(), d.energy?.as_wh()]));
    GasMonth {
        volume: sum.map(|s| Volume::dm3(s[0])),
        energy: sum.map(|s| Energy::wh(s[1])),
        quality,
        complete_days,
        missing_days,
        // An hour's average power is its energy per hour.
        peak: highest(hours, |h| h.energy).and_then(|(h, e)| {
            Some(GasPeak {
                start: h.start,
                volume: h.volume?,
                power: Power::w(e.as_wh()),
                quality: h.quality,
            })
        }),
        missing_hours: count_u32(hours.iter().filter(|h| h.quality == Quality::Missing).count()),
    }
}
