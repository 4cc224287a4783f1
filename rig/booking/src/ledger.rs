//! The ledger: the booking rules applied to agreements, rigs and slots.

use std::collections::{BTreeMap, BTreeSet};

use calendar::{SignedDuration, Timestamp, brussels};
use jiff::Span;
use serde::{Deserialize, Serialize};

use crate::code::{AccessCode, verify_code};
use crate::error::{BookingError, human, local};
use crate::event::{
    Actor, AuditAction, AuditEntry, EndReason, LedgerEvent, Notice, Operation, RigChange,
};
use crate::model::{
    Agreement, AgreementId, LeadTime, Policy, Rig, RigVariant, Slot, SlotId, SlotState,
};

const HOUR: SignedDuration = SignedDuration::from_hours(1);

/// The booking ledger of one lab: policy, rigs, agreements, slots and the audit log.
///
/// Pure and in memory: every method that depends on time takes `now`, nothing reads a clock
/// or does I/O. Methods that change something append to the audit log, refusals included
/// (with the error's code and message). The whole ledger is serde, so a store can persist it
/// as one document, or persist the records ([`Ledger::rigs`], [`Ledger::agreements`],
/// [`Ledger::all_slots`], [`Ledger::audit`]) as rows and rebuild it with
/// [`Ledger::from_parts`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    policy: Policy,
    rigs: Vec<Rig>,
    agreements: Vec<Agreement>,
    slots: Vec<Slot>,
    audit: Vec<AuditEntry>,
    /// The id the next slot takes when a store hands out ids (its sequence); otherwise one
    /// past the highest booked.
    #[serde(skip)]
    next_slot: Option<SlotId>,
}

impl Ledger {
    /// An empty ledger over `rigs` (for instance [`default_rigs`](crate::default_rigs)).
    ///
    /// # Errors
    /// [`BookingError::DuplicateRig`] when two rigs share an id, and
    /// [`BookingError::InvalidPolicy`] for a non-positive slot length, a negative lead time, a
    /// zero slot limit or a zero agreement validity.
    pub fn new(policy: Policy, rigs: Vec<Rig>) -> Result<Self, BookingError> {
        Self::from_parts(policy, rigs, Vec::new(), Vec::new(), Vec::new())
    }

    /// A ledger rebuilt from persisted records, checked like [`Ledger::new`].
    ///
    /// # Errors
    /// As [`Ledger::new`].
    pub fn from_parts(
        policy: Policy,
        rigs: Vec<Rig>,
        agreements: Vec<Agreement>,
        slots: Vec<Slot>,
        audit: Vec<AuditEntry>,
    ) -> Result<Self, BookingError> {
        let invalid = |reason: &str| Err(BookingError::InvalidPolicy { reason: reason.to_owned() });
        if !policy.slot_length.is_positive() {
            return invalid("slot_length must be positive");
        }
        if policy.min_lead_time.is_negative() {
            return invalid("min_lead_time must not be negative");
        }
        if policy.max_open_slots_per_agreement == 0 {
            return invalid("max_open_slots_per_agreement must be at least 1");
        }
        if policy.agreement_validity_months == 0 {
            return invalid("agreement_validity_months must be at least 1");
        }
        let mut seen = BTreeSet::new();
        for rig in &rigs {
            if !seen.insert(rig.id.as_str()) {
                return Err(BookingError::DuplicateRig { rig: rig.id.clone() });
            }
        }
        Ok(Self { policy, rigs, agreements, slots, audit, next_slot: None })
    }

    /// Hands the next booking the id `id` (a store's sequence, so processes sharing the
    /// store never pick the same id); never lower than one past the highest slot held.
    pub fn set_next_slot_id(&mut self, id: SlotId) {
        self.next_slot = Some(id);
    }

    /// The rules in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Every rig.
    pub fn rigs(&self) -> &[Rig] {
        &self.rigs
    }

    /// The rig with id `rig`.
    pub fn rig(&self, rig: &str) -> Option<&Rig> {
        self.rigs.iter().find(|r| r.id == rig)
    }

    /// Every agreement ever signed, oldest first.
    pub fn agreements(&self) -> &[Agreement] {
        &self.agreements
    }

    /// The agreement numbered `id`.
    pub fn agreement(&self, id: AgreementId) -> Option<&Agreement> {
        self.agreements.iter().find(|a| a.id == id)
    }

    /// Every slot ever booked (cancelled and ended ones included), in booking order.
    pub fn all_slots(&self) -> &[Slot] {
        &self.slots
    }

    /// The slot numbered `id`.
    pub fn slot(&self, id: SlotId) -> Option<&Slot> {
        self.slots.iter().find(|s| s.id == id)
    }

    /// The append-only audit log, oldest first.
    pub fn audit(&self) -> &[AuditEntry] {
        &self.audit
    }

    /// Records a signed usage agreement (R-LAB-3) and makes its access code (R-LAB-5) from
    /// `entropy`. The agreement is valid from `now` for
    /// [`Policy::agreement_validity_months`] on the Brussels calendar. The code is returned
    /// once; the ledger keeps only its SHA-256 digest.
    ///
    /// # Errors
    /// [`BookingError::EmptyHolder`] or [`BookingError::InvalidEmail`] (audited).
    pub fn sign_agreement(
        &mut self,
        now: Timestamp,
        holder: &str,
        email: &str,
        entropy: [u8; 16],
    ) -> Result<(Agreement, AccessCode), BookingError> {
        let (holder, email) = (holder.trim(), email.trim());
        let actor = Actor::Party { name: holder.to_owned() };
        let refusal = if holder.is_empty() {
            Some(BookingError::EmptyHolder)
        } else if !is_email(email) {
            Some(BookingError::InvalidEmail { email: email.to_owned() })
        } else {
            None
        };
        if let Some(err) = refusal {
            return self.refuse(now, actor, Operation::SignAgreement, "sign an agreement", err);
        }
        let code = AccessCode::from_entropy(entropy);
        let months = i64::from(self.policy.agreement_validity_months);
        let valid_until = Span::new()
            .try_months(months)
            .and_then(|span| now.to_zoned(brussels().clone()).checked_add(span))
            .map_or(Timestamp::MAX, |z| z.timestamp());
        let id = AgreementId(self.agreements.iter().map(|a| a.id.0).max().unwrap_or(0) + 1);
        let agreement = Agreement {
            id,
            holder: holder.to_owned(),
            email: email.to_owned(),
            access_code_hash: code.hash(),
            valid_from: now,
            valid_until,
        };
        self.agreements.push(agreement.clone());
        self.record(
            now,
            actor,
            AuditAction::AgreementSigned { agreement: id },
            format!(
                "{holder} <{email}> signed usage agreement {id}, valid until {}; access code \
                 handed out",
                local(&valid_until)
            ),
        );
        Ok((agreement, code))
    }

    /// Books the slot of [`Policy::slot_length`] from `start` on `rig` for the holder of
    /// `agreement`, who proves it with `code`.
    ///
    /// Rules, checked in this order (the first that fails is the refusal, audited):
    /// 1. the agreement exists and `code` is its access code;
    /// 2. the agreement has not expired;
    /// 3. the rig exists;
    /// 4. `start` is on a whole hour (Brussels offsets are whole hours, so local and UTC
    ///    whole hours coincide and back-to-back slots of whole hours stay aligned);
    /// 5. `start` is not in the past, and is at least [`Policy::min_lead_time`] after `now`;
    /// 6. the agreement is valid over the whole slot, `[start, start + slot_length)`;
    /// 7. the agreement holds fewer than [`Policy::max_open_slots_per_agreement`] open slots;
    /// 8. no other slot occupies any instant of the slot on that rig (half-open intervals, so
    ///    a slot may start exactly when the previous one ends).
    ///
    /// The ledger decides; under concurrency the store must still enforce rule 8 atomically
    /// (e.g. an exclusion constraint or a serialised transaction).
    ///
    /// # Errors
    /// The [`BookingError`] of the first rule that fails.
    pub fn book(
        &mut self,
        now: Timestamp,
        agreement: AgreementId,
        code: &str,
        rig: &str,
        start: Timestamp,
    ) -> Result<Slot, BookingError> {
        let actor = Actor::Holder { agreement };
        self.book_inner(now, actor, agreement, Some(code), rig, start, LeadTime::Enforce)
    }

    /// Books for a holder on an operator's authority (the seed's route: reservations by mail
    /// to the lab). No access code is needed (the caller authenticated the operator); with
    /// [`LeadTime::Waive`] the lead-time rule is skipped, for a shorter notice "where possible"
    /// is not possible. Every other rule of [`Ledger::book`] applies.
    ///
    /// # Errors
    /// As [`Ledger::book`], without [`BookingError::WrongAccessCode`].
    pub fn book_as_operator(
        &mut self,
        now: Timestamp,
        operator: &str,
        agreement: AgreementId,
        rig: &str,
        start: Timestamp,
        lead_time: LeadTime,
    ) -> Result<Slot, BookingError> {
        let actor = Actor::Operator { name: operator.to_owned() };
        self.book_inner(now, actor, agreement, None, rig, start, lead_time)
    }

    #[allow(clippy::too_many_arguments)]
    fn book_inner(
        &mut self,
        now: Timestamp,
        actor: Actor,
        agreement: AgreementId,
        code: Option<&str>,
        rig: &str,
        start: Timestamp,
        lead_time: LeadTime,
    ) -> Result<Slot, BookingError> {
        let end = match self.check_booking(now, agreement, code, rig, start, lead_time) {
            Ok(end) => end,
            Err(err) => {
                let context =
                    format!("book {rig} from {} for agreement {agreement}", local(&start));
                return self.refuse(now, actor, Operation::Book, &context, err);
            }
        };
        let after_highest = self.slots.iter().map(|s| s.id.0).max().unwrap_or(0) + 1;
        let id = SlotId(self.next_slot.take().map_or(after_highest, |n| n.0.max(after_highest)));
        let slot = Slot {
            id,
            rig: rig.to_owned(),
            agreement,
            start,
            end,
            state: SlotState::Booked,
            created_at: now,
            closed_at: None,
        };
        self.slots.push(slot.clone());
        let waived = lead_time == LeadTime::Waive;
        let mut detail = format!(
            "slot {id} booked on {rig} for agreement {agreement} ({}) from {} to {}",
            self.holder_name(agreement),
            local(&start),
            local(&end)
        );
        if let (true, Actor::Operator { name }) = (waived, &actor) {
            detail.push_str(&format!("; lead time waived by operator {name}"));
        }
        self.record(
            now,
            actor,
            AuditAction::Booked { slot: id, rig: rig.to_owned(), lead_time_waived: waived },
            detail,
        );
        Ok(slot)
    }

    fn check_booking(
        &self,
        now: Timestamp,
        agreement: AgreementId,
        code: Option<&str>,
        rig: &str,
        start: Timestamp,
        lead_time: LeadTime,
    ) -> Result<Timestamp, BookingError> {
        let agreement = match code {
            Some(code) => self.authenticate(agreement, code)?,
            None => {
                self.agreement(agreement).ok_or(BookingError::UnknownAgreement { agreement })?
            }
        };
        if agreement.valid_until <= now {
            return Err(BookingError::AgreementExpired {
                agreement: agreement.id,
                valid_until: agreement.valid_until,
            });
        }
        self.known_rig(rig)?;
        if !is_whole_hour(start) {
            let earlier = floor_hour(start);
            return Err(BookingError::NotOnTheHour { start, earlier, later: add(earlier, HOUR) });
        }
        let lead = match lead_time {
            LeadTime::Enforce => self.policy.min_lead_time,
            LeadTime::Waive => SignedDuration::ZERO,
        };
        let earliest = ceil_hour(add(now, lead));
        if start < now {
            return Err(BookingError::StartInPast { start, earliest });
        }
        if start < add(now, lead) {
            return Err(BookingError::TooShortNotice { lead, earliest });
        }
        let end = add(start, self.policy.slot_length);
        if start < agreement.valid_from {
            return Err(BookingError::AgreementNotYetValid {
                agreement: agreement.id,
                valid_from: agreement.valid_from,
            });
        }
        if end > agreement.valid_until {
            return Err(BookingError::AgreementEndsBeforeSlot {
                agreement: agreement.id,
                valid_until: agreement.valid_until,
                slot_end: end,
            });
        }
        let open =
            self.slots.iter().filter(|s| s.agreement == agreement.id && s.is_open(now)).count();
        let open = u32::try_from(open).unwrap_or(u32::MAX);
        if open >= self.policy.max_open_slots_per_agreement {
            return Err(BookingError::TooManyOpenSlots {
                agreement: agreement.id,
                open,
                max: self.policy.max_open_slots_per_agreement,
            });
        }
        if let Some(other) = self.conflict(rig, start, end) {
            let (other_start, other_end) = other.occupied().unwrap_or((other.start, other.end));
            return Err(BookingError::Overlap {
                rig: rig.to_owned(),
                other: other.id,
                other_start,
                other_end,
                next_free: self.next_free(rig, start).unwrap_or(other_end),
                free_rigs: self
                    .rigs
                    .iter()
                    .filter(|r| r.id != rig && self.conflict(&r.id, start, end).is_none())
                    .map(|r| r.id.clone())
                    .collect(),
            });
        }
        Ok(end)
    }

    /// Cancels a slot that has not started, for its holder. The slot then holds nothing and
    /// its stretch can be booked again.
    ///
    /// # Errors
    /// [`BookingError::UnknownAgreement`], [`BookingError::WrongAccessCode`],
    /// [`BookingError::UnknownSlot`], [`BookingError::NotYourSlot`],
    /// [`BookingError::AlreadyStarted`] (once `now` reaches the start, whether or not a tick
    /// activated it: stop it instead), [`BookingError::AlreadyCancelled`],
    /// [`BookingError::AlreadyEnded`]. All audited.
    pub fn cancel(
        &mut self,
        now: Timestamp,
        slot: SlotId,
        agreement: AgreementId,
        code: &str,
    ) -> Result<Slot, BookingError> {
        let actor = Actor::Holder { agreement };
        let found = self.holders_slot(slot, agreement, code);
        self.cancel_inner(now, actor, slot, found, "by its holder")
    }

    /// Cancels a slot that has not started on an operator's authority (the lab console acting
    /// for a holder, as [`Ledger::book_as_operator`] books): no access code, the caller
    /// authenticated the operator) but a `reason`, which the audit log keeps: a holder's
    /// slot is cancelled by its holder, or by an operator who says why. The same state rules
    /// as [`Ledger::cancel`] apply.
    ///
    /// # Errors
    /// [`BookingError::UnknownSlot`], [`BookingError::ReasonRequired`] (a blank reason),
    /// [`BookingError::AlreadyStarted`],
    /// [`BookingError::AlreadyCancelled`], [`BookingError::AlreadyEnded`]. All audited.
    pub fn cancel_as_operator(
        &mut self,
        now: Timestamp,
        operator: &str,
        slot: SlotId,
        reason: &str,
    ) -> Result<Slot, BookingError> {
        let actor = Actor::Operator { name: operator.to_owned() };
        let reason = reason.trim();
        let found = self
            .slots
            .iter()
            .position(|s| s.id == slot)
            .ok_or(BookingError::UnknownSlot { slot })
            .and_then(|i| {
                if reason.is_empty() { Err(BookingError::ReasonRequired { slot }) } else { Ok(i) }
            });
        self.cancel_inner(now, actor, slot, found, &format!("by operator {operator}: {reason}"))
    }

    fn cancel_inner(
        &mut self,
        now: Timestamp,
        actor: Actor,
        slot: SlotId,
        found: Result<usize, BookingError>,
        by: &str,
    ) -> Result<Slot, BookingError> {
        let checked = found.and_then(|i| {
            let s = &self.slots[i];
            match s.state {
                SlotState::Booked if now < s.start => Ok(i),
                SlotState::Booked | SlotState::Active => {
                    Err(BookingError::AlreadyStarted { slot, start: s.start })
                }
                SlotState::Cancelled => Err(BookingError::AlreadyCancelled { slot }),
                SlotState::Ended => {
                    Err(BookingError::AlreadyEnded { slot, at: s.closed_at.unwrap_or(s.end) })
                }
            }
        });
        let i = match checked {
            Ok(i) => i,
            Err(err) => {
                return self.refuse(
                    now,
                    actor,
                    Operation::Cancel,
                    &format!("cancel slot {slot}"),
                    err,
                );
            }
        };
        let s = &mut self.slots[i];
        s.state = SlotState::Cancelled;
        s.closed_at = Some(now);
        let cancelled = s.clone();
        let detail = format!(
            "slot {slot} on {} from {} cancelled {by}; the stretch is free again",
            cancelled.rig,
            local(&cancelled.start)
        );
        self.record(now, actor, AuditAction::Cancelled { slot }, detail);
        Ok(cancelled)
    }

    /// Stops a running slot early, for its holder: the slot ends at `now` and the returned
    /// [`LedgerEvent::Ended`] tells the driver to release the rig at once. The rest of the
    /// stretch becomes free.
    ///
    /// # Errors
    /// As [`Ledger::cancel`], with [`BookingError::NotStarted`] before the start (cancel
    /// instead) and [`BookingError::AlreadyEnded`] at or after the end. All audited.
    pub fn stop(
        &mut self,
        now: Timestamp,
        slot: SlotId,
        agreement: AgreementId,
        code: &str,
    ) -> Result<LedgerEvent, BookingError> {
        let actor = Actor::Holder { agreement };
        let checked = self.holders_slot(slot, agreement, code).and_then(|i| {
            let s = &self.slots[i];
            match s.state {
                SlotState::Cancelled => Err(BookingError::AlreadyCancelled { slot }),
                SlotState::Ended => {
                    Err(BookingError::AlreadyEnded { slot, at: s.closed_at.unwrap_or(s.end) })
                }
                _ if now < s.start => Err(BookingError::NotStarted { slot, start: s.start }),
                _ if s.end <= now => Err(BookingError::AlreadyEnded { slot, at: s.end }),
                _ => Ok(i),
            }
        });
        let i = match checked {
            Ok(i) => i,
            Err(err) => {
                return self.refuse(now, actor, Operation::Stop, &format!("stop slot {slot}"), err);
            }
        };
        let s = &mut self.slots[i];
        s.state = SlotState::Ended;
        s.closed_at = Some(now);
        let event = LedgerEvent::Ended {
            slot,
            rig: s.rig.clone(),
            agreement,
            at: now,
            reason: EndReason::Stopped,
        };
        let detail = format!(
            "slot {slot} on {rig} stopped early by its holder; release every line and session \
             of {rig}",
            rig = s.rig
        );
        self.record(now, actor, AuditAction::Ended { slot, reason: EndReason::Stopped }, detail);
        Ok(event)
    }

    /// Logs a holder in to `rig` (R-LAB-5): `code` must be the agreement's access code and
    /// the agreement must hold the slot running on that rig at `now`. Returns that slot.
    /// Successful log-ins are audited too.
    ///
    /// # Errors
    /// [`BookingError::UnknownAgreement`], [`BookingError::WrongAccessCode`],
    /// [`BookingError::UnknownRig`], [`BookingError::NoActiveSlot`] (naming the next slot).
    pub fn log_in(
        &mut self,
        now: Timestamp,
        rig: &str,
        agreement: AgreementId,
        code: &str,
    ) -> Result<Slot, BookingError> {
        let actor = Actor::Holder { agreement };
        let checked = self
            .authenticate(agreement, code)
            .and_then(|_| self.known_rig(rig))
            .and_then(|()| match self.active_slot(rig, now) {
                Some(s) if s.agreement == agreement => Ok(s.clone()),
                _ => Err(BookingError::NoActiveSlot {
                    rig: rig.to_owned(),
                    agreement,
                    next: self
                        .slots
                        .iter()
                        .filter(|s| s.rig == rig && s.agreement == agreement)
                        .filter(|s| s.state == SlotState::Booked && now < s.start)
                        .map(|s| s.start)
                        .min(),
                }),
            });
        match checked {
            Ok(slot) => {
                let detail =
                    format!("agreement {agreement} logged in to {rig} in slot {}", slot.id);
                self.record(now, actor, AuditAction::LoggedIn { slot: slot.id }, detail);
                Ok(slot)
            }
            Err(err) => self.refuse(now, actor, Operation::LogIn, &format!("log in to {rig}"), err),
        }
    }

    /// Moves slots along with time: a booked slot whose start has come becomes active, an
    /// active slot whose end has come ends (hard stop, whether or not the holder is done). A
    /// tick that comes late still produces every event, each with its own `at`. Events are in
    /// time order, and at one instant endings come before activations, so a back-to-back
    /// hand-over releases the rig before the next holder gets it. Call it at least at every
    /// slot boundary; it is idempotent.
    pub fn tick(&mut self, now: Timestamp) -> Vec<LedgerEvent> {
        let mut events = Vec::new();
        for slot in &mut self.slots {
            let (id, rig, agreement) = (slot.id, &slot.rig, slot.agreement);
            if slot.state == SlotState::Booked && slot.start <= now {
                slot.state = SlotState::Active;
                events.push(LedgerEvent::Activated {
                    slot: id,
                    rig: rig.clone(),
                    agreement,
                    at: slot.start,
                });
            }
            if slot.state == SlotState::Active && slot.end <= now {
                slot.state = SlotState::Ended;
                slot.closed_at = Some(slot.end);
                events.push(LedgerEvent::Ended {
                    slot: id,
                    rig: rig.clone(),
                    agreement,
                    at: slot.end,
                    reason: EndReason::SlotEnd,
                });
            }
        }
        events.sort_by_key(|e| {
            let (slot, activation) = match e {
                LedgerEvent::Activated { slot, .. } => (*slot, true),
                LedgerEvent::Ended { slot, .. } => (*slot, false),
            };
            (e.at(), activation, slot)
        });
        for event in &events {
            let (action, detail) = match event {
                LedgerEvent::Activated { slot, rig, agreement, at } => (
                    AuditAction::Activated { slot: *slot },
                    format!(
                        "slot {slot} on {rig} for agreement {agreement} ({}) started at {}",
                        self.holder_name(*agreement),
                        local(at)
                    ),
                ),
                LedgerEvent::Ended { slot, rig, agreement, at, reason } => (
                    AuditAction::Ended { slot: *slot, reason: *reason },
                    format!(
                        "slot {slot} on {rig} for agreement {agreement} ended at {} after {}: \
                         hard stop, release every line and session of {rig}",
                        local(at),
                        human(&self.policy.slot_length)
                    ),
                ),
            };
            self.record(now, Actor::Ledger, action, detail);
        }
        events
    }

    /// The slot running on `rig` at `now`: booked or active with `start <= now < end`,
    /// whether or not a tick has activated it yet.
    pub fn active_slot(&self, rig: &str, now: Timestamp) -> Option<&Slot> {
        self.slots.iter().find(|s| {
            s.rig == rig
                && matches!(s.state, SlotState::Booked | SlotState::Active)
                && s.start <= now
                && now < s.end
        })
    }

    /// The agreement whose slot occupies `rig` at `at`, past or future (a stopped slot
    /// occupies only up to its stop; a cancelled one nothing).
    pub fn who_holds(&self, rig: &str, at: Timestamp) -> Option<&Agreement> {
        let slot = self.slots.iter().find(|s| {
            s.rig == rig && s.occupied().is_some_and(|(start, end)| start <= at && at < end)
        })?;
        self.agreement(slot.agreement)
    }

    /// The first slot boundary after `after` that [`Ledger::tick`] acts on: the start of a
    /// booked slot or the end of a booked or active one. A driver that moves time in jumps
    /// stops there, so slots open and close on time.
    pub fn next_boundary(&self, after: Timestamp) -> Option<Timestamp> {
        self.slots
            .iter()
            .flat_map(|s| match s.state {
                SlotState::Booked => [Some(s.start), Some(s.end)],
                SlotState::Active => [None, Some(s.end)],
                _ => [None, None],
            })
            .flatten()
            .filter(|&b| b > after)
            .min()
    }

    /// The calendar of `rig`: slots occupying part of `[from, to)`, by start. Cancelled slots
    /// are left out (they stay in [`Ledger::all_slots`] and the audit log).
    pub fn slots(&self, rig: &str, from: Timestamp, to: Timestamp) -> Vec<&Slot> {
        let mut out: Vec<&Slot> =
            self.slots.iter().filter(|s| s.rig == rig && s.overlaps(from, to)).collect();
        out.sort_by_key(|s| (s.start, s.id));
        out
    }

    /// The earliest whole hour at or after `from` from which a whole slot on `rig` is free
    /// (lead time and agreements aside); `None` for an unknown rig.
    pub fn next_free(&self, rig: &str, from: Timestamp) -> Option<Timestamp> {
        self.rig(rig)?;
        let mut candidate = ceil_hour(from);
        // Each conflict moves the candidate past that slot's end, so this ends within one
        // pass per slot.
        for _ in 0..=self.slots.len() {
            match self.conflict(rig, candidate, add(candidate, self.policy.slot_length)) {
                None => return Some(candidate),
                Some(other) => {
                    let end = other.occupied().map_or(other.end, |(_, end)| end);
                    candidate = ceil_hour(end.max(candidate));
                }
            }
        }
        Some(candidate)
    }

    /// Replaces the meters of `rig` with `variants` (R-LAB-1 keeps every active variant on
    /// every rig; R-LAB-4 tells holders). Returns one [`Notice`] per holder with an agreement
    /// valid at `now` (one per e-mail address, under its newest agreement), listing what
    /// changed. No change, no notices. Audited with the changes, by `operator`.
    ///
    /// # Errors
    /// [`BookingError::UnknownRig`] or [`BookingError::DuplicateVariant`] (audited).
    pub fn update_rig(
        &mut self,
        now: Timestamp,
        operator: &str,
        rig: &str,
        variants: Vec<RigVariant>,
    ) -> Result<Vec<Notice>, BookingError> {
        let actor = Actor::Operator { name: operator.to_owned() };
        let checked = self.known_rig(rig).and_then(|()| {
            let mut seen = BTreeSet::new();
            match variants.iter().find(|v| !seen.insert(v.variant_id.as_str())) {
                Some(dup) => Err(BookingError::DuplicateVariant {
                    rig: rig.to_owned(),
                    variant: dup.variant_id.clone(),
                }),
                None => Ok(()),
            }
        });
        if let Err(err) = checked {
            return self.refuse(now, actor, Operation::UpdateRig, &format!("update {rig}"), err);
        }
        let Some(target) = self.rigs.iter_mut().find(|r| r.id == rig) else {
            // known_rig just found it.
            return Ok(Vec::new());
        };
        let changes = diff(&target.variants, &variants);
        target.variants = variants;
        let rig_name = target.name.clone();

        let mut notices = Vec::new();
        if !changes.is_empty() {
            let mut emails = BTreeSet::new();
            for a in self.agreements.iter().rev().filter(|a| a.is_valid_at(now)) {
                if emails.insert(a.email.to_lowercase()) {
                    notices.push(Notice {
                        agreement: a.id,
                        holder: a.holder.clone(),
                        email: a.email.clone(),
                        at: now,
                        rig: rig.to_owned(),
                        rig_name: rig_name.clone(),
                        changes: changes.clone(),
                        agreement_valid_until: a.valid_until,
                    });
                }
            }
            notices.reverse();
        }
        let listed: Vec<String> = changes.iter().map(ToString::to_string).collect();
        let detail = if changes.is_empty() {
            format!("{rig} updated by {operator}: no change, no notices")
        } else {
            format!(
                "{rig} updated by {operator}: {}; {} update notice(s) sent",
                listed.join("; "),
                notices.len()
            )
        };
        let sent = u32::try_from(notices.len()).unwrap_or(u32::MAX);
        self.record(
            now,
            actor,
            AuditAction::RigUpdated { rig: rig.to_owned(), changes, notices: sent },
            detail,
        );
        Ok(notices)
    }

    fn authenticate(&self, id: AgreementId, code: &str) -> Result<&Agreement, BookingError> {
        let agreement =
            self.agreement(id).ok_or(BookingError::UnknownAgreement { agreement: id })?;
        if verify_code(agreement, code) {
            Ok(agreement)
        } else {
            Err(BookingError::WrongAccessCode { agreement: id })
        }
    }

    /// The index of `slot` if `code` proves `agreement` and the slot is booked under it.
    fn holders_slot(
        &self,
        slot: SlotId,
        agreement: AgreementId,
        code: &str,
    ) -> Result<usize, BookingError> {
        self.authenticate(agreement, code)?;
        let i = self
            .slots
            .iter()
            .position(|s| s.id == slot)
            .ok_or(BookingError::UnknownSlot { slot })?;
        if self.slots[i].agreement == agreement {
            Ok(i)
        } else {
            Err(BookingError::NotYourSlot { slot })
        }
    }

    fn known_rig(&self, rig: &str) -> Result<(), BookingError> {
        match self.rig(rig) {
            Some(_) => Ok(()),
            None => Err(BookingError::UnknownRig {
                rig: rig.to_owned(),
                known: self.rigs.iter().map(|r| r.id.clone()).collect(),
            }),
        }
    }

    /// The earliest-starting slot on `rig` that occupies part of `[start, end)`.
    fn conflict(&self, rig: &str, start: Timestamp, end: Timestamp) -> Option<&Slot> {
        self.slots.iter().filter(|s| s.rig == rig && s.overlaps(start, end)).min_by_key(|s| s.start)
    }

    fn holder_name(&self, id: AgreementId) -> &str {
        self.agreement(id).map_or("unknown holder", |a| a.holder.as_str())
    }

    fn record(&mut self, at: Timestamp, actor: Actor, action: AuditAction, detail: String) {
        self.audit.push(AuditEntry { at, actor, action, detail });
    }

    fn refuse<T>(
        &mut self,
        now: Timestamp,
        actor: Actor,
        operation: Operation,
        context: &str,
        err: BookingError,
    ) -> Result<T, BookingError> {
        let action = AuditAction::Refused { operation, code: err.code().to_owned() };
        self.record(now, actor, action, format!("refused to {context}: {err}"));
        Err(err)
    }
}

/// Removals, then additions, then firmware changes, each by variant id.
fn diff(old: &[RigVariant], new: &[RigVariant]) -> Vec<RigChange> {
    let old: BTreeMap<&str, &str> =
        old.iter().map(|v| (v.variant_id.as_str(), v.firmware.as_str())).collect();
    let new: BTreeMap<&str, &str> =
        new.iter().map(|v| (v.variant_id.as_str(), v.firmware.as_str())).collect();
    let removed = old.iter().filter(|(id, _)| !new.contains_key(*id)).map(|(id, fw)| {
        RigChange::VariantRemoved { variant_id: (*id).to_owned(), firmware: (*fw).to_owned() }
    });
    let added = new.iter().filter(|(id, _)| !old.contains_key(*id)).map(|(id, fw)| {
        RigChange::VariantAdded { variant_id: (*id).to_owned(), firmware: (*fw).to_owned() }
    });
    let changed = new.iter().filter_map(|(id, to)| {
        let from = old.get(id)?;
        (from != to).then(|| RigChange::FirmwareChanged {
            variant_id: (*id).to_owned(),
            from: (*from).to_owned(),
            to: (*to).to_owned(),
        })
    });
    removed.chain(added).chain(changed).collect()
}

fn is_email(s: &str) -> bool {
    let Some((user, domain)) = s.split_once('@') else { return false };
    !user.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(char::is_whitespace)
}

fn add(ts: Timestamp, d: SignedDuration) -> Timestamp {
    ts.checked_add(d).unwrap_or(if d.is_negative() { Timestamp::MIN } else { Timestamp::MAX })
}

/// Whether `ts` is on a whole UTC hour, which for Brussels (whole-hour offsets) is a whole
/// local hour.
pub(crate) fn is_whole_hour(ts: Timestamp) -> bool {
    ts.subsec_nanosecond() == 0 && ts.as_second().rem_euclid(3600) == 0
}

fn floor_hour(ts: Timestamp) -> Timestamp {
    // `as_second` truncates towards zero; step down for instants before 1970 with a fraction.
    let secs = ts.as_second() - i64::from(ts.subsec_nanosecond() < 0);
    Timestamp::from_second(secs - secs.rem_euclid(3600)).unwrap_or(ts)
}

fn ceil_hour(ts: Timestamp) -> Timestamp {
    if is_whole_hour(ts) { ts } else { add(floor_hour(ts), HOUR) }
}
