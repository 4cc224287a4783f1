//! What can be asked of the registers. Every accepted command is persisted with its `now` and
//! replayed at start, so the field names are a contract: rename nothing.

use calendar::Timestamp;
use domain::{AccessPoint, DataServicePoint, DongleLink, Ean, Esp, GridUserId, Kbo, SupplierId};
use serde::{Deserialize, Serialize};

use crate::model::{Party, ScenarioKind, Scope};

/// A change to the registers. Serialized with a `type` tag, e.g.
/// `{"type": "approve_mandate", "mandate": "M1", "by": "g1"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    /// Registers an access point with its data service points and its first occupancy.
    RegisterAccessPoint {
        /// The access point.
        access_point: AccessPoint,
        /// Its data service points; each must name the access point.
        data_service_points: Vec<DataServicePoint>,
        /// Its grid user, if occupied.
        grid_user: Option<GridUserId>,
        /// Its supplier, if supplied.
        supplier: Option<SupplierId>,
        /// Since when the occupancy holds.
        since: Timestamp,
    },
    /// Registers an ESP, or replaces the one with the same enterprise number.
    RegisterEsp {
        /// The ESP.
        esp: Esp,
    },
    /// Suspends an ESP's data-access contract (a failed certification check, a breach): its
    /// access ends at once on every point (R-ACC-2); its mandates and consents stay, and serve
    /// again when it is reinstated.
    SuspendEsp {
        /// The ESP.
        esp: Kbo,
        /// Why, for the ESP and the audit trail.
        reason: String,
    },
    /// Reinstates a suspended ESP.
    ReinstateEsp {
        /// The ESP.
        esp: Kbo,
    },
    /// Sets (or removes) the URL an ESP receives its webhooks at.
    SetWebhook {
        /// The ESP.
        esp: Kbo,
        /// The URL; `None` stops webhooks.
        url: Option<String>,
    },
    /// Links a dongle to a meter and data service point (replaces the dongle's earlier link).
    LinkDongle {
        /// The link.
        link: DongleLink,
    },
    /// A customer asks, through the ESP's step-plan link (R-MAN-7), to grant it a mandate.
    RequestMandate {
        /// The ESP.
        esp: Kbo,
        /// The data service point.
        data_service_point: Ean,
        /// The person granting it.
        customer: GridUserId,
        /// Day only or with interval data.
        scope: Scope,
        /// Start of the consumption period.
        period_from: Timestamp,
        /// End of the consumption period (exclusive), or open.
        period_to: Option<Timestamp>,
        /// Whether data before the approval may be read.
        history: bool,
        /// The mandate it renews, if any.
        renews: Option<String>,
    },
    /// The customer approves, or the grid user co-consents.
    ApproveMandate {
        /// The mandate id.
        mandate: String,
        /// Who approves.
        by: GridUserId,
    },
    /// The customer or the grid user refuses a requested mandate.
    RejectMandate {
        /// The mandate id.
        mandate: String,
        /// Who refuses.
        by: GridUserId,
    },
    /// The customer or the current grid user ends a mandate (never the ESP, R-MAN-4).
    EndMandate {
        /// The mandate id.
        mandate: String,
        /// Who ends it.
        by: Party,
    },
    /// The grid user accepts the terms to collect NRT data (R-NRT-5 step 1).
    AcceptTerms {
        /// The grid user.
        grid_user: GridUserId,
        /// The access point.
        access_point: Ean,
    },
    /// The grid user consents to share NRT data with an ESP service (R-NRT-5 step 2).
    GrantConsent {
        /// The grid user.
        grid_user: GridUserId,
        /// The data service point.
        data_service_point: Ean,
        /// The ESP.
        esp: Kbo,
        /// The service id in the ESP's catalogue.
        service: String,
    },
    /// The grid user revokes a consent, effective at once (R-NRT-6).
    RevokeConsent {
        /// The consent id.
        consent: String,
        /// Who revokes.
        by: GridUserId,
    },
    /// A market scenario on an access point.
    MarketScenario {
        /// The access point.
        access_point: Ean,
        /// Which scenario.
        kind: ScenarioKind,
        /// When it takes effect; may lie in the past up to `Rules::max_backdate`.
        effective: Timestamp,
        /// The incoming grid user (CS, CCSS, MI).
        new_grid_user: Option<GridUserId>,
        /// The incoming supplier (SS, CCSS; optional for CS and MI).
        new_supplier: Option<SupplierId>,
    },
    /// Time passed: signal renewals due and expire mandates.
    Tick,
}

impl Command {
    /// The `type` tag, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::RegisterAccessPoint { .. } => "register_access_point",
            Self::RegisterEsp { .. } => "register_esp",
            Self::SuspendEsp { .. } => "suspend_esp",
            Self::ReinstateEsp { .. } => "reinstate_esp",
            Self::SetWebhook { .. } => "set_webhook",
            Self::LinkDongle { .. } => "link_dongle",
            Self::RequestMandate { .. } => "request_mandate",
            Self::ApproveMandate { .. } => "approve_mandate",
            Self::RejectMandate { .. } => "reject_mandate",
            Self::EndMandate { .. } => "end_mandate",
            Self::AcceptTerms { .. } => "accept_terms",
            Self::GrantConsent { .. } => "grant_consent",
            Self::RevokeConsent { .. } => "revoke_consent",
            Self::MarketScenario { .. } => "market_scenario",
            Self::Tick => "tick",
        }
    }
}
