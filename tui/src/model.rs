//! What the console shows: one [`Snapshot`] of the lab, filled by the binary from the lab's
//! HTTP API.
//!
//! Every struct is `#[serde(default)]`, so a partial document (an older server, a section the
//! caller may not see) still deserializes and the screens show what is there.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Everything the console shows, at one instant of the lab's clock.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Snapshot {
    /// The lab's clock when the snapshot was taken (simulated or real); the console shows it
    /// in Brussels local time and measures "ago" from it, never from the system clock.
    pub at: Timestamp,
    /// Base URL of the API the snapshot came from.
    pub api: String,
    pub rigs: Vec<Rig>,
    pub slots: Vec<Slot>,
    pub meters: Vec<MeterLive>,
    pub dongles: Vec<DongleLive>,
    pub kpis: Kpis,
    pub incidents: Vec<Incident>,
    pub sla: Vec<Sla>,
    pub points: Vec<PointView>,
    pub access_log: Vec<AccessRow>,
    pub scenarios: Vec<ScenarioRow>,
    /// A note for the status bar, such as the error of the last failed refresh.
    pub status_line: Option<String>,
}

/// A test rig and the meter variants mounted on it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Rig {
    pub id: String,
    pub variants: Vec<String>,
}

/// A booked slot on a rig (22 hours, R-LAB-2).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Slot {
    pub id: String,
    pub rig: String,
    pub holder: String,
    pub start: Timestamp,
    pub end: Timestamp,
    /// `booked`, `running`, `done`, `cancelled` or `stopped`.
    pub state: String,
}

/// Live values of one simulated meter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MeterLive {
    pub id: String,
    pub rig: String,
    pub variant: String,
    pub tariff: u8,
    pub import_w: f64,
    pub export_w: f64,
    /// Voltage per phase (one entry for a single-phase meter).
    pub voltage_v: Vec<f64>,
    pub month_peak_kw: f64,
    /// Power in W over the last minutes, oldest first.
    pub power_history: Vec<f64>,
    /// Voltage in V over the last minutes, oldest first.
    pub voltage_history: Vec<f64>,
    /// The last telegram, decoded one line per object, like `1-0:1.8.1 000123.456 kWh`.
    pub last_telegram: Vec<String>,
}

/// Live state of one simulated dongle.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DongleLive {
    pub id: String,
    pub meter: String,
    /// `online`, `late`, `offline` or `never`.
    pub state: String,
    /// Uploads waiting in the store-and-forward buffer.
    pub buffered: u64,
    pub interval_s: f64,
    pub received: u64,
    pub crc_errors: u64,
    pub last_seen: Option<Timestamp>,
    /// The injected fault, if any.
    pub fault: Option<String>,
}

/// Supervision figures (R-NRT-9).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Kpis {
    pub availability_pct: f64,
    pub mean_latency_ms: f64,
    pub success_rate_pct: f64,
    pub regularity_pct: f64,
}

/// A supervision incident; open while `closed` is `None`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Incident {
    pub id: u64,
    pub dongle: String,
    pub kind: String,
    pub opened: Timestamp,
    pub closed: Option<Timestamp>,
    pub detail: String,
}

/// SLA counters of one rig (R-SLA-1..4).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Sla {
    pub rig: String,
    pub daily_within_5d_pct: f64,
    pub monthly_within_15d_pct: f64,
    pub pass: bool,
}

/// An access point (EAN) with its mandates and consents.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PointView {
    pub ean: String,
    pub grid_user: Option<String>,
    pub mandates: Vec<MandateRow>,
    pub consents: Vec<ConsentRow>,
}

/// A mandate an ESP holds on an access point.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MandateRow {
    pub id: String,
    pub esp: String,
    pub scope: String,
    pub period_from: Timestamp,
    pub period_to: Option<Timestamp>,
    pub state: String,
    pub valid_until: Option<Timestamp>,
}

/// A consent the grid user gave an ESP for a service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConsentRow {
    pub id: String,
    pub esp: String,
    pub service: String,
    pub granted_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// One entry of the access log: who asked for which data, and whether it was given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccessRow {
    pub at: Timestamp,
    pub party: String,
    pub point: String,
    pub what: String,
    pub from: Timestamp,
    pub to: Timestamp,
    pub allowed: bool,
    pub basis: String,
}

/// One Gherkin scenario and how its last run went.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScenarioRow {
    pub feature: String,
    pub name: String,
    pub tags: Vec<String>,
    /// `pending`, `running`, `passed`, `failed`, `lab-error` or `undefined` (a step that no
    /// definition matches: shown and counted like a lab error).
    pub state: String,
    pub message: Option<String>,
}
