//! The registers as the API shows them: parties, mandates, consents, occupancy, the
//! notifications a command caused, and the access register.

use calendar::Timestamp;
use domain::{AccessPoint, Ean, GridUserId, Kbo, Rfc3339, SupplierId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Who acts or asks: `{"role": "grid_user", "id": "G1"}` (no `id` for the admin and the
/// operator).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "role", content = "id", rename_all = "snake_case")]
pub enum Party {
    /// The platform administrator.
    Admin,
    /// A lab operator: runs rigs, reads no customer data.
    Operator,
    /// A grid user or customer, by id.
    GridUser(GridUserId),
    /// An energy service provider, by enterprise number.
    Esp(Kbo),
}

/// What a mandate covers (R-MAN-2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Day volumes and monthly figures only.
    DayOnly,
    /// Quarter hours (electricity) or hours (gas) too.
    WithInterval,
}

impl Scope {
    /// As written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::DayOnly => "day_only",
            Scope::WithInterval => "with_interval",
        }
    }
}

/// A market scenario as the market messages bring it (MIG).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ScenarioKind {
    /// Supplier switch.
    #[serde(rename = "SS")]
    SupplierSwitch,
    /// Customer switch.
    #[serde(rename = "CS")]
    CustomerSwitch,
    /// Combined customer and supplier switch.
    #[serde(rename = "CCSS")]
    CombinedSwitch,
    /// Move in.
    #[serde(rename = "MI")]
    MoveIn,
    /// Move out.
    #[serde(rename = "MO")]
    MoveOut,
    /// Move out with the point left empty (MOZA).
    #[serde(rename = "MOZA")]
    Moza,
    /// End of contract.
    #[serde(rename = "EOC")]
    EndOfContract,
    /// The supplier drops the point.
    #[serde(rename = "DROP")]
    Drop,
}

/// Why a mandate finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The customer ended it.
    Customer,
    /// The grid user ended it.
    GridUser,
    /// A renewal replaced it.
    Renewed,
}

/// Where a mandate stands: `{"status": "approved"}`, `{"status": "finished", "reason": …}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum MandateState {
    /// Waiting for approval.
    Requested,
    /// Approved: data may flow within its period.
    Approved,
    /// Refused by the customer or grid user.
    Rejected,
    /// Ended before its time.
    Finished {
        /// By whom or why.
        reason: EndReason,
    },
    /// Passed its three years (R-MAN-1).
    Expired,
}

/// A mandate an ESP holds on a data service point.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Mandate {
    /// Its id.
    pub id: String,
    /// The ESP.
    pub esp: Kbo,
    /// The data service point.
    pub data_service_point: Ean,
    /// Its access point.
    pub access_point: Ean,
    /// Who granted it.
    pub customer: GridUserId,
    /// The grid user of the point when it was requested.
    pub grid_user: GridUserId,
    /// Whether the grid user must approve too (customer ≠ grid user).
    pub needs_co_consent: bool,
    /// The customer approved.
    pub customer_approved: bool,
    /// The grid user approved (when needed).
    pub grid_user_approved: bool,
    /// What it covers.
    pub scope: Scope,
    /// Start of the data period.
    #[schemars(with = "Rfc3339")]
    pub period_from: Timestamp,
    /// End of the data period; open-ended if absent.
    #[schemars(with = "Option<Rfc3339>")]
    pub period_to: Option<Timestamp>,
    /// Whether it reaches back before the request.
    pub history: bool,
    /// When it was requested.
    #[schemars(with = "Rfc3339")]
    pub requested_at: Timestamp,
    /// When it was approved.
    #[schemars(with = "Option<Rfc3339>")]
    pub approved_at: Option<Timestamp>,
    /// Three years after approval (R-MAN-1).
    #[schemars(with = "Option<Rfc3339>")]
    pub valid_until: Option<Timestamp>,
    /// Where it stands.
    pub state: MandateState,
    /// The mandate it renews.
    pub renews: Option<String>,
    /// Whether renewal-due was signalled.
    pub renewal_signalled: bool,
    /// When it ended.
    #[schemars(with = "Option<Rfc3339>")]
    pub ended_at: Option<Timestamp>,
}

/// A mandate as an ESP's status request sees it (R-MAN-8): no customer identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MandateView {
    /// Its id.
    pub id: String,
    /// Where it stands.
    pub state: MandateState,
    /// What it covers.
    pub scope: Scope,
    /// Start of the data period.
    #[schemars(with = "Rfc3339")]
    pub period_from: Timestamp,
    /// End of the data period.
    #[schemars(with = "Option<Rfc3339>")]
    pub period_to: Option<Timestamp>,
    /// Whether it reaches back before the request.
    pub history: bool,
    /// Whether the grid user must approve too.
    pub needs_co_consent: bool,
    /// When it was approved.
    #[schemars(with = "Option<Rfc3339>")]
    pub approved_at: Option<Timestamp>,
    /// Three years after approval.
    #[schemars(with = "Option<Rfc3339>")]
    pub valid_until: Option<Timestamp>,
}

/// Why a consent was revoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RevokeReason {
    /// The grid user revoked it.
    GridUser,
    /// A market scenario ended the grid user's occupancy.
    MarketScenario,
}

/// A near-real-time consent a grid user gave an ESP for one service (R-NRT-5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Consent {
    /// Its id.
    pub id: String,
    /// Who gave it.
    pub grid_user: GridUserId,
    /// The data service point.
    pub data_service_point: Ean,
    /// The ESP.
    pub esp: Kbo,
    /// The ESP's service it is for.
    pub service: String,
    /// When it was given.
    #[schemars(with = "Rfc3339")]
    pub granted_at: Timestamp,
    /// When it was revoked.
    #[schemars(with = "Option<Rfc3339>")]
    pub revoked_at: Option<Timestamp>,
    /// Why.
    pub revoke_reason: Option<RevokeReason>,
}

/// Who occupied an access point, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Occupancy {
    /// The grid user (none while the point is empty).
    pub grid_user: Option<GridUserId>,
    /// The supplier.
    pub supplier: Option<SupplierId>,
    /// From.
    #[schemars(with = "Rfc3339")]
    pub from: Timestamp,
    /// Until (exclusive); open while absent.
    #[schemars(with = "Option<Rfc3339>")]
    pub to: Option<Timestamp>,
}

/// One access point's registers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PointRegisters {
    /// The access point.
    pub access_point: AccessPoint,
    /// Who occupied it (for a grid user: their own occupancy only).
    pub occupancy: Vec<Occupancy>,
    /// The mandates on its data service points.
    pub mandates: Vec<Mandate>,
    /// The consents on its data service points.
    pub consents: Vec<Consent>,
}

/// What a notification is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// A mandate was requested.
    MandateRequested,
    /// A mandate was approved.
    MandateApproved,
    /// A mandate was rejected.
    MandateRejected,
    /// A mandate is due for renewal.
    RenewalDue,
    /// A mandate expired.
    MandateExpired,
    /// A mandate was ended.
    MandateEnded,
    /// A market scenario truncated a period.
    PeriodTruncated,
    /// A consent was given.
    ConsentGranted,
    /// A consent was revoked.
    ConsentRevoked,
    /// An ESP's contract was suspended: its access ended on every point.
    EspSuspended,
    /// A suspended ESP was reinstated.
    EspReinstated,
}

/// A notification a command caused, to an ESP and/or a grid user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Notification {
    /// When.
    #[schemars(with = "Rfc3339")]
    pub at: Timestamp,
    /// The ESP told.
    pub esp: Option<Kbo>,
    /// The grid user told.
    pub grid_user: Option<GridUserId>,
    /// What about.
    pub kind: NotificationKind,
    /// The mandate concerned.
    pub mandate: Option<String>,
    /// The consent concerned.
    pub consent: Option<String>,
    /// The point concerned.
    pub point: Option<Ean>,
    /// In words.
    pub detail: String,
}

/// The answer to a registers command: the notifications addressed to the caller (staff see
/// all of them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Notifications {
    /// In the order they were made.
    pub notifications: Vec<Notification>,
}

/// One entry of the access register (R-ACC-5): who asked for which data, and the answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AccessEntry {
    /// When.
    #[schemars(with = "Rfc3339")]
    pub at: Timestamp,
    /// Who asked (`esp:0123456749`, `grid-user:G1`, `admin`).
    pub party: String,
    /// The point asked for.
    pub point: String,
    /// What: the kind of data (`quarter-hour`, `day`, `month-peak`, `nrt` …), then the
    /// endpoint that asked (`day GET energy`, `nrt GET stream (ended)`).
    pub what: String,
    /// Period start.
    #[schemars(with = "Rfc3339")]
    pub from: Timestamp,
    /// Period end (exclusive).
    #[schemars(with = "Rfc3339")]
    pub to: Timestamp,
    /// Whether anything was served.
    pub allowed: bool,
    /// The ground (`mandate:M1`, `consent:C1`, `grid-user:own`) or the refusal's code.
    pub basis: String,
    /// The endpoint and details.
    pub detail: String,
}

/// A party with access to a point now (R-ACC-5: the grid user sees who reads his data).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PartyWithAccess {
    /// The data service point.
    pub data_service_point: Ean,
    /// The ESP.
    pub esp: Kbo,
    /// Its name.
    pub name: String,
    /// On what ground (`mandate:M1`, `consent:C1`).
    pub basis: String,
}
