//! The records the registers keep: rules, occupancy, mandates, consents, parties.

use calendar::{SignedDuration, Timestamp};
use domain::{Ean, GridUserId, Kbo, SupplierId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The configurable rules of the registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    /// How long before a mandate's `valid_until` its holder is told renewal is due (R-MAN-1).
    pub renewal_notice: SignedDuration,
    /// Whether a drop procedure ends the consumption period of the mandates on the access
    /// point. The seed brief lists drop among the scenarios that end the mandate period, but
    /// strictly the grid user does not change (only the access holder, to the DSO as social
    /// supplier), so it is a switch until the DSO's platform document settles it.
    pub drop_truncates: bool,
    /// How far in the past a market scenario may take effect (TRDE: 60 calendar days for a
    /// customer switch without a change of supplier).
    pub max_backdate: SignedDuration,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            renewal_notice: SignedDuration::from_hours(60 * 24),
            drop_truncates: true,
            max_backdate: SignedDuration::from_hours(60 * 24),
        }
    }
}

/// Who acts or asks. Serialized as `{"role": "grid_user", "id": "…"}` (`id` absent for the
/// admin and the operator).
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(tag = "role", content = "id", rename_all = "snake_case")]
pub enum Party {
    /// The platform administrator (R-NRT-4): sees every connection.
    Admin,
    /// A lab operator: runs rigs, reads no customer data.
    Operator,
    /// A grid user or customer, by id.
    GridUser(GridUserId),
    /// An energy service provider, by enterprise number.
    Esp(Kbo),
}

/// What a mandate covers (R-MAN-2).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Daily volumes (and the monthly peak) only.
    DayOnly,
    /// Also quarter-hour electricity or hourly gas volumes.
    WithInterval,
}

/// A Belgian market scenario on an access point (see `platform-anchors.md` §4.3).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum ScenarioKind {
    /// The supplier changes, the grid user stays.
    #[serde(rename = "SS")]
    SupplierSwitch,
    /// The grid user changes, the supplier stays.
    #[serde(rename = "CS")]
    CustomerSwitch,
    /// Grid user and supplier change together.
    #[serde(rename = "CCSS")]
    CombinedSwitch,
    /// A grid user starts on a point nobody occupies.
    #[serde(rename = "MI")]
    MoveIn,
    /// The grid user leaves.
    #[serde(rename = "MO")]
    MoveOut,
    /// The DSO's regularisation after a move-out without a new contract.
    #[serde(rename = "MOZA")]
    Moza,
    /// The supply contract ends without a move.
    #[serde(rename = "EOC")]
    EndOfContract,
    /// The supplier drops a household for non-payment; the DSO supplies as social supplier.
    #[serde(rename = "DROP")]
    Drop,
}

impl ScenarioKind {
    /// The market code (`SS`, `CS`, …), also the serde form.
    pub fn code(self) -> &'static str {
        match self {
            Self::SupplierSwitch => "SS",
            Self::CustomerSwitch => "CS",
            Self::CombinedSwitch => "CCSS",
            Self::MoveIn => "MI",
            Self::MoveOut => "MO",
            Self::Moza => "MOZA",
            Self::EndOfContract => "EOC",
            Self::Drop => "DROP",
        }
    }
}

/// The supplier the DSO becomes after a drop (the *sociale leverancier*).
pub const DSO_SOCIAL_SUPPLIER: &str = "dso-social";

/// Who occupied an access point, and who supplied it, over a half-open stretch `[from, to)`.
/// An access point's occupancies are sorted, contiguous and cover everything since it was
/// registered; the last one is open (`to: None`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Occupancy {
    /// The grid user, or `None` while nobody is registered (after a move-out).
    pub grid_user: Option<GridUserId>,
    /// The supplier (access holder), or `None` while there is none.
    pub supplier: Option<SupplierId>,
    /// First instant.
    pub from: Timestamp,
    /// First instant after, or `None` for the current stretch.
    pub to: Option<Timestamp>,
}

impl Occupancy {
    /// Whether `t` falls in `[from, to)`.
    pub fn contains(&self, t: Timestamp) -> bool {
        self.from <= t && self.to.is_none_or(|to| t < to)
    }
}

/// Why a mandate was finished before it expired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The customer ended it.
    Customer,
    /// The grid user ended it.
    GridUser,
    /// A renewal was approved and took its place.
    Renewed,
}

/// Where a mandate is in its life. Serialized as `{"status": "finished", "reason": "renewed"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum MandateState {
    /// Requested through the step plan; waits for the customer (and the grid user's co-consent
    /// where needed).
    Requested,
    /// In force until `valid_until`.
    Approved,
    /// The customer or the grid user said no.
    Rejected,
    /// Ended before its term.
    Finished {
        /// Why.
        reason: EndReason,
    },
    /// Reached `valid_until` without being renewed.
    Expired,
}

impl MandateState {
    /// Short name: `requested`, `approved`, `rejected`, `finished`, `expired`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Finished { .. } => "finished",
            Self::Expired => "expired",
        }
    }

    /// Whether the mandate is still requested or approved (not decided against, ended or
    /// expired).
    pub fn is_open(self) -> bool {
        matches!(self, Self::Requested | Self::Approved)
    }
}

/// A mandate: a customer lets an ESP read the data of one data service point (R-MAN-*).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mandate {
    /// `M1`, `M2`, … in order of request.
    pub id: String,
    /// The ESP it is granted to.
    pub esp: Kbo,
    /// The point whose data is shared.
    pub data_service_point: Ean,
    /// The access point of that data service point.
    pub access_point: Ean,
    /// The person granting it.
    pub customer: GridUserId,
    /// The grid user of the access point when it was requested.
    pub grid_user: GridUserId,
    /// Whether the grid user must co-consent because it is not the customer (R-MAN-3).
    pub needs_co_consent: bool,
    /// Whether the customer approved.
    pub customer_approved: bool,
    /// Whether the grid user approved (true with the customer's approval when they are the
    /// same person).
    pub grid_user_approved: bool,
    /// Day data only, or also interval data.
    pub scope: Scope,
    /// First instant of the consumption period to share.
    pub period_from: Timestamp,
    /// End of the consumption period (exclusive), or open. Market scenarios that change the
    /// grid user set it to their effective instant (R-MAN-5).
    pub period_to: Option<Timestamp>,
    /// Whether data from before the approval may be read (R-MAN-6).
    pub history: bool,
    /// When it was requested.
    pub requested_at: Timestamp,
    /// When it became approved.
    pub approved_at: Option<Timestamp>,
    /// Three calendar years (Brussels) after approval, whatever the period (R-MAN-1).
    pub valid_until: Option<Timestamp>,
    /// Where it stands.
    pub state: MandateState,
    /// The mandate this one renews, finished when this one is approved.
    pub renews: Option<String>,
    /// Whether the renewal-due signal was sent.
    pub renewal_signalled: bool,
    /// When it was rejected, finished or expired.
    pub ended_at: Option<Timestamp>,
}

/// What the API says about a mandate for R-MAN-8 (no customer identity).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MandateView {
    /// Its id.
    pub id: String,
    /// Where it stands.
    pub state: MandateState,
    /// Its scope.
    pub scope: Scope,
    /// Its consumption period.
    pub period_from: Timestamp,
    /// Its consumption period's end, if any.
    pub period_to: Option<Timestamp>,
    /// Whether history before approval is included.
    pub history: bool,
    /// Whether the grid user's co-consent is needed.
    pub needs_co_consent: bool,
    /// When it was approved.
    pub approved_at: Option<Timestamp>,
    /// Until when it is valid.
    pub valid_until: Option<Timestamp>,
}

impl From<&Mandate> for MandateView {
    fn from(m: &Mandate) -> Self {
        Self {
            id: m.id.clone(),
            state: m.state,
            scope: m.scope,
            period_from: m.period_from,
            period_to: m.period_to,
            history: m.history,
            needs_co_consent: m.needs_co_consent,
            approved_at: m.approved_at,
            valid_until: m.valid_until,
        }
    }
}

/// Why a consent stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevokeReason {
    /// The grid user revoked it (R-NRT-6).
    GridUser,
    /// A market scenario changed the grid user (R-NRT-7).
    MarketScenario,
}

/// A grid user's consent to share NRT data with one ESP service (R-NRT-5 step 2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// `C1`, `C2`, … in order of grant.
    pub id: String,
    /// Who consented.
    pub grid_user: GridUserId,
    /// The point whose NRT data is shared.
    pub data_service_point: Ean,
    /// The ESP.
    pub esp: Kbo,
    /// The service of its catalogue.
    pub service: String,
    /// When it was granted.
    pub granted_at: Timestamp,
    /// When it stops (exclusive): the revocation instant, or a market scenario's future
    /// effective instant.
    pub revoked_at: Option<Timestamp>,
    /// Why it stopped.
    pub revoke_reason: Option<RevokeReason>,
}

impl Consent {
    /// Whether the consent is in force at `now`.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.granted_at <= now && self.revoked_at.is_none_or(|r| now < r)
    }
}

/// A grid user accepted the terms to collect NRT data on an access point (R-NRT-5 step 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TermsAcceptance {
    /// Who accepted.
    pub grid_user: GridUserId,
    /// On which access point.
    pub access_point: Ean,
    /// When.
    pub at: Timestamp,
}
