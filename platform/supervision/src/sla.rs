//! Service levels (R-SLA-1, R-SLA-2, R-SLA-4) from stored timestamps, and the Belgian
//! working-day calendar.
//!
//! A day's data is *delivered* when the platform holds samples covering the whole Brussels day
//! (no gap longer than `max_gap`, the first within `max_gap` of midnight, the last within
//! `max_gap` of the next midnight); its delivery time is the receive time of the latest sample
//! it needed. A month is delivered when all its days are, at the latest of their times.
//!
//! Deadlines: seed 000 says "within 5 days" and "within 15 days" of the consumption moment;
//! calendar days are the default ([`DayCount::Calendar`]). [`DayCount::Working`] counts Belgian
//! working days instead (Monday to Friday without the ten legal holidays), the reading used
//! for data-access requests (R-ACC-3, "vijf werkdagen"). A period counts once its deadline has
//! passed, or earlier when already delivered; anything delivered after its deadline is late
//! (R-SLA-4: it is still delivered, and counted).

use calendar::civil::Date;
use calendar::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// How deadlines count days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DayCount {
    /// Every day counts (seed 000's wording).
    #[default]
    Calendar,
    /// Belgian working days only.
    Working,
}

pub use calendar::{belgian_holidays, is_working_day};

/// The end of the `n`th day after `day` (a Brussels midnight), counting calendar or working
/// days: data of day D due "within 5 days" must be there before D+6 begins.
pub fn deadline(day: Date, n: u32, count: DayCount) -> Timestamp {
    let mut d = day;
    let mut left = n;
    while left > 0 {
        d = match d.tomorrow() {
            Ok(x) => x,
            Err(_) => break,
        };
        if count == DayCount::Calendar || is_working_day(d) {
            left -= 1;
        }
    }
    calendar::day_bounds(d).1
}

/// When a period's data became complete on the platform, if it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The day (or the first day of the month).
    pub period: Date,
    /// The receive time that completed it.
    pub complete_at: Option<Timestamp>,
}

/// One service-level figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlaFigure {
    /// `R-SLA-1` or `R-SLA-2`.
    pub requirement: String,
    /// Periods whose deadline passed or that were delivered.
    pub due: u32,
    /// Delivered by their deadline.
    pub on_time: u32,
    /// Delivered after their deadline (R-SLA-4).
    pub late: u32,
    /// Due and not delivered.
    pub missing: u32,
    /// `on_time / due` in percent (100 when nothing is due).
    pub pct: f64,
    /// The target: more than this percentage on time.
    pub target_pct: f64,
    /// Whether `pct > target_pct`.
    pub pass: bool,
}

fn figure(requirement: &str, outcomes: impl Iterator<Item = Option<bool>>) -> SlaFigure {
    let (mut due, mut on_time, mut late, mut missing) = (0, 0, 0, 0);
    for o in outcomes {
        due += 1;
        match o {
            Some(true) => on_time += 1,
            Some(false) => late += 1,
            None => missing += 1,
        }
    }
    let pct = if due == 0 { 100.0 } else { 100.0 * f64::from(on_time) / f64::from(due) };
    SlaFigure {
        requirement: requirement.into(),
        due,
        on_time,
        late,
        missing,
        pct,
        target_pct: 95.0,
        pass: pct > 95.0,
    }
}

/// R-SLA-1: daily data within `within` days (5) of the day.
pub fn daily(days: &[Delivery], within: u32, count: DayCount, now: Timestamp) -> SlaFigure {
    let outcomes = days.iter().filter_map(|d| {
        let dl = deadline(d.period, within, count);
        match d.complete_at {
            Some(at) => Some(Some(at <= dl)),
            None if dl <= now => Some(None),
            None => None,
        }
    });
    figure("R-SLA-1", outcomes)
}

/// R-SLA-2: monthly data within `within` days (15) of the month's end.
pub fn monthly(months: &[Delivery], within: u32, count: DayCount, now: Timestamp) -> SlaFigure {
    let outcomes = months.iter().filter_map(|m| {
        let last = m.period.last_of_month();
        let dl = deadline(last, within, count);
        match m.complete_at {
            Some(at) => Some(Some(at <= dl)),
            None if dl <= now => Some(None),
            None => None,
        }
    });
    figure("R-SLA-2", outcomes)
}

/// When each Brussels day `first..=last` became complete, from `(captured_at, received_at)`
/// pairs sorted by capture time.
pub fn day_deliveries(
    samples: &[(Timestamp, Timestamp)],
    first: Date,
    last: Date,
    max_gap: SignedDuration,
) -> Vec<Delivery> {
    let mut out = Vec::new();
    let mut day = first;
    while day <= last {
        let (start, end) = calendar::day_bounds(day);
        let lo = samples.partition_point(|(c, _)| *c < start - max_gap);
        let hi = samples.partition_point(|(c, _)| *c <= end + max_gap);
        let inside = &samples[lo..hi];
        let complete = match (inside.first(), inside.last()) {
            (Some(f), Some(l)) => {
                f.0 <= start + max_gap
                    && l.0 >= end - max_gap
                    && inside.windows(2).all(|w| w[1].0.duration_since(w[0].0) <= max_gap)
            }
            _ => false,
        };
        out.push(Delivery {
            period: day,
            complete_at: if complete { inside.iter().map(|s| s.1).max() } else { None },
        });
        day = match day.tomorrow() {
            Ok(d) => d,
            Err(_) => break,
        };
    }
    out
}

/// Months from day deliveries: complete when every day of the month is, at the latest day's
/// time. Months only partly inside the days given are left out.
pub fn month_deliveries(days: &[Delivery]) -> Vec<Delivery> {
    let mut out: Vec<Delivery> = Vec::new();
    let mut i = 0;
    while i < days.len() {
        let month = days[i].period.first_of_month();
        let group: Vec<&Delivery> =
            days[i..].iter().take_while(|d| d.period.first_of_month() == month).collect();
        i += group.len();
        let whole = group.first().is_some_and(|d| d.period == month)
            && group.last().is_some_and(|d| d.period == month.last_of_month());
        if whole {
            let complete_at = group
                .iter()
                .map(|d| d.complete_at)
                .collect::<Option<Vec<_>>>()
                .and_then(|v| v.into_iter().max());
            out.push(Delivery { period: month, complete_at });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use calendar::civil::date;

    #[test]
    fn deadlines_count_calendar_or_working_days() {
        // Friday 30 October 2026: 5 calendar days -> end of Wed 4 Nov; 5 working days skip the
        // weekend and All Saints (Sun 1 Nov, no shift) -> end of Fri 6 Nov.
        let d = date(2026, 10, 30);
        assert_eq!(deadline(d, 5, DayCount::Calendar), calendar::day_bounds(date(2026, 11, 4)).1);
        assert_eq!(deadline(d, 5, DayCount::Working), calendar::day_bounds(date(2026, 11, 6)).1);
        // Tue 10 Nov: Armistice on Wed 11 is skipped.
        assert_eq!(
            deadline(date(2026, 11, 10), 1, DayCount::Working),
            calendar::day_bounds(date(2026, 11, 12)).1
        );
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_day_is_delivered_when_covered_and_dated_by_its_last_needed_sample() {
        let day = date(2026, 6, 1);
        let (start, end) = calendar::day_bounds(day);
        let gap = SignedDuration::from_mins(15);
        // Every 10 minutes; the 12:00 sample arrived two days late (backfill after an outage).
        let mut samples = Vec::new();
        let mut t = start;
        let late = ts("2026-06-03T09:00:00Z");
        while t <= end {
            let received = if t == ts("2026-06-01T10:00:00Z") { late } else { t };
            samples.push((t, received));
            t += SignedDuration::from_mins(10);
        }
        let d = day_deliveries(&samples, day, day, gap);
        assert_eq!(d[0].complete_at, Some(late));
        // Take out an hour: never complete.
        samples
            .retain(|(c, _)| !(ts("2026-06-01T10:00:00Z")..ts("2026-06-01T11:00:00Z")).contains(c));
        assert_eq!(day_deliveries(&samples, day, day, gap)[0].complete_at, None);
    }

    #[test]
    fn figures_pass_above_95_percent_only() {
        let now = ts("2026-08-01T00:00:00Z");
        let mut days: Vec<Delivery> = (1..=30)
            .map(|d| {
                let day = date(2026, 6, d);
                Delivery { period: day, complete_at: Some(calendar::day_bounds(day).1) }
            })
            .collect();
        let f = daily(&days, 5, DayCount::Calendar, now);
        assert_eq!((f.due, f.on_time, f.pass), (30, 30, true));
        // Two days late (R-SLA-4: delivered, but counted late) -> 28/30 = 93.3 %: fails.
        for d in &mut days[..2] {
            d.complete_at = Some(ts("2026-07-20T00:00:00Z"));
        }
        let f = daily(&days, 5, DayCount::Calendar, now);
        assert_eq!((f.on_time, f.late, f.missing, f.pass), (28, 2, 0, false));
        assert!((f.pct - 93.33).abs() < 0.01);
        // A month with a missing day is missing as a month.
        days[5].complete_at = None;
        let m = month_deliveries(&days);
        assert_eq!(m.len(), 1);
        let f = monthly(&m, 15, DayCount::Calendar, now);
        assert_eq!((f.due, f.missing, f.pass), (1, 1, false));
    }

    #[test]
    fn periods_not_yet_due_do_not_count() {
        let day = date(2026, 6, 1);
        let f = daily(
            &[Delivery { period: day, complete_at: None }],
            5,
            DayCount::Calendar,
            ts("2026-06-03T00:00:00Z"),
        );
        assert_eq!((f.due, f.pass), (0, true));
    }
}
