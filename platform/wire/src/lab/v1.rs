//! Version 1 of the lab API (`meterlab up`, `/api/lab/v1/…`): the console's [`Snapshot`] of the lab and
//! the actions it posts. The same types are written by the lab API and read by the console,
//! so a field cannot be renamed on one side only; none of them defaults a missing field.

// The console's fields are named for what it shows (`rigs`, `slots`, `import_w`); the structs say
// what they hold.
#![allow(missing_docs)]

use calendar::Timestamp;
use domain::{Power, Rfc3339, Voltage};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Everything the console shows, at one instant of the lab's clock.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Snapshot {
    /// The lab's clock when the snapshot was taken (simulated or real); the console shows it
    /// in Brussels local time and measures "ago" from it, never from the system clock.
    #[schemars(with = "Rfc3339")]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Rig {
    pub id: String,
    pub variants: Vec<String>,
}

/// A booked slot on a rig (22 hours, R-LAB-2).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Slot {
    pub id: String,
    pub rig: String,
    pub holder: String,
    #[schemars(with = "Rfc3339")]
    pub start: Timestamp,
    #[schemars(with = "Rfc3339")]
    pub end: Timestamp,
    /// `booked`, `running`, `done`, `cancelled` or `stopped`.
    pub state: String,
}

/// Live values of one simulated meter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MeterLive {
    pub id: String,
    pub rig: String,
    pub variant: String,
    pub tariff: u8,
    /// Offtake power now.
    pub import_w: Power,
    /// Injection power now.
    pub export_w: Power,
    /// Voltage per phase, dV (one entry for a single-phase meter).
    pub voltage_dv: Vec<Voltage>,
    /// This month's peak quarter hour, when the meter has the register and a peak yet.
    pub month_peak_w: Option<Power>,
    /// Net power (offtake minus injection) in W over the last minutes, oldest first: a chart
    /// series, signed.
    pub power_history: Vec<f64>,
    /// Voltage in V over the last minutes, oldest first: a chart series.
    pub voltage_history: Vec<f64>,
    /// The last telegram, decoded one line per object, like `1-0:1.8.1 000123.456 kWh`.
    pub last_telegram: Vec<String>,
}

/// Live state of one simulated dongle.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
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
    #[schemars(with = "Option<Rfc3339>")]
    pub last_seen: Option<Timestamp>,
    /// The injected fault, if any.
    pub fault: Option<String>,
}

/// Supervision figures (R-NRT-9).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Kpis {
    pub availability_pct: f64,
    pub mean_latency_ms: f64,
    pub success_rate_pct: f64,
    pub regularity_pct: f64,
}

/// A supervision incident; open while `closed` is `None`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Incident {
    pub id: u64,
    pub dongle: String,
    pub kind: String,
    #[schemars(with = "Rfc3339")]
    pub opened: Timestamp,
    #[schemars(with = "Option<Rfc3339>")]
    pub closed: Option<Timestamp>,
    pub detail: String,
}

/// SLA counters of one rig (R-SLA-1..4).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Sla {
    pub rig: String,
    pub daily_within_5d_pct: f64,
    pub monthly_within_15d_pct: f64,
    pub pass: bool,
}

/// An access point (EAN) with its mandates and consents.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PointView {
    pub ean: String,
    pub grid_user: Option<String>,
    pub mandates: Vec<MandateRow>,
    pub consents: Vec<ConsentRow>,
}

/// A mandate an ESP holds on an access point.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MandateRow {
    pub id: String,
    pub esp: String,
    pub scope: String,
    #[schemars(with = "Rfc3339")]
    pub period_from: Timestamp,
    #[schemars(with = "Option<Rfc3339>")]
    pub period_to: Option<Timestamp>,
    pub state: String,
    #[schemars(with = "Option<Rfc3339>")]
    pub valid_until: Option<Timestamp>,
}

/// A consent the grid user gave an ESP for a service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConsentRow {
    pub id: String,
    pub esp: String,
    pub service: String,
    #[schemars(with = "Rfc3339")]
    pub granted_at: Timestamp,
    #[schemars(with = "Option<Rfc3339>")]
    pub revoked_at: Option<Timestamp>,
}

/// One entry of the access log: who asked for which data, and whether it was given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AccessRow {
    #[schemars(with = "Rfc3339")]
    pub at: Timestamp,
    pub party: String,
    pub point: String,
    pub what: String,
    #[schemars(with = "Rfc3339")]
    pub from: Timestamp,
    #[schemars(with = "Rfc3339")]
    pub to: Timestamp,
    pub allowed: bool,
    pub basis: String,
}

/// One Gherkin scenario and how its last run went.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ScenarioRow {
    pub feature: String,
    pub name: String,
    pub tags: Vec<String>,
    /// `pending`, `running`, `passed`, `failed`, `lab-error` or `undefined` (a step that no
    /// definition matches: shown and counted like a lab error).
    pub state: String,
    pub message: Option<String>,
}

/// `POST /api/lab/v1/slots`: book a 22-hour slot (R-LAB-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Book {
    /// The rig.
    pub rig: String,
    /// Its start: a Brussels wall-clock hour (`2026-12-08T09:00`) or RFC 3339.
    pub start: String,
    /// The agreement: its number, or its holder's name.
    pub agreement: AgreementRef,
    /// The holder's access code (none: the operator books).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Book inside the lead time (operators only).
    #[serde(default)]
    pub waive_lead_time: bool,
}

/// An agreement by number or by holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum AgreementRef {
    /// Its number.
    Id(u64),
    /// Its holder (or the number as text).
    Holder(String),
}

/// `POST /api/lab/v1/slots/{id}/cancel`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cancel {
    /// The holder's agreement, with `code`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement: Option<AgreementRef>,
    /// The holder's access code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Without the holder's code, the operator must say why (kept in the audit log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `POST /api/lab/v1/faults`: inject a fault into a dongle's path, or clear it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// The dongle, as the console names it (`rig-a-01`).
    pub dongle: String,
    /// `wifi-loss`, `crc-noise`, `power-cut` or `clear`.
    pub fault: String,
}

/// `POST /api/lab/v1/market-scenarios`: a market scenario on a point, effective now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Market {
    /// The access point.
    pub point: String,
    /// `SS`, `CS`, `CCSS`, `MI`, `MO`, `MOZA`, `EOC` or `DROP`.
    pub kind: String,
}

/// `POST /api/lab/v1/scenarios/run`: run the suites whose tags match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Run {
    /// A tag expression (`@sla and not @slow`); empty: every scenario.
    #[serde(default)]
    pub tags: String,
}

/// `POST /api/lab/v1/clock`: moves the lab's simulated clock forward (`meterlab up --clock
/// sim`): by a duration, or to a time. Exactly one of the two.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockMove {
    /// How far: `90m`, `1d`, `3y` (a year is 365 days).
    pub advance: Option<String>,
    /// To when: `2029-06-01` (a Brussels day), `2029-06-01T08:00` (Brussels) or RFC 3339.
    pub to: Option<String>,
}

/// What an action did, in words for the status bar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Message {
    /// The sentence.
    pub message: String,
}

crate::codes::stable_codes! {
    /// Why the lab API refused: its own codes, the booking ledger's (one per refusal of the
    /// ledger), and those of the platform's it relays.
    LabCode, "a stable error code of the lab API";
    Unauthorized = "unauthorized": "no or another bearer token than the lab's admin token",
    Malformed = "malformed": "the body is not the JSON the action takes",
    BadTime = "bad_time": "a time could not be read",
    BadSlot = "bad_slot": "not a slot number",
    UnknownFault = "unknown_fault": "no such fault (wifi-loss, reset-needed, crc-noise, clear)",
    UnknownDongle = "unknown_dongle": "no meter or dongle of that name on the running rigs",
    UnknownConsent = "unknown_consent": "no such consent",
    AlreadyRevoked = "already_revoked": "the consent was revoked already",
    UnknownScenario = "unknown_scenario": "no such market scenario",
    UnknownPoint = "unknown_point": "no such access point or data service point",
    UnknownAgreement = "unknown_agreement": "no such usage agreement (number or holder)",
    WrongAccessCode = "wrong_access_code": "the agreement's access code does not match",
    AgreementExpired = "agreement_expired": "the usage agreement has expired",
    AgreementEndsBeforeSlot = "agreement_ends_before_slot": "the agreement ends before the slot would",
    AgreementNotYetValid = "agreement_not_yet_valid": "the agreement is not valid yet",
    UnknownRig = "unknown_rig": "no such rig",
    NotOnTheHour = "not_on_the_hour": "slots start on the hour",
    StartInPast = "start_in_past": "the slot would start in the past",
    TooShortNotice = "too_short_notice": "slots are booked at least the lead time ahead (R-LAB-2)",
    AgreementLimit = "agreement_limit": "the agreement has as many open slots as it may",
    Overlap = "overlap": "the rig is booked then",
    UnknownSlot = "unknown_slot": "no such slot",
    NotYourSlot = "not_your_slot": "the slot belongs to another agreement",
    AlreadyStarted = "already_started": "the slot has started",
    NotStarted = "not_started": "the slot has not started",
    AlreadyCancelled = "already_cancelled": "the slot was cancelled already",
    AlreadyEnded = "already_ended": "the slot has ended",
    NoActiveSlot = "no_active_slot": "no slot holds the rig now",
    EmptyHolder = "empty_holder": "an agreement needs a holder",
    ReasonRequired = "reason_required": "an operator's cancellation needs a reason",
    InvalidEmail = "invalid_email": "not an email address",
    DuplicateRig = "duplicate_rig": "two rigs with one id",
    DuplicateVariant = "duplicate_variant": "one variant twice on a rig",
    InvalidPolicy = "invalid_policy": "the booking policy's values do not fit together",
    ForbiddenRole = "forbidden_role": "the platform refused the lab's token the action (relayed)",
    Refused = "refused": "the platform refused the action (relayed; the message says why)",
    CannotRun = "cannot_run": "the suites cannot run now: no scenario matches the tags, or a run is going on",
    NotSimulated = "not_simulated": "the lab runs on the system clock; start it with --clock sim to move time",
    ClockBackwards = "clock_backwards": "the lab's clock never goes back",
    Store = "store": "the lab database is unavailable; retry",
    Platform = "platform": "the platform did not answer",
}

/// A refusal of the lab API: a stable code and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LabError {
    /// Stable machine-readable code.
    pub code: LabCode,
    /// What went wrong and what to do about it.
    pub message: String,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_lab_code_reads_back_and_an_unknown_one_is_refused() {
        for c in LabCode::ALL {
            let v = serde_json::to_value(c).unwrap();
            assert_eq!(v, c.as_str());
            assert_eq!(serde_json::from_value::<LabCode>(v).unwrap(), *c);
            assert!(c.as_str().bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{c}");
        }
        let names: std::collections::BTreeSet<_> =
            LabCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), LabCode::ALL.len(), "two codes share a name");
        let e = serde_json::from_str::<LabError>(r#"{"code":"overlapp","message":"x"}"#);
        assert!(e.is_err(), "a misspelt code is an error, not a default");
    }
}
