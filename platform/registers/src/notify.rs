//! What the registers tell the parties: the server sends these as webhooks to ESPs and shows
//! them in the grid user's portal.

use calendar::Timestamp;
use domain::{Ean, GridUserId, Kbo};
use serde::{Deserialize, Serialize};

/// What happened. The snake_case names are the webhook event names (`mandate_approved`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// A mandate was requested (to the ESP; to the grid user when co-consent is needed).
    MandateRequested,
    /// A mandate was approved.
    MandateApproved,
    /// A mandate was rejected.
    MandateRejected,
    /// A mandate reaches its term within the renewal notice (R-MAN-1).
    RenewalDue,
    /// A mandate reached its term.
    MandateExpired,
    /// A mandate was ended by the customer or grid user, or replaced by its renewal.
    MandateEnded,
    /// A market scenario set the end of a mandate's consumption period (R-MAN-5).
    PeriodTruncated,
    /// An NRT consent was granted.
    ConsentGranted,
    /// An NRT consent was revoked, by the grid user or a market scenario.
    ConsentRevoked,
    /// An ESP's contract was suspended: its access ended on every point (R-ACC-2).
    EspSuspended,
    /// A suspended ESP was reinstated.
    EspReinstated,
}

impl NotificationKind {
    /// The webhook event name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MandateRequested => "mandate_requested",
            Self::MandateApproved => "mandate_approved",
            Self::MandateRejected => "mandate_rejected",
            Self::RenewalDue => "renewal_due",
            Self::MandateExpired => "mandate_expired",
            Self::MandateEnded => "mandate_ended",
            Self::PeriodTruncated => "period_truncated",
            Self::ConsentGranted => "consent_granted",
            Self::ConsentRevoked => "consent_revoked",
            Self::EspSuspended => "esp_suspended",
            Self::EspReinstated => "esp_reinstated",
        }
    }
}

/// A message to an ESP (`esp`) and/or a grid user (`grid_user`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// When it was raised (the command's `now`).
    pub at: Timestamp,
    /// The ESP to tell, if any.
    pub esp: Option<Kbo>,
    /// The grid user or customer to tell, if any.
    pub grid_user: Option<GridUserId>,
    /// What happened.
    pub kind: NotificationKind,
    /// The mandate concerned.
    pub mandate: Option<String>,
    /// The consent concerned.
    pub consent: Option<String>,
    /// The data service point concerned.
    pub point: Option<Ean>,
    /// A sentence for people.
    pub detail: String,
}
