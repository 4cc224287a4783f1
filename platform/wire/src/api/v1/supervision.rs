//! Supervision as the admin API shows it (R-NRT-9, R-SLA-1..4): dongle states, incidents,
//! KPIs and service levels.

use super::Duration;
use calendar::{SignedDuration, Timestamp};
use domain::Rfc3339;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A dongle's connection state, from the time since its last accepted upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    /// Registered, no upload yet.
    NeverSeen,
    /// Uploading.
    Online,
    /// Late.
    Stale,
    /// Silent for longer than the offline threshold.
    Offline,
}

impl ConnectionState {
    /// As written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::NeverSeen => "never_seen",
            ConnectionState::Online => "online",
            ConnectionState::Stale => "stale",
            ConnectionState::Offline => "offline",
        }
    }
}

/// Anomalous observations of a dongle, counted one per upload or rejection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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

/// The supervision view of one dongle now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DongleStatus {
    /// Its id.
    pub dongle: String,
    /// Connection state.
    pub state: ConnectionState,
    /// Registered explicitly (rather than by its first upload).
    pub registered: bool,
    /// Expected interval between uploads.
    #[schemars(with = "Duration")]
    pub expected_interval: SignedDuration,
    /// Registration or first upload.
    #[schemars(with = "Rfc3339")]
    pub since: Timestamp,
    /// Receive time of the latest upload.
    #[schemars(with = "Option<Rfc3339>")]
    pub last_seen: Option<Timestamp>,
    /// Capture time of the latest upload.
    #[schemars(with = "Option<Rfc3339>")]
    pub last_capture: Option<Timestamp>,
    /// Highest sequence number seen since the latest restart.
    pub last_sequence: Option<u64>,
    /// Accepted uploads.
    pub uploads: u64,
    /// Accepted uploads whose telegram failed its CRC.
    pub crc_errors: u64,
    /// CRC error share over the recent uploads.
    pub crc_error_rate: Option<f64>,
    /// Rejected uploads under this id.
    pub rejected: u64,
    /// Sequence numbers missing now.
    pub missing: u64,
    /// Missing sequence numbers ever detected.
    pub gaps: u64,
    /// Of those, backfilled later.
    pub recovered: u64,
    /// Of those, given up on.
    pub lost: u64,
    /// Uploads whose number was already seen.
    pub duplicates: u64,
    /// Times the numbering restarted.
    pub sequence_restarts: u64,
    /// Uploads per minute recently.
    pub uploads_per_minute: Option<f64>,
    /// Mean receive − capture recently.
    #[schemars(with = "Option<Duration>")]
    pub latency_mean: Option<SignedDuration>,
    /// 99th percentile of the same.
    #[schemars(with = "Option<Duration>")]
    pub latency_p99: Option<SignedDuration>,
    /// Anomalous observations.
    pub anomalies: AnomalyCounts,
    /// Ids of its open incidents.
    pub open_incidents: Vec<u64>,
}

/// What an incident is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    /// No upload for the offline threshold.
    Offline,
    /// Sequence numbers missing.
    SequenceGap,
    /// CRC error rate too high.
    CrcErrors,
    /// An energy register went backwards.
    RegisterBackwards,
    /// The capture time jumped.
    TimeJump,
    /// Power beyond what the connection allows.
    ImpossiblePower,
    /// A bad signature or an unknown dongle.
    Security,
}

impl IncidentKind {
    /// As written on the wire.
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

/// A note on an incident.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Note {
    /// When it was written.
    #[schemars(with = "Rfc3339")]
    pub at: Timestamp,
    /// What it says.
    pub text: String,
}

/// `POST /api/admin/v1/incidents/{id}/notes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNote {
    /// What it says.
    #[schemars(length(min = 1))]
    pub text: String,
}

/// An entry of the incident register.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Incident {
    /// Sequential from 1.
    pub id: u64,
    /// The dongle; none for the platform-wide incident about unknown dongles.
    pub dongle: Option<String>,
    /// What it is about.
    pub kind: IncidentKind,
    /// When the condition started.
    #[schemars(with = "Rfc3339")]
    pub opened_at: Timestamp,
    /// When it closed; open while absent.
    #[schemars(with = "Option<Rfc3339>")]
    pub closed_at: Option<Timestamp>,
    /// The first occurrence, in words.
    pub detail: String,
    /// Occurrences folded into it.
    pub occurrences: u64,
    /// The latest of them.
    #[schemars(with = "Rfc3339")]
    pub last_occurrence: Timestamp,
    /// Notes in the order written.
    pub notes: Vec<Note>,
}

/// KPI figures over a window (R-NRT-9).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct KpiFigures {
    /// Uploads expected in the window.
    pub expected: f64,
    /// Uploads received.
    pub received: u64,
    /// received / expected, at most 1.
    pub availability: Option<f64>,
    /// Accepted uploads.
    pub accepted: u64,
    /// Of those, with a CRC error.
    pub crc_errors: u64,
    /// Rejected uploads.
    pub rejected: u64,
    /// Accepted without CRC error / attempts.
    pub success_rate: Option<f64>,
    /// Mean latency.
    #[schemars(with = "Option<Duration>")]
    pub latency_mean: Option<SignedDuration>,
    /// 99th percentile latency.
    #[schemars(with = "Option<Duration>")]
    pub latency_p99: Option<SignedDuration>,
    /// Intervals between uploads.
    pub intervals: u64,
    /// Of those, within tolerance.
    pub regular_intervals: u64,
    /// regular / intervals.
    pub regularity: Option<f64>,
}

/// One dongle's KPIs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DongleKpis {
    /// The dongle.
    pub dongle: String,
    /// Its figures.
    pub figures: KpiFigures,
}

/// `GET /api/admin/v1/kpis`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Kpis {
    /// Window start.
    #[schemars(with = "Rfc3339")]
    pub from: Timestamp,
    /// Window end.
    #[schemars(with = "Rfc3339")]
    pub to: Timestamp,
    /// Every dongle together.
    pub overall: KpiFigures,
    /// Per dongle.
    pub dongles: Vec<DongleKpis>,
}

/// One service-level figure (R-SLA-1/2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SlaFigure {
    /// `R-SLA-1` or `R-SLA-2`.
    pub requirement: String,
    /// Periods due.
    pub due: u32,
    /// Delivered by their deadline.
    pub on_time: u32,
    /// Delivered late (R-SLA-4).
    pub late: u32,
    /// Due and not delivered.
    pub missing: u32,
    /// on_time / due in percent.
    pub pct: f64,
    /// The target.
    pub target_pct: f64,
    /// Whether pct > target_pct.
    pub pass: bool,
}

/// `GET /api/admin/v1/sla`: one dongle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DongleSla {
    /// The dongle.
    pub dongle: String,
    /// Days within 5 (working) days (R-SLA-1).
    pub daily: SlaFigure,
    /// Months within 15 days (R-SLA-2).
    pub monthly: SlaFigure,
}
