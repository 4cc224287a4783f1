//! The grid user's and the ESP's side: mandate requests, terms, consents, meter data, the
//! NRT stream and mandate status (R-MAN, R-NRT, R-DAT).

use super::Code;
use super::data::{MonthFigures, Quality};
use super::registers::{MandateView, Scope};
use calendar::Timestamp;
use domain::{Ean, LocalTime, Power, Rfc3339, Volume};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `POST /api/registers/v1/dienstverlener/{kbo}/stappenplan`: a customer grants a mandate
/// through the ESP's step plan (R-MAN-7).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MandateRequest {
    /// The data service point (an EAN; its check digit is checked: 422).
    #[schemars(with = "Ean")]
    pub data_service_point: String,
    /// What it covers.
    pub scope: Scope,
    /// Start of the data period.
    #[schemars(with = "LocalTime")]
    pub period_from: String,
    /// End of the data period; open-ended if absent.
    #[serde(default)]
    #[schemars(with = "Option<LocalTime>")]
    pub period_to: Option<String>,
    /// Whether it reaches back before today.
    #[serde(default)]
    pub history: bool,
    /// The mandate it renews.
    #[serde(default)]
    pub renews: Option<String>,
}

/// `POST /api/registers/v1/terms`: a grid user accepts the NRT terms of an access point
/// (R-NRT-5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Terms {
    /// The access point.
    #[schemars(with = "Ean")]
    pub access_point: String,
}

/// `POST /api/registers/v1/consents`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConsent {
    /// The data service point.
    #[schemars(with = "Ean")]
    pub data_service_point: String,
    /// The ESP.
    #[schemars(with = "domain::Kbo")]
    pub esp: String,
    /// The ESP's service.
    pub service: String,
}

/// One value of an energy answer.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum EnergyValue {
    /// Electricity: offtake and injection.
    Electricity(ElectricityValue),
    /// Gas: energy.
    Gas(GasValue),
}

/// An electricity quarter hour or day.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ElectricityValue {
    /// Start.
    #[schemars(with = "Rfc3339")]
    pub start: Timestamp,
    /// End (exclusive).
    #[schemars(with = "Rfc3339")]
    pub end: Timestamp,
    /// Offtake, Wh.
    pub offtake_wh: Option<domain::Energy>,
    /// Injection, Wh.
    pub injection_wh: Option<domain::Energy>,
    /// Quality.
    pub quality: Quality,
}

/// A gas hour or day.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GasValue {
    /// Start.
    #[schemars(with = "Rfc3339")]
    pub start: Timestamp,
    /// End (exclusive).
    #[schemars(with = "Rfc3339")]
    pub end: Timestamp,
    /// Volume, dm³.
    pub volume_dm3: Option<Volume>,
    /// Energy, Wh (the volume at the gas conversion factor).
    pub energy_wh: Option<domain::Energy>,
    /// Quality.
    pub quality: Quality,
}

/// `GET /api/esp/v1/points/{ean}/energy` as JSON (R-DAT-1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Energy {
    /// The point asked for.
    pub point: Ean,
    /// `quarter-hour`, `hour` or `day`.
    pub granularity: String,
    /// Always `Wh`: every value is a whole number of Wh (gas also in dm³).
    pub unit: String,
    /// Period start.
    #[schemars(with = "Rfc3339")]
    pub from: Timestamp,
    /// Period end (exclusive).
    #[schemars(with = "Rfc3339")]
    pub to: Timestamp,
    /// The parts of the period the caller may see, `[start, end)`.
    #[schemars(with = "Vec<[Rfc3339; 2]>")]
    pub served: Vec<[Timestamp; 2]>,
    /// The ground (`mandate:M1`, `consent:C1`, `grid-user:own`, `role:admin`).
    pub basis: Option<String>,
    /// The values, in time order: whole intervals inside `served` that have ended.
    pub values: Vec<EnergyValue>,
}

/// `GET /api/esp/v1/points/{ean}/months` (R-DAT-3).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Months {
    /// The point asked for.
    pub point: Ean,
    /// Period start.
    #[schemars(with = "Rfc3339")]
    pub from: Timestamp,
    /// Period end (exclusive).
    #[schemars(with = "Rfc3339")]
    pub to: Timestamp,
    /// The ground.
    pub basis: Option<String>,
    /// Whole months inside what the caller may see.
    pub months: Vec<MonthFigures>,
}

/// One `sample` event of the NRT stream (R-NRT-6): a stored upload's registers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LiveSample {
    /// The dongle.
    pub dongle: String,
    /// The meter's capture time.
    #[schemars(with = "Rfc3339")]
    pub captured_at: Timestamp,
    /// Offtake register, Wh.
    pub import_wh: domain::Energy,
    /// Injection register, Wh.
    pub export_wh: domain::Energy,
    /// Offtake power, W.
    pub power_import_w: Power,
    /// Injection power, W.
    pub power_export_w: Power,
}

/// `POST /api/esp/v1/mandates/status` (R-MAN-8).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    /// Data service points, at most 1000.
    #[schemars(with = "Vec<Ean>", length(max = 1000))]
    pub points: Vec<String>,
}

/// One point of a mandate-status answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum PointStatus {
    /// A point that could be read: your latest mandate on it, if any.
    Known {
        /// The point.
        point: Ean,
        /// Your mandate.
        mandate: Option<MandateView>,
    },
    /// A point that is not an EAN.
    Invalid {
        /// As given.
        point: String,
        /// Why not.
        error: Code,
    },
}
