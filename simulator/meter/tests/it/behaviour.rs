use crate::{decode_all, local, meter, run};
use calendar::Timestamp;
use jiff::SignedDuration;
use meter::{AmrMeter, Catalogue, FaultPlan, Meter, Tariffs};
use p1::{Decoder, Frame};

#[test]
fn registers_never_decrease_and_powers_agree_with_voltage_times_current() {
    let start = local("2026-05-04T05:30:00");
    let mut m = meter("fluvius-t211-1.7.1", "household:3500+pv:6+ev:11", 11, start);
    // Sample a whole day, one telegram a minute.
    let mut frames = Vec::new();
    for s in (0..86_400).step_by(60) {
        m.advance(start + SignedDuration::from_secs(s));
        if let Some(b) = m.tick(start + SignedDuration::from_secs(s)) {
            frames.push(b);
        }
    }
    let decoded = decode_all(&m, &frames);
    assert_eq!(decoded.len(), 1440);
    let mut exported = false;
    for w in decoded.windows(2) {
        let (a, b) = (&w[0].1, &w[1].1);
        for t in 0..2 {
            assert!(b.import_wh[t] >= a.import_wh[t] && b.export_wh[t] >= a.export_wh[t]);
        }
        assert!(b.mbus[0].litres >= a.mbus[0].litres);
        exported |= b.power_export_w > 0;
    }
    assert!(exported, "6 kWp of PV exports on a May day");
    for (_, r) in &decoded {
        assert!(r.power_import_w == 0 || r.power_export_w == 0, "net power is one-sided");
        for p in &r.phases {
            assert!((2070..=2530).contains(&p.voltage_dv), "EN 50160 band: {}", p.voltage_dv);
            let ui = f64::from(p.voltage_dv) / 10.0 * f64::from(p.current_ca) / 100.0;
            let pw = f64::from(p.import_w.max(p.export_w));
            assert!((ui - pw).abs() <= 0.01 * pw + 2.0, "P {pw} W vs U·I {ui} W");
        }
    }
}

#[test]
fn quarter_hour_demand_ramps_from_zero_and_the_month_peak_is_the_highest_quarter() {
    let start = local("2026-02-02T18:00:00");
    let mut m = meter("fluvius-s211-1.7.1", "household:5000+ev:7.4", 5, start);
    let frames = run(&mut m, start, 3 * 3600);
    let decoded = decode_all(&m, &frames);
    let mut quarter_ends = Vec::new();
    for w in decoded.windows(2) {
        let (a, b) = (w[0].1.demand.as_ref().unwrap(), w[1].1.demand.as_ref().unwrap());
        let sec = w[1].1.time.minute as u32 * 60 + w[1].1.time.second as u32;
        if sec.is_multiple_of(900) {
            // A new quarter: 1.4.0 starts again from (almost) zero.
            assert!(b.average_w <= 50, "restart at {:?}: {}", w[1].1.time, b.average_w);
            quarter_ends.push(a.average_w);
        } else {
            assert!(b.average_w >= a.average_w, "1.4.0 only rises within a quarter");
        }
    }
    assert_eq!(quarter_ends.len(), 12);
    let last = decoded.last().unwrap().1.demand.clone().unwrap();
    let peak = last.month_peak.unwrap();
    // The peak is the highest closed quarter (possibly one before this run began).
    assert!(peak.w + 4 >= *quarter_ends.iter().max().unwrap());
    assert_eq!(peak.at.minute % 15, 0);
    assert_eq!(peak.at.second, 0);
}

#[test]
fn belgian_and_dutch_tariffs_mean_opposite_things() {
    let sat_noon = calendar::local_datetime(local("2026-06-13T12:00:00"));
    let mon_noon = calendar::local_datetime(local("2026-06-15T12:00:00"));
    let mon_night = calendar::local_datetime(local("2026-06-15T23:30:00"));
    assert_eq!(Tariffs::Belgian.at(mon_noon), 1, "BE: tariff 1 = day");
    assert_eq!(Tariffs::Belgian.at(sat_noon), 2);
    assert_eq!(Tariffs::Belgian.at(mon_night), 2);
    assert_eq!(Tariffs::Dutch.at(mon_noon), 2, "NL: tariff 2 = normal");
    assert_eq!(Tariffs::Dutch.at(sat_noon), 1);
    assert_eq!(Tariffs::Dutch.at(mon_night), 1);
}

#[test]
fn gas_is_captured_every_five_minutes_in_belgium_and_hourly_in_dsmr4() {
    let start = local("2026-01-14T06:00:00");
    let mut be = meter("fluvius-s211-1.7.1", "household+gas", 2, start);
    let frames = run(&mut be, start, 3600);
    let be_frames = decode_all(&be, &frames);
    let captures: std::collections::BTreeSet<_> =
        be_frames.iter().map(|(_, r)| r.mbus[0].captured.to_unix().unwrap()).collect();
    assert!((12..=13).contains(&captures.len()), "{captures:?}");
    let v: Vec<_> = captures.iter().collect();
    assert!(v.windows(2).skip(1).all(|w| w[1] - w[0] == 300));

    let mut nl = meter("kaifa-dsmr-4.2", "household+gas", 2, start);
    let frames = run(&mut nl, start, 7200);
    let nl_frames = decode_all(&nl, &frames);
    let captures: Vec<_> = nl_frames.iter().map(|(_, r)| r.mbus[0].captured).collect();
    assert!(captures.iter().all(|t| t.minute == 0 && t.second == 0), "{captures:?}");
}

#[test]
fn faults_are_seeded_observable_and_leave_values_alone() {
    let start = local("2026-03-10T10:00:00");
    let cat = Catalogue::builtin();
    let v = cat.get("fluvius-t211-1.7.1").unwrap();
    let mk = |faults: &str| {
        let mut m = Meter::new(v, &"household".parse().unwrap(), 9, start)
            .unwrap()
            .with_faults(FaultPlan::parse(faults, 42).unwrap());
        m.open_port();
        m
    };
    let clean = run(&mut mk(""), start, 600);
    let a = run(&mut mk("crc:0.05,truncate:0.02,garbage:0.05"), start, 600);
    let b = run(&mut mk("crc:0.05,truncate:0.02,garbage:0.05"), start, 600);
    assert_eq!(a, b, "the same fault seed gives the same damage");
    let mut d = Decoder::new();
    for bytes in &a {
        d.push(bytes);
    }
    let frames: Vec<Frame> = std::iter::from_fn(|| d.next_frame()).collect();
    let s = d.stats();
    assert!(s.corrupt_crc > 10 && s.truncated > 2 && s.garbage_bytes > 100, "{s:?}");
    // Undamaged telegrams are the same bytes as without faults.
    let ok: Vec<_> = frames
        .iter()
        .filter_map(|f| match f {
            Frame::Ok { raw, .. } => Some(raw.clone()),
            _ => None,
        })
        .collect();
    assert!(ok.iter().all(|raw| clean.contains(raw)));
    assert!(FaultPlan::parse("crc:2", 0).is_err());
    assert!(FaultPlan::parse("melt:0.1", 0).unwrap_err().to_string().contains("kinds crc"));

    let silent = run(&mut mk("silence:1"), start, 600);
    assert!(silent.is_empty(), "silence keeps the meter quiet");
}

#[test]
fn amr_meter_closes_quarter_hours_including_dst_days() {
    let cat = Catalogue::builtin();
    let v = cat.get("amr-business").unwrap();
    let day = |d: &str| {
        let (from, to) = calendar::day_bounds(d.parse().unwrap());
        let mut m = AmrMeter::new(v, &"business:50000+pv:20".parse().unwrap(), 4, from).unwrap();
        m.tick(to)
    };
    assert_eq!(day("2026-06-10").len(), 96);
    assert_eq!(day("2026-03-29").len(), 92);
    let autumn = day("2026-10-25");
    assert_eq!(autumn.len(), 100);
    let recs = day("2026-06-10");
    let import: domain::Energy = recs.iter().map(|r| r.active_import_wh).sum();
    let production: domain::Energy = recs.iter().map(|r| r.production_wh).sum();
    // 50 MWh a year is ≈137 kWh a day; on a sunny June weekday 20 kWp of PV covers much of it.
    assert!(import.as_wh() > 20_000 && production.as_wh() > 40_000, "{import} {production}");
    assert!(recs.iter().all(|r| r.auxiliary_wh > domain::Energy::ZERO));
    assert!(Meter::new(v, &"business".parse().unwrap(), 1, Timestamp::UNIX_EPOCH).is_err());
}
