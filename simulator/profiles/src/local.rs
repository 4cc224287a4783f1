//! Civil calendar, Belgian public holidays and the Europe/Brussels local clock.

use std::sync::OnceLock;

use jiff::Timestamp;
use jiff::tz::{Offset, TimeZone};

pub(crate) const HOUR_S: i64 = 3_600;
pub(crate) const DAY_S: i64 = 86_400;

/// Europe/Brussels from jiff's bundled tz database; if that lookup fails, the equivalent
/// POSIX rule (CET/CEST, EU switch on the last Sundays of March and October at 01:00 UTC);
/// if even that fails, fixed UTC+1.
fn brussels() -> &'static TimeZone {
    static TZ: OnceLock<TimeZone> = OnceLock::new();
    TZ.get_or_init(|| {
        TimeZone::get("Europe/Brussels")
            .or_else(|_| TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3"))
            .unwrap_or_else(|_| TimeZone::fixed(Offset::constant(1)))
    })
}

/// Offset of Europe/Brussels local time from UTC at a Unix second (3,600 or 7,200).
pub(crate) fn brussels_offset_s(t: i64) -> i64 {
    Timestamp::from_second(t).map_or(HOUR_S, |ts| i64::from(brussels().to_offset(ts).seconds()))
}

/// (year, month 1..=12, day 1..=31) of a day count since 1970-01-01
/// (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms", `civil_from_days`).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Day count since 1970-01-01 of a civil date (Hinnant's `days_from_civil`).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Whether a civil date is one of the ten Belgian legal holidays (`clock` keeps the list).
fn is_belgian_public_holiday(m: u32, d: u32, y: i64) -> bool {
    let date = (|| {
        let y = i16::try_from(y).ok()?;
        jiff::civil::Date::new(y, i8::try_from(m).ok()?, i8::try_from(d).ok()?).ok()
    })();
    date.is_some_and(calendar::is_belgian_holiday)
}

/// Facts about one local (Europe/Brussels) calendar day.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct DayInfo {
    /// Local day count since 1970-01-01.
    pub(crate) day: i64,
    /// Month 1..=12.
    pub(crate) month: u32,
    /// Day of year, 0-based.
    pub(crate) doy: u32,
    /// 0 = Monday … 6 = Sunday.
    pub(crate) weekday: u32,
    /// Saturday, Sunday or a Belgian public holiday.
    pub(crate) rest_day: bool,
}

impl DayInfo {
    pub(crate) fn new(day: i64) -> Self {
        let (y, month, d) = civil_from_days(day);
        let doy = (day - days_from_civil(y, 1, 1)) as u32;
        let weekday = (day + 3).rem_euclid(7) as u32; // 1970-01-01 was a Thursday
        let rest_day = weekday >= 5 || is_belgian_public_holiday(month, d, y);
        DayInfo { day, month, doy, weekday, rest_day }
    }

    /// Index into `[workday, rest day]` tables.
    pub(crate) fn kind(&self) -> usize {
        usize::from(self.rest_day)
    }
}

/// Local-time facts for one UTC hour (Brussels offsets are whole hours, so a UTC hour is
/// exactly one local hour).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct HourCtx {
    /// Hours since the Unix epoch (UTC).
    pub(crate) hour: i64,
    /// Local offset from UTC in seconds.
    pub(crate) offset_s: i64,
    /// Local hour of day 0..=23.
    pub(crate) local_hour: usize,
    /// The local day.
    pub(crate) day: DayInfo,
}

impl HourCtx {
    pub(crate) fn start_s(&self) -> i64 {
        self.hour * HOUR_S
    }

    /// UTC second of the local midnight that starts this local day (at this hour's offset).
    pub(crate) fn local_midnight_s(&self) -> i64 {
        self.day.day * DAY_S - self.offset_s
    }
}

/// Caches the Europe/Brussels offset per hour and the day facts per local day.
#[derive(Clone, Debug)]
pub(crate) struct LocalClock {
    last: Option<HourCtx>,
}

impl LocalClock {
    pub(crate) fn new() -> Self {
        LocalClock { last: None }
    }

    pub(crate) fn at_hour(&mut self, hour: i64) -> HourCtx {
        if let Some(c) = self.last
            && c.hour == hour
        {
            return c;
        }
        let start = hour * HOUR_S;
        let offset_s = brussels_offset_s(start);
        let local = start + offset_s;
        let day_n = local.div_euclid(DAY_S);
        let local_hour = (local.rem_euclid(DAY_S) / HOUR_S) as usize;
        let day = match self.last {
            Some(c) if c.day.day == day_n => c.day,
            _ => DayInfo::new(day_n),
        };
        let ctx = HourCtx { hour, offset_s, local_hour, day };
        self.last = Some(ctx);
        ctx
    }
}
