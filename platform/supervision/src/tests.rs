use domain::{Energy, Power};
use std::collections::BTreeSet;

use proptest::prelude::*;
use rstest::rstest;

use super::*;
use crate::sequence::{Outcome, SequenceTracker};

fn t0() -> Timestamp {
    // A 5-minute boundary, so that KPI windows are not widened.
    "2025-03-01T10:00:00Z".parse().unwrap()
}

fn at(secs: i64) -> Timestamp {
    t0() + SignedDuration::from_secs(secs)
}

fn at_ms(ms: i64) -> Timestamp {
    t0() + SignedDuration::from_millis(ms)
}

fn secs(n: i64) -> SignedDuration {
    SignedDuration::from_secs(n)
}

fn registers(import_wh: u64) -> Registers {
    Registers {
        import: Energy::wh(import_wh),
        export: Energy::ZERO,
        power_import: Power::w(500),
        power_export: Power::ZERO,
    }
}

/// An upload captured at `captured`, received `latency_ms` later.
fn upload(dongle: &str, sequence: u64, captured: Timestamp, latency_ms: i64) -> Observed {
    Observed {
        dongle: dongle.to_owned(),
        sequence,
        captured_at: captured,
        received_at: captured + SignedDuration::from_millis(latency_ms),
        crc_ok: true,
        registers: Some(registers(1_000 + sequence * 10)),
    }
}

/// Sends `up` at its receive time.
fn send(s: &mut Supervisor, up: &Observed) -> Vec<Event> {
    s.on_upload(up.received_at, up)
}

/// `d` uploads sequence numbers `seqs` captured at second = sequence number, 200 ms latency,
/// with a tick at each receive time.
fn steady(s: &mut Supervisor, d: &str, seqs: impl IntoIterator<Item = u64>) -> Vec<Event> {
    let mut events = Vec::new();
    for seq in seqs {
        let up = upload(d, seq, at(seq as i64), 200);
        events.extend(send(s, &up));
        events.extend(s.tick(up.received_at));
    }
    events
}

fn opened(events: &[Event]) -> Vec<&Incident> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::IncidentOpened(i) => Some(i),
            _ => None,
        })
        .collect()
}

fn closed(events: &[Event]) -> Vec<&Incident> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::IncidentClosed(i) => Some(i),
            _ => None,
        })
        .collect()
}

fn kinds(incidents: &[&Incident]) -> Vec<IncidentKind> {
    incidents.iter().map(|i| i.kind).collect()
}

fn status(s: &Supervisor, d: &str, now: Timestamp) -> DongleStatus {
    s.dongle_status(d, now).unwrap()
}

#[test]
fn a_dongle_sending_every_second_is_online() {
    let mut s = Supervisor::new(Config::default());
    s.register_dongle("d1", secs(1), t0());
    let events = steady(&mut s, "d1", 0..60);
    assert_eq!(
        events,
        vec![Event::StateChanged {
            dongle: "d1".into(),
            from: ConnectionState::NeverSeen,
            to: ConnectionState::Online
        }]
    );
    let st = status(&s, "d1", at_ms(59_200));
    assert_eq!(st.state, ConnectionState::Online);
    assert!(st.registered);
    assert_eq!(st.uploads, 60);
    assert_eq!(st.last_sequence, Some(59));
    assert_eq!(st.last_seen, Some(at_ms(59_200)));
    assert_eq!((st.missing, st.gaps, st.crc_errors), (0, 0, 0));
    assert_eq!(st.crc_error_rate, Some(0.0));
    assert_eq!(st.latency_mean, Some(SignedDuration::from_millis(200)));
    assert_eq!(st.latency_p99, Some(SignedDuration::from_millis(200)));
    let per_minute = st.uploads_per_minute.unwrap();
    assert!((per_minute - 60.0).abs() < 1e-9, "{per_minute}");
    assert!(s.incidents().is_empty());
}

#[test]
fn silence_goes_stale_then_offline_and_an_upload_closes_the_incident() {
    let mut s = Supervisor::new(Config::default());
    steady(&mut s, "d1", 0..60);
    let last = at_ms(59_200);
    assert!(s.tick(last + secs(29)).is_empty());
    assert_eq!(
        s.tick(last + secs(30)),
        vec![Event::StateChanged {
            dongle: "d1".into(),
            from: ConnectionState::Online,
            to: ConnectionState::Stale
        }]
    );
    assert!(s.tick(last + secs(299)).is_empty());
    assert_eq!(status(&s, "d1", last + secs(299)).state, ConnectionState::Stale);

    // Ticks need not fall on the threshold: the incident is dated last upload + 5 min.
    let events = s.tick(last + secs(330));
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[0],
        Event::StateChanged {
            dongle: "d1".into(),
            from: ConnectionState::Stale,
            to: ConnectionState::Offline
        }
    );
    let incident = opened(&events)[0].clone();
    assert_eq!(incident.kind, IncidentKind::Offline);
    assert_eq!(incident.dongle.as_deref(), Some("d1"));
    assert_eq!(incident.opened_at, last + secs(300));
    assert_eq!(incident.id, 1);
    assert!(s.tick(last + secs(600)).is_empty(), "one incident per outage");
    assert_eq!(status(&s, "d1", last + secs(600)).open_incidents, vec![1]);

    let back = upload("d1", 60, last + secs(900), 200);
    let events = send(&mut s, &back);
    assert_eq!(
        events[0],
        Event::StateChanged {
            dongle: "d1".into(),
            from: ConnectionState::Offline,
            to: ConnectionState::Online
        }
    );
    let done = closed(&events);
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].id, 1);
    assert_eq!(done[0].closed_at, Some(back.received_at));
    assert!(done[0].notes[0].text.starts_with("back online after"), "{:?}", done[0].notes);
    assert_eq!(s.incidents()[0].closed_at, Some(back.received_at));
    assert!(status(&s, "d1", back.received_at).open_incidents.is_empty());
}

#[test]
fn a_sequence_gap_is_closed_by_out_of_order_backfill() {
    let mut s = Supervisor::new(Config::default());
    steady(&mut s, "d1", 0..10);
    // Outage 10..20 s; the dongle sends its newest telegram first, then the backlog.
    let events = send(&mut s, &upload("d1", 20, at(20), 200));
    let gap = opened(&events);
    assert_eq!(kinds(&gap), vec![IncidentKind::SequenceGap]);
    assert_eq!(gap[0].detail, "sequence jumped from 9 to 20: 10 missing");
    assert_eq!(status(&s, "d1", at(21)).missing, 10);
    // The backlog arrives in a shuffled order, interleaved with new telegrams.
    let backlog = [15, 10, 19, 11, 12, 18, 13, 17, 14];
    for (i, seq) in backlog.into_iter().enumerate() {
        let captured = at(seq as i64);
        let mut up = upload("d1", seq, captured, 0);
        up.received_at = at(21) + SignedDuration::from_millis(10 * i as i64);
        assert!(closed(&send(&mut s, &up)).is_empty());
    }
    steady(&mut s, "d1", 21..23);
    let st = status(&s, "d1", at(23));
    assert_eq!((st.missing, st.gaps, st.recovered, st.lost), (1, 10, 9, 0));
    let mut up = upload("d1", 16, at(16), 0);
    up.received_at = at(23);
    let events = send(&mut s, &up);
    let done = closed(&events);
    assert_eq!(kinds(&done), vec![IncidentKind::SequenceGap]);
    assert_eq!(done[0].notes[0].text, "nothing missing any more: 10 backfilled, 0 lost");
    let st = status(&s, "d1", at(23));
    assert_eq!((st.missing, st.gaps, st.recovered, st.lost, st.duplicates), (0, 10, 10, 0, 0));
    assert_eq!(st.anomalies.sequence_gaps, 1);
    assert!(s.incidents().iter().all(|i| !i.is_open()));
}

#[test]
fn backfill_after_a_long_outage_is_no_time_jump_and_counts_for_availability() {
    let mut s = Supervisor::new(Config::default());
    s.register_dongle("d1", secs(1), t0());
    steady(&mut s, "d1", 0..1);
    s.tick(at(1800));
    let resume = at(3600);
    send(&mut s, &Observed { received_at: resume, ..upload("d1", 3600, at(3600), 0) });
    for seq in 1..3600 {
        let up = Observed {
            received_at: resume + SignedDuration::from_millis(seq as i64),
            ..upload("d1", seq, at(seq as i64), 0)
        };
        send(&mut s, &up);
    }
    let now = resume + secs(4);
    let kinds_seen: BTreeSet<IncidentKind> = s.incidents().iter().map(|i| i.kind).collect();
    assert_eq!(kinds_seen, BTreeSet::from([IncidentKind::Offline, IncidentKind::SequenceGap]));
    assert!(s.incidents().iter().all(|i| !i.is_open()));
    let kpis = s.kpis(now, (at(0), at(3600)));
    assert_eq!(kpis.overall.received, 3600);
    assert_eq!(kpis.overall.availability, Some(1.0));
    // Regularity looks at arrivals: the backfill burst is not regular.
    let arrivals = s.kpis(now, (resume, resume + secs(300))).overall;
    assert_eq!((arrivals.intervals, arrivals.regularity), (3600, Some(0.0)));
}

#[test]
fn a_backlog_at_first_contact_is_data_not_duplicates() {
    let mut s = Supervisor::new(Config::default());
    s.register_dongle("d1", secs(1), t0());
    // First contact at 100 s: the newest telegram, then the backlog oldest first.
    send(&mut s, &Observed { received_at: at(100), ..upload("d1", 100, at(100), 0) });
    for seq in 0..100u64 {
        let up = Observed {
            received_at: at(100) + SignedDuration::from_millis(seq as i64 + 1),
            ..upload("d1", seq, at(seq as i64), 0)
        };
        assert!(send(&mut s, &up).is_empty());
    }
    let st = status(&s, "d1", at(101));
    assert_eq!((st.duplicates, st.gaps, st.missing, st.last_sequence), (0, 0, 0, Some(100)));
    assert_eq!(s.kpis(at(101), (at(0), at(100))).overall.availability, Some(1.0));
    assert!(s.incidents().is_empty());
}

#[test]
fn missing_ranges_are_capped_and_the_rest_counted_lost() {
    let mut s = Supervisor::new(Config { max_gap_ranges: 4, ..Config::default() });
    steady(&mut s, "d1", [0, 2, 4, 6, 8, 10, 12]);
    let d = &s.dongles["d1"];
    assert_eq!(d.seq.ranges(), vec![(5, 5), (7, 7), (9, 9), (11, 11)]);
    let st = status(&s, "d1", at(12));
    assert_eq!((st.missing, st.gaps, st.lost), (4, 6, 2));
    // A number given up on that arrives after all is a duplicate.
    let late = Observed { received_at: at(13), ..upload("d1", 1, at(1), 0) };
    send(&mut s, &late);
    assert_eq!(status(&s, "d1", at(13)).duplicates, 1);
    // Filling the middle of a range splits it; the cap still holds.
    steady(&mut s, "d1", [20]);
    let late = Observed { received_at: at(21), ..upload("d1", 15, at(15), 0) };
    send(&mut s, &late);
    assert_eq!(s.dongles["d1"].seq.ranges(), vec![(9, 9), (11, 11), (13, 14), (16, 19)]);
}

#[test]
fn sequence_tracker_splits_ranges() {
    let mut t = SequenceTracker::default();
    assert_eq!(t.observe(0, at(0), at(0), 8), Outcome::First);
    assert_eq!(
        t.observe(10, at(10), at(10), 8),
        Outcome::Next { previous: 0, previous_capture: at(0), gap: 9 }
    );
    assert_eq!(t.observe(5, at(5), at(11), 8), Outcome::Backfill);
    assert_eq!(t.ranges(), vec![(1, 4), (6, 9)]);
    assert_eq!(t.observe(1, at(1), at(11), 8), Outcome::Backfill);
    assert_eq!(t.observe(9, at(9), at(11), 8), Outcome::Backfill);
    assert_eq!(t.ranges(), vec![(2, 4), (6, 8)]);
    assert_eq!(t.observe(9, at(9), at(11), 8), Outcome::Duplicate);
    assert_eq!(t.missing(), 6);
}

#[test]
fn missing_numbers_are_given_up_after_the_timeout() {
    let mut s = Supervisor::new(Config::default());
    steady(&mut s, "d1", [0, 5]);
    assert!(closed(&s.tick(at(5) + SignedDuration::from_hours(23))).is_empty());
    let events = s.tick(at(6) + SignedDuration::from_hours(24));
    let done = closed(&events);
    assert_eq!(kinds(&done), vec![IncidentKind::SequenceGap]);
    assert_eq!(done[0].notes[0].text, "gave up after 24h: 0 backfilled, 4 lost");
    assert_eq!(status(&s, "d1", at(0)).lost, 4);
}

#[test]
fn a_restarted_numbering_is_not_a_duplicate() {
    let mut s = Supervisor::new(Config::default());
    steady(&mut s, "d1", [0, 1, 2, 5, 6]);
    // Reset: numbering starts again at 0, with later capture times.
    for (i, seq) in (0..3).enumerate() {
        let up = upload("d1", seq, at(100 + i as i64), 200);
        let events = send(&mut s, &up);
        if i == 0 {
            let done = closed(&events);
            assert_eq!(kinds(&done), vec![IncidentKind::SequenceGap]);
            assert_eq!(
                done[0].notes[0].text,
                "numbering restarted at 0 after 6; 2 missing numbers lost"
            );
            assert_eq!(done[0].notes[1].text, "nothing missing any more: 0 backfilled, 2 lost");
        }
    }
    let st = status(&s, "d1", at(103));
    assert_eq!((st.sequence_restarts, st.duplicates, st.lost, st.missing), (1, 0, 2, 0));
    assert_eq!(st.last_sequence, Some(2));
}

#[test]
fn registers_going_backwards_open_an_anomaly_that_closes_after_ten_clean_minutes() {
    let mut s = Supervisor::new(Config::default());
    steady(&mut s, "d1", 0..10);
    let mut bad = upload("d1", 10, at(10), 200);
    bad.registers = Some(registers(500));
    let events = send(&mut s, &bad);
    let incident = opened(&events);
    assert_eq!(kinds(&incident), vec![IncidentKind::RegisterBackwards]);
    assert!(incident[0].detail.contains("import 500 Wh"), "{}", incident[0].detail);
    // The reading after the bad one is higher than it, and fine against the earlier ones.
    let mut closed_at = None;
    for seq in 11..700 {
        let events = send(&mut s, &upload("d1", seq, at(seq as i64), 200));
        if let Some(i) = closed(&events).first() {
            closed_at = i.closed_at;
            assert_eq!(i.kind, IncidentKind::RegisterBackwards);
            break;
        }
    }
    assert_eq!(closed_at, Some(at_ms(610_200)));
    let st = status(&s, "d1", at(700));
    assert_eq!(st.anomalies.register_backwards, 1);
}

#[test]
fn a_backfilled_reading_higher_than_a_later_one_is_out_of_order() {
    let mut s = Supervisor::new(Config::default());
    steady(&mut s, "d1", [0, 3]);
    let mut up = Observed { received_at: at(4), ..upload("d1", 1, at(1), 0) };
    up.registers = Some(registers(5_000));
    let incident = opened(&send(&mut s, &up)).into_iter().cloned().collect::<Vec<_>>();
    assert_eq!(kinds(&incident.iter().collect::<Vec<_>>()), vec![IncidentKind::RegisterBackwards]);
    assert!(incident[0].detail.contains("at later"), "{}", incident[0].detail);
}

#[test]
fn impossible_power_opens_an_anomaly() {
    let mut s = Supervisor::new(Config::default());
    let mut up = upload("d1", 0, at(0), 200);
    up.registers = Some(Registers { power_import: Power::w(150_000), ..registers(0) });
    let events = send(&mut s, &up);
    assert_eq!(kinds(&opened(&events)), vec![IncidentKind::ImpossiblePower]);
    // A CRC-corrupt telegram's registers are not judged.
    let mut corrupt = upload("d1", 1, at(1), 200);
    corrupt.crc_ok = false;
    corrupt.registers = Some(Registers { power_import: Power::w(150_000), ..registers(0) });
    send(&mut s, &corrupt);
    assert_eq!(status(&s, "d1", at(2)).anomalies.impossible_power, 1);
    assert_eq!(s.incidents()[0].occurrences, 1);
}

#[test]
fn time_jumps_ahead_of_the_platform_and_backwards_in_sequence() {
    let mut s = Supervisor::new(Config::default());
    steady(&mut s, "d1", 0..5);
    let ahead = Observed { received_at: at(5), ..upload("d1", 5, at(5) + secs(11 * 60), 0) };
    let events = send(&mut s, &ahead);
    assert_eq!(kinds(&opened(&events)), vec![IncidentKind::TimeJump]);

    let mut s = Supervisor::new(Config::default());
    steady(&mut s, "d1", 0..5);
    let back =
        Observed { received_at: at(5), registers: None, ..upload("d1", 5, at(4) - secs(3600), 0) };
    let events = send(&mut s, &back);
    let incident = opened(&events);
    assert_eq!(kinds(&incident), vec![IncidentKind::TimeJump]);
    assert!(incident[0].detail.starts_with("capture time went back 1h"), "{}", incident[0].detail);
    // Within the skew: no jump.
    let mut s = Supervisor::new(Config::default());
    steady(&mut s, "d1", 0..5);
    let small = Observed { received_at: at(5), ..upload("d1", 5, at(5) + secs(9 * 60), 0) };
    assert!(opened(&send(&mut s, &small)).is_empty());
}

#[test]
fn a_forged_signature_opens_a_security_incident_and_is_counted() {
    let mut s = Supervisor::new(Config::default());
    s.register_dongle("d1", secs(1), t0());
    let events = s.on_rejected(at(1), Some("d1"), Rejection::BadSignature);
    let incident = opened(&events);
    assert_eq!(kinds(&incident), vec![IncidentKind::Security]);
    assert_eq!(incident[0].dongle.as_deref(), Some("d1"));
    assert_eq!(incident[0].detail, "upload under dongle id \"d1\" rejected: bad_signature");
    assert!(s.on_rejected(at(2), Some("d1"), Rejection::BadSignature).is_empty());
    let st = status(&s, "d1", at(3));
    assert_eq!((st.rejected, st.uploads, st.anomalies.security), (2, 0, 2));
    assert_eq!(
        st.state,
        ConnectionState::NeverSeen,
        "a forged upload does not make the dongle online"
    );
    assert_eq!(s.incidents()[0].occurrences, 2);
    let text = s.prometheus(at(3));
    assert!(text.contains("meterlab_rejected_total{reason=\"bad_signature\"} 2\n"), "{text}");
    assert!(text.contains("meterlab_dongle_rejected_total{dongle=\"d1\"} 2\n"), "{text}");
    assert!(text.contains("meterlab_open_incidents{kind=\"security\"} 1\n"), "{text}");

    // Security incidents close by hand only; a new occurrence opens a new one.
    let closed = s.close_incident(1, at(10), "rotated the key").unwrap();
    assert_eq!(closed.closed_at, Some(at(10)));
    assert_eq!(s.close_incident(1, at(11), "again"), Err(SupervisionError::AlreadyClosed(1)));
    let events = s.on_rejected(at(12), Some("d1"), Rejection::BadSignature);
    assert_eq!(opened(&events)[0].id, 2);
}

#[test]
fn unknown_dongles_share_one_platform_incident_and_grow_no_state() {
    let mut s = Supervisor::new(Config::default());
    let mut all = Vec::new();
    for i in 0..100 {
        all.extend(s.on_rejected(at(i), Some(&format!("forged-{i}")), Rejection::UnknownDongle));
    }
    all.extend(s.on_rejected(at(100), None, Rejection::Malformed));
    assert_eq!(opened(&all).len(), 1);
    assert_eq!(s.incidents()[0].dongle, None);
    assert_eq!(s.incidents()[0].occurrences, 100);
    assert_eq!(
        s.incidents()[0].detail,
        "upload from unknown dongle id \"forged-0\" rejected: unknown_dongle"
    );
    assert!(s.status(at(100)).is_empty());
    let long = "x".repeat(10_000);
    s.close_incident(1, at(101), "blocked at the firewall").unwrap();
    let events = s.on_rejected(at(102), Some(&long), Rejection::BadSignature);
    assert!(opened(&events)[0].detail.len() < 200);
    assert_eq!(s.rejected[&Rejection::UnknownDongle], 100);
}

#[test]
fn crc_error_rate_opens_above_five_percent_and_closes_below_one() {
    let mut s = Supervisor::new(Config::default());
    let mut all = Vec::new();
    for seq in 0..100u64 {
        let mut up = upload("d1", seq, at(seq as i64), 200);
        up.crc_ok = seq % 10 != 3;
        up.registers = up.crc_ok.then(|| registers(seq));
        let events = send(&mut s, &up);
        if !opened(&events).is_empty() {
            assert_eq!(seq, 19, "judged from 20 uploads on");
        }
        all.extend(events);
    }
    assert_eq!(kinds(&opened(&all)), vec![IncidentKind::CrcErrors]);
    let st = status(&s, "d1", at(100));
    assert_eq!(st.crc_errors, 10);
    assert_eq!(st.crc_error_rate, Some(0.1));
    let mut closed_seq = None;
    for seq in 100..300u64 {
        let events = send(&mut s, &upload("d1", seq, at(seq as i64), 200));
        if !closed(&events).is_empty() {
            closed_seq = Some(seq);
            break;
        }
    }
    // The last bad one was 93: the window is clean at 193.
    assert_eq!(closed_seq, Some(193));
}

#[test]
fn availability_is_full_for_a_perfect_run() {
    let mut s = Supervisor::new(Config::default());
    s.register_dongle("d1", secs(1), t0());
    steady(&mut s, "d1", 0..600);
    let kpis = s.kpis(at(600), (at(0), at(600)));
    assert_eq!((kpis.from, kpis.to), (at(0), at(600)));
    let o = &kpis.overall;
    assert_eq!(o.expected, 600.0);
    assert_eq!(o.received, 600);
    assert_eq!(o.availability, Some(1.0));
    assert_eq!(o.success_rate, Some(1.0));
    assert_eq!(o.regularity, Some(1.0));
    assert_eq!(o.latency_mean, Some(SignedDuration::from_millis(200)));
    assert_eq!(o.latency_p99, Some(SignedDuration::from_millis(200)));
    assert_eq!(kpis.dongles[0].figures, *o);
}

#[test]
fn availability_is_half_when_half_the_uploads_are_missing() {
    let mut s = Supervisor::new(Config::default());
    s.register_dongle("full", secs(1), t0());
    s.register_dongle("half", secs(1), t0());
    steady(&mut s, "full", 0..600);
    steady(&mut s, "half", (0..600).step_by(2));
    let kpis = s.kpis(at(600), (at(0), at(600)));
    let half = &kpis.dongles.iter().find(|d| d.dongle == "half").unwrap().figures;
    assert!((half.availability.unwrap() - 0.5).abs() < 0.01, "{half:?}");
    // Every arrival is 2 s after the one before: none is regular.
    assert_eq!(half.regularity, Some(0.0));
    assert!((kpis.overall.availability.unwrap() - 0.75).abs() < 0.01);
    // A dongle registered to upload every 2 s is complete with the same traffic.
    s.register_dongle("half", secs(2), t0());
    let kpis = s.kpis(at(600), (at(0), at(600)));
    let half = &kpis.dongles.iter().find(|d| d.dongle == "half").unwrap().figures;
    assert_eq!(half.availability, Some(1.0));
}

#[test]
fn availability_counts_from_registration_and_until_now() {
    let mut s = Supervisor::new(Config::default());
    s.register_dongle("d1", secs(1), at(100));
    steady(&mut s, "d1", 100..200);
    let kpis = s.kpis(at(200), (at(0), at(3600)));
    assert_eq!(kpis.overall.expected, 100.0);
    assert_eq!(kpis.overall.availability, Some(1.0));
    // A window before anything was expected has no availability.
    assert_eq!(s.kpis(at(200), (at(-600), at(-300))).overall.availability, None);
}

#[test]
fn latency_p99_on_a_known_distribution() {
    let mut s = Supervisor::new(Config::default());
    // Latencies 1..=1000 ms, in a scrambled order.
    for seq in 0..1000u64 {
        let latency_ms = (seq * 7919 % 1000 + 1) as i64;
        send(&mut s, &upload("d1", seq, at(seq as i64), latency_ms));
    }
    let st = status(&s, "d1", at(1000));
    assert_eq!(st.latency_p99, Some(SignedDuration::from_millis(990)));
    assert_eq!(st.latency_mean, Some(SignedDuration::from_micros(500_500)));
    let kpis = s.kpis(at(1000), (at(0), at(1200)));
    assert_eq!(kpis.overall.latency_p99, Some(SignedDuration::from_millis(990)));
    let mean = kpis.overall.latency_mean.unwrap();
    assert!((mean.as_secs_f64() - 0.5005).abs() < 1e-6, "{mean:?}");
    let text = s.prometheus(at(1000));
    assert!(text.contains("meterlab_latency_seconds{quantile=\"0.99\"} 0.99\n"), "{text}");
    assert!(text.contains("meterlab_latency_seconds{quantile=\"0.5\"} 0.5\n"), "{text}");
    assert!(text.contains("meterlab_latency_seconds_count 1000\n"), "{text}");
}

#[rstest]
#[case(&[], 99, None)]
#[case(&[5], 99, Some(5))]
#[case(&[5], 50, Some(5))]
#[case(&[3, 1, 2, 4], 50, Some(2))]
#[case(&[3, 1, 2, 4], 99, Some(4))]
#[case(&[10, 9, 8, 7, 6, 5, 4, 3, 2, 1], 99, Some(10))]
#[case(&[10, 9, 8, 7, 6, 5, 4, 3, 2, 1], 90, Some(9))]
fn quantiles_are_nearest_rank(
    #[case] values: &[i64],
    #[case] percent: usize,
    #[case] expected: Option<i64>,
) {
    let mut values = values.to_vec();
    assert_eq!(quantile_ns(&mut values, percent, 100), expected.map(SignedDuration::from_nanos));
}

#[test]
fn regularity_is_the_share_of_intervals_within_half_the_expected() {
    let mut s = Supervisor::new(Config::default());
    s.register_dongle("d1", secs(1), t0());
    // Arrivals at 0, 1, 4, 5, 8, 9, ...: intervals alternate 1 s (regular) and 3 s (not).
    let mut t = 0;
    for seq in 0..101u64 {
        send(&mut s, &Observed { received_at: at(t), ..upload("d1", seq, at(t), 0) });
        t += if seq % 2 == 0 { 1 } else { 3 };
    }
    let kpis = s.kpis(at(t), (at(0), at(t)));
    assert_eq!(kpis.overall.intervals, 100);
    assert_eq!(kpis.overall.regular_intervals, 50);
    assert_eq!(kpis.overall.regularity, Some(0.5));
    // Boundaries: 0.5 s and 1.5 s are regular, 0.49 s and 1.51 s are not.
    let mut s = Supervisor::new(Config::default());
    for (seq, ms) in [0, 500, 2000, 2490, 4000].into_iter().enumerate() {
        send(
            &mut s,
            &Observed { received_at: at_ms(ms), ..upload("d1", seq as u64, at_ms(ms), 0) },
        );
    }
    let o = s.kpis(at(10), (at(0), at(10))).overall;
    assert_eq!((o.intervals, o.regular_intervals), (4, 2));
}

#[test]
fn success_rate_counts_crc_errors_and_rejections_as_failures() {
    let mut s = Supervisor::new(Config::default());
    for seq in 0..90u64 {
        let mut up = upload("d1", seq, at(seq as i64), 200);
        up.crc_ok = seq >= 5;
        send(&mut s, &up);
    }
    for i in 0..10 {
        s.on_rejected(at(90 + i), Some("d1"), Rejection::Replay);
    }
    s.on_rejected(at(95), None, Rejection::Malformed);
    let kpis = s.kpis(at(100), (at(0), at(100)));
    let d = &kpis.dongles[0].figures;
    assert_eq!((d.accepted, d.crc_errors, d.rejected), (90, 5, 10));
    assert_eq!(d.success_rate, Some(0.85));
    assert_eq!(kpis.overall.rejected, 11);
    assert_eq!(kpis.overall.success_rate, Some(85.0 / 101.0));
}

#[test]
fn prometheus_has_help_type_and_values() {
    let mut s = Supervisor::new(Config::default());
    s.register_dongle("never", secs(1), t0());
    steady(&mut s, "d1", 0..60);
    s.on_rejected(at(60), Some("d1"), Rejection::BadSignature);
    s.on_rejected(at(60), None, Rejection::Malformed);
    let text = s.prometheus(at(60));
    for line in [
        "# HELP meterlab_dongles Dongles by connection state.",
        "# TYPE meterlab_dongles gauge",
        "meterlab_dongles{state=\"online\"} 1",
        "meterlab_dongles{state=\"never_seen\"} 1",
        "meterlab_dongles{state=\"offline\"} 0",
        "# TYPE meterlab_uploads_total counter",
        "meterlab_uploads_total{dongle=\"d1\"} 60",
        "meterlab_uploads_total{dongle=\"never\"} 0",
        "meterlab_crc_errors_total{dongle=\"d1\"} 0",
        "meterlab_sequence_gaps_total{dongle=\"d1\"} 0",
        "meterlab_rejected_total{reason=\"bad_signature\"} 1",
        "meterlab_rejected_total{reason=\"malformed\"} 1",
        "meterlab_rejected_total{reason=\"replay\"} 0",
        "# TYPE meterlab_latency_seconds summary",
        "meterlab_latency_seconds{quantile=\"0.5\"} 0.2",
        "meterlab_latency_seconds{quantile=\"0.99\"} 0.2",
        "meterlab_latency_seconds_count 60",
        "meterlab_open_incidents{kind=\"security\"} 1",
        "meterlab_open_incidents{kind=\"offline\"} 0",
        "meterlab_incidents_total{kind=\"security\"} 1",
        "meterlab_last_seen_timestamp_seconds{dongle=\"d1\"} 1740823259.2",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
    }
    // Every sample belongs to a family declared with HELP and TYPE before it.
    let mut helped = BTreeSet::new();
    let mut typed = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            helped.insert(rest.split(' ').next().unwrap().to_owned());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            typed.insert(rest.split(' ').next().unwrap().to_owned());
        } else {
            let name = line.split(['{', ' ']).next().unwrap();
            let family = name.strip_suffix("_sum").or(name.strip_suffix("_count")).unwrap_or(name);
            let family = if typed.contains(name) { name } else { family };
            assert!(helped.contains(family) && typed.contains(family), "undeclared {line:?}");
            let value = line.rsplit(' ').next().unwrap();
            assert!(value == "NaN" || value.parse::<f64>().is_ok(), "bad value in {line:?}");
        }
    }
    assert!(text.ends_with('\n'));
}

#[test]
fn prometheus_escapes_label_values() {
    let mut s = Supervisor::new(Config::default());
    send(&mut s, &upload("we\"ird\\id\nx", 0, at(0), 200));
    let text = s.prometheus(at(1));
    assert!(text.contains("meterlab_uploads_total{dongle=\"we\\\"ird\\\\id\\nx\"} 1\n"), "{text}");
    assert_eq!(text.lines().filter(|l| l.starts_with("meterlab_uploads_total")).count(), 1);
    // No observations: the quantiles are NaN.
    let empty = Supervisor::new(Config::default()).prometheus(at(0));
    assert!(empty.contains("meterlab_latency_seconds{quantile=\"0.99\"} NaN\n"), "{empty}");
}

#[test]
fn notes_and_manual_closing() {
    let mut s = Supervisor::new(Config::default());
    steady(&mut s, "d1", 0..2);
    s.tick(at(400));
    let id = s.incidents()[0].id;
    s.add_note(id, at(401), "called the customer: router replaced").unwrap();
    assert_eq!(s.add_note(99, at(401), "x"), Err(SupervisionError::UnknownIncident(99)));
    assert_eq!(s.add_note(id, at(401), "  "), Err(SupervisionError::EmptyNote));
    let incident = s.incident(id).unwrap();
    assert_eq!(
        incident.notes,
        vec![Note { at: at(401), text: "called the customer: router replaced".into() }]
    );
    s.close_incident(id, at(402), "handled by phone").unwrap();
    // Closed by hand: the dongle coming back closes nothing.
    let events = send(&mut s, &upload("d1", 2, at(500), 200));
    assert!(closed(&events).is_empty());
    // Notes can still be added to closed incidents.
    s.add_note(id, at(600), "post-mortem written").unwrap();
    assert_eq!(s.incident(id).unwrap().notes.len(), 3);
}

#[test]
fn never_seen_dongles_stay_never_seen() {
    let mut s = Supervisor::new(Config::default());
    s.register_dongle("d1", secs(0), t0());
    assert!(s.tick(at(86_400)).is_empty());
    let st = status(&s, "d1", at(86_400));
    assert_eq!(st.state, ConnectionState::NeverSeen);
    assert_eq!(st.expected_interval, secs(1), "a non-positive interval means the default");
    assert_eq!(st.uploads_per_minute, None);
    assert_eq!(st.latency_p99, None);
    assert!(s.incidents().is_empty());
}

#[test]
fn the_register_drops_the_oldest_closed_incidents() {
    let mut s = Supervisor::new(Config { max_incidents: 8, ..Config::default() });
    s.on_rejected(at(0), None, Rejection::BadSignature); // id 1, stays open
    let mut t = 0;
    for seq in 0..20u64 {
        send(&mut s, &upload("d1", seq, at(t), 200));
        t += 400;
        s.tick(at(t));
    }
    let ids: Vec<u64> = s.incidents().iter().map(|i| i.id).collect();
    assert!(ids.len() <= 8, "{ids:?}");
    assert_eq!(ids[0], 1, "open incidents are kept");
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(*ids.last().unwrap(), 21);
    assert!(s.incident(21).unwrap().is_open());
    assert_eq!(s.add_note(2, at(t), "too late"), Err(SupervisionError::UnknownIncident(2)));
    assert!(s.prometheus(at(t)).contains("meterlab_incidents_total{kind=\"offline\"} 20\n"));
}

#[test]
fn config_is_sanitised() {
    let s = Supervisor::new(Config {
        stale_after: secs(600),
        offline_after: secs(-1),
        expected_interval: SignedDuration::ZERO,
        crc_window: 1000,
        crc_open_rate: f64::NAN,
        crc_close_rate: 0.5,
        latency_window: 0,
        frequency_window: 0,
        kpi_bucket: SignedDuration::from_millis(10),
        kpi_retention: SignedDuration::ZERO,
        ..Config::default()
    });
    let c = s.config();
    assert_eq!(c.offline_after, secs(300));
    assert_eq!(c.stale_after, secs(300));
    assert_eq!(c.expected_interval, secs(1));
    assert_eq!(c.crc_window, 128);
    assert_eq!((c.crc_open_rate, c.crc_close_rate), (0.05, 0.05));
    assert_eq!((c.latency_window, c.frequency_window), (2, 2));
    assert_eq!((c.kpi_bucket, c.kpi_retention), (secs(1), secs(1)));
}

#[test]
fn the_same_calls_give_the_same_results() {
    fn run() -> (String, Vec<Incident>, Vec<DongleStatus>) {
        let mut s = Supervisor::new(Config::default());
        for d in ["b", "a", "c"] {
            steady(&mut s, d, [0, 1, 5, 3, 9]);
        }
        s.on_rejected(at(10), Some("zz"), Rejection::UnknownDongle);
        s.tick(at(1000));
        (s.prometheus(at(1000)), s.incidents().to_vec(), s.status(at(1000)))
    }
    let first = run();
    assert_eq!(first, run());
    let ids: Vec<u64> = first.1.iter().map(|i| i.id).collect();
    assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>());
    let names: Vec<&str> = first.2.iter().map(|d| d.dongle.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
}

#[test]
fn ten_thousand_dongles_sixty_uploads_each() {
    let mut s = Supervisor::new(Config::default());
    let names: Vec<String> = (0..10_000).map(|i| format!("dongle-{i:05}")).collect();
    for name in &names {
        s.register_dongle(name, secs(1), t0());
    }
    for seq in 0..60u64 {
        for name in &names {
            send(&mut s, &upload(name, seq, at(seq as i64), 200));
        }
        s.tick(at_ms(seq as i64 * 1000 + 200));
    }
    let kpis = s.kpis(at(60), (at(0), at(60)));
    assert_eq!(kpis.overall.received, 600_000);
    assert_eq!(kpis.overall.availability, Some(1.0));
    assert!(s.incidents().is_empty());
    let text = s.prometheus(at(60));
    assert!(text.contains("meterlab_dongles{state=\"online\"} 10000\n"));
    assert_eq!(s.status(at(60)).len(), 10_000);
}

// ---- properties ----

#[derive(Clone, Debug)]
enum Op {
    Upload {
        dongle: u8,
        seq_step: i8,
        capture_skew_s: i32,
        latency_ms: u16,
        crc_ok: bool,
        import_step: i16,
        power_w: u32,
    },
    Tick,
    Reject {
        dongle: Option<u8>,
        reason: usize,
    },
    Note {
        pick: usize,
    },
    Close {
        pick: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..4, -12i8..12, prop_oneof![Just(0i32), -4000i32..4000], 0u16..5000, prop::bool::weighted(0.9), -5i16..50, prop_oneof![Just(500u32), 0u32..200_000])
            .prop_map(|(dongle, seq_step, capture_skew_s, latency_ms, crc_ok, import_step, power_w)| Op::Upload {
                dongle, seq_step, capture_skew_s, latency_ms, crc_ok, import_step, power_w
            }),
        2 => Just(Op::Tick),
        1 => (prop::option::of(0u8..6), 0usize..6).prop_map(|(dongle, reason)| Op::Reject { dongle, reason }),
        1 => any::<usize>().prop_map(|pick| Op::Note { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Close { pick }),
    ]
}

fn check_invariants(
    s: &Supervisor,
    now: Timestamp,
    events: &[Event],
    before: usize,
) -> Result<(), TestCaseError> {
    let incidents = s.incidents();
    let mut open = BTreeSet::new();
    let mut last_id = 0;
    for i in incidents {
        prop_assert!(i.id > last_id, "ids increase");
        last_id = i.id;
        if let Some(closed_at) = i.closed_at {
            prop_assert!(closed_at >= i.opened_at, "{i:?}");
        } else {
            prop_assert!(
                open.insert((i.dongle.clone(), i.kind)),
                "two open {:?} {:?}",
                i.dongle,
                i.kind
            );
        }
        prop_assert!(i.occurrences >= 1);
    }
    prop_assert_eq!(last_id as usize, incidents.len(), "sequential from 1 (no compaction here)");
    let new_ids: Vec<u64> = incidents[before..].iter().map(|i| i.id).collect();
    let opened_ids: Vec<u64> = opened(events).iter().map(|i| i.id).collect();
    prop_assert_eq!(new_ids, opened_ids);
    for e in events {
        if let Event::IncidentClosed(i) = e {
            prop_assert!(i.closed_at.is_some());
            prop_assert_eq!(s.incident(i.id).and_then(|i| i.closed_at), i.closed_at);
        }
    }
    for st in s.status(now) {
        let mut kinds = BTreeSet::new();
        for id in &st.open_incidents {
            let i = s.incident(*id);
            prop_assert!(
                i.is_some_and(|i| i.is_open() && i.dongle.as_deref() == Some(st.dongle.as_str()))
            );
            prop_assert!(i.is_some_and(|i| kinds.insert(i.kind)));
        }
        prop_assert!(st.recovered + st.lost + st.missing == st.gaps, "{st:?}");
        prop_assert!(
            st.missing == 0
                || s.dongles[&st.dongle].seq.ranges().len() <= s.config().max_gap_ranges
        );
        prop_assert!(st.crc_error_rate.is_none_or(|r| (0.0..=1.0).contains(&r)));
    }
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_interleavings_keep_the_invariants(
        ops in prop::collection::vec((-30i64..400, op()), 1..200),
        small in any::<bool>(),
    ) {
        let config = if small {
            Config { max_gap_ranges: 2, crc_window: 10, crc_min_samples: 3, anomaly_quiet: secs(30), gap_timeout: secs(900), kpi_bucket: secs(60), kpi_retention: secs(600), latency_window: 8, frequency_window: 4, register_history: 2, ..Config::default() }
        } else {
            Config::default()
        };
        let mut s = Supervisor::new(config);
        let mut now = t0();
        let mut seqs = [0i64; 4];
        let mut imports = [10_000i64; 4];
        for (step, op) in ops {
            // Time mostly moves forward, sometimes back a little.
            now += secs(step);
            let before = s.incidents().len();
            let events = match op {
                Op::Upload { dongle, seq_step, capture_skew_s, latency_ms, crc_ok, import_step, power_w } => {
                    let i = usize::from(dongle);
                    seqs[i] = (seqs[i] + i64::from(seq_step)).max(0);
                    imports[i] = (imports[i] + i64::from(import_step)).max(0);
                    let captured = now - SignedDuration::from_millis(i64::from(latency_ms)) + secs(i64::from(capture_skew_s));
                    let up = Observed {
                        dongle: format!("d{dongle}"),
                        sequence: seqs[i] as u64,
                        captured_at: captured,
                        received_at: now,
                        crc_ok,
                        registers: Some(Registers { import: Energy::wh(imports[i] as u64), export: Energy::ZERO, power_import: Power::w(u64::from(power_w)), power_export: Power::ZERO }),
                    };
                    s.on_upload(now, &up)
                }
                Op::Tick => s.tick(now),
                Op::Reject { dongle, reason } => {
                    let name = dongle.map(|d| format!("d{d}"));
                    s.on_rejected(now, name.as_deref(), Rejection::ALL[reason])
                }
                Op::Note { pick } => {
                    if !s.incidents().is_empty() {
                        let id = s.incidents()[pick % s.incidents().len()].id;
                        prop_assert!(s.add_note(id, now, "note").is_ok());
                    }
                    Vec::new()
                }
                Op::Close { pick } => {
                    if !s.incidents().is_empty() {
                        let i = &s.incidents()[pick % s.incidents().len()];
                        let (id, was_open) = (i.id, i.is_open());
                        prop_assert_eq!(s.close_incident(id, now, "by hand").is_ok(), was_open);
                    }
                    Vec::new()
                }
            };
            check_invariants(&s, now, &events, before)?;
        }
        let _ = s.kpis(now, (t0(), now));
        let _ = s.kpis(now, (now, t0()));
        let text = s.prometheus(now);
        prop_assert!(text.lines().all(|l| l.starts_with('#') || l.starts_with("meterlab_")));
    }

    #[test]
    fn the_sequence_tracker_accounts_for_every_missing_number(
        seqs in prop::collection::vec((0u64..300, any::<bool>()), 1..300),
        cap in 1usize..6,
    ) {
        let mut t = SequenceTracker::default();
        for (i, (seq, newer)) in seqs.into_iter().enumerate() {
            let captured = if newer { at(i as i64) } else { at(0) };
            t.observe(seq, captured, at(i as i64), cap);
            let ranges = t.ranges();
            prop_assert!(ranges.len() <= cap);
            prop_assert!(ranges.windows(2).all(|w| w[0].1 + 1 < w[1].0), "disjoint, sorted, not adjacent: {ranges:?}");
            prop_assert_eq!(ranges.iter().map(|(a, b)| b - a + 1).sum::<u64>(), t.missing());
            prop_assert_eq!(t.missing() + t.recovered + t.lost, t.detected);
            prop_assert!(ranges.last().is_none_or(|r| Some(r.1) < t.highest()));
        }
    }
}
