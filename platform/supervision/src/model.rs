//! What supervision takes in (accepted and rejected uploads) and gives out (states, incidents,
//! events, a dongle's status).

use calendar::{SignedDuration, Timestamp};
use domain::{Energy, Power};
use serde::{Deserialize, Serialize};

/// Decoded register values of an upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registers {
    /// Total imported (offtake) energy, all tariffs.
    pub import: Energy,
    /// Total exported (injection) energy, all tariffs.
    pub export: Energy,
    /// Instantaneous import power.
    pub power_import: Power,
    /// Instantaneous export power.
    pub power_export: Power,
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
    pub(crate) const QUIETING: [IncidentKind; 3] =
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
