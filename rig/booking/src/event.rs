//! What the ledger tells its driver: slot events, update notices and the audit trail.

use std::fmt;

use calendar::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::local;
use crate::model::{AgreementId, SlotId};

/// Why a slot ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// It reached its end (hard stop, R-LAB-2).
    SlotEnd,
    /// Its holder stopped it early.
    Stopped,
}

/// Something the driver must act on, from [`Ledger::tick`](crate::Ledger::tick) or
/// [`Ledger::stop`](crate::Ledger::stop).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum LedgerEvent {
    /// The slot started: its holder may log in to the rig with the access code.
    Activated {
        /// The slot.
        slot: SlotId,
        /// Its rig.
        rig: String,
        /// Its agreement.
        agreement: AgreementId,
        /// The slot's start.
        at: Timestamp,
    },
    /// The slot is over. Hard stop: the driver must now close every session and release every
    /// serial line, console and lease of `rig` held for this slot, whether or not the holder
    /// is still connected.
    Ended {
        /// The slot.
        slot: SlotId,
        /// The rig to release.
        rig: String,
        /// Its agreement.
        agreement: AgreementId,
        /// The slot's end, or the stop instant.
        at: Timestamp,
        /// Why.
        reason: EndReason,
    },
}

impl LedgerEvent {
    /// The rig whose lines and sessions must be released now, for an [`LedgerEvent::Ended`].
    pub fn rig_to_release(&self) -> Option<&str> {
        match self {
            Self::Ended { rig, .. } => Some(rig),
            Self::Activated { .. } => None,
        }
    }

    /// The instant the event belongs to (slot start, end or stop).
    pub fn at(&self) -> Timestamp {
        match self {
            Self::Activated { at, .. } | Self::Ended { at, .. } => *at,
        }
    }
}

/// One difference between a rig before and after an update.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum RigChange {
    /// A meter variant was added.
    VariantAdded {
        /// Variant id.
        variant_id: String,
        /// Its firmware.
        firmware: String,
    },
    /// A meter variant was removed.
    VariantRemoved {
        /// Variant id.
        variant_id: String,
        /// The firmware it ran.
        firmware: String,
    },
    /// A meter got other firmware.
    FirmwareChanged {
        /// Variant id.
        variant_id: String,
        /// Firmware before.
        from: String,
        /// Firmware after.
        to: String,
    },
}

impl fmt::Display for RigChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::VariantAdded { variant_id, firmware } => {
                write!(f, "variant {variant_id} added (firmware {firmware})")
            }
            Self::VariantRemoved { variant_id, firmware } => {
                write!(f, "variant {variant_id} removed (it ran firmware {firmware})")
            }
            Self::FirmwareChanged { variant_id, from, to } => {
                write!(f, "variant {variant_id}: firmware {from} → {to}")
            }
        }
    }
}

/// An update notice (R-LAB-4) for one holder of a valid agreement. The driver mails it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// The agreement the notice is sent under.
    pub agreement: AgreementId,
    /// Its holder.
    pub holder: String,
    /// Where to send it.
    pub email: String,
    /// When the rig changed.
    pub at: Timestamp,
    /// The rig id.
    pub rig: String,
    /// The rig's display name.
    pub rig_name: String,
    /// What changed, removals first, then additions, then firmware, each by variant id.
    pub changes: Vec<RigChange>,
    /// Until when the agreement (and so the notices) runs.
    pub agreement_valid_until: Timestamp,
}

impl Notice {
    /// A one-line subject.
    pub fn subject(&self) -> String {
        let n = self.changes.len();
        format!(
            "{} ({}) updated: {n} change{}",
            self.rig_name,
            self.rig,
            if n == 1 { "" } else { "s" }
        )
    }

    /// A plain-text body listing every change.
    pub fn body(&self) -> String {
        let mut out = format!(
            "Dear {},\n\n{} ({}) changed at {}:\n",
            self.holder,
            self.rig_name,
            self.rig,
            local(&self.at)
        );
        for change in &self.changes {
            out.push_str(&format!("- {change}\n"));
        }
        out.push_str(&format!(
            "\nYou receive this notice because usage agreement {} is valid until {}.\n",
            self.agreement,
            local(&self.agreement_valid_until)
        ));
        out
    }
}

/// Who did something recorded in the audit log.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// A request made under an agreement number. For refusals this is only the number the
    /// request claimed; it is authenticated only on successful entries.
    Holder {
        /// The agreement.
        agreement: AgreementId,
    },
    /// A party signing an agreement.
    Party {
        /// The holder name given.
        name: String,
    },
    /// A lab operator (authenticated by the caller).
    Operator {
        /// The operator's name.
        name: String,
    },
    /// The ledger itself, on a tick.
    Ledger,
}

/// The operation a refusal refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// [`Ledger::sign_agreement`](crate::Ledger::sign_agreement).
    SignAgreement,
    /// [`Ledger::book`](crate::Ledger::book) or
    /// [`Ledger::book_as_operator`](crate::Ledger::book_as_operator).
    Book,
    /// [`Ledger::cancel`](crate::Ledger::cancel).
    Cancel,
    /// [`Ledger::stop`](crate::Ledger::stop).
    Stop,
    /// [`Ledger::log_in`](crate::Ledger::log_in).
    LogIn,
    /// [`Ledger::update_rig`](crate::Ledger::update_rig).
    UpdateRig,
}

/// What an audit entry records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum AuditAction {
    /// An agreement was signed and its access code handed out.
    AgreementSigned {
        /// The new agreement.
        agreement: AgreementId,
    },
    /// A slot was booked.
    Booked {
        /// The new slot.
        slot: SlotId,
        /// Its rig.
        rig: String,
        /// Whether an operator waived the lead time.
        lead_time_waived: bool,
    },
    /// A request was refused.
    Refused {
        /// What was asked.
        operation: Operation,
        /// [`BookingError::code`](crate::BookingError::code) of the refusal.
        code: String,
    },
    /// A slot was cancelled.
    Cancelled {
        /// The slot.
        slot: SlotId,
    },
    /// A slot started.
    Activated {
        /// The slot.
        slot: SlotId,
    },
    /// A slot ended (hard stop or early stop); its rig is to be released.
    Ended {
        /// The slot.
        slot: SlotId,
        /// Why.
        reason: EndReason,
    },
    /// A holder logged in to the rig of a running slot.
    LoggedIn {
        /// The slot.
        slot: SlotId,
    },
    /// A rig's variants or firmware changed.
    RigUpdated {
        /// The rig.
        rig: String,
        /// The changes.
        changes: Vec<RigChange>,
        /// How many notices went out.
        notices: u32,
    },
}

/// One line of the append-only audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When the ledger recorded it (the `now` of the call; never decreasing if the caller's
    /// clock never goes back).
    pub at: Timestamp,
    /// Who.
    pub actor: Actor,
    /// What.
    pub action: AuditAction,
    /// A sentence for people; for refusals the full error message.
    pub detail: String,
}
