//! Why the ledger refused something, and what to do next.

use calendar::{SignedDuration, Timestamp, brussels};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::model::{AgreementId, SlotId};

/// A refusal. Every message says what to do next; [`BookingError::code`] is a stable
/// machine-readable name (also the serde tag), for API error bodies and the audit log.
#[derive(Clone, Debug, PartialEq, Eq, Error, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum BookingError {
    /// No agreement with that number.
    #[error(
        "there is no usage agreement {agreement}: sign a one-year usage agreement with the lab \
         first, then book with the access code you receive"
    )]
    UnknownAgreement {
        /// The number given.
        agreement: AgreementId,
    },
    /// The access code does not belong to the agreement.
    #[error(
        "the access code does not match agreement {agreement}: type the code handed out when \
         the agreement was signed (case and dashes do not matter), or ask the operator"
    )]
    WrongAccessCode {
        /// The agreement the request named.
        agreement: AgreementId,
    },
    /// The agreement is no longer valid.
    #[error(
        "usage agreement {agreement} expired at {}: sign a new one-year agreement before \
         booking",
        local(.valid_until)
    )]
    AgreementExpired {
        /// The agreement.
        agreement: AgreementId,
        /// When it stopped being valid.
        valid_until: Timestamp,
    },
    /// The agreement ends before the slot would.
    #[error(
        "usage agreement {agreement} ends at {}, before this slot would end at {}: book a slot \
         that ends by then, or renew the agreement first",
        local(.valid_until),
        local(.slot_end)
    )]
    AgreementEndsBeforeSlot {
        /// The agreement.
        agreement: AgreementId,
        /// When it stops being valid.
        valid_until: Timestamp,
        /// When the slot would end.
        slot_end: Timestamp,
    },
    /// The agreement is not valid yet at the slot's start.
    #[error(
        "usage agreement {agreement} is valid only from {}: book a slot that starts then or later",
        local(.valid_from)
    )]
    AgreementNotYetValid {
        /// The agreement.
        agreement: AgreementId,
        /// When it becomes valid.
        valid_from: Timestamp,
    },
    /// No rig with that id.
    #[error("there is no rig '{rig}': choose one of {}", .known.join(", "))]
    UnknownRig {
        /// The id given.
        rig: String,
        /// The rigs there are.
        known: Vec<String>,
    },
    /// Slots start on a whole hour.
    #[error(
        "slots start on the whole hour: try {} or {}",
        local(.earlier),
        local(.later)
    )]
    NotOnTheHour {
        /// The start given.
        start: Timestamp,
        /// The whole hour before it.
        earlier: Timestamp,
        /// The whole hour after it.
        later: Timestamp,
    },
    /// The start is in the past.
    #[error("the start {} has passed: the earliest start is {}", local(.start), local(.earliest))]
    StartInPast {
        /// The start given.
        start: Timestamp,
        /// The earliest start the rules allow now.
        earliest: Timestamp,
    },
    /// The start is closer than the policy's lead time.
    #[error(
        "book at least {} ahead: the earliest start is {}; for a shorter notice ask the lab \
         operator",
        human(.lead),
        local(.earliest)
    )]
    TooShortNotice {
        /// The policy's lead time.
        lead: SignedDuration,
        /// The earliest start the rule allows now.
        earliest: Timestamp,
    },
    /// The agreement already holds the maximum of open slots.
    #[error(
        "agreement {agreement} already holds {open} open slots and the limit is {max}: cancel \
         one, or book again after one has ended"
    )]
    TooManyOpenSlots {
        /// The agreement.
        agreement: AgreementId,
        /// Its open slots now.
        open: u32,
        /// The policy's limit.
        max: u32,
    },
    /// Another slot takes part of the requested stretch.
    #[error(
        "{rig} is taken from {} to {} (slot {other}): start at {} or later{}",
        local(.other_start),
        local(.other_end),
        local(.next_free),
        other_rigs(.free_rigs)
    )]
    Overlap {
        /// The rig.
        rig: String,
        /// The slot in the way.
        other: SlotId,
        /// Its start.
        other_start: Timestamp,
        /// Its (occupied) end.
        other_end: Timestamp,
        /// The earliest start on this rig from which a whole slot is free.
        next_free: Timestamp,
        /// Rigs free for the whole requested stretch.
        free_rigs: Vec<String>,
    },
    /// No slot with that number.
    #[error("there is no slot {slot}: list the rig calendar to find the slot number")]
    UnknownSlot {
        /// The number given.
        slot: SlotId,
    },
    /// The slot belongs to another agreement.
    #[error("slot {slot} was booked under another agreement: only its holder can change it")]
    NotYourSlot {
        /// The slot.
        slot: SlotId,
    },
    /// A started slot cannot be cancelled.
    #[error(
        "slot {slot} started at {}: a started slot cannot be cancelled; stop it instead \
         (the rig is released at once)",
        local(.start)
    )]
    AlreadyStarted {
        /// The slot.
        slot: SlotId,
        /// When it started.
        start: Timestamp,
    },
    /// A slot that has not started cannot be stopped.
    #[error(
        "slot {slot} starts at {}: it has not started, so cancel it instead of stopping it",
        local(.start)
    )]
    NotStarted {
        /// The slot.
        slot: SlotId,
        /// When it starts.
        start: Timestamp,
    },
    /// The slot was cancelled.
    #[error("slot {slot} was cancelled: nothing to do; book a new slot if you need the rig")]
    AlreadyCancelled {
        /// The slot.
        slot: SlotId,
    },
    /// The slot is over.
    #[error("slot {slot} ended at {}: nothing to do; book a new slot if you need the rig", local(.at))]
    AlreadyEnded {
        /// The slot.
        slot: SlotId,
        /// When it ended.
        at: Timestamp,
    },
    /// Log-in outside the agreement's slots.
    #[error("agreement {agreement} holds no running slot on {rig}: {}", next_slot(.next))]
    NoActiveSlot {
        /// The rig.
        rig: String,
        /// The agreement.
        agreement: AgreementId,
        /// Its next slot on this rig, if any.
        next: Option<Timestamp>,
    },
    /// Signing needs a holder name.
    #[error(
        "the holder name is empty: give the company or developer name as it appears on the \
         agreement"
    )]
    EmptyHolder,
    /// An operator cancelling a holder's slot must say why (it goes to the audit log).
    #[error(
        "cancelling slot {slot} for its holder needs a reason: say why (it is recorded in the \
         audit log), or let the holder cancel with the agreement's access code"
    )]
    ReasonRequired {
        /// The slot.
        slot: SlotId,
    },
    /// Signing needs an e-mail address.
    #[error(
        "'{email}' is not an e-mail address: give the address that should receive the access \
         code and update notices"
    )]
    InvalidEmail {
        /// The text given.
        email: String,
    },
    /// Two rigs share an id.
    #[error("rig id '{rig}' appears twice: give every rig its own id")]
    DuplicateRig {
        /// The id.
        rig: String,
    },
    /// A rig update lists a variant twice.
    #[error("variant '{variant}' appears twice in the update of {rig}: list each variant once")]
    DuplicateVariant {
        /// The rig.
        rig: String,
        /// The variant id.
        variant: String,
    },
    /// The policy cannot work.
    #[error("invalid booking policy: {reason}")]
    InvalidPolicy {
        /// What is wrong.
        reason: String,
    },
}

impl BookingError {
    /// Stable snake_case name of the refusal (the serde tag).
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownAgreement { .. } => "unknown_agreement",
            Self::WrongAccessCode { .. } => "wrong_access_code",
            Self::AgreementExpired { .. } => "agreement_expired",
            Self::AgreementEndsBeforeSlot { .. } => "agreement_ends_before_slot",
            Self::AgreementNotYetValid { .. } => "agreement_not_yet_valid",
            Self::UnknownRig { .. } => "unknown_rig",
            Self::NotOnTheHour { .. } => "not_on_the_hour",
            Self::StartInPast { .. } => "start_in_past",
            Self::TooShortNotice { .. } => "too_short_notice",
            Self::TooManyOpenSlots { .. } => "agreement_limit",
            Self::Overlap { .. } => "overlap",
            Self::UnknownSlot { .. } => "unknown_slot",
            Self::NotYourSlot { .. } => "not_your_slot",
            Self::AlreadyStarted { .. } => "already_started",
            Self::NotStarted { .. } => "not_started",
            Self::AlreadyCancelled { .. } => "already_cancelled",
            Self::AlreadyEnded { .. } => "already_ended",
            Self::NoActiveSlot { .. } => "no_active_slot",
            Self::EmptyHolder => "empty_holder",
            Self::ReasonRequired { .. } => "reason_required",
            Self::InvalidEmail { .. } => "invalid_email",
            Self::DuplicateRig { .. } => "duplicate_rig",
            Self::DuplicateVariant { .. } => "duplicate_variant",
            Self::InvalidPolicy { .. } => "invalid_policy",
        }
    }
}

/// An instant on the Brussels wall clock with its zone abbreviation, e.g.
/// `2026-12-01T00:00 CET`; the abbreviation tells the two autumn 02:30s apart.
pub(crate) fn local(ts: &Timestamp) -> String {
    ts.to_zoned(brussels().clone()).strftime("%Y-%m-%dT%H:%M %Z").to_string()
}

/// A duration in whole days, hours or minutes where it divides evenly.
pub(crate) fn human(d: &SignedDuration) -> String {
    let secs = d.as_secs();
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if secs % 86_400 == 0 {
        plural(secs / 86_400, "day")
    } else if secs % 3600 == 0 {
        plural(secs / 3600, "hour")
    } else if secs % 60 == 0 {
        plural(secs / 60, "minute")
    } else {
        plural(secs, "second")
    }
}

fn other_rigs(free: &[String]) -> String {
    if free.is_empty() {
        String::new()
    } else {
        format!(", or book {} (free then)", free.join(" or "))
    }
}

fn next_slot(next: &Option<Timestamp>) -> String {
    match next {
        Some(at) => format!("its next slot there starts at {}", local(at)),
        None => "book a slot first".to_owned(),
    }
}
