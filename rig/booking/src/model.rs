//! The ledger's records: rigs, agreements, slots and the policy.

use std::fmt;

use calendar::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// Number of a usage agreement, unique within a ledger, starting at 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AgreementId(pub u64);

impl fmt::Display for AgreementId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Number of a slot, unique within a ledger, starting at 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SlotId(pub u64);

impl fmt::Display for SlotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One meter variant mounted on a rig, with the firmware it runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RigVariant {
    /// The catalogue id of the variant (as in the meter crate's `variants.yaml`).
    pub variant_id: String,
    /// The firmware version the meter runs.
    pub firmware: String,
}

/// A bookable test rig (R-LAB-1): a set of meters, one per active variant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rig {
    /// Stable id used in bookings, e.g. `rig-a`.
    pub id: String,
    /// Display name, e.g. `Rig A`.
    pub name: String,
    /// Every meter variant on the rig.
    pub variants: Vec<RigVariant>,
}

/// The two rigs of R-LAB-1, `rig-a` and `rig-b`, each with every variant in `variants`
/// (pairs of variant id and firmware; the caller passes the catalogue's active variants).
pub fn default_rigs(variants: &[(&str, &str)]) -> Vec<Rig> {
    let variants: Vec<RigVariant> = variants
        .iter()
        .map(|(id, fw)| RigVariant { variant_id: (*id).to_owned(), firmware: (*fw).to_owned() })
        .collect();
    [("rig-a", "Rig A"), ("rig-b", "Rig B")]
        .into_iter()
        .map(|(id, name)| Rig {
            id: id.to_owned(),
            name: name.to_owned(),
            variants: variants.clone(),
        })
        .collect()
}

/// A signed usage agreement (R-LAB-3) and the digest of its access code (R-LAB-5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agreement {
    /// Agreement number.
    pub id: AgreementId,
    /// The company or developer that signed.
    pub holder: String,
    /// Where access codes and update notices go.
    pub email: String,
    /// Lower-case hex SHA-256 of the normalised access code; never the code itself.
    pub access_code_hash: String,
    /// First instant of validity (the signing instant).
    pub valid_from: Timestamp,
    /// First instant the agreement is no longer valid: `[valid_from, valid_until)`.
    pub valid_until: Timestamp,
}

impl Agreement {
    /// Whether the agreement is valid at `at` (half-open interval).
    pub fn is_valid_at(&self, at: Timestamp) -> bool {
        self.valid_from <= at && at < self.valid_until
    }
}

/// Where a slot is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotState {
    /// Booked, not started yet.
    Booked,
    /// Cancelled by its holder before it started; it holds nothing.
    Cancelled,
    /// Running: the holder may log in to the rig.
    Active,
    /// Over: hard-stopped at its end, or stopped early by its holder.
    Ended,
}

/// A booked stretch of one rig for one agreement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    /// Slot number.
    pub id: SlotId,
    /// The rig it books.
    pub rig: String,
    /// The agreement it was booked under.
    pub agreement: AgreementId,
    /// First instant of the slot, on a whole hour.
    pub start: Timestamp,
    /// `start` plus the policy's slot length (22 elapsed hours by default). The slot runs
    /// without pause until then, across days (R-LAB-2); on the DST change days this is 23 or
    /// 21 hours later on the Brussels wall clock.
    pub end: Timestamp,
    /// Where the slot is in its life.
    pub state: SlotState,
    /// When it was booked.
    pub created_at: Timestamp,
    /// When it was cancelled, stopped early, or reached its end; `None` while booked or active.
    pub closed_at: Option<Timestamp>,
}

impl Slot {
    /// The stretch of the rig this slot takes, `[start, end)`: `None` when cancelled, cut short
    /// at the stop instant when stopped early. Two slots on one rig never share an instant of
    /// this interval.
    pub fn occupied(&self) -> Option<(Timestamp, Timestamp)> {
        let end = match self.state {
            SlotState::Cancelled => return None,
            SlotState::Ended => self.closed_at.map_or(self.end, |at| at.min(self.end)),
            SlotState::Booked | SlotState::Active => self.end,
        };
        (self.start < end).then_some((self.start, end))
    }

    /// Whether the slot still holds (or will hold) the rig at or after `now`: booked or active
    /// and not past its end. Open slots count against the per-agreement limit.
    pub fn is_open(&self, now: Timestamp) -> bool {
        matches!(self.state, SlotState::Booked | SlotState::Active) && now < self.end
    }

    /// Whether the slot takes part of `[from, to)`.
    pub fn overlaps(&self, from: Timestamp, to: Timestamp) -> bool {
        self.occupied().is_some_and(|(s, e)| s < to && from < e)
    }
}

/// The booking rules a lab can tune. [`Policy::default`] is the seed's offer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Length of every slot, in elapsed time: 22 h (R-LAB-2, "testslots van 22 uur").
    pub slot_length: SignedDuration,
    /// How far ahead a holder must book: 7 × 24 elapsed hours (R-LAB-3). The seed asks for
    /// this "zo veel mogelijk" (as far as possible), so it is a policy, not a law: holders are
    /// held to it, and an operator can waive it for a shorter notice
    /// ([`LeadTime::Waive`](crate::LeadTime::Waive)), which is how the seed's own route
    /// (booking by mail to the operator) works. Set it to zero to drop the rule.
    pub min_lead_time: SignedDuration,
    /// How many open (booked or running) slots one agreement may hold at once: 2, i.e. up to
    /// 44 h back to back. The seed sets no limit; this keeps two rigs shareable.
    pub max_open_slots_per_agreement: u32,
    /// How long an agreement is valid, in calendar months on the Brussels wall clock: 12
    /// ("een overeenkomst (voor 1 jaar)"). Signed 2026-03-01 10:00 means valid until
    /// 2027-03-01 10:00 local, leap years included, which a fixed 365 days would not give.
    pub agreement_validity_months: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            slot_length: SignedDuration::from_hours(22),
            min_lead_time: SignedDuration::from_hours(7 * 24),
            max_open_slots_per_agreement: 2,
            agreement_validity_months: 12,
        }
    }
}

/// Whether an operator's booking keeps the lead-time rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadTime {
    /// Apply [`Policy::min_lead_time`] as for holders.
    Enforce,
    /// Allow any start from now on (audited with the operator's name).
    Waive,
}
