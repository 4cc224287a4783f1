//! The dongle on real telegrams: chunking, signatures, corrupt and encrypted frames, outages,
//! full buffers, hangs, arbitrary bytes, and a throughput figure.

use calendar::{SignedDuration, Timestamp};
use dongle::{Config, Dongle, Fault, State, Transmit, TransmitOutcome};
use proptest::prelude::*;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use rstest::rstest;
use std::collections::BTreeSet;
use wire::ingest::v1::{Receipt, RejectCode, Rejected};

const KEY: &[u8] = b"dongle-key-0001";

const TELEGRAM: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/p1/fluvius-emucs-1.7.1-3phase.txt"
));

#[allow(clippy::unwrap_used)]
fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../../fixtures/p1/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[allow(clippy::unwrap_used)]
fn t0() -> Timestamp {
    "2026-06-01T00:00:00Z".parse().unwrap()
}

fn at(secs: i64) -> Timestamp {
    t0() + SignedDuration::from_secs(secs)
}

fn config(seed: u64) -> Config {
    Config { seed, ..Config::new("D-0001", KEY.to_vec()) }
}

/// Feeds `bytes` in random chunks of 1 to 200 bytes.
fn feed(d: &mut Dongle, now: Timestamp, bytes: &[u8], rng: &mut ChaCha8Rng) {
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = rng.random_range(1..=200).min(rest.len());
        d.on_serial_bytes(now, &rest[..n]);
        rest = &rest[n..];
    }
}

/// An uplink that stores everything and records what it got.
#[derive(Default)]
struct Uplink {
    batches: Vec<(Timestamp, Vec<u64>)>,
}

impl Uplink {
    /// Sends everything due at `now`, acknowledging each batch at once.
    fn drain(&mut self, d: &mut Dongle, now: Timestamp) {
        while let Some(tx) = d.poll_transmit(now) {
            self.take(now, &tx);
            d.on_transmit_result(now, tx.id, tx.all_stored());
        }
    }

    #[allow(clippy::unwrap_used)]
    fn take(&mut self, now: Timestamp, tx: &Transmit) {
        assert!(tx.uploads.iter().all(|u| u.verify(KEY) && u.dongle == "D-0001"));
        self.batches.push((now, tx.seqs()));
    }

    fn received(&self) -> Vec<u64> {
        self.batches.iter().flat_map(|(_, s)| s.iter().copied()).collect()
    }
}

#[rstest]
#[case("fluvius-emucs-1.7.1-3phase.txt")]
#[case("fluvius-emucs-1.7.1-1phase.txt")]
#[case("fluvius-emucs-1.5-1phase.txt")]
#[case("fluvius-emucs-1.7.1-3phase-spec-example.txt")]
#[case("dsmr-5.0-iskra-am550-3phase-2mbus.txt")]
#[case("dsmr-5.0-iskra-am550-3phase.txt")]
#[case("dsmr-5.0-landisgyr-e350-1phase.txt")]
#[case("dsmr-4.2-kaifa-3phase-gas.txt")]
#[case("dsmr-4.2-kaifa-3phase.txt")]
#[case("dsmr-4.2-kaifa-1phase.txt")]
#[case("dsmr-2.2-xmx-no-crc.txt")]
#[case("smarty-lux5-2026-plain.txt")]
#[case("smarty-lux5-2018-decrypted-plain.txt")]
#[case("smarty-spec-v1.1.3-example-plain.txt")]
fn real_telegrams_in_any_chunking_become_signed_consecutive_uploads(#[case] name: &str) {
    let bytes = fixture(name);
    for seed in 0..20 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut d = Dongle::new(Config { first_seq: seed * 1_000, ..config(seed) }, t0());
        let mut stream = b"\r\nnoise before the first frame".to_vec();
        for _ in 0..5 {
            stream.extend_from_slice(&bytes);
        }
        feed(&mut d, at(0), &stream, &mut rng);
        let tx = d.poll_transmit(at(0)).expect("a batch");
        let first = seed * 1_000;
        assert_eq!(tx.seqs(), (first..first + 5).rev().collect::<Vec<_>>(), "{name}");
        for u in &tx.uploads {
            assert!(u.verify(KEY), "{name}: signature");
            assert!(!u.verify(b"another key"));
            assert!(u.crc_ok);
            assert_eq!(u.telegram.as_bytes(), &bytes[..], "{name}: the telegram as read");
            assert_eq!(u.captured_at, at(0));
        }
        let s = d.stats();
        assert_eq!((s.telegrams, s.uploads_created, s.crc_errors, s.malformed), (5, 5, 0, 0));
        assert_eq!(s.garbage_bytes, "noise before the first frame".len() as u64);
    }
}

#[test]
fn corrupt_telegrams_are_uploaded_flagged_and_broken_frames_only_counted() {
    let mut corrupt = TELEGRAM.to_vec();
    let i = corrupt.windows(6).position(|w| w == b"000000").expect("a register");
    corrupt[i] = b'1';
    let truncated = &TELEGRAM[..500];
    let mut stream = Vec::new();
    for part in [TELEGRAM, &corrupt, truncated, TELEGRAM, b"/XYZ5\r\n\r\n!ZZ\r\n"] {
        stream.extend_from_slice(part);
    }
    stream.extend_from_slice(TELEGRAM);
    let mut d = Dongle::new(config(0), t0());
    feed(&mut d, at(0), &stream, &mut ChaCha8Rng::seed_from_u64(9));
    let s = d.stats();
    assert_eq!(
        (s.telegrams, s.uploads_created, s.crc_errors, s.truncated, s.malformed),
        (6, 4, 1, 1, 1)
    );
    let tx = d.poll_transmit(at(0)).expect("a batch");
    assert_eq!(tx.seqs(), [3, 2, 1, 0], "consecutive: broken frames use no number");
    let flags: Vec<bool> = tx.uploads.iter().map(|u| u.crc_ok).collect();
    assert_eq!(flags, [true, true, false, true]);
    assert_eq!(tx.uploads[2].telegram.as_bytes(), &corrupt[..]);
    assert!(tx.uploads.iter().all(|u| u.verify(KEY)));
}

#[rstest]
#[case("smarty-lux5-2018-encrypted.bin", "D491470F47126332B07D1923B3504188")]
#[case("smarty-format-synthetic-encrypted-sagemcom-t210.bin", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
#[allow(clippy::unwrap_used)]
fn smarty_frames_are_decrypted_with_the_keys(#[case] name: &str, #[case] key: &str) {
    let frame = fixture(name);
    let keys = p1::smarty::Keys::from_hex(key).unwrap();
    let mut d = Dongle::new(Config { smarty_keys: Some(keys), ..config(1) }, t0());
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for _ in 0..3 {
        feed(&mut d, at(0), &frame, &mut rng);
    }
    let tx = d.poll_transmit(at(0)).unwrap();
    assert_eq!(tx.seqs(), [2, 1, 0]);
    let u = &tx.uploads[0];
    assert!(u.crc_ok && u.verify(KEY));
    assert!(u.telegram.starts_with('/') && u.telegram.ends_with("\r\n"), "plain text uploaded");
    if name.contains("lux5-2018") {
        assert_eq!(u.telegram.as_bytes(), &fixture("smarty-lux5-2018-decrypted-plain.txt")[..]);
    }
    // Without keys the frames cannot be opened: counted, not uploaded.
    let mut d = Dongle::new(config(1), t0());
    d.on_serial_bytes(at(0), &frame);
    assert_eq!((d.stats().malformed, d.stats().uploads_created), (1, 0));
    assert_eq!(d.poll_transmit(at(0)), None);
}

/// 2 h at 1 Hz with the link down from minute 30 to minute 50.
#[test]
fn an_outage_loses_nothing_and_sends_the_newest_first_then_backfills() {
    let mut d = Dongle::new(config(3), t0());
    let mut up = Uplink::default();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (down, back) = (1_800, 3_000);
    for s in 0..7_200 {
        let now = at(s);
        if s == down {
            d.inject(now, Fault::LinkDown { until: at(back) });
        }
        feed(&mut d, now, TELEGRAM, &mut rng);
        up.drain(&mut d, now);
        if (down..back).contains(&s) {
            assert_eq!(d.stats().state, State::LinkDown);
            assert_eq!(d.next_deadline(), Some(at(back)));
        }
    }
    let got = up.received();
    assert_eq!(got.len(), 7_200, "every sequence number exactly once");
    assert_eq!(got.iter().copied().collect::<BTreeSet<_>>(), (0..7_200).collect());
    // Healthy: each telegram goes out the second it is read.
    for (now, seqs) in up.batches.iter().filter(|(t, _)| *t < at(down) || *t > at(back + 1)) {
        assert_eq!(seqs.len(), 1);
        assert_eq!(at(seqs[0] as i64), *now);
    }
    assert!(up.batches.iter().all(|(t, _)| !(at(down)..at(back)).contains(t)));
    // Back online: the newest first (newest first within the batch), then the backlog from
    // newest to oldest, all in the same second but the last straggler.
    let after: Vec<&Vec<u64>> =
        up.batches.iter().filter(|(t, _)| *t == at(back)).map(|(_, s)| s).collect();
    let backlog = (back - down + 1) as u64; // seqs 1800..=3000
    assert_eq!(*after[0], (2_901..=3_000).rev().collect::<Vec<u64>>());
    let flat: Vec<u64> = after.iter().flat_map(|s| s.iter().copied()).collect();
    assert!(flat.windows(2).all(|w| w[0] == w[1] + 1), "strictly newest to oldest");
    assert_eq!(flat.len() as u64, backlog - backlog % 100);
    let next = &up.batches.iter().find(|(t, _)| *t == at(back + 1)).expect("next second").1;
    assert_eq!(*next, [3_001, 1_800], "live first, then the last of the backlog");
    let s = d.stats();
    assert_eq!((s.dropped, s.buffered, s.in_flight, s.acknowledged), (0, 0, 0, 7_200));
}

/// With a slow uplink (one transmit per second), live telegrams still go first during the
/// backfill.
#[test]
fn live_telegrams_overtake_the_backfill() {
    let mut d = Dongle::new(config(4), t0());
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mut pending: Option<Transmit> = None;
    let mut received = Vec::new();
    let mut first_of_batch = Vec::new();
    d.inject(at(0), Fault::LinkDown { until: at(1_200) });
    for s in 0..1_300 {
        let now = at(s);
        feed(&mut d, now, TELEGRAM, &mut rng);
        if let Some(tx) = pending.take() {
            d.on_transmit_result(now, tx.id, tx.all_stored());
        }
        if let Some(tx) = d.poll_transmit(now) {
            first_of_batch.push((s as u64, tx.seqs()[0], tx.uploads.len()));
            received.extend(tx.seqs());
            pending = Some(tx);
        }
    }
    assert_eq!(received.len(), 1_300);
    assert_eq!(received.iter().copied().collect::<BTreeSet<_>>(), (0..1_300).collect());
    assert!(first_of_batch.iter().all(|&(s, first, _)| first == s), "live telegram first");
    let backfilling = first_of_batch.iter().take_while(|&&(_, _, n)| n == 100).count();
    assert!((12..=14).contains(&backfilling), "{backfilling} full batches to catch up");
}

#[test]
fn a_full_buffer_drops_the_oldest_and_keeps_the_newest() {
    let mut d = Dongle::new(Config { buffer_capacity: 100, ..config(5) }, t0());
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    d.inject(at(0), Fault::LinkDown { until: at(500) });
    for s in 0..500 {
        feed(&mut d, at(s), TELEGRAM, &mut rng);
    }
    let s = d.stats();
    assert_eq!((s.uploads_created, s.dropped, s.buffered), (500, 400, 100));
    let mut up = Uplink::default();
    up.drain(&mut d, at(500));
    assert_eq!(up.batches.len(), 1);
    assert_eq!(up.batches[0].1, (400..500).rev().collect::<Vec<u64>>());
    assert_eq!(d.stats().acknowledged, 100);
}

#[test]
fn a_hung_dongle_sends_nothing_until_reset() {
    for flash_backed in [false, true] {
        let mut d = Dongle::new(Config { flash_backed, ..config(6) }, t0());
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        let mut up = Uplink::default();
        for s in 0..10 {
            feed(&mut d, at(s), TELEGRAM, &mut rng);
            up.drain(&mut d, at(s));
        }
        d.inject(at(10), Fault::Hang);
        // Half a telegram at the reset is lost with the decoder's state.
        for s in 10..100 {
            feed(&mut d, at(s), TELEGRAM, &mut rng);
            up.drain(&mut d, at(s));
            assert_eq!(d.stats().state, State::Hung);
            assert_eq!(d.next_deadline(), None);
        }
        d.on_serial_bytes(at(100), &TELEGRAM[..300]);
        assert_eq!(up.received(), (0..10).collect::<Vec<u64>>(), "nothing sent while hung");
        assert_eq!(d.stats().buffered, 90);
        d.reset(at(100));
        d.on_serial_bytes(at(100), &TELEGRAM[300..]);
        feed(&mut d, at(101), TELEGRAM, &mut rng);
        up.drain(&mut d, at(101));
        let s = d.stats();
        assert_eq!((s.resets, s.hangs, s.state), (1, 1, State::Online));
        let after: Vec<u64> = up.batches[10..].iter().flat_map(|(_, s)| s.clone()).collect();
        if flash_backed {
            assert_eq!(after, (10..=100).rev().collect::<Vec<u64>>(), "flash survives");
            assert_eq!(s.dropped, 0);
        } else {
            assert_eq!(after, [100], "sequence numbers carry on after the reset");
            assert_eq!((s.dropped, s.lost_at_reset), (90, 90));
        }
        assert!(s.garbage_bytes > 0, "the tail of the interrupted telegram is noise");
    }
}

#[test]
fn the_seeded_fault_model_reproduces_field_conditions() {
    const SECS: i64 = 6 * 3_600;
    // Weak Wi-Fi in a basement for 6 h at 1 Hz (≈11 losses): every telegram still arrives, the
    // same way for the same seed.
    let run = |seed: u64| {
        #[allow(clippy::unwrap_used)]
        let faults = dongle::FaultModel::parse("wifi:30m/2m,drift:50").unwrap();
        let mut d = Dongle::new(Config { faults, ..config(seed) }, t0());
        let mut up = Uplink::default();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut down = 0;
        for s in 0..SECS {
            feed(&mut d, at(s), TELEGRAM, &mut rng);
            up.drain(&mut d, at(s));
            down += u32::from(d.stats().state == State::LinkDown);
        }
        (up.batches, down, d.stats())
    };
    let (batches, down, stats) = run(11);
    let got: BTreeSet<u64> = batches.iter().flat_map(|(_, s)| s.iter().copied()).collect();
    assert_eq!(got.len(), SECS as usize);
    assert_eq!(stats.acknowledged, SECS as u64 - stats.buffered);
    assert!((200..=4_000).contains(&down), "{down} s offline, about 6% of the time");
    let (again, down_again, _) = run(11);
    assert_eq!((batches, down), (again, down_again));
}

#[derive(Debug, Clone)]
enum Op {
    Bytes(Vec<u8>),
    Telegram { cut: usize },
    Poll,
    Ack,
    AckPartly,
    Fail,
    Wait(i64),
    Inject(u8),
    Reset,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..300).prop_map(Op::Bytes),
        4 => (0..TELEGRAM.len() + 1).prop_map(|cut| Op::Telegram { cut }),
        3 => Just(Op::Poll),
        2 => Just(Op::Ack),
        1 => Just(Op::AckPartly),
        1 => Just(Op::Fail),
        2 => (0i64..400).prop_map(Op::Wait),
        1 => any::<u8>().prop_map(Op::Inject),
        1 => Just(Op::Reset),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Arbitrary bytes and arbitrary driving never panic, and every upload is accounted
    /// for exactly once.
    #[test]
    fn byte_soup_never_panics_and_uploads_are_conserved(
        ops in proptest::collection::vec(op(), 0..120),
        capacity in 1usize..20,
        batch in 1usize..8,
        flash_backed: bool,
        seed: u64,
    ) {
        let faults = dongle::FaultModel::parse("wifi:5m/1m,hang:2h,drift:-30").unwrap_or_default();
        let keys = p1::smarty::Keys::from_hex("D491470F47126332B07D1923B3504188").ok();
        let cfg = Config {
            buffer_capacity: capacity,
            batch_max: batch,
            flash_backed,
            faults,
            smarty_keys: keys,
            ..config(seed)
        };
        let mut d = Dongle::new(cfg, t0());
        let mut now = t0();
        let mut pending: Option<Transmit> = None;
        let mut acked = BTreeSet::new();
        let mut tail: &[u8] = &[];
        for op in ops {
            match op {
                Op::Bytes(b) => d.on_serial_bytes(now, &b),
                Op::Telegram { cut } => {
                    d.on_serial_bytes(now, tail);
                    d.on_serial_bytes(now, &TELEGRAM[..cut]);
                    tail = &TELEGRAM[cut..];
                }
                Op::Poll => {
                    if let Some(tx) = d.poll_transmit(now) {
                        prop_assert!(!tx.uploads.is_empty() && tx.uploads.len() <= batch);
                        prop_assert!(tx.uploads.windows(2).all(|w| w[0].seq > w[1].seq));
                        pending = Some(tx);
                    }
                }
                Op::Ack => if let Some(tx) = pending.take() {
                    let stale = d.stats().stale_results;
                    d.on_transmit_result(now, tx.id, tx.all_stored());
                    // A result after the timeout (or a reset) is ignored: the uploads were
                    // put back, and only a later transmit can acknowledge them.
                    if d.stats().stale_results == stale {
                        for seq in tx.seqs() {
                            prop_assert!(acked.insert(seq), "seq {} acknowledged twice", seq);
                        }
                    }
                },
                Op::AckPartly => if let Some(tx) = pending.take() {
                    let seqs = tx.seqs();
                    let receipt = Receipt {
                        stored: seqs.iter().copied().step_by(3).collect(),
                        duplicates: vec![],
                        rejected: seqs.iter().skip(1).step_by(3).map(|&seq| Rejected {
                            seq, code: RejectCode::BadSignature, message: String::new(),
                        }).collect(),
                    };
                    let stale = d.stats().stale_results;
                    let stored = receipt.stored.clone();
                    d.on_transmit_result(now, tx.id, TransmitOutcome::Ok(receipt));
                    if d.stats().stale_results == stale {
                        for seq in stored {
                            prop_assert!(acked.insert(seq), "seq {} acknowledged twice", seq);
                        }
                    }
                },
                Op::Fail => if let Some(tx) = pending.take() {
                    d.on_transmit_result(now, tx.id, TransmitOutcome::Failed);
                },
                Op::Wait(s) => now += SignedDuration::from_secs(s),
                Op::Inject(k) => {
                    let fault = match k % 3 {
                        0 => Fault::LinkDown { until: now + SignedDuration::from_secs(i64::from(k)) },
                        1 => Fault::Hang,
                        _ => Fault::ClockJump(SignedDuration::from_secs(i64::from(k) - 128)),
                    };
                    d.inject(now, fault);
                }
                Op::Reset => d.reset(now),
            }
            let s = d.stats();
            prop_assert_eq!(
                s.uploads_created,
                s.acknowledged + s.rejected + s.dropped + s.buffered + s.in_flight
            );
            prop_assert!(s.buffered <= capacity as u64);
            prop_assert_eq!(s.next_seq, s.uploads_created);
            if let Some(deadline) = d.next_deadline() {
                prop_assert!(deadline <= now + SignedDuration::from_secs(3_600));
            }
        }
    }

    /// Any bytes in any chunking: no panic, and the decoder's counters add up.
    #[test]
    fn arbitrary_bytes_in_arbitrary_chunks(
        bytes in proptest::collection::vec(any::<u8>(), 0..4_000),
        cuts in proptest::collection::vec(1usize..64, 1..50),
    ) {
        let keys = p1::smarty::Keys::from_hex("D491470F47126332B07D1923B3504188").ok();
        let mut d = Dongle::new(Config { smarty_keys: keys, ..config(0) }, t0());
        let mut rest = &bytes[..];
        for &n in cuts.iter().cycle() {
            if rest.is_empty() { break; }
            let n = n.min(rest.len());
            d.on_serial_bytes(t0(), &rest[..n]);
            rest = &rest[n..];
        }
        let s = d.stats();
        prop_assert!(s.telegrams >= s.uploads_created);
        prop_assert_eq!(s.uploads_created, s.buffered);
        let _ = d.poll_transmit(t0());
    }
}

/// Not a benchmark: prints telegrams per second through decode, sign, batch and acknowledge.
/// `cargo test -p dongle --release -- --nocapture throughput`.
#[test]
fn throughput() {
    let n: i64 = if cfg!(debug_assertions) { 5_000 } else { 100_000 };
    let mut d = Dongle::new(config(0), t0());
    let start = std::time::Instant::now();
    for s in 0..n {
        let now = at(s);
        d.on_serial_bytes(now, TELEGRAM);
        while let Some(tx) = d.poll_transmit(now) {
            let outcome = tx.all_stored();
            d.on_transmit_result(now, tx.id, outcome);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(d.stats().acknowledged, n as u64);
    eprintln!(
        "throughput: {n} telegrams of {} bytes in {secs:.3} s = {:.0} telegrams/s ({:.2} µs each){}",
        TELEGRAM.len(),
        n as f64 / secs,
        secs * 1e6 / n as f64,
        if cfg!(debug_assertions) { " [debug build: use --release]" } else { "" }
    );
}
