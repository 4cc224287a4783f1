//! Supervision of the dongles that feed the platform (R-NRT-9, R-NRT-10): connection state,
//! transmission frequency and quality, reception anomalies, the incident register, the KPIs
//! (availability, latency, successful transmission rate, regularity) and their Prometheus
//! exposition. A [`Supervisor`] is a fold over what the platform ingest sees: accepted uploads
//! ([`Supervisor::on_upload`]), rejected ones ([`Supervisor::on_rejected`]) and the passing of
//! time ([`Supervisor::tick`]); each step returns the [`Event`]s it caused.
//!
//! Invariants:
//! - Pure: no I/O, never reads the clock; `now` is an argument. The same calls give the same
//!   state, events, reports and exposition text, byte for byte (ordered maps only).
//! - Memory per dongle is bounded by the [`Config`] (rings of recent uploads, capped ranges of
//!   missing sequence numbers, KPI buckets for a retention period), so is the state kept for
//!   rejected uploads from unknown dongles (counters and one platform-wide incident), and so is
//!   the register: it keeps every open incident and the newest closed ones.
//! - At most one incident is open per (dongle, kind); incident ids are sequential from 1;
//!   `closed_at >= opened_at`.
//! - No input panics: time arithmetic is checked or saturating, counters saturate.
//!
//! Rules (thresholds are [`Config`] fields, defaults in brackets):
//! - State from the time since the last accepted upload: online, stale [30 s], offline
//!   [5 min]. Becoming offline (seen by [`Supervisor::tick`]) opens an `Offline` incident dated
//!   last upload + `offline_after`; the next upload closes it. Rejected uploads never count as
//!   contact.
//! - Sequence numbers: a jump opens `SequenceGap`; the missing numbers are tracked as ranges
//!   [64 per dongle, the oldest beyond are lost] and closed by backfill in any order, by a
//!   [24 h] timeout (lost) or by a numbering restart (lost). Numbers below the first one seen
//!   are a backlog, not duplicates.
//! - Anomalies, each an incident closed by the first upload [10 min] after its last
//!   occurrence: `RegisterBackwards` (an energy total lower than at the previous capture time,
//!   or higher than at the next, among the last [16] readings), `TimeJump` (capture ahead of
//!   receive, or going back in sequence order, by more than [10 min]; late backfill is not a
//!   jump), `ImpossiblePower` (above [100 kW]). Registers of CRC-corrupt telegrams are not
//!   judged.
//! - `CrcErrors` opens above [5 %] of the last [100] uploads (judged from [20]), closes
//!   below [1 %].
//! - A bad signature or unknown dongle opens `Security` (per known dongle, else one
//!   platform-wide incident); only a person closes it.
//! - Latency quantiles come from the last [1024] uploads per dongle (an approximation for
//!   long windows); KPI counters from [5 min] buckets kept [24 h].

mod kpi;
mod prometheus;
mod sequence;
pub mod sla;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};

use calendar::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

pub use kpi::{DongleKpis, KpiFigures, Kpis};
use sequence::{Outcome, SequenceTracker};

/// Thresholds and memory bounds. [`Config::default`] holds the values documented per field;
/// [`Supervisor::new`] replaces nonsensical values (zero or negative durations, rates outside
/// `0..=1`, zero capacities) by the defaults or the nearest sensible bound.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// No upload for this long makes a dongle [`ConnectionState::Stale`]. Default 30 s.
    pub stale_after: SignedDuration,
    /// No upload for this long makes a dongle [`ConnectionState::Offline`] and opens an
    /// [`IncidentKind::Offline`] incident. Default 5 min.
    pub offline_after: SignedDuration,
    /// Interval between uploads of a dongle unless [`Supervisor::register_dongle`] says
    /// otherwise. Default 1 s.
    pub expected_interval: SignedDuration,
    /// Import or export power above this is impossible for a connection. Default 100 kW.
    pub max_power_w: u32,
    /// Capture time ahead of receive time, or going back in sequence order, by more than this
    /// is a time jump. Default 10 min.
    pub max_clock_skew: SignedDuration,
    /// An anomaly incident (register backwards, time jump, impossible power) closes at the
    /// first clean upload at least this long after its last occurrence. Default 10 min.
    pub anomaly_quiet: SignedDuration,
    /// CRC error rate window, in uploads (at most 128). Default 100.
    pub crc_window: u32,
    /// The CRC rate is judged once this many uploads are in the window. Default 20.
    pub crc_min_samples: u32,
    /// A CRC error rate above this opens [`IncidentKind::CrcErrors`]. Default 0.05.
    pub crc_open_rate: f64,
    /// A CRC error rate below this closes it. Default 0.01.
    pub crc_close_rate: f64,
    /// Ranges of missing sequence numbers tracked per dongle; the oldest beyond this are
    /// counted lost. Default 64.
    pub max_gap_ranges: usize,
    /// Missing sequence numbers not backfilled this long after the gap was seen are counted
    /// lost. Default 24 h.
    pub gap_timeout: SignedDuration,
    /// Recent uploads kept per dongle for latency quantiles and frequency. Default 1024.
    pub latency_window: usize,
    /// Recent uploads the transmission frequency is measured over. Default 60.
    pub frequency_window: usize,
    /// Recent register readings kept per dongle to detect registers going backwards.
    /// Default 16.
    pub register_history: usize,
    /// Granularity of the KPI history (whole seconds). Default 5 min.
    pub kpi_bucket: SignedDuration,
    /// How far back the KPI history reaches. Default 24 h.
    pub kpi_retention: SignedDuration,
    /// Incidents kept in the register; beyond this the oldest closed ones are dropped.
    /// Default 100 000.
    pub max_incidents: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            stale_after: SignedDuration::from_secs(30),
            offline_after: SignedDuration::from_mins(5),
            expected_interval: SignedDuration::from_secs(1),
            max_power_w: 100_000,
            max_clock_skew: SignedDuration::from_mins(10),
            anomaly_quiet: SignedDuration::from_mins(10),
            crc_window: 100,
            crc_min_samples: 20,
            crc_open_rate: 0.05,
            crc_close_rate: 0.01,
            max_gap_ranges: 64,
            gap_timeout: SignedDuration::from_hours(24),
            latency_window: 1024,
            frequency_window: 60,
            register_history: 16,
            kpi_bucket: SignedDuration::from_mins(5),
            kpi_retention: SignedDuration::from_hours(24),
            max_incidents: 100_000,
        }
    }
}

impl Config {
    fn sanitized(self) -> Self {
        let d = Self::default();
        let positive = |v: SignedDuration, default| if v.is_positive() { v } else { default };
        let not_negative = |v: SignedDuration, default| if v.is_negative() { default } else { v };
        let rate = |v: f64, default| if v.is_nan() { default } else { v.clamp(0.0, 1.0) };
        let offline_after = positive(self.offline_after, d.offline_after);
        let stale_after = positive(self.stale_after, d.stale_after).min(offline_after);
        let crc_window = self.crc_window.clamp(1, 128);
        let crc_open_rate = rate(self.crc_open_rate, d.crc_open_rate);
        let latency_window = self.latency_window.max(2);
        let kpi_bucket = SignedDuration::from_secs(self.kpi_bucket.as_secs().max(1));
        Self {
            stale_after,
            offline_after,
            expected_interval: positive(self.expected_interval, d.expected_interval),
            max_power_w: self.max_power_w,
            max_clock_skew: not_negative(self.max_clock_skew, d.max_clock_skew),
            anomaly_quiet: not_negative(self.anomaly_quiet, d.anomaly_quiet),
            crc_window,
            crc_min_samples: self.crc_min_samples.clamp(1, crc_window),
            crc_open_rate,
            crc_close_rate: rate(self.crc_close_rate, d.crc_close_rate).min(crc_open_rate),
            max_gap_ranges: self.max_gap_ranges.max(1),
            gap_timeout: positive(self.gap_timeout, d.gap_timeout),
            latency_window,
            frequency_window: self.frequency_window.clamp(2, latency_window),
            register_history: self.register_history.max(1),
            kpi_bucket,
            kpi_retention: self.kpi_retention.max(kpi_bucket),
            max_incidents: self.max_incidents.max(1),
        }
    }
}

/// Decoded register values of an upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registers {
    /// Total imported (offtake) energy, Wh, all tariffs.
    pub import_wh: u64,
    /// Total exported (injection) energy, Wh, all tariffs.
    pub export_wh: u64,
    /// Instantaneous import power, W.
    pub power_import_w: u32,
    /// Instantaneous export power, W.
    pub power_export_w: u32,
}

/// An upload the platform accepted (authentic, well-formed, not a replay).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    /// Dongle id. An id never registered is registered on its first upload.
    pub dongle: String,
    /// The dongle's sequence number of this upload.
    pub sequence: u64,
    /// Capture time, on the meter/dongle clock.
    pub captured_at: Timestamp,
    /// Receive time, on the platform clock (normally the `now` of the call).
    pub received_at: Timestamp,
    /// Whether the telegram inside passed its CRC.
    pub crc_ok: bool,
    /// Decoded registers; `None` when the telegram could not be decoded. Ignored unless
    /// `crc_ok`.
    pub registers: Option<Registers>,
}

/// Why the platform refused an upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    /// Not a well-formed upload.
    Malformed,
    /// The dongle id is not known to the platform.
    UnknownDongle,
    /// The signature (HMAC) does not verify: a forged or misconfigured dongle.
    BadSignature,
    /// Larger than the platform accepts.
    TooLarge,
    /// A sequence number already accepted, sent again.
    Replay,
    /// Same sequence number, different content.
    Conflict,
}

impl Rejection {
    /// Every reason, in order.
    pub const ALL: [Rejection; 6] = [
        Rejection::Malformed,
        Rejection::UnknownDongle,
        Rejection::BadSignature,
        Rejection::TooLarge,
        Rejection::Replay,
        Rejection::Conflict,
    ];

    /// The snake_case name used in labels and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::Malformed => "malformed",
            Rejection::UnknownDongle => "unknown_dongle",
            Rejection::BadSignature => "bad_signature",
            Rejection::TooLarge => "too_large",
            Rejection::Replay => "replay",
            Rejection::Conflict => "conflict",
        }
    }

    /// Whether this rejection opens a [`IncidentKind::Security`] incident.
    pub fn is_security(self) -> bool {
        matches!(self, Rejection::UnknownDongle | Rejection::BadSignature)
    }
}

/// Connection state of a dongle, from the time since its last accepted upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    /// Registered, no upload yet. Never times out and opens no incident.
    NeverSeen,
    /// Last upload less than `stale_after` ago.
    Online,
    /// Last upload between `stale_after` and `offline_after` ago.
    Stale,
    /// Last upload at least `offline_after` ago.
    Offline,
}

impl ConnectionState {
    /// Every state, in order.
    pub const ALL: [ConnectionState; 4] = [
        ConnectionState::NeverSeen,
        ConnectionState::Online,
        ConnectionState::Stale,
        ConnectionState::Offline,
    ];

    /// The snake_case name used in labels and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::NeverSeen => "never_seen",
            ConnectionState::Online => "online",
            ConnectionState::Stale => "stale",
            ConnectionState::Offline => "offline",
        }
    }
}

/// What an incident is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    /// No upload for `offline_after`; closes at the next upload.
    Offline,
    /// Sequence numbers missing; closes when none is missing any more (backfilled or lost).
    SequenceGap,
    /// CRC error rate above `crc_open_rate`; closes below `crc_close_rate`.
    CrcErrors,
    /// An energy register lower than at an earlier capture time (or higher than at a later).
    RegisterBackwards,
    /// Capture time ahead of receive time, or going back in sequence order, beyond
    /// `max_clock_skew`.
    TimeJump,
    /// Power above `max_power_w`.
    ImpossiblePower,
    /// Bad signature or unknown dongle. Closed by a person ([`Supervisor::close_incident`]).
    Security,
}

impl IncidentKind {
    /// Every kind, in order.
    pub const ALL: [IncidentKind; 7] = [
        IncidentKind::Offline,
        IncidentKind::SequenceGap,
        IncidentKind::CrcErrors,
        IncidentKind::RegisterBackwards,
        IncidentKind::TimeJump,
        IncidentKind::ImpossiblePower,
        IncidentKind::Security,
    ];

    /// Kinds that close after `anomaly_quiet` of clean uploads.
    const QUIETING: [IncidentKind; 3] =
        [IncidentKind::RegisterBackwards, IncidentKind::TimeJump, IncidentKind::ImpossiblePower];

    /// The snake_case name used in labels and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentKind::Offline => "offline",
            IncidentKind::SequenceGap => "sequence_gap",
            IncidentKind::CrcErrors => "crc_errors",
            IncidentKind::RegisterBackwards => "register_backwards",
            IncidentKind::TimeJump => "time_jump",
            IncidentKind::ImpossiblePower => "impossible_power",
            IncidentKind::Security => "security",
        }
    }
}

/// A note on an incident, by a person or by the supervisor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// When it was written.
    pub at: Timestamp,
    /// What it says.
    pub text: String,
}

/// An entry of the incident register.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// Sequential from 1.
    pub id: u64,
    /// The dongle concerned; `None` for the platform-wide incident about unknown dongles.
    pub dongle: Option<String>,
    /// What it is about.
    pub kind: IncidentKind,
    /// When the condition started (for `Offline`: last upload + `offline_after`).
    pub opened_at: Timestamp,
    /// When it was closed; `None` while open. Never before `opened_at`.
    pub closed_at: Option<Timestamp>,
    /// The first occurrence, in words.
    pub detail: String,
    /// Occurrences folded into this incident while it was open (at least 1).
    pub occurrences: u64,
    /// The latest of them.
    pub last_occurrence: Timestamp,
    /// Notes in the order written.
    pub notes: Vec<Note>,
}

impl Incident {
    /// Whether it is still open.
    pub fn is_open(&self) -> bool {
        self.closed_at.is_none()
    }
}

/// What a step of the fold caused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A new incident, as opened.
    IncidentOpened(Incident),
    /// An incident, as closed.
    IncidentClosed(Incident),
    /// A dongle's connection state changed.
    StateChanged {
        /// The dongle.
        dongle: String,
        /// Its state before.
        from: ConnectionState,
        /// Its state now.
        to: ConnectionState,
    },
}

/// Errors of the incident register.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SupervisionError {
    /// No incident has this id (or it was closed long ago and dropped from the register).
    #[error("no incident {0}")]
    UnknownIncident(u64),
    /// The incident is already closed.
    #[error("incident {0} is already closed")]
    AlreadyClosed(u64),
    /// A note needs some text.
    #[error("empty note")]
    EmptyNote,
}

/// Anomalous observations of a dongle, counted one per upload or rejection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnomalyCounts {
    /// Uploads that jumped over sequence numbers.
    pub sequence_gaps: u64,
    /// Uploads with an energy register out of order.
    pub register_backwards: u64,
    /// Uploads with a time jump.
    pub time_jumps: u64,
    /// Uploads with impossible power.
    pub impossible_power: u64,
    /// Rejections for a bad signature or an unknown id under this dongle's id.
    pub security: u64,
}

/// The supervision view of one dongle at an instant.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DongleStatus {
    /// Dongle id.
    pub dongle: String,
    /// Connection state at the instant asked for.
    pub state: ConnectionState,
    /// Registered explicitly (rather than by its first upload).
    pub registered: bool,
    /// Expected interval between uploads.
    pub expected_interval: SignedDuration,
    /// Registration or first upload: the start of its availability.
    pub since: Timestamp,
    /// Receive time of the latest upload.
    pub last_seen: Option<Timestamp>,
    /// Capture time of the latest upload (by arrival).
    pub last_capture: Option<Timestamp>,
    /// Highest sequence number seen (since the latest restart).
    pub last_sequence: Option<u64>,
    /// Accepted uploads.
    pub uploads: u64,
    /// Accepted uploads whose telegram failed its CRC.
    pub crc_errors: u64,
    /// CRC error share over the last `crc_window` uploads.
    pub crc_error_rate: Option<f64>,
    /// Rejected uploads under this dongle's id.
    pub rejected: u64,
    /// Sequence numbers missing now.
    pub missing: u64,
    /// Missing sequence numbers ever detected.
    pub gaps: u64,
    /// Of those, backfilled later.
    pub recovered: u64,
    /// Of those, given up on (range cap, `gap_timeout`, restart).
    pub lost: u64,
    /// Uploads whose number was already seen or given up on.
    pub duplicates: u64,
    /// Times the numbering restarted.
    pub sequence_restarts: u64,
    /// Uploads per minute over the last `frequency_window` uploads, up to the instant asked
    /// for (so it decays while the dongle is silent).
    pub uploads_per_minute: Option<f64>,
    /// Mean receive − capture over the last `latency_window` uploads.
    pub latency_mean: Option<SignedDuration>,
    /// 99th percentile (nearest rank) of the same.
    pub latency_p99: Option<SignedDuration>,
    /// Anomalous observations.
    pub anomalies: AnomalyCounts,
    /// Ids of its open incidents, by kind.
    pub open_incidents: Vec<u64>,
}

/// One recent upload: receive time (ms since the epoch) and latency (ns, saturating).
#[derive(Clone, Copy, Debug)]
struct Sample {
    at_ms: i64,
    latency_ns: i64,
}

/// KPI counters of one bucket. `captured` counts by capture time (availability of data);
/// everything else by receive time.
#[derive(Clone, Copy, Debug, Default)]
struct Bucket {
    captured: u32,
    received: u32,
    crc_errors: u32,
    rejected: u32,
    intervals: u32,
    regular: u32,
    latency_sum_ns: i128,
}

#[derive(Clone, Debug)]
struct Dongle {
    registered: bool,
    expected_interval: SignedDuration,
    since: Timestamp,
    /// The state as of the latest upload or tick (what transitions are computed from).
    state: ConnectionState,
    last_seen: Option<Timestamp>,
    last_capture: Option<Timestamp>,
    uploads: u64,
    crc_errors: u64,
    rejected: u64,
    /// Last `crc_window` uploads, newest in bit 0; a set bit is a CRC error.
    crc_bits: u128,
    crc_samples: u32,
    samples: VecDeque<Sample>,
    seq: SequenceTracker,
    /// `seq.recovered` and `seq.lost` when the open SequenceGap incident was opened.
    gap_mark: (u64, u64),
    /// Recent energy registers by capture time: (import Wh, export Wh).
    registers: BTreeMap<Timestamp, (u64, u64)>,
    anomalies: AnomalyCounts,
    last_anomaly: BTreeMap<IncidentKind, Timestamp>,
    open: BTreeMap<IncidentKind, u64>,
    buckets: BTreeMap<i64, Bucket>,
}

impl Dongle {
    fn new(registered: bool, expected_interval: SignedDuration, since: Timestamp) -> Self {
        Self {
            registered,
            expected_interval,
            since,
            state: ConnectionState::NeverSeen,
            last_seen: None,
            last_capture: None,
            uploads: 0,
            crc_errors: 0,
            rejected: 0,
            crc_bits: 0,
            crc_samples: 0,
            samples: VecDeque::new(),
            seq: SequenceTracker::default(),
            gap_mark: (0, 0),
            registers: BTreeMap::new(),
            anomalies: AnomalyCounts::default(),
            last_anomaly: BTreeMap::new(),
            open: BTreeMap::new(),
            buckets: BTreeMap::new(),
        }
    }

    fn state_at(&self, now: Timestamp, config: &Config) -> ConnectionState {
        let Some(last) = self.last_seen else { return ConnectionState::NeverSeen };
        let silence = now.duration_since(last);
        if silence >= config.offline_after {
            ConnectionState::Offline
        } else if silence >= config.stale_after {
            ConnectionState::Stale
        } else {
            ConnectionState::Online
        }
    }

    fn crc_rate(&self, window: u32) -> Option<f64> {
        if self.crc_samples == 0 {
            return None;
        }
        Some(
            f64::from((self.crc_bits & window_mask(window)).count_ones())
                / f64::from(self.crc_samples),
        )
    }

    fn bucket(&mut self, key: i64) -> &mut Bucket {
        self.buckets.entry(key).or_default()
    }

    fn latencies(&self) -> Vec<i64> {
        self.samples.iter().map(|s| s.latency_ns).collect()
    }
}

fn window_mask(window: u32) -> u128 {
    if window >= 128 { u128::MAX } else { (1u128 << window) - 1 }
}

/// The incident register: incidents in id order.
#[derive(Clone, Debug)]
struct Register {
    incidents: Vec<Incident>,
    next_id: u64,
    max: usize,
    opened: BTreeMap<IncidentKind, u64>,
}

impl Register {
    fn open(
        &mut self,
        dongle: Option<&str>,
        kind: IncidentKind,
        opened_at: Timestamp,
        now: Timestamp,
        detail: String,
    ) -> Incident {
        let incident = Incident {
            id: self.next_id,
            dongle: dongle.map(str::to_owned),
            kind,
            opened_at,
            closed_at: None,
            detail,
            occurrences: 1,
            last_occurrence: now.max(opened_at),
            notes: Vec::new(),
        };
        self.next_id += 1;
        *self.opened.entry(kind).or_default() += 1;
        self.incidents.push(incident.clone());
        self.compact();
        incident
    }

    fn index(&self, id: u64) -> Option<usize> {
        self.incidents.binary_search_by_key(&id, |i| i.id).ok()
    }

    fn get_mut(&mut self, id: u64) -> Option<&mut Incident> {
        let index = self.index(id)?;
        self.incidents.get_mut(index)
    }

    fn touch(&mut self, id: u64, now: Timestamp) {
        if let Some(incident) = self.get_mut(id) {
            incident.occurrences = incident.occurrences.saturating_add(1);
            incident.last_occurrence = incident.last_occurrence.max(now);
        }
    }

    fn close(&mut self, id: u64, now: Timestamp, note: Option<String>) -> Option<Incident> {
        let incident = self.get_mut(id)?;
        if incident.closed_at.is_some() {
            return None;
        }
        incident.closed_at = Some(now.max(incident.opened_at));
        if let Some(text) = note {
            incident.notes.push(Note { at: now, text });
        }
        Some(incident.clone())
    }

    /// Drops the oldest closed incidents once there are more than `max`, down to 7/8 of it
    /// (so that the work is amortised).
    fn compact(&mut self) {
        if self.incidents.len() <= self.max {
            return;
        }
        let target = self.max - self.max / 8;
        let mut excess = self.incidents.len().saturating_sub(target);
        self.incidents.retain(|i| {
            if excess > 0 && i.closed_at.is_some() {
                excess -= 1;
                false
            } else {
                true
            }
        });
    }
}

/// Opens an incident of `kind` in `open` unless one is open already, in which case the
/// occurrence is folded into it.
#[allow(clippy::too_many_arguments)]
fn raise(
    open: &mut BTreeMap<IncidentKind, u64>,
    register: &mut Register,
    dongle: Option<&str>,
    kind: IncidentKind,
    opened_at: Timestamp,
    now: Timestamp,
    detail: impl FnOnce() -> String,
    events: &mut Vec<Event>,
) {
    if let Some(&id) = open.get(&kind) {
        register.touch(id, now);
        return;
    }
    let incident = register.open(dongle, kind, opened_at, now, detail());
    open.insert(kind, incident.id);
    events.push(Event::IncidentOpened(incident));
}

/// Closes the open incident of `kind` in `open`, if any.
fn resolve(
    open: &mut BTreeMap<IncidentKind, u64>,
    register: &mut Register,
    kind: IncidentKind,
    now: Timestamp,
    note: impl FnOnce() -> String,
    events: &mut Vec<Event>,
) {
    if let Some(id) = open.remove(&kind)
        && let Some(incident) = register.close(id, now, Some(note()))
    {
        events.push(Event::IncidentClosed(incident));
    }
}

/// Records an anomalous observation of `kind` and raises its incident.
fn anomaly(
    d: &mut Dongle,
    register: &mut Register,
    name: &str,
    kind: IncidentKind,
    now: Timestamp,
    detail: impl FnOnce() -> String,
    events: &mut Vec<Event>,
) {
    let count = match kind {
        IncidentKind::RegisterBackwards => &mut d.anomalies.register_backwards,
        IncidentKind::TimeJump => &mut d.anomalies.time_jumps,
        IncidentKind::ImpossiblePower => &mut d.anomalies.impossible_power,
        IncidentKind::SequenceGap => &mut d.anomalies.sequence_gaps,
        IncidentKind::Security => &mut d.anomalies.security,
        IncidentKind::Offline | IncidentKind::CrcErrors => {
            raise(&mut d.open, register, Some(name), kind, now, now, detail, events);
            return;
        }
    };
    *count = count.saturating_add(1);
    d.last_anomaly.insert(kind, now);
    raise(&mut d.open, register, Some(name), kind, now, now, detail, events);
}

/// An id as shown in incident details: debug-quoted, at most 64 characters (ids in rejected
/// uploads are whatever the sender made up).
fn shown(id: &str) -> String {
    const MAX: usize = 64;
    if id.chars().count() <= MAX {
        format!("{id:?}")
    } else {
        let head: String = id.chars().take(MAX).collect();
        format!("{head:?}…")
    }
}

/// The supervision state of the platform: dongles, incident register, counters. See the crate
/// documentation for the invariants.
#[derive(Clone, Debug)]
pub struct Supervisor {
    config: Config,
    dongles: BTreeMap<String, Dongle>,
    register: Register,
    /// Open platform-wide incidents (not about a known dongle).
    platform_open: BTreeMap<IncidentKind, u64>,
    rejected: BTreeMap<Rejection, u64>,
    /// Rejections not attributed to a known dongle, by KPI bucket of their `now`.
    unattributed: BTreeMap<i64, u32>,
    latency_count: u64,
    latency_sum_ns: i128,
}

impl Supervisor {
    /// An empty supervisor. `config` is sanitised (see [`Config`]).
    pub fn new(config: Config) -> Self {
        let config = config.sanitized();
        let register = Register {
            incidents: Vec::new(),
            next_id: 1,
            max: config.max_incidents,
            opened: BTreeMap::new(),
        };
        Self {
            config,
            dongles: BTreeMap::new(),
            register,
            platform_open: BTreeMap::new(),
            rejected: BTreeMap::new(),
            unattributed: BTreeMap::new(),
            latency_count: 0,
            latency_sum_ns: 0,
        }
    }

    /// The configuration in force (after sanitising).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Registers a dongle that should upload every `expected_interval` (a non-positive value
    /// means the configured default). Its availability counts from `now`. Registering again
    /// only changes the interval.
    pub fn register_dongle(
        &mut self,
        dongle: &str,
        expected_interval: SignedDuration,
        now: Timestamp,
    ) {
        let interval = if expected_interval.is_positive() {
            expected_interval
        } else {
            self.config.expected_interval
        };
        match self.dongles.get_mut(dongle) {
            Some(d) => {
                d.registered = true;
                d.expected_interval = interval;
            }
            None => {
                self.dongles.insert(dongle.to_owned(), Dongle::new(true, interval, now));
            }
        }
    }

    /// Folds in an accepted upload processed at `now`.
    ///
    /// The dongle becomes online (closing its Offline incident); counters, the latency ring
    /// and the KPI buckets are updated; the sequence number is checked for gaps, backfill,
    /// restarts; the capture time for time jumps; CRC-clean registers for going backwards and
    /// impossible power. Anomaly incidents of kinds not seen in this upload close when their
    /// last occurrence is at least `anomaly_quiet` ago.
    pub fn on_upload(&mut self, now: Timestamp, up: &Observed) -> Vec<Event> {
        let mut events = Vec::new();
        let cfg = &self.config;
        let register = &mut self.register;
        if !self.dongles.contains_key(&up.dongle) {
            self.dongles.insert(up.dongle.clone(), Dongle::new(false, cfg.expected_interval, now));
        }
        let Some(d) = self.dongles.get_mut(&up.dongle) else { return events };
        let name = up.dongle.as_str();

        // Connection.
        if d.state != ConnectionState::Online {
            events.push(Event::StateChanged {
                dongle: name.to_owned(),
                from: d.state,
                to: ConnectionState::Online,
            });
            d.state = ConnectionState::Online;
        }
        let previous_seen = d.last_seen;
        resolve(
            &mut d.open,
            register,
            IncidentKind::Offline,
            now,
            || match previous_seen {
                Some(last) => {
                    format!("back online after {:#} of silence", now.duration_since(last))
                }
                None => "back online".to_owned(),
            },
            &mut events,
        );
        d.last_seen = Some(previous_seen.map_or(up.received_at, |last| last.max(up.received_at)));
        d.last_capture = Some(up.captured_at);

        // Counters and the CRC window.
        d.uploads = d.uploads.saturating_add(1);
        let crc_bad = !up.crc_ok;
        if crc_bad {
            d.crc_errors = d.crc_errors.saturating_add(1);
        }
        d.crc_bits = (d.crc_bits << 1) | u128::from(crc_bad);
        d.crc_samples = (d.crc_samples + 1).min(cfg.crc_window);

        // Latency and arrival regularity.
        let latency = up.received_at.duration_since(up.captured_at);
        let latency_ns = i64::try_from(latency.as_nanos()).unwrap_or(if latency.is_negative() {
            i64::MIN
        } else {
            i64::MAX
        });
        let at_ms = up.received_at.as_millisecond();
        let interval_ms = d.samples.back().map(|s| i128::from(at_ms) - i128::from(s.at_ms));
        d.samples.push_back(Sample { at_ms, latency_ns });
        while d.samples.len() > cfg.latency_window {
            d.samples.pop_front();
        }
        self.latency_count = self.latency_count.saturating_add(1);
        self.latency_sum_ns = self.latency_sum_ns.saturating_add(i128::from(latency_ns));

        // Sequence.
        let outcome = d.seq.observe(up.sequence, up.captured_at, now, cfg.max_gap_ranges);
        let mut flagged: Vec<IncidentKind> = Vec::new();
        match outcome {
            Outcome::Next { previous, gap, .. } if gap > 0 => {
                if !d.open.contains_key(&IncidentKind::SequenceGap) {
                    d.gap_mark = (d.seq.recovered, d.seq.lost);
                }
                anomaly(
                    d,
                    register,
                    name,
                    IncidentKind::SequenceGap,
                    now,
                    || format!("sequence jumped from {previous} to {}: {gap} missing", up.sequence),
                    &mut events,
                );
            }
            Outcome::Restart { previous, lost } => {
                if let Some(&id) = d.open.get(&IncidentKind::SequenceGap)
                    && let Some(incident) = register.get_mut(id)
                {
                    incident.notes.push(Note {
                        at: now,
                        text: format!(
                            "numbering restarted at {} after {previous}; {lost} missing numbers lost",
                            up.sequence
                        ),
                    });
                }
            }
            _ => {}
        }
        if d.seq.missing() == 0 {
            let (recovered0, lost0) = d.gap_mark;
            let (recovered, lost) = (d.seq.recovered, d.seq.lost);
            resolve(
                &mut d.open,
                register,
                IncidentKind::SequenceGap,
                now,
                || {
                    format!(
                        "nothing missing any more: {} backfilled, {} lost",
                        recovered.saturating_sub(recovered0),
                        lost.saturating_sub(lost0)
                    )
                },
                &mut events,
            );
        }

        // Time.
        let ahead = up.captured_at.duration_since(up.received_at);
        if ahead > cfg.max_clock_skew {
            flagged.push(IncidentKind::TimeJump);
            anomaly(
                d,
                register,
                name,
                IncidentKind::TimeJump,
                now,
                || {
                    format!(
                        "capture time {} is {ahead:#} ahead of receive time {}",
                        up.captured_at, up.received_at
                    )
                },
                &mut events,
            );
        }
        if let Outcome::Next { previous, previous_capture, .. } = outcome {
            let back = previous_capture.duration_since(up.captured_at);
            if back > cfg.max_clock_skew {
                flagged.push(IncidentKind::TimeJump);
                anomaly(
                    d,
                    register,
                    name,
                    IncidentKind::TimeJump,
                    now,
                    || {
                        format!(
                            "capture time went back {back:#} from sequence {previous} ({previous_capture}) to {} ({})",
                            up.sequence, up.captured_at
                        )
                    },
                    &mut events,
                );
            }
        }

        // Registers.
        if let (true, Some(r)) = (up.crc_ok, up.registers) {
            let at = up.captured_at;
            let before = d.registers.range(..at).next_back().map(|(&t, &v)| (t, v));
            let after = d
                .registers
                .range((std::ops::Bound::Excluded(at), std::ops::Bound::Unbounded))
                .next()
                .map(|(&t, &v)| (t, v));
            let backwards = before
                .filter(|&(_, (import, export))| r.import_wh < import || r.export_wh < export)
                .map(|(t, (import, export))| (t, import, export, "earlier"))
                .or_else(|| {
                    after
                        .filter(|&(_, (import, export))| {
                            r.import_wh > import || r.export_wh > export
                        })
                        .map(|(t, (import, export))| (t, import, export, "later"))
                });
            if let Some((t, import, export, which)) = backwards {
                flagged.push(IncidentKind::RegisterBackwards);
                anomaly(
                    d,
                    register,
                    name,
                    IncidentKind::RegisterBackwards,
                    now,
                    || {
                        format!(
                            "registers import {} Wh, export {} Wh at {at} out of order with import {import} Wh, export {export} Wh at {which} {t}",
                            r.import_wh, r.export_wh
                        )
                    },
                    &mut events,
                );
            }
            d.registers.insert(at, (r.import_wh, r.export_wh));
            while d.registers.len() > cfg.register_history {
                d.registers.pop_first();
            }
            let power = r.power_import_w.max(r.power_export_w);
            if power > cfg.max_power_w {
                flagged.push(IncidentKind::ImpossiblePower);
                anomaly(
                    d,
                    register,
                    name,
                    IncidentKind::ImpossiblePower,
                    now,
                    || {
                        format!(
                            "power import {} W, export {} W above {} W",
                            r.power_import_w, r.power_export_w, cfg.max_power_w
                        )
                    },
                    &mut events,
                );
            }
        }

        // KPI buckets.
        let buckets = Buckets::new(cfg);
        let horizon = buckets.horizon(now);
        if outcome != Outcome::Duplicate {
            let key = buckets.of(up.captured_at);
            if key >= horizon && key <= buckets.of(now).saturating_add(buckets.ahead(cfg)) {
                let b = d.bucket(key);
                b.captured = b.captured.saturating_add(1);
            }
        }
        let key = buckets.of(up.received_at);
        if key >= horizon {
            let expected_ms = d.expected_interval.as_millis();
            let b = d.bucket(key);
            b.received = b.received.saturating_add(1);
            b.crc_errors = b.crc_errors.saturating_add(u32::from(crc_bad));
            b.latency_sum_ns = b.latency_sum_ns.saturating_add(i128::from(latency_ns));
            if let Some(interval) = interval_ms {
                b.intervals = b.intervals.saturating_add(1);
                if 2 * interval >= expected_ms && 2 * interval <= 3 * expected_ms {
                    b.regular = b.regular.saturating_add(1);
                }
            }
        }
        while d.buckets.first_key_value().is_some_and(|(&k, _)| k < horizon) {
            d.buckets.pop_first();
        }

        // CRC error rate.
        if d.crc_samples >= cfg.crc_min_samples
            && let Some(rate) = d.crc_rate(cfg.crc_window)
        {
            let samples = d.crc_samples;
            if rate > cfg.crc_open_rate {
                raise(
                    &mut d.open,
                    register,
                    Some(name),
                    IncidentKind::CrcErrors,
                    now,
                    now,
                    || format!("CRC errors in {:.1} % of the last {samples} uploads", rate * 100.0),
                    &mut events,
                );
            } else if rate < cfg.crc_close_rate {
                resolve(
                    &mut d.open,
                    register,
                    IncidentKind::CrcErrors,
                    now,
                    || {
                        format!(
                            "CRC errors down to {:.1} % of the last {samples} uploads",
                            rate * 100.0
                        )
                    },
                    &mut events,
                );
            }
        }

        // Anomalies gone quiet.
        for kind in IncidentKind::QUIETING {
            if flagged.contains(&kind) || !d.open.contains_key(&kind) {
                continue;
            }
            let quiet = d
                .last_anomaly
                .get(&kind)
                .is_none_or(|&last| now.duration_since(last) >= cfg.anomaly_quiet);
            if quiet {
                let quiet_for = cfg.anomaly_quiet;
                resolve(
                    &mut d.open,
                    register,
                    kind,
                    now,
                    || format!("no recurrence for {quiet_for:#}"),
                    &mut events,
                );
            }
        }
        events
    }

    /// Folds in an upload the platform refused at `now`. It is counted per reason, and per
    /// dongle when `dongle` names one the supervisor knows (registered or seen); a rejection
    /// never makes a dongle online. A bad signature or an unknown dongle opens a
    /// [`IncidentKind::Security`] incident: on the known dongle, or else on the one
    /// platform-wide incident (`dongle: None`), so that made-up ids cannot grow the state.
    pub fn on_rejected(
        &mut self,
        now: Timestamp,
        dongle: Option<&str>,
        reason: Rejection,
    ) -> Vec<Event> {
        let mut events = Vec::new();
        let count = self.rejected.entry(reason).or_default();
        *count = count.saturating_add(1);
        let buckets = Buckets::new(&self.config);
        let key = buckets.of(now);
        let register = &mut self.register;
        match dongle.and_then(|id| self.dongles.get_mut(id).map(|d| (id, d))) {
            Some((name, d)) => {
                d.rejected = d.rejected.saturating_add(1);
                let b = d.bucket(key);
                b.rejected = b.rejected.saturating_add(1);
                if reason.is_security() {
                    anomaly(
                        d,
                        register,
                        name,
                        IncidentKind::Security,
                        now,
                        || {
                            format!(
                                "upload under dongle id {} rejected: {}",
                                shown(name),
                                reason.as_str()
                            )
                        },
                        &mut events,
                    );
                }
            }
            None => {
                let b = self.unattributed.entry(key).or_default();
                *b = b.saturating_add(1);
                let horizon = buckets.horizon(now);
                while self.unattributed.first_key_value().is_some_and(|(&k, _)| k < horizon) {
                    self.unattributed.pop_first();
                }
                if reason.is_security() {
                    raise(
                        &mut self.platform_open,
                        register,
                        None,
                        IncidentKind::Security,
                        now,
                        now,
                        || match dongle {
                            Some(id) => format!(
                                "upload from unknown dongle id {} rejected: {}",
                                shown(id),
                                reason.as_str()
                            ),
                            None => {
                                format!("upload without dongle id rejected: {}", reason.as_str())
                            }
                        },
                        &mut events,
                    );
                }
            }
        }
        events
    }

    /// Lets time pass to `now`: dongles silent for `stale_after` become stale, for
    /// `offline_after` offline (opening an Offline incident dated last upload +
    /// `offline_after`); missing sequence numbers older than `gap_timeout` are counted lost.
    pub fn tick(&mut self, now: Timestamp) -> Vec<Event> {
        let mut events = Vec::new();
        let cfg = &self.config;
        let register = &mut self.register;
        for (name, d) in &mut self.dongles {
            let to = d.state_at(now, cfg);
            if to != d.state {
                events.push(Event::StateChanged { dongle: name.clone(), from: d.state, to });
                d.state = to;
                if to == ConnectionState::Offline
                    && let Some(last) = d.last_seen
                {
                    let opened_at = last.checked_add(cfg.offline_after).map_or(now, |t| t.min(now));
                    raise(
                        &mut d.open,
                        register,
                        Some(name),
                        IncidentKind::Offline,
                        opened_at,
                        now,
                        || format!("no upload since {last}"),
                        &mut events,
                    );
                }
            }
            if d.seq.missing() > 0 && d.seq.expire(now, cfg.gap_timeout) > 0 && d.seq.missing() == 0
            {
                let (recovered0, lost0) = d.gap_mark;
                let (recovered, lost) = (d.seq.recovered, d.seq.lost);
                let timeout = cfg.gap_timeout;
                resolve(
                    &mut d.open,
                    register,
                    IncidentKind::SequenceGap,
                    now,
                    || {
                        format!(
                            "gave up after {timeout:#}: {} backfilled, {} lost",
                            recovered.saturating_sub(recovered0),
                            lost.saturating_sub(lost0)
                        )
                    },
                    &mut events,
                );
            }
        }
        events
    }

    /// The status of every dongle at `now`, by id.
    pub fn status(&self, now: Timestamp) -> Vec<DongleStatus> {
        self.dongles.iter().map(|(name, d)| self.status_of(name, d, now)).collect()
    }

    /// The status of one dongle at `now`.
    pub fn dongle_status(&self, dongle: &str, now: Timestamp) -> Option<DongleStatus> {
        self.dongles.get_key_value(dongle).map(|(name, d)| self.status_of(name, d, now))
    }

    fn status_of(&self, name: &str, d: &Dongle, now: Timestamp) -> DongleStatus {
        let cfg = &self.config;
        let uploads_per_minute = {
            let n = d.samples.len().min(cfg.frequency_window);
            let first = d.samples.len().checked_sub(n).and_then(|i| d.samples.get(i));
            match (first, d.samples.back()) {
                (Some(first), Some(last)) if n >= 2 => {
                    let end = now.as_millisecond().max(last.at_ms);
                    let span_ms = i128::from(end) - i128::from(first.at_ms);
                    (span_ms > 0).then(|| (n - 1) as f64 * 60_000.0 / span_ms as f64)
                }
                _ => None,
            }
        };
        let mut latencies = d.latencies();
        DongleStatus {
            dongle: name.to_owned(),
            state: d.state_at(now, cfg),
            registered: d.registered,
            expected_interval: d.expected_interval,
            since: d.since,
            last_seen: d.last_seen,
            last_capture: d.last_capture,
            last_sequence: d.seq.highest(),
            uploads: d.uploads,
            crc_errors: d.crc_errors,
            crc_error_rate: d.crc_rate(cfg.crc_window),
            rejected: d.rejected,
            missing: d.seq.missing(),
            gaps: d.seq.detected,
            recovered: d.seq.recovered,
            lost: d.seq.lost,
            duplicates: d.seq.duplicates,
            sequence_restarts: d.seq.restarts,
            uploads_per_minute,
            latency_mean: mean_ns(&latencies),
            latency_p99: quantile_ns(&mut latencies, 99, 100),
            anomalies: d.anomalies,
            open_incidents: d.open.values().copied().collect(),
        }
    }

    /// The register: every open incident and the newest closed ones (up to `max_incidents`
    /// in all), in id order.
    pub fn incidents(&self) -> &[Incident] {
        &self.register.incidents
    }

    /// One incident by id.
    pub fn incident(&self, id: u64) -> Option<&Incident> {
        self.register.index(id).and_then(|i| self.register.incidents.get(i))
    }

    /// Adds a note to an incident, open or closed.
    pub fn add_note(
        &mut self,
        id: u64,
        now: Timestamp,
        text: &str,
    ) -> Result<(), SupervisionError> {
        if text.trim().is_empty() {
            return Err(SupervisionError::EmptyNote);
        }
        let incident = self.register.get_mut(id).ok_or(SupervisionError::UnknownIncident(id))?;
        incident.notes.push(Note { at: now, text: text.to_owned() });
        Ok(())
    }

    /// Closes an incident by hand (the only way a Security incident closes), with a note.
    /// If the condition persists, the next occurrence opens a new incident.
    pub fn close_incident(
        &mut self,
        id: u64,
        now: Timestamp,
        note: &str,
    ) -> Result<Incident, SupervisionError> {
        if note.trim().is_empty() {
            return Err(SupervisionError::EmptyNote);
        }
        let incident = self.register.get_mut(id).ok_or(SupervisionError::UnknownIncident(id))?;
        if incident.closed_at.is_some() {
            return Err(SupervisionError::AlreadyClosed(id));
        }
        let (dongle, kind) = (incident.dongle.clone(), incident.kind);
        let open = match dongle.as_deref().and_then(|name| self.dongles.get_mut(name)) {
            Some(d) => &mut d.open,
            None => &mut self.platform_open,
        };
        if open.get(&kind) == Some(&id) {
            open.remove(&kind);
        }
        self.register
            .close(id, now, Some(note.to_owned()))
            .ok_or(SupervisionError::AlreadyClosed(id))
    }
}

/// The KPI bucket arithmetic of a configuration.
#[derive(Clone, Copy, Debug)]
struct Buckets {
    size_ns: i128,
    count: i64,
}

impl Buckets {
    fn new(config: &Config) -> Self {
        let size_s = config.kpi_bucket.as_secs().max(1);
        let count = (config.kpi_retention.as_secs() / size_s).max(1);
        Self { size_ns: i128::from(size_s) * 1_000_000_000, count }
    }

    /// The bucket holding `t`.
    fn of(self, t: Timestamp) -> i64 {
        // Timestamps span about ±3.2e11 s, so the quotient fits.
        i64::try_from(t.as_nanosecond().div_euclid(self.size_ns)).unwrap_or(i64::MAX)
    }

    /// The first bucket after `t`, or `t`'s when `t` is a bucket boundary.
    fn ceil(self, t: Timestamp) -> i64 {
        let ns = t.as_nanosecond();
        let q = ns.div_euclid(self.size_ns) + i128::from(ns.rem_euclid(self.size_ns) != 0);
        i64::try_from(q).unwrap_or(i64::MAX)
    }

    fn start(self, bucket: i64) -> Option<Timestamp> {
        Timestamp::from_nanosecond(i128::from(bucket) * self.size_ns).ok()
    }

    /// The oldest bucket kept at `now`.
    fn horizon(self, now: Timestamp) -> i64 {
        self.of(now).saturating_sub(self.count - 1)
    }

    /// How many buckets ahead of `now` a capture time may be and still count.
    fn ahead(self, config: &Config) -> i64 {
        i64::try_from(config.max_clock_skew.as_nanos().div_euclid(self.size_ns) + 1)
            .unwrap_or(i64::MAX)
    }
}

/// Mean of nanosecond values.
fn mean_ns(values: &[i64]) -> Option<SignedDuration> {
    if values.is_empty() {
        return None;
    }
    let sum: i128 = values.iter().map(|&v| i128::from(v)).sum();
    let mean = sum / values.len() as i128;
    SignedDuration::try_from_nanos_i128(mean)
}

/// The `num/den` quantile of nanosecond values, nearest rank (the smallest value with at
/// least that share of values at or below it).
fn quantile_ns(values: &mut [i64], num: usize, den: usize) -> Option<SignedDuration> {
    if values.is_empty() || den == 0 {
        return None;
    }
    let rank = (values.len() * num).div_ceil(den).clamp(1, values.len());
    let (_, &mut value, _) = values.select_nth_unstable(rank - 1);
    Some(SignedDuration::from_nanos(value))
}
