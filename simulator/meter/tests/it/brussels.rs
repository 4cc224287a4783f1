//! Telegrams at the instants where calendars bite: month rollover, DST changes, New Year.

use crate::{decode_all, local, meter, run};
use jiff::SignedDuration;
use p1::Season;

#[test]
fn month_rollover_moves_the_peak_into_the_13_month_history() {
    let start = local("2026-01-31T23:40:00");
    let mut m = meter("fluvius-t211-1.7.1", "household:4000+ev:11", 21, start);
    let frames = run(&mut m, start, 40 * 60);
    let decoded = decode_all(&m, &frames);
    let before = decoded.first().unwrap().1.demand.clone().unwrap();
    let after = decoded.last().unwrap().1.demand.clone().unwrap();
    assert!(before.history.is_empty());
    assert_eq!(after.history.len(), 1);
    let h = after.history[0];
    assert_eq!((h.captured.yy, h.captured.month, h.captured.day, h.captured.hour), (26, 2, 1, 0));
    let january_peak = h.peak.unwrap();
    assert_eq!(january_peak.at.month, 1, "the January peak, stamped in January");
    assert!(after.month_peak.unwrap().at.month == 2);
}

#[test]
fn spring_forward_switches_to_summer_time_without_a_gap_in_telegrams() {
    // 2026-03-29: 02:00 CET becomes 03:00 CEST.
    let start = local("2026-03-29T01:59:50");
    let mut m = meter("fluvius-s211-1.7.1", "household", 3, start);
    let frames = run(&mut m, start, 20);
    let decoded = decode_all(&m, &frames);
    assert_eq!(decoded.len(), 21);
    let first = decoded.first().unwrap().1.time;
    let last = decoded.last().unwrap().1.time;
    assert_eq!((first.hour, first.season), (1, Season::Winter));
    assert_eq!((last.hour, last.minute, last.season), (3, 0, Season::Summer));
    let unix: Vec<i64> = decoded.iter().map(|(_, r)| r.time.to_unix().unwrap()).collect();
    assert!(unix.windows(2).all(|w| w[1] - w[0] == 1), "one telegram per real second");
}

#[test]
fn fall_back_repeats_the_hour_with_the_winter_suffix() {
    // 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:xx happens twice, S then W.
    let start = calendar::parse_date_or_time("2026-10-25T02:59:50+02:00").unwrap();
    let mut m = meter("iskra-am550-dsmr-5.0.2", "household", 3, start);
    let frames = run(&mut m, start, 20);
    let decoded = decode_all(&m, &frames);
    let first = decoded.first().unwrap().1.time;
    let last = decoded.last().unwrap().1.time;
    assert_eq!((first.hour, first.season), (2, Season::Summer));
    assert_eq!((last.hour, last.minute, last.season), (2, 0, Season::Winter));
    let unix: Vec<i64> = decoded.iter().map(|(_, r)| r.time.to_unix().unwrap()).collect();
    assert!(unix.windows(2).all(|w| w[1] - w[0] == 1));
}

#[test]
fn new_year_rolls_the_two_digit_year() {
    let start = local("2026-12-31T23:59:50");
    for id in ["fluvius-t211-1.7.1", "kaifa-dsmr-4.2", "sagemcom-smarty"] {
        let mut m = meter(id, "household+gas", 4, start);
        let frames = run(&mut m, start, 30);
        let decoded = decode_all(&m, &frames);
        let last = decoded.last().unwrap().1.time;
        assert_eq!((last.yy, last.month, last.day), (27, 1, 1), "{id}");
        let unix = last.to_unix().unwrap();
        assert_eq!(
            unix,
            (start
                + SignedDuration::from_secs(
                    30 / i64::from(m.variant().interval_s) * i64::from(m.variant().interval_s)
                ))
            .as_second(),
            "{id}"
        );
    }
}
