//! The dongle state machine.

use crate::config::Config;
use crate::fault::{BACKOFF_STREAM, Fault, Hangs, LTE_STREAM, WIFI_STREAM, Windows, add};
use calendar::{SignedDuration, Timestamp};
use p1::{Decoder, Frame};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use wire::ingest::v1::{Batch, Receipt, RejectCode, Upload};

/// A batch to hand to the uplink. Answer it with [`Dongle::on_transmit_result`] and its `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Identifies the transmit in [`Dongle::on_transmit_result`]; never reused.
    pub id: u64,
    /// The uploads, newest first.
    pub uploads: Vec<Upload>,
}

impl Transmit {
    /// The REST body / MQTT payload.
    pub fn into_batch(self) -> Batch {
        Batch { uploads: self.uploads }
    }

    /// The sequence numbers, in batch order.
    pub fn seqs(&self) -> Vec<u64> {
        self.uploads.iter().map(|u| u.seq).collect()
    }

    /// The outcome of an uplink that stored every upload (for drivers and tests).
    pub fn all_stored(&self) -> TransmitOutcome {
        TransmitOutcome::Ok(Receipt { stored: self.seqs(), ..Receipt::default() })
    }
}

/// What the uplink made of a transmit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransmitOutcome {
    /// The platform answered with a receipt: stored and duplicate uploads are done, rejected
    /// ones are dropped and counted. Uploads the receipt does not mention go back into the
    /// buffer and the dongle backs off, as after a failure.
    Ok(Receipt),
    /// No receipt (network error, timeout, 5xx, or a 4xx for the whole batch): every upload
    /// goes back into the buffer and the backoff grows.
    Failed,
}

/// What a receipt says of one upload.
#[derive(Debug, Clone, Copy)]
enum Verdict {
    Stored,
    Duplicate,
    Rejected(RejectCode),
}

impl TransmitOutcome {
    /// What an uplink's answer means to the dongle: a receipt, or (any error) a failure.
    pub fn of<E>(answer: Result<Receipt, E>) -> TransmitOutcome {
        answer.map_or(TransmitOutcome::Failed, TransmitOutcome::Ok)
    }
}

/// What the dongle is doing, as of the latest `now` it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Link up; sends as soon as something is due.
    Online,
    /// A transmit is waiting for its result.
    Sending,
    /// Waiting out the backoff after a failure.
    Backoff,
    /// The link is down (a seeded window or [`Fault::LinkDown`]); uploads keep buffering.
    LinkDown,
    /// The firmware hangs: nothing is sent until [`Dongle::reset`]; uploads keep buffering.
    Hung,
}

/// Counters over the dongle's life (they survive resets).
///
/// Every upload is accounted for exactly once:
/// `uploads_created == acknowledged + rejected + dropped + buffered + in_flight`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Frames the P1 decoder completed, whatever their state.
    pub telegrams: u64,
    /// Frames with a CRC mismatch (uploaded with `crc_ok: false`).
    pub crc_errors: u64,
    /// Frames cut off by the next one (not uploaded).
    pub truncated: u64,
    /// Frames that did not parse, were too long or could not be decrypted (not uploaded).
    pub malformed: u64,
    /// Bytes outside any frame, CR/LF excluded.
    pub garbage_bytes: u64,
    /// Uploads made (= sequence numbers used).
    pub uploads_created: u64,
    /// Uploads handed to the uplink, resends included.
    pub uploads_sent: u64,
    /// Uploads the platform stored, now or before (duplicates).
    pub acknowledged: u64,
    /// Of `acknowledged`, those the platform already had (a resend after a lost receipt).
    pub duplicates: u64,
    /// Uploads the platform refused; they are not sent again.
    pub rejected: u64,
    /// Of `rejected`, those whose sequence number the platform holds with other content
    /// (a conflict: a reused sequence number, a cloned dongle).
    pub conflicts: u64,
    /// Of `rejected`, those refused because the platform does not know the dongle or its
    /// signature does not verify (forged, or the wrong key).
    pub unauthorized: u64,
    /// Uploads waiting in the buffer.
    pub buffered: u64,
    /// Uploads in the transmit awaiting its result.
    pub in_flight: u64,
    /// Uploads lost: the oldest when the buffer was full, and a RAM buffer at a reset.
    pub dropped: u64,
    /// Of `dropped`, those lost at resets.
    pub lost_at_reset: u64,
    /// Transmits handed out.
    pub transmits: u64,
    /// Transmits that failed, timed out, or were only partly acknowledged.
    pub transmit_failures: u64,
    /// Of `transmit_failures`, those that timed out.
    pub timeouts: u64,
    /// Uploads put back into the buffer to be sent again.
    pub retries: u64,
    /// Results for a transmit the dongle no longer waits for (timed out or reset).
    pub stale_results: u64,
    /// Hangs, seeded or injected.
    pub hangs: u64,
    /// Resets.
    pub resets: u64,
    /// The next sequence number.
    pub next_seq: u64,
    /// The state.
    pub state: State,
}

/// A simulated P1 dongle. See the crate documentation for the policies.
#[derive(Debug)]
pub struct Dongle {
    config: Config,
    decoder: Decoder,
    next_seq: u64,
    /// Waiting uploads by sequence number: the newest is the last.
    queue: BTreeMap<u64, Entry>,
    /// Sum of the queued uploads' JSON estimates.
    queued_bytes: usize,
    in_flight: Option<InFlight>,
    next_transmit_id: u64,
    last_send: Option<Timestamp>,
    failures: u32,
    backoff_until: Option<Timestamp>,
    backoff_rng: ChaCha8Rng,
    wifi: Option<Windows>,
    lte: Option<Windows>,
    hangs: Option<Hangs>,
    next_hang: Option<Timestamp>,
    hung: bool,
    link_down_until: Option<Timestamp>,
    clock_offset: SignedDuration,
    clock_synced_at: Timestamp,
    /// The latest `now` given.
    now: Timestamp,
    /// Garbage bytes counted by decoders replaced at resets.
    garbage_before: u64,
    stats: Stats,
}

#[derive(Debug)]
struct Entry {
    upload: Upload,
    /// Upper bound of its JSON length in a batch.
    json_len: usize,
}

#[derive(Debug)]
struct InFlight {
    id: u64,
    sent_at: Timestamp,
    entries: Vec<Entry>,
}

/// `{"uploads":[` … `]}`.
const BATCH_OVERHEAD: usize = 16;

impl Dongle {
    /// A dongle powered on at `now`.
    pub fn new(config: Config, now: Timestamp) -> Dongle {
        let config = config.normalised();
        let seed = config.seed;
        let faults = &config.faults;
        let wifi = faults.wifi_loss.as_ref().map(|o| Windows::new(seed, WIFI_STREAM, now, o));
        let lte = faults.lte_outage.as_ref().map(|o| Windows::new(seed, LTE_STREAM, now, o));
        let mut hangs = faults.hang.map(|mean| Hangs::new(seed, mean));
        let next_hang = hangs.as_mut().map(|h| h.next_after(now));
        Dongle {
            decoder: new_decoder(&config),
            next_seq: config.first_seq,
            queue: BTreeMap::new(),
            queued_bytes: 0,
            in_flight: None,
            next_transmit_id: 0,
            last_send: None,
            failures: 0,
            backoff_until: None,
            backoff_rng: ChaCha8Rng::seed_from_u64(seed ^ BACKOFF_STREAM),
            wifi,
            lte,
            hangs,
            next_hang,
            hung: false,
            link_down_until: None,
            clock_offset: SignedDuration::ZERO,
            clock_synced_at: now,
            now,
            garbage_before: 0,
            stats: Stats {
                telegrams: 0,
                crc_errors: 0,
                truncated: 0,
                malformed: 0,
                garbage_bytes: 0,
                uploads_created: 0,
                uploads_sent: 0,
                acknowledged: 0,
                duplicates: 0,
                rejected: 0,
                conflicts: 0,
                unauthorized: 0,
                buffered: 0,
                in_flight: 0,
                dropped: 0,
                lost_at_reset: 0,
                transmits: 0,
                transmit_failures: 0,
                timeouts: 0,
                retries: 0,
                stale_results: 0,
                hangs: 0,
                resets: 0,
                next_seq: config.first_seq,
                state: State::Online,
            },
            config,
        }
    }

    /// The configuration in force (after [`Config`]'s minimums).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Bytes from the P1 line, in any chunking. Each complete frame that is a telegram (valid
    /// or with a corrupt CRC) becomes a signed upload with the next sequence number, captured
    /// at `now` on the dongle's own clock; truncated and malformed frames are only counted.
    /// A hung dongle or one without a link keeps reading and buffering.
    pub fn on_serial_bytes(&mut self, now: Timestamp, bytes: &[u8]) {
        self.advance(now);
        self.decoder.push(bytes);
        while let Some(frame) = self.decoder.next_frame() {
            self.stats.telegrams += 1;
            match frame {
                Frame::Ok { raw, .. } => self.capture(now, &raw, true),
                Frame::CorruptCrc { raw, .. } => {
                    self.stats.crc_errors += 1;
                    self.capture(now, &raw, false);
                }
                Frame::Truncated { .. } => self.stats.truncated += 1,
                Frame::Malformed { .. } => self.stats.malformed += 1,
            }
        }
    }

    /// A batch to send now, or `None`: nothing buffered, a transmit awaiting its result,
    /// backing off, link down, hung, or a partial batch not yet due (see
    /// [`Config::send_interval`]). A batch is the newest uploads, newest first; older ones
    /// follow in later batches, so live data always goes before the backlog.
    pub fn poll_transmit(&mut self, now: Timestamp) -> Option<Transmit> {
        self.advance(now);
        if self.hung
            || self.in_flight.is_some()
            || self.queue.is_empty()
            || self.backoff_until.is_some_and(|t| now < t)
            || self.down_until(now).is_some()
            || !(self.full_batch_ready()
                || self.last_send.is_none_or(|t| now >= add(t, self.config.send_interval)))
        {
            return None;
        }
        self.backoff_until = None;
        let mut entries = Vec::with_capacity(self.config.batch_max.min(self.queue.len()));
        let mut bytes = BATCH_OVERHEAD;
        while entries.len() < self.config.batch_max {
            let Some(newest) = self.queue.last_entry() else { break };
            let len = newest.get().json_len + 1;
            if !entries.is_empty() && bytes + len > self.config.batch_max_bytes {
                break;
            }
            bytes += len;
            self.queued_bytes -= newest.get().json_len;
            entries.push(newest.remove());
        }
        let id = self.next_transmit_id;
        self.next_transmit_id += 1;
        self.last_send = Some(now);
        self.stats.transmits += 1;
        self.stats.uploads_sent += entries.len() as u64;
        let uploads = entries.iter().map(|e| e.upload.clone()).collect();
        self.in_flight = Some(InFlight { id, sent_at: now, entries });
        Some(Transmit { id, uploads })
    }

    /// The uplink's answer to transmit `id`. Answers to a transmit the dongle no longer waits
    /// for (it timed out, or a reset came between) are counted and ignored: the uploads were
    /// put back and the platform takes a resend as a duplicate.
    pub fn on_transmit_result(&mut self, now: Timestamp, id: u64, outcome: TransmitOutcome) {
        self.advance(now);
        let Some(flight) = self.in_flight.take_if(|f| f.id == id) else {
            self.stats.stale_results += 1;
            return;
        };
        match outcome {
            TransmitOutcome::Failed => self.fail(now, flight.entries),
            TransmitOutcome::Ok(receipt) => {
                let mut done: HashMap<u64, Verdict> = HashMap::new();
                for &seq in &receipt.stored {
                    done.insert(seq, Verdict::Stored);
                }
                for &seq in &receipt.duplicates {
                    done.entry(seq).or_insert(Verdict::Duplicate);
                }
                for r in &receipt.rejected {
                    done.entry(r.seq).or_insert(Verdict::Rejected(r.code));
                }
                let mut unaccounted = Vec::new();
                for e in flight.entries {
                    match done.get(&e.upload.seq) {
                        Some(v) => self.count(*v),
                        None => unaccounted.push(e),
                    }
                }
                if unaccounted.is_empty() {
                    self.failures = 0;
                    self.backoff_until = None;
                } else {
                    self.fail(now, unaccounted);
                }
            }
        }
    }

    fn count(&mut self, verdict: Verdict) {
        let s = &mut self.stats;
        match verdict {
            Verdict::Stored => s.acknowledged += 1,
            Verdict::Duplicate => {
                s.acknowledged += 1;
                s.duplicates += 1;
            }
            Verdict::Rejected(code) => {
                s.rejected += 1;
                s.conflicts += u64::from(code == RejectCode::Replay);
                s.unauthorized += u64::from(code.is_unauthorized());
            }
        }
    }

    /// The earliest instant [`Dongle::poll_transmit`] may return something new (an instant
    /// not after the latest `now` means "poll now"), or `None` if only new serial bytes or a
    /// reset can change that. Polling earlier is harmless.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        if self.hung {
            return None;
        }
        if let Some(f) = &self.in_flight {
            return Some(add(f.sent_at, self.config.transmit_timeout));
        }
        if self.queue.is_empty() {
            return None;
        }
        let mut at = match self.last_send {
            Some(t) if !self.full_batch_ready() => add(t, self.config.send_interval),
            _ => self.now,
        };
        if let Some(b) = self.backoff_until {
            at = at.max(b);
        }
        if let Some(up) = self.down_until(self.now) {
            at = at.max(up);
        }
        Some(at)
    }

    /// The counters, with the buffer depth and state as of the latest `now`.
    pub fn stats(&self) -> Stats {
        let mut s = self.stats;
        s.garbage_bytes = self.garbage_before + self.decoder.stats().garbage_bytes;
        s.buffered = self.queue.len() as u64;
        s.in_flight = self.in_flight.as_ref().map_or(0, |f| f.entries.len() as u64);
        s.next_seq = self.next_seq;
        s.state = if self.hung {
            State::Hung
        } else if self.down_until(self.now).is_some() {
            State::LinkDown
        } else if self.in_flight.is_some() {
            State::Sending
        } else if self.backoff_until.is_some_and(|t| self.now < t) {
            State::Backoff
        } else {
            State::Online
        };
        s
    }

    /// Injects a fault by hand, at `now`.
    pub fn inject(&mut self, now: Timestamp, fault: Fault) {
        self.advance(now);
        match fault {
            Fault::LinkDown { until } => {
                self.link_down_until = Some(self.link_down_until.map_or(until, |u| u.max(until)));
            }
            Fault::LinkUp => self.link_down_until = None,
            Fault::Hang => self.hang(),
            Fault::ClockJump(d) => {
                self.clock_offset = self.clock_offset.checked_add(d).unwrap_or(self.clock_offset);
            }
        }
    }

    /// A power cycle at `now`. It clears a hang, the backoff and the half-read frame, and
    /// resynchronises the clock (drift and jumps start again from zero). The sequence counter
    /// is persistent and carries on: numbers are never reused. A flash-backed buffer survives,
    /// with the transmit in flight put back into it; a RAM buffer (the default) is lost with
    /// the transmit in flight, and both count as dropped. The next seeded hang is drawn from
    /// `now`.
    pub fn reset(&mut self, now: Timestamp) {
        self.advance(now);
        self.stats.resets += 1;
        self.hung = false;
        let flight = self.in_flight.take().map(|f| f.entries).unwrap_or_default();
        if self.config.flash_backed {
            self.stats.retries += flight.len() as u64;
            self.requeue(flight);
        } else {
            let lost = (flight.len() + self.queue.len()) as u64;
            self.queue.clear();
            self.queued_bytes = 0;
            self.stats.dropped += lost;
            self.stats.lost_at_reset += lost;
        }
        self.garbage_before += self.decoder.stats().garbage_bytes;
        self.decoder = new_decoder(&self.config);
        self.failures = 0;
        self.backoff_until = None;
        self.last_send = None;
        self.clock_offset = SignedDuration::ZERO;
        self.clock_synced_at = now;
        self.next_hang = self.hangs.as_mut().map(|h| h.next_after(now));
    }

    /// Moves the lazy parts on to `now`: fault windows, a due hang, a timed-out transmit, an
    /// expired manual link-down.
    fn advance(&mut self, now: Timestamp) {
        self.now = self.now.max(now);
        for w in [&mut self.wifi, &mut self.lte].into_iter().flatten() {
            w.advance(now);
        }
        if self.next_hang.is_some_and(|t| now >= t) {
            self.next_hang = None;
            self.hang();
        }
        if self.link_down_until.is_some_and(|t| now >= t) {
            self.link_down_until = None;
        }
        let timeout = self.config.transmit_timeout;
        if let Some(flight) = self.in_flight.take_if(|f| now >= add(f.sent_at, timeout)) {
            self.stats.timeouts += 1;
            self.fail(now, flight.entries);
        }
    }

    fn hang(&mut self) {
        if !self.hung {
            self.hung = true;
            self.stats.hangs += 1;
        }
    }

    /// When the link comes back, if it is down at `now`.
    fn down_until(&self, now: Timestamp) -> Option<Timestamp> {
        let manual = self.link_down_until.filter(|&t| now < t);
        let windows = [&self.wifi, &self.lte].into_iter().flatten().map(|w| w.down_until(now));
        windows.chain([manual]).flatten().max()
    }

    fn full_batch_ready(&self) -> bool {
        self.queue.len() >= self.config.batch_max
            || self.queued_bytes >= self.config.batch_max_bytes
    }

    /// The time on the dongle's clock at true time `now`, to the millisecond.
    fn local_time(&self, now: Timestamp) -> Timestamp {
        let ppm = self.config.faults.clock_drift_ppm;
        let mut t = add(now, self.clock_offset);
        if ppm.is_finite() && ppm != 0.0 {
            let elapsed = now.duration_since(self.clock_synced_at).as_secs_f64();
            if let Ok(drift) = SignedDuration::try_from_secs_f64(elapsed * ppm * 1e-6) {
                t = add(t, drift);
            }
        }
        Timestamp::from_millisecond(t.as_millisecond()).unwrap_or(t)
    }

    fn capture(&mut self, now: Timestamp, raw: &[u8], crc_ok: bool) {
        let mut upload = Upload {
            dongle: self.config.id.clone(),
            seq: self.next_seq,
            captured_at: self.local_time(now),
            telegram: String::from_utf8_lossy(raw).into_owned(),
            crc_ok,
            sig: String::new(),
        };
        upload.sign(&self.config.key);
        self.next_seq = self.next_seq.wrapping_add(1);
        self.stats.uploads_created += 1;
        let json_len = json_len(&upload);
        self.queued_bytes += json_len;
        self.queue.insert(upload.seq, Entry { upload, json_len });
        self.enforce_capacity();
    }

    /// Puts uploads back into the buffer and backs off.
    fn fail(&mut self, now: Timestamp, entries: Vec<Entry>) {
        self.stats.transmit_failures += 1;
        self.stats.retries += entries.len() as u64;
        self.requeue(entries);
        self.failures = self.failures.saturating_add(1);
        let delay = self.backoff_delay();
        self.backoff_until = Some(add(now, delay));
    }

    fn requeue(&mut self, entries: Vec<Entry>) {
        for e in entries {
            self.queued_bytes += e.json_len;
            if let Some(old) = self.queue.insert(e.upload.seq, e) {
                // Cannot happen (a sequence number is queued or in flight, never both); keep
                // the byte count right anyway.
                self.queued_bytes -= old.json_len;
            }
        }
        self.enforce_capacity();
    }

    /// Drops the oldest uploads until the buffer fits.
    fn enforce_capacity(&mut self) {
        while self.queue.len() > self.config.buffer_capacity {
            if let Some((_, old)) = self.queue.pop_first() {
                self.queued_bytes -= old.json_len;
                self.stats.dropped += 1;
            }
        }
    }

    /// Exponential backoff with full jitter above the floor: after `k` consecutive failures,
    /// uniform in `[backoff_min, min(backoff_max, backoff_min × 2^k)]`, to the millisecond.
    fn backoff_delay(&mut self) -> SignedDuration {
        let lo = millis(self.config.backoff_min);
        let hi = millis(self.config.backoff_max);
        let factor = 1i64.checked_shl(self.failures.min(62)).unwrap_or(i64::MAX);
        let ceiling = lo.saturating_mul(factor).min(hi);
        SignedDuration::from_millis(self.backoff_rng.random_range(lo..=ceiling.max(lo)))
    }
}

fn new_decoder(config: &Config) -> Decoder {
    match &config.smarty_keys {
        Some(keys) => Decoder::new().with_keys(keys.clone()),
        None => Decoder::new(),
    }
}

fn millis(d: SignedDuration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX).max(1)
}

/// An upper bound of the upload's JSON length in a [`Batch`]: 256 bytes for the keys, the
/// number, the timestamp and the signature, plus the strings with every byte at its largest
/// escaped length (`\u00XX` for control characters).
fn json_len(u: &Upload) -> usize {
    fn escaped(s: &str) -> usize {
        s.bytes()
            .map(|b| match b {
                b'"' | b'\\' => 2,
                0..0x20 => 6,
                _ => 1,
            })
            .sum()
    }
    256 + escaped(&u.dongle) + escaped(&u.telegram)
}
