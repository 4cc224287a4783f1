//! Points, parties and what they exchange.

use std::fmt;
use std::str::FromStr;

use calendar::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::id::{Ean, Gln, Kbo};

/// What flows through a point.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Commodity {
    /// Electricity: quarter-hour data.
    Electricity,
    /// Natural gas: hourly data.
    Gas,
}

/// An opaque customer id. The platform never needs the person's name: mandates, consents and
/// the occupancy of access points refer to this id only.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
pub struct GridUserId(pub String);

impl GridUserId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GridUserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for GridUserId {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

/// An opaque supplier (access holder) id.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
pub struct SupplierId(pub String);

impl SupplierId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SupplierId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for SupplierId {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

/// A data service point: the point data is served for. An access point has one or more of
/// them (Art. 5.2.1), e.g. the offtake and the injection register set of its meter. Mandates
/// and consents name a data service point.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub struct DataServicePoint {
    /// Its EAN.
    pub id: Ean,
    /// The access point it belongs to.
    pub access_point: Ean,
    /// Electricity or gas.
    pub commodity: Commodity,
    /// The meter's number, as printed on it and sent in its telegrams.
    pub meter: String,
}

/// An access point (the *toegangspunt* of the DSO's access register): the place a grid user
/// takes energy, with its data service points.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub struct AccessPoint {
    /// Its EAN.
    pub ean: Ean,
    /// Electricity or gas.
    pub commodity: Commodity,
    /// The supply address, one line.
    pub address: String,
    /// Its data service points.
    pub data_service_points: Vec<Ean>,
}

/// How an ESP reaches the platform.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Through the web portal only.
    Portal,
    /// Through the API (and webhooks).
    Api,
}

/// Where an ESP's data-access contract stands. Only an active contract gives access, and
/// only an ESP with an active contract can collect new mandates and consents.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ContractStatus {
    /// Signed and in force.
    Active,
    /// Temporarily suspended (e.g. a failed certification check): no data flows.
    Suspended,
    /// Ended: no data flows.
    Ended,
}

/// The kinds of data the platform serves, as named in URLs and service catalogues.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum DataKind {
    /// Daily volumes (any mandate scope).
    Day,
    /// Quarter-hour volumes of electricity (needs the interval scope).
    QuarterHour,
    /// Hourly volumes of gas (needs the interval scope).
    Hour,
    /// Monthly peak demand (any mandate scope; it is a monthly figure).
    MonthPeak,
    /// Near-real-time dongle data (needs an NRT consent, not a mandate).
    Nrt,
    /// The status of the ESP's own mandates.
    MandateStatus,
}

impl DataKind {
    /// Every kind, in declaration order.
    pub const ALL: [DataKind; 6] = [
        DataKind::Day,
        DataKind::QuarterHour,
        DataKind::Hour,
        DataKind::MonthPeak,
        DataKind::Nrt,
        DataKind::MandateStatus,
    ];

    /// The name used in URLs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::QuarterHour => "quarter-hour",
            Self::Hour => "hour",
            Self::MonthPeak => "month-peak",
            Self::Nrt => "nrt",
            Self::MandateStatus => "mandate-status",
        }
    }
}

impl fmt::Display for DataKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not the name of a [`DataKind`].
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error(
    "unknown data kind '{given}': use one of day, quarter-hour, hour, month-peak, nrt, \
     mandate-status"
)]
pub struct UnknownDataKind {
    /// The text given.
    pub given: String,
}

impl UnknownDataKind {
    /// Stable machine-readable name of the error.
    pub fn code(&self) -> &'static str {
        "granularity_unknown"
    }
}

impl FromStr for DataKind {
    type Err = UnknownDataKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DataKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownDataKind { given: s.to_owned() })
    }
}

/// An entry of an ESP's service catalogue (R-NRT-8): a grid user consents per service, and
/// only the data the service needs is sent.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub struct Service {
    /// Id, unique within the ESP, e.g. `self-consumption`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The data it needs.
    pub needs: Vec<DataKind>,
}

/// An energy service provider: a third party that reads data under mandates and consents.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub struct Esp {
    /// Its enterprise number, which identifies it on the platform.
    pub kbo: Kbo,
    /// Its GLN, if it has one.
    pub gln: Option<Gln>,
    /// Company name.
    pub name: String,
    /// How it reaches the platform.
    pub channel: Channel,
    /// Its data-access contract.
    pub status: ContractStatus,
    /// Where webhooks go, if it wants them.
    pub webhook_url: Option<String>,
    /// Its service catalogue.
    pub services: Vec<Service>,
}

impl Esp {
    /// The ESP's one step-plan link path (R-MAN-7), used by every customer who grants it a
    /// mandate: `/dienstverlener/{KBO, 10 digits}/stappenplan`.
    pub fn step_plan_path(&self) -> String {
        format!("/dienstverlener/{}/stappenplan", self.kbo.as_str())
    }

    /// The service of the catalogue with this id.
    pub fn service(&self, id: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.id == id)
    }
}

/// Which dongle reads which meter for which data service point (R-NRT-10). Nothing in the
/// field links a dongle to the access register, so the platform keeps this link itself.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub struct DongleLink {
    /// The dongle's id, as it signs its uploads.
    pub dongle: String,
    /// The meter number read from the P1 port.
    pub meter: String,
    /// The data service point its data belongs to.
    pub data_service_point: Ean,
    /// Since when the link holds.
    #[schemars(with = "crate::Rfc3339")]
    pub since: Timestamp,
}
