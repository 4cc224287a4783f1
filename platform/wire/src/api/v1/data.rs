//! Derived meter data: quarter hours, days, months with peaks, each with its quality.

use super::IsoDate;
use calendar::Timestamp;
use calendar::civil::Date;
use domain::{Energy, Power, Rfc3339, Volume};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How a value was obtained. Missing stays missing, never zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Quality {
    /// From registers read at (or within seconds of) the boundaries.
    Measured,
    /// Interpolated across a short gap.
    Estimated,
    /// Not known.
    Missing,
}

/// Why a value is missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MissingCause {
    /// No readings around the boundaries.
    NoData,
    /// A register went down (a meter swap or a fault).
    RegisterDecrease,
}

/// A quarter hour (electricity).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Interval {
    /// Start.
    #[schemars(with = "Rfc3339")]
    pub start: Timestamp,
    /// End (exclusive).
    #[schemars(with = "Rfc3339")]
    pub end: Timestamp,
    /// Offtake, Wh.
    pub offtake_wh: Option<Energy>,
    /// Injection, Wh.
    pub injection_wh: Option<Energy>,
    /// Quality.
    pub quality: Quality,
    /// Why missing.
    pub missing: Option<MissingCause>,
}

/// A Brussels day (92, 96 or 100 quarter hours).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DayVolume {
    /// The day.
    #[schemars(with = "IsoDate")]
    pub date: Date,
    /// Its start.
    #[schemars(with = "Rfc3339")]
    pub start: Timestamp,
    /// Its end (exclusive).
    #[schemars(with = "Rfc3339")]
    pub end: Timestamp,
    /// Its quarter hours.
    pub quarters: u32,
    /// Offtake, Wh.
    pub offtake_wh: Option<Energy>,
    /// Injection, Wh.
    pub injection_wh: Option<Energy>,
    /// Quality.
    pub quality: Quality,
    /// Why missing.
    pub missing: Option<MissingCause>,
}

/// A month's peak quarter hour (electricity, R-DAT-3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Peak {
    /// Its start.
    #[schemars(with = "Rfc3339")]
    pub start: Timestamp,
    /// Mean power over it, W (its Wh × 4).
    pub power_w: Power,
    /// Quality.
    pub quality: Quality,
}

/// A month's peak hour (gas).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GasPeak {
    /// Its start.
    #[schemars(with = "Rfc3339")]
    pub start: Timestamp,
    /// Volume, dm³.
    pub volume_dm3: Volume,
    /// Mean power, W.
    pub power_w: Power,
    /// Quality.
    pub quality: Quality,
}

/// A month of electricity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ElectricityMonth {
    /// Offtake, Wh (the sum of its days).
    pub offtake_wh: Option<Energy>,
    /// Injection, Wh.
    pub injection_wh: Option<Energy>,
    /// Quality.
    pub quality: Quality,
    /// Days with a value.
    pub complete_days: u32,
    /// Days without.
    pub missing_days: u32,
    /// The offtake peak.
    pub offtake_peak: Option<Peak>,
    /// The injection peak.
    pub injection_peak: Option<Peak>,
    /// Quarter hours missing.
    pub missing_quarters: u32,
}

/// A month of gas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GasMonth {
    /// Volume, dm³.
    pub volume_dm3: Option<Volume>,
    /// Energy, Wh.
    pub energy_wh: Option<Energy>,
    /// Quality.
    pub quality: Quality,
    /// Days with a value.
    pub complete_days: u32,
    /// Days without.
    pub missing_days: u32,
    /// The peak hour.
    pub peak: Option<GasPeak>,
    /// Hours missing.
    pub missing_hours: u32,
}

/// A Brussels month's figures (R-DAT-3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MonthFigures {
    /// Its first day.
    #[schemars(with = "IsoDate")]
    pub month: Date,
    /// Its start.
    #[schemars(with = "Rfc3339")]
    pub start: Timestamp,
    /// Its end (exclusive).
    #[schemars(with = "Rfc3339")]
    pub end: Timestamp,
    /// Its days.
    pub days: u32,
    /// Electricity.
    pub electricity: ElectricityMonth,
    /// Gas.
    pub gas: GasMonth,
}
