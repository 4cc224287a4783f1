//! Belgian legal holidays and working days (law of 4 January 1974): the calendar that
//! service levels and working-day deadlines count with (R-ACC-3, R-SLA-1) and that load
//! profiles treat as rest days.

use jiff::civil::{Date, Weekday};

/// Easter Sunday of a year (Gregorian, anonymous "Meeus/Jones/Butcher" algorithm).
pub fn easter_sunday(year: i16) -> Option<Date> {
    let y = i32::from(year);
    let a = y % 19;
    let b = y / 100;
    let c = y % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    Date::new(year, i8::try_from(month).ok()?, i8::try_from(day).ok()?).ok()
}

/// One of the ten Belgian legal holidays: New Year, Easter Monday, Labour Day, Ascension,
/// Whit Monday, National Day (21 July), Assumption, All Saints, Armistice, Christmas.
/// Allocation-free: load profiles ask once per simulated day.
pub fn is_belgian_holiday(d: Date) -> bool {
    if matches!(
        (d.month(), d.day()),
        (1, 1) | (5, 1) | (7, 21) | (8, 15) | (11, 1) | (11, 11) | (12, 25)
    ) {
        return true;
    }
    easter_sunday(d.year())
        .and_then(|e| e.until(d).ok())
        .is_some_and(|span| matches!(span.get_days(), 1 | 39 | 50))
}

/// The ten holidays of a year, in date order.
pub fn belgian_holidays(year: i16) -> Vec<Date> {
    let mut out = Vec::new();
    let mut d = Date::new(year, 1, 1).ok();
    while let Some(day) = d.filter(|x| x.year() == year) {
        if is_belgian_holiday(day) {
            out.push(day);
        }
        d = day.tomorrow().ok();
    }
    out
}

/// Monday to Friday and not a Belgian legal holiday.
pub fn is_working_day(d: Date) -> bool {
    !matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday) && !is_belgian_holiday(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn the_ten_holidays_of_2026_with_the_moving_ones() {
        let h = belgian_holidays(2026);
        assert_eq!(h.len(), 10, "{h:?}");
        // Easter 2026 is 5 April.
        assert_eq!(easter_sunday(2026), Some(date(2026, 4, 5)));
        for d in [date(2026, 4, 6), date(2026, 5, 14), date(2026, 5, 25), date(2026, 7, 21)] {
            assert!(h.contains(&d), "{d}");
        }
        assert!(!is_working_day(date(2026, 11, 11)), "Armistice");
        assert!(!is_working_day(date(2026, 11, 22)), "a Sunday");
        assert!(is_working_day(date(2026, 11, 23)));
        assert!(!is_belgian_holiday(date(2026, 4, 5)), "Easter Sunday is a Sunday, not listed");
    }

    #[test]
    fn easter_matches_known_years() {
        for (y, m, d) in [(2024, 3, 31), (2025, 4, 20), (2027, 3, 28), (2038, 4, 25)] {
            assert_eq!(easter_sunday(y), Some(date(y, m, d)));
        }
    }
}
