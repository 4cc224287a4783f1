//! The administrator's side: tokens, onboarding, access points, links, market scenarios,
//! outages, dongle registration, and what the platform says about itself.

use super::registers::{Party, PointRegisters, ScenarioKind};
use calendar::Timestamp;
use domain::{
    AccessPoint, DataServicePoint, DongleLink, Esp, GridUserId, Kbo, LocalTime, Rfc3339, SupplierId,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `GET /health`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Health {
    /// `ok` while the platform answers.
    pub status: String,
    /// The store backend: `sqlite` or `postgres`.
    pub store: String,
    /// The platform's clock (simulated in the lab).
    #[schemars(with = "Rfc3339")]
    pub time: Timestamp,
}

/// `POST /api/admin/v1/tokens`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// Whom the token speaks for.
    pub party: Party,
    /// A label for people (who holds it, what for).
    #[serde(default)]
    pub label: String,
}

/// A token, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TokenIssued {
    /// The bearer token.
    pub token: String,
    /// Whom it speaks for.
    pub party: Party,
}

/// `POST /api/admin/v1/esps`: onboard an ESP (R-ACC-4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEsp {
    /// The ESP as the registers keep it.
    pub esp: Esp,
}

/// An onboarded ESP's credentials, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EspOnboarded {
    /// The ESP.
    pub kbo: Kbo,
    /// Its API token.
    pub token: String,
    /// The secret its webhooks are signed with.
    pub webhook_secret: String,
    /// Its step-plan path, where customers grant mandates (R-MAN-7).
    pub step_plan: String,
}

fn yes() -> bool {
    true
}

/// `POST /api/admin/v1/esps/{kbo}/credentials`: which credentials to issue anew (no body:
/// both).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rotate {
    /// A new API token (the old ones stop working at once).
    #[serde(default = "yes")]
    pub token: bool,
    /// A new webhook secret.
    #[serde(default = "yes")]
    pub webhook_secret: bool,
}

impl Rotate {
    /// Both.
    pub const BOTH: Rotate = Rotate { token: true, webhook_secret: true };
}

/// Credentials issued anew, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CredentialsIssued {
    /// The ESP.
    pub kbo: Kbo,
    /// Tokens that stopped working.
    pub revoked_tokens: u32,
    /// The new token, when one was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The new webhook secret, when one was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
    /// Until when webhooks also carry a signature under the previous secret (a day after a
    /// rotation of the secret; absent when there was none before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Rfc3339>")]
    pub previous_secret_valid_until: Option<Timestamp>,
}

/// `POST /api/admin/v1/esps/{kbo}/suspend`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Suspension {
    /// Why: the ESP and its grid users are told.
    #[schemars(length(min = 1))]
    pub reason: String,
}

/// `PATCH /api/admin/v1/esps/{kbo}` (the admin) and `PATCH /api/esp/v1/profile` (the ESP).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EspUpdate {
    /// Where webhooks go from now on (absolute http or https); `null` stops them.
    #[schemars(url)]
    pub webhook_url: Option<String>,
}

/// `POST /api/admin/v1/access-points`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPoint {
    /// The access point.
    pub access_point: AccessPoint,
    /// Its data service points.
    pub data_service_points: Vec<DataServicePoint>,
    /// Its grid user from `since`.
    #[serde(default)]
    pub grid_user: Option<GridUserId>,
    /// Its supplier from `since`.
    #[serde(default)]
    pub supplier: Option<SupplierId>,
    /// Since when.
    #[schemars(with = "Rfc3339")]
    pub since: Timestamp,
}

/// `POST /api/admin/v1/links`: which dongle reads which meter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLink {
    /// The link.
    pub link: DongleLink,
}

/// `POST /api/admin/v1/market-scenarios`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewScenario {
    /// The access point (an EAN; its check digit is checked: 422).
    #[schemars(with = "domain::Ean")]
    pub access_point: String,
    /// The scenario.
    pub kind: ScenarioKind,
    /// When it takes effect.
    #[schemars(with = "LocalTime")]
    pub effective: String,
    /// The grid user after it.
    #[serde(default)]
    pub new_grid_user: Option<GridUserId>,
    /// The supplier after it.
    #[serde(default)]
    pub new_supplier: Option<SupplierId>,
}

/// `POST /api/admin/v1/outage`: declare or end an unplanned outage (R-SLA-3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Outage {
    /// Whether the outage is on.
    pub active: bool,
    /// Why, for the 503s' message.
    #[serde(default)]
    pub reason: String,
    /// The seconds the 503s' `Retry-After` announces (1 to 3600; 60 if absent): how long the
    /// administrator expects the outage to last.
    #[serde(default)]
    #[schemars(range(min = 1, max = 3600))]
    pub retry_after_s: Option<u32>,
}

/// The outage now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OutageState {
    /// Its reason while declared.
    pub outage: Option<String>,
}

/// `GET /api/admin/v1/registers`: every register.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RegistersView {
    /// Every access point with its occupancy, mandates and consents.
    pub points: Vec<PointRegisters>,
    /// Every ESP.
    pub esps: Vec<Esp>,
    /// Every dongle link.
    pub links: Vec<DongleLink>,
}

/// A webhook delivery to an ESP, with its attempts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Delivery {
    /// Its id.
    pub id: String,
    /// The ESP.
    pub esp: String,
    /// The event (`mandate_approved` …).
    pub event: String,
    /// Where it goes.
    pub url: String,
    /// The signed JSON body.
    pub body: String,
    /// When it was made.
    #[schemars(with = "Rfc3339")]
    pub created: Timestamp,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    /// Each try.
    pub attempts: Vec<Attempt>,
}

/// One try of a delivery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Attempt {
    /// When.
    #[schemars(with = "Rfc3339")]
    pub at: Timestamp,
    /// The HTTP status the ESP answered.
    pub status: Option<u16>,
    /// The error, when there was no answer.
    pub error: Option<String>,
}

/// `POST /api/admin/v1/dongles`: register a dongle and its key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDongle {
    /// Its id.
    #[schemars(length(min = 1))]
    pub id: String,
    /// Its HMAC key, at least 16 bytes as hex.
    #[schemars(regex(pattern = r"^([0-9a-fA-F]{2}){16,}$"))]
    pub key_hex: String,
    /// The meter it reads.
    #[serde(default)]
    pub meter: Option<String>,
    /// Seconds between uploads (1 for BE/NL5 meters, 10 for DSMR 4 and Smarty).
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub interval_s: Option<u32>,
}

/// A registered dongle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DongleRegistered {
    /// Its id.
    pub id: String,
}

/// An AMR batch's outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AmrStored {
    /// Quarter hours new to the store.
    pub stored: u64,
    /// Quarter hours it had already.
    pub duplicates: u64,
}

/// One stored upload, as received.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StoredUpload {
    /// The dongle.
    pub dongle: String,
    /// Its sequence number.
    pub seq: u64,
    /// When the dongle read it.
    #[schemars(with = "Rfc3339")]
    pub captured_at: Timestamp,
    /// When the platform received it.
    #[schemars(with = "Rfc3339")]
    pub received_at: Timestamp,
    /// The dongle's CRC verdict.
    pub crc_ok: bool,
    /// The raw telegram.
    pub telegram: String,
}
