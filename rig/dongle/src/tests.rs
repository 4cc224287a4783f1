//! Unit tests: the fault model, backoff, timeouts, receipts, clock, batching.

use crate::*;
use calendar::{SignedDuration, Timestamp};
use rstest::rstest;
use wire::ingest::v1::{Receipt, RejectCode, Rejected};

const TELEGRAM: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/p1/fluvius-emucs-1.7.1-3phase.txt"
));

fn t0() -> Timestamp {
    "2026-06-01T00:00:00Z".parse().unwrap()
}

fn at(secs: i64) -> Timestamp {
    t0() + SignedDuration::from_secs(secs)
}

fn config(seed: u64) -> Config {
    Config { seed, ..Config::new("D-1", b"key-1".to_vec()) }
}

fn outages(model: &[Scheduled]) -> Vec<(Timestamp, Timestamp)> {
    model
        .iter()
        .filter_map(|s| match *s {
            Scheduled::WifiLoss { start, end } | Scheduled::LteOutage { start, end } => {
                Some((start, end))
            }
            Scheduled::Hang { .. } => None,
        })
        .collect()
}

#[test]
fn parses_the_full_spec_and_prints_it_back() {
    let m = FaultModel::parse("wifi:30m/2m, lte:7d/3h,hang:30d,drift:-12.5").unwrap();
    let o = |i, d| Outages {
        mean_interval: SignedDuration::from_secs(i),
        mean_duration: SignedDuration::from_secs(d),
    };
    assert_eq!(m.wifi_loss, Some(o(1_800, 120)));
    assert_eq!(m.lte_outage, Some(o(7 * 86_400, 3 * 3_600)));
    assert_eq!(m.hang, Some(SignedDuration::from_secs(30 * 86_400)));
    assert_eq!(m.clock_drift_ppm, -12.5);
    assert_eq!(m.to_string(), "wifi:30m/2m,lte:7d/3h,hang:30d,drift:-12.5");
    assert_eq!(FaultModel::parse(&m.to_string()).unwrap(), m);
    assert_eq!(FaultModel::parse("wifi:1h30m/90s").unwrap().to_string(), "wifi:1h30m/1m30s");
    for none in ["", "none", " , "] {
        let m = FaultModel::parse(none).unwrap();
        assert!(m.is_empty());
        assert_eq!(m.to_string(), "none");
    }
}

#[rstest]
#[case("wifi", "expected kind:value")]
#[case("wifi:30m", "mean interval / mean duration, e.g. `wifi:30m/2m`")]
#[case("lte:7d", "e.g. `lte:30m/2m`")]
#[case("bluetooth:1m", "unknown fault kind `bluetooth`; use wifi, lte, hang or drift")]
#[case("hang:1d,hang:2d", "`hang` is given twice")]
#[case("hang:0s", "longer than zero")]
#[case("wifi:30m/0m", "longer than zero")]
#[case("hang:10x", "unknown unit `x`")]
#[case("hang:10", "has no unit")]
#[case("drift:fast", "parts per million")]
#[case("drift:inf", "parts per million")]
#[case("drift:2000000", "parts per million")]
fn bad_specs_say_what_is_wrong(#[case] spec: &str, #[case] message: &str) {
    let err = FaultModel::parse(spec).unwrap_err().to_string();
    assert!(err.contains(message), "{spec}: {err}");
}

#[test]
fn same_seed_same_windows_and_other_seed_other_windows() {
    let m = FaultModel::parse("wifi:30m/2m,lte:7d/3h,hang:30d").unwrap();
    let (from, until) = (t0(), at(365 * 86_400));
    let a = m.preview(7, from, until);
    assert_eq!(a, m.preview(7, from, until));
    assert_ne!(a, m.preview(8, from, until));
    // Each kind's stream is its own: dropping LTE does not move the Wi-Fi windows.
    let wifi_only = FaultModel { lte_outage: None, hang: None, ..m.clone() };
    let wifi = |v: &[Scheduled]| -> Vec<Scheduled> {
        v.iter().copied().filter(|s| matches!(s, Scheduled::WifiLoss { .. })).collect()
    };
    assert_eq!(wifi(&a), wifi(&wifi_only.preview(7, from, until)));
    // Sorted, and windows of one kind do not overlap.
    assert!(a.windows(2).all(|w| w[0].start() <= w[1].start()));
    let w = outages(&wifi(&a));
    assert!(w.windows(2).all(|p| p[0].1 < p[1].0));
    // The means come out about right over a year (≈16,000 Wi-Fi windows).
    let n = w.len() as f64;
    let down: f64 = w.iter().map(|(s, e)| e.duration_since(*s).as_secs_f64()).sum::<f64>() / n;
    let up: f64 =
        w.windows(2).map(|p| p[1].0.duration_since(p[0].1).as_secs_f64()).sum::<f64>() / (n - 1.0);
    assert!((down / 120.0 - 1.0).abs() < 0.1, "mean Wi-Fi loss {down} s");
    assert!((up / 1_800.0 - 1.0).abs() < 0.1, "mean time between losses {up} s");
    let lte = a.iter().filter(|s| matches!(s, Scheduled::LteOutage { .. })).count();
    assert!((30..=80).contains(&lte), "{lte} LTE outages in a year");
}

#[test]
fn the_dongle_goes_through_the_previewed_windows() {
    let faults = FaultModel::parse("wifi:2h/10m,lte:1d/3h").unwrap();
    let windows = outages(&faults.preview(42, t0(), at(3 * 86_400)));
    assert!(windows.len() > 10);
    let run = |seed| {
        let mut d = Dongle::new(Config { faults: faults.clone(), ..config(seed) }, t0());
        (0..3 * 1_440)
            .map(|m| {
                let now = at(m * 60);
                d.on_serial_bytes(now, b"");
                d.stats().state == State::LinkDown
            })
            .collect::<Vec<bool>>()
    };
    let seen = run(42);
    for (m, down) in seen.iter().enumerate() {
        let now = at(m as i64 * 60);
        let expected = windows.iter().any(|&(s, e)| s <= now && now < e);
        assert_eq!(*down, expected, "minute {m}");
    }
    assert_eq!(seen, run(42));
    assert_ne!(seen, run(43));
}

/// Drives a dongle whose uplink always fails; returns the delays between transmits.
fn failing_delays(seed: u64, n: usize) -> Vec<SignedDuration> {
    let mut d = Dongle::new(config(seed), t0());
    d.on_serial_bytes(t0(), TELEGRAM);
    let mut sends = Vec::new();
    let mut now = t0();
    for _ in 0..n {
        let tx = d.poll_transmit(now).expect("due at its deadline");
        d.on_transmit_result(now, tx.id, TransmitOutcome::Failed);
        assert_eq!(d.stats().state, State::Backoff);
        assert_eq!(d.poll_transmit(now), None, "no retry before the backoff ends");
        sends.push(now);
        now = d.next_deadline().unwrap();
    }
    sends.windows(2).map(|w| w[1].duration_since(w[0])).collect()
}

#[test]
fn failures_back_off_exponentially_with_bounded_jitter_per_seed() {
    let delays = failing_delays(1, 30);
    for (k, d) in delays.iter().enumerate() {
        let ceiling = SignedDuration::from_secs((1i64 << (k + 1)).min(300));
        assert!(*d >= SignedDuration::from_secs(1) && *d <= ceiling, "delay {k}: {d:?}");
    }
    // The envelope grows: late delays are long, and jitter spreads them.
    let late = &delays[12..];
    let mean = late.iter().map(SignedDuration::as_secs_f64).sum::<f64>() / late.len() as f64;
    assert!((60.0..=300.0).contains(&mean), "mean late delay {mean} s");
    assert!(late.windows(2).any(|w| w[0] != w[1]));
    assert_eq!(delays, failing_delays(1, 30));
    assert_ne!(delays, failing_delays(2, 30));
}

#[test]
fn a_receipt_ends_the_backoff() {
    let mut d = Dongle::new(config(3), t0());
    d.on_serial_bytes(t0(), TELEGRAM);
    let mut now = t0();
    for _ in 0..8 {
        let tx = d.poll_transmit(now).unwrap();
        d.on_transmit_result(now, tx.id, TransmitOutcome::Failed);
        now = d.next_deadline().unwrap();
    }
    let tx = d.poll_transmit(now).unwrap();
    d.on_transmit_result(now, tx.id, tx.all_stored());
    assert_eq!(d.stats().state, State::Online);
    now += SignedDuration::from_secs(1);
    d.on_serial_bytes(now, TELEGRAM);
    let tx = d.poll_transmit(now).unwrap();
    d.on_transmit_result(now, tx.id, TransmitOutcome::Failed);
    let wait = d.next_deadline().unwrap().duration_since(now);
    assert!(wait <= SignedDuration::from_secs(2), "first backoff again: {wait:?}");
    let s = d.stats();
    assert_eq!((s.transmits, s.transmit_failures, s.acknowledged, s.retries), (10, 9, 1, 9));
}

#[test]
fn a_transmit_without_result_times_out_and_a_late_result_is_stale() {
    let mut d = Dongle::new(config(0), t0());
    d.on_serial_bytes(t0(), TELEGRAM);
    let tx = d.poll_transmit(t0()).unwrap();
    assert_eq!(d.stats().state, State::Sending);
    assert_eq!(d.next_deadline(), Some(at(30)));
    assert_eq!(d.poll_transmit(at(29)), None);
    assert_eq!(d.poll_transmit(at(30)), None, "timed out: backing off");
    let s = d.stats();
    assert_eq!((s.timeouts, s.transmit_failures, s.buffered, s.in_flight), (1, 1, 1, 0));
    d.on_transmit_result(at(31), tx.id, tx.all_stored());
    assert_eq!(d.stats().stale_results, 1);
    assert_eq!(d.stats().acknowledged, 0);
    let again = d.poll_transmit(d.next_deadline().unwrap()).unwrap();
    assert_eq!(again.uploads, tx.uploads, "the same upload, bit for bit");
    assert_ne!(again.id, tx.id);
}

#[test]
fn receipts_drop_rejected_and_requeue_what_they_do_not_mention() {
    let mut d = Dongle::new(config(0), t0());
    for _ in 0..4 {
        d.on_serial_bytes(t0(), TELEGRAM);
    }
    let tx = d.poll_transmit(t0()).unwrap();
    assert_eq!(tx.seqs(), [3, 2, 1, 0]);
    let receipt = Receipt {
        stored: vec![3],
        duplicates: vec![2],
        rejected: vec![Rejected { seq: 1, code: RejectCode::Replay, message: "old".into() }],
    };
    d.on_transmit_result(t0(), tx.id, TransmitOutcome::Ok(receipt));
    let s = d.stats();
    assert_eq!((s.acknowledged, s.rejected, s.buffered, s.retries), (2, 1, 1, 1));
    assert_eq!((s.duplicates, s.conflicts, s.unauthorized), (1, 1, 0), "each verdict as such");
    assert_eq!(s.state, State::Backoff, "an incomplete receipt counts as a failure");
    let now = d.next_deadline().unwrap();
    let tx = d.poll_transmit(now).unwrap();
    assert_eq!(tx.seqs(), [0]);
    let forged = Rejected { seq: 0, code: RejectCode::BadSignature, message: String::new() };
    let receipt = Receipt { rejected: vec![forged], ..Receipt::default() };
    d.on_transmit_result(now, tx.id, TransmitOutcome::Ok(receipt));
    let s = d.stats();
    assert_eq!((s.rejected, s.conflicts, s.unauthorized, s.buffered), (2, 1, 1, 0));
}

#[test]
fn capture_times_drift_jump_and_resync_at_reset() {
    let faults = FaultModel::parse("drift:100").unwrap();
    let mut d = Dongle::new(Config { faults, ..config(0) }, t0());
    let captured = |d: &mut Dongle, now| {
        d.on_serial_bytes(now, TELEGRAM);
        let tx = d.poll_transmit(now).unwrap();
        d.on_transmit_result(now, tx.id, tx.all_stored());
        tx.uploads[0].captured_at
    };
    assert_eq!(captured(&mut d, t0()), t0());
    // 100 ppm over 10,000 s is 1 s fast.
    assert_eq!(captured(&mut d, at(10_000)), at(10_001));
    d.inject(at(10_001), Fault::ClockJump(SignedDuration::from_secs(-3_600)));
    assert_eq!(captured(&mut d, at(20_000)), at(20_002 - 3_600));
    d.reset(at(30_000));
    assert_eq!(captured(&mut d, at(30_000)), at(30_000));
    // Millisecond resolution, like the store.
    let odd = at(40_000) + SignedDuration::from_nanos(123_456_789);
    let expect = at(40_001) + SignedDuration::from_millis(123);
    assert_eq!(captured(&mut d, odd), expect);
}

#[test]
fn seeded_hangs_come_when_previewed() {
    let faults = FaultModel::parse("hang:6h").unwrap();
    let first = match faults.preview(5, t0(), at(30 * 86_400)).first() {
        Some(Scheduled::Hang { at }) => *at,
        other => panic!("expected a hang, got {other:?}"),
    };
    let mut d = Dongle::new(Config { faults, ..config(5) }, t0());
    let mut now = t0();
    while now < first {
        assert_ne!(d.stats().state, State::Hung);
        now += SignedDuration::from_secs(60);
        d.on_serial_bytes(now, TELEGRAM);
        if let Some(tx) = d.poll_transmit(now) {
            d.on_transmit_result(now, tx.id, tx.all_stored());
        }
    }
    assert_eq!(d.stats().state, State::Hung);
    assert_eq!((d.stats().hangs, d.next_deadline()), (1, None));
    d.reset(now);
    assert_eq!(d.stats().state, State::Online);
    assert!(d.poll_transmit(now).is_none(), "the RAM buffer was lost");
    assert!(d.stats().lost_at_reset > 0);
}

#[test]
fn batches_respect_the_byte_limit() {
    let cfg = Config { batch_max_bytes: 4 * 1_500, ..config(0) };
    let mut d = Dongle::new(cfg, t0());
    for _ in 0..10 {
        d.on_serial_bytes(t0(), TELEGRAM);
    }
    // A 1,100-byte telegram with 39 CR LF pairs is at most ≈1,750 bytes of JSON: 3 fit.
    let tx = d.poll_transmit(t0()).unwrap();
    assert_eq!(tx.seqs(), [9, 8, 7]);
    // The queued bytes alone make a full batch: the next one goes at once.
    d.on_transmit_result(t0(), tx.id, tx.all_stored());
    assert_eq!(d.next_deadline(), Some(t0()));
    assert_eq!(d.poll_transmit(t0()).unwrap().seqs(), [6, 5, 4]);
    // An upload larger than the limit still goes, alone.
    let mut d = Dongle::new(Config { batch_max_bytes: 10, ..config(0) }, t0());
    d.on_serial_bytes(t0(), TELEGRAM);
    d.on_serial_bytes(t0(), TELEGRAM);
    assert_eq!(d.poll_transmit(t0()).unwrap().seqs(), [1]);
}

#[test]
fn partial_batches_wait_for_the_send_interval() {
    let cfg = Config { send_interval: SignedDuration::from_secs(10), ..config(0) };
    let mut d = Dongle::new(cfg, t0());
    d.on_serial_bytes(t0(), TELEGRAM);
    let tx = d.poll_transmit(t0()).unwrap();
    d.on_transmit_result(t0(), tx.id, tx.all_stored());
    for s in 1..10 {
        d.on_serial_bytes(at(s), TELEGRAM);
        assert_eq!(d.poll_transmit(at(s)), None);
        assert_eq!(d.next_deadline(), Some(at(10)));
    }
    assert_eq!(d.poll_transmit(at(10)).unwrap().seqs(), (1..10).rev().collect::<Vec<_>>());
}

#[test]
fn minimums_are_enforced_and_debug_hides_the_key() {
    let cfg = Config {
        buffer_capacity: 0,
        batch_max: 0,
        backoff_min: SignedDuration::ZERO,
        backoff_max: -SignedDuration::from_secs(1),
        ..Config::new("D-9", b"very-secret-key".to_vec())
    };
    let d = Dongle::new(cfg, t0());
    let c = d.config();
    assert_eq!((c.buffer_capacity, c.batch_max), (1, 1));
    assert_eq!(c.backoff_min, SignedDuration::from_millis(1));
    assert_eq!(c.backoff_max, c.backoff_min);
    let debug = format!("{:?}", d.config());
    assert!(!debug.contains("very-secret") && debug.contains("[15 bytes]"), "{debug}");
}

#[test]
fn manual_link_down_delays_sending_until_it_ends() {
    let mut d = Dongle::new(config(0), t0());
    d.inject(t0(), Fault::LinkDown { until: at(60) });
    d.inject(t0(), Fault::LinkDown { until: at(30) }); // the later end wins
    d.on_serial_bytes(at(1), TELEGRAM);
    assert_eq!(d.stats().state, State::LinkDown);
    assert_eq!(d.poll_transmit(at(59)), None);
    assert_eq!(d.next_deadline(), Some(at(60)));
    assert_eq!(d.poll_transmit(at(60)).unwrap().seqs(), [0]);
}

#[test]
fn link_up_ends_an_injected_loss_at_once() {
    let mut d = Dongle::new(config(0), t0());
    d.inject(t0(), Fault::LinkDown { until: at(300) });
    d.on_serial_bytes(at(1), TELEGRAM);
    assert_eq!(d.poll_transmit(at(10)), None);
    d.inject(at(10), Fault::LinkUp);
    assert_eq!(d.stats().state, State::Online);
    assert_eq!(d.poll_transmit(at(10)).unwrap().seqs(), [0], "sent when the Wi-Fi is back");
}
