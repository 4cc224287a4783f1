use calendar::{SignedDuration, Timestamp, brussels, local_datetime};
use jiff::civil::DateTime;
use proptest::prelude::*;
use rstest::rstest;

use super::*;

const VARIANTS: &[(&str, &str)] = &[
    ("fluvius-s211-emucs171", "1.7.1"),
    ("fluvius-t211-emucs171", "1.7.1"),
    ("sagemcom-smarty", "2.3"),
];

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// An instant from a Brussels wall-clock time (the earlier one in the autumn fold).
fn local(s: &str) -> Timestamp {
    s.parse::<DateTime>().unwrap().to_zoned(brussels().clone()).unwrap().timestamp()
}

fn h(n: i64) -> SignedDuration {
    SignedDuration::from_hours(n)
}

fn days(n: i64) -> SignedDuration {
    h(24 * n)
}

fn at(t: Timestamp, d: SignedDuration) -> Timestamp {
    t.checked_add(d).unwrap()
}

struct Lab {
    ledger: Ledger,
    /// When the first agreement was signed.
    now: Timestamp,
    a: AgreementId,
    code_a: String,
    b: AgreementId,
    code_b: String,
}

fn lab_at(now: Timestamp) -> Lab {
    let mut ledger = Ledger::new(Policy::default(), default_rigs(VARIANTS)).unwrap();
    let (a, code_a) =
        ledger.sign_agreement(now, "ACME Energy", "dev@acme.example", [7; 16]).unwrap();
    let (b, code_b) =
        ledger.sign_agreement(now, "Watt Labs", "team@watt.example", [42; 16]).unwrap();
    Lab { ledger, now, a: a.id, code_a: code_a.to_string(), b: b.id, code_b: code_b.to_string() }
}

fn lab() -> Lab {
    lab_at(ts("2026-11-01T09:00:00Z"))
}

fn refusals(ledger: &Ledger) -> Vec<(Operation, String)> {
    ledger
        .audit()
        .iter()
        .filter_map(|e| match &e.action {
            AuditAction::Refused { operation, code } => Some((*operation, code.clone())),
            _ => None,
        })
        .collect()
}

fn last_refusal(ledger: &Ledger) -> (Operation, String) {
    refusals(ledger).pop().unwrap()
}

// ---- rigs -------------------------------------------------------------------------------

#[test]
fn default_rigs_are_two_with_every_variant() {
    let rigs = default_rigs(VARIANTS);
    assert_eq!(rigs.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["rig-a", "rig-b"]);
    for rig in &rigs {
        assert_eq!(rig.variants.len(), VARIANTS.len());
        for (v, (id, fw)) in rig.variants.iter().zip(VARIANTS) {
            assert_eq!((v.variant_id.as_str(), v.firmware.as_str()), (*id, *fw));
        }
    }
}

#[test]
fn ledger_rejects_duplicate_rigs_and_unworkable_policies() {
    let mut rigs = default_rigs(VARIANTS);
    rigs[1].id = "rig-a".into();
    assert_eq!(
        Ledger::new(Policy::default(), rigs).unwrap_err(),
        BookingError::DuplicateRig { rig: "rig-a".into() }
    );
    for policy in [
        Policy { slot_length: SignedDuration::ZERO, ..Policy::default() },
        Policy { min_lead_time: h(-1), ..Policy::default() },
        Policy { max_open_slots_per_agreement: 0, ..Policy::default() },
        Policy { agreement_validity_months: 0, ..Policy::default() },
    ] {
        let err = Ledger::new(policy, default_rigs(VARIANTS)).unwrap_err();
        assert_eq!(err.code(), "invalid_policy");
    }
}

#[test]
fn default_policy_is_the_seed_offer() {
    let p = Policy::default();
    assert_eq!(p.slot_length, h(22));
    assert_eq!(p.min_lead_time, days(7));
    assert_eq!(p.max_open_slots_per_agreement, 2);
    assert_eq!(p.agreement_validity_months, 12);
}

// ---- agreements and access codes ----------------------------------------------------------

#[test]
fn access_code_is_four_groups_of_four_crockford_characters() {
    let code = AccessCode::from_entropy([0xa5; 16]);
    let s = code.as_str();
    assert_eq!(s.len(), 19);
    let groups: Vec<&str> = s.split('-').collect();
    assert_eq!(groups.len(), 4);
    for g in groups {
        assert_eq!(g.len(), 4);
        assert!(g.chars().all(|c| "0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(c)), "{s}");
    }
    assert_eq!(AccessCode::from_entropy([0xa5; 16]), code, "same entropy, same code");
    assert_ne!(AccessCode::from_entropy([0x5a; 16]), code);
    assert_eq!(AccessCode::from_entropy([0; 16]).as_str(), "0000-0000-0000-0000");
    assert_eq!(AccessCode::from_entropy([0xff; 16]).as_str(), "ZZZZ-ZZZZ-ZZZZ-ZZZZ");
    assert!(!format!("{code:?}").contains(&s[..4]), "Debug must not show the code");
}

#[test]
fn agreement_stores_only_the_digest_and_verifies_forgiving_typing() {
    let lab = lab();
    let a = lab.ledger.agreement(lab.a).unwrap();
    assert_eq!(a.access_code_hash.len(), 64);
    assert!(a.access_code_hash.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    let code = &lab.code_a;
    assert!(!a.access_code_hash.contains(&code.replace('-', "").to_lowercase()));
    assert!(verify_code(a, code));
    assert!(verify_code(a, &code.to_lowercase()));
    assert!(verify_code(a, &code.replace('-', "")));
    assert!(verify_code(a, &format!("  {}  ", code.replace('-', " "))));
    assert!(!verify_code(a, &lab.code_b));
    assert!(!verify_code(a, ""));
    assert!(!verify_code(a, &format!("{code}0")));
    assert!(!verify_code(a, &code[..18]));
}

#[test]
fn confusable_letters_read_as_digits() {
    let mut ledger = Ledger::new(Policy::default(), default_rigs(VARIANTS)).unwrap();
    let (a, code) =
        ledger.sign_agreement(ts("2026-01-01T00:00:00Z"), "X", "x@y.be", [0; 16]).unwrap();
    assert_eq!(code.as_str(), "0000-0000-0000-0000");
    assert!(verify_code(&a, "OOOO-oooo-0000-0000"));
    let (b, code) = ledger
        .sign_agreement(
            ts("2026-01-01T00:00:00Z"),
            "X",
            "x@y.be",
            [0x08, 0x42, 0x10, 0x84, 0x21, 0x08, 0x42, 0x10, 0x84, 0x21, 0, 0, 0, 0, 0, 0],
        )
        .unwrap();
    assert_eq!(code.as_str(), "1111-1111-1111-1111");
    assert!(verify_code(&b, "IIII-LLLL-iiii-llll"));
}

#[rstest]
#[case::spring("2026-03-01T10:00", "2027-03-01T10:00")]
#[case::summer_to_summer("2026-07-15T14:30", "2027-07-15T14:30")]
#[case::leap_day("2028-02-29T09:00", "2029-02-28T09:00")]
fn agreement_is_valid_one_calendar_year_on_the_brussels_clock(
    #[case] signed: &str,
    #[case] until: &str,
) {
    let mut ledger = Ledger::new(Policy::default(), default_rigs(VARIANTS)).unwrap();
    let (a, _) = ledger.sign_agreement(local(signed), "ACME", "dev@acme.example", [1; 16]).unwrap();
    assert_eq!(a.valid_from, local(signed));
    assert_eq!(a.valid_until, local(until));
    assert!(a.is_valid_at(a.valid_from));
    assert!(!a.is_valid_at(a.valid_until));
}

#[rstest]
#[case::empty_holder("  ", "dev@acme.example", "empty_holder")]
#[case::no_at("ACME", "dev.acme.example", "invalid_email")]
#[case::no_domain_dot("ACME", "dev@localhost", "invalid_email")]
#[case::space("ACME", "dev @acme.example", "invalid_email")]
fn signing_needs_a_holder_and_an_email(
    #[case] holder: &str,
    #[case] email: &str,
    #[case] code: &str,
) {
    let mut ledger = Ledger::new(Policy::default(), default_rigs(VARIANTS)).unwrap();
    let err =
        ledger.sign_agreement(ts("2026-01-01T00:00:00Z"), holder, email, [1; 16]).unwrap_err();
    assert_eq!(err.code(), code);
    assert!(ledger.agreements().is_empty());
    assert_eq!(last_refusal(&ledger), (Operation::SignAgreement, code.to_owned()));
}

// ---- slot length and DST -----------------------------------------------------------------

/// A slot is 22 elapsed hours. On the spring change day the wall clock jumps an hour ahead, so
/// the slot ends 23 wall-clock hours after its start (11:00 instead of 10:00); on the autumn
/// day it ends 21 wall-clock hours after (09:00).
#[rstest]
#[case::ordinary_day("2026-06-10T12:00", "2026-06-11T10:00")]
#[case::spring_forward("2026-03-28T12:00", "2026-03-29T11:00")]
#[case::autumn_back("2026-10-24T12:00", "2026-10-25T09:00")]
#[case::midnight_across_new_year("2026-12-31T20:00", "2027-01-01T18:00")]
fn slot_lasts_exactly_22_elapsed_hours(#[case] start: &str, #[case] wall_end: &str) {
    let start = local(start);
    let mut lab = lab_at(at(start, days(-30)));
    let slot = lab.ledger.book(lab.now, lab.a, &lab.code_a.clone(), "rig-a", start).unwrap();
    assert_eq!(slot.end.duration_since(slot.start), h(22));
    assert_eq!(local_datetime(slot.end), wall_end.parse::<DateTime>().unwrap());
    assert_eq!(slot.state, SlotState::Booked);
    assert_eq!(slot.created_at, lab.now);
}

// ---- lead time and alignment ---------------------------------------------------------------

#[test]
fn lead_time_refused_at_6_days_23_hours_and_accepted_at_7_days() {
    let mut lab = lab();
    let code = lab.code_a.clone();
    let too_soon = at(lab.now, days(6) + h(23));
    let err = lab.ledger.book(lab.now, lab.a, &code, "rig-a", too_soon).unwrap_err();
    assert_eq!(err, BookingError::TooShortNotice { lead: days(7), earliest: at(lab.now, days(7)) });
    assert_eq!(
        err.to_string(),
        "book at least 7 days ahead: the earliest start is 2026-11-08T10:00 CET; for a shorter \
         notice ask the lab operator"
    );
    assert_eq!(last_refusal(&lab.ledger), (Operation::Book, "too_short_notice".into()));

    let slot = lab.ledger.book(lab.now, lab.a, &code, "rig-a", at(lab.now, days(7))).unwrap();
    assert_eq!(slot.start, at(lab.now, days(7)));
}

#[test]
fn earliest_start_is_rounded_up_to_the_hour() {
    let mut lab = lab();
    let now = at(lab.now, SignedDuration::from_mins(20));
    let err = lab
        .ledger
        .book(now, lab.a, &lab.code_a.clone(), "rig-a", at(lab.now, days(1)))
        .unwrap_err();
    assert_eq!(
        err,
        BookingError::TooShortNotice { lead: days(7), earliest: at(lab.now, days(7) + h(1)) }
    );
}

#[test]
fn operator_can_waive_the_lead_time_and_it_is_audited() {
    let mut lab = lab();
    let soon = at(lab.now, h(1));
    let err = lab
        .ledger
        .book_as_operator(lab.now, "operator Ann", lab.a, "rig-a", soon, LeadTime::Enforce)
        .unwrap_err();
    assert_eq!(err.code(), "too_short_notice");
    let slot = lab
        .ledger
        .book_as_operator(lab.now, "operator Ann", lab.a, "rig-a", soon, LeadTime::Waive)
        .unwrap();
    assert_eq!(slot.agreement, lab.a);
    let last = lab.ledger.audit().last().unwrap();
    assert_eq!(last.actor, Actor::Operator { name: "operator Ann".into() });
    assert!(matches!(last.action, AuditAction::Booked { lead_time_waived: true, .. }));
    assert!(last.detail.contains("lead time waived by operator operator Ann"), "{}", last.detail);
    // A waiver does not allow the past.
    let err = lab
        .ledger
        .book_as_operator(
            lab.now,
            "operator Ann",
            lab.a,
            "rig-b",
            at(lab.now, h(-1)),
            LeadTime::Waive,
        )
        .unwrap_err();
    assert_eq!(err, BookingError::StartInPast { start: at(lab.now, h(-1)), earliest: lab.now });
}

#[test]
fn start_must_be_on_the_whole_hour() {
    let mut lab = lab();
    let start = at(lab.now, days(8) + SignedDuration::from_mins(30));
    let err = lab.ledger.book(lab.now, lab.a, &lab.code_a.clone(), "rig-a", start).unwrap_err();
    assert_eq!(
        err,
        BookingError::NotOnTheHour {
            start,
            earlier: at(lab.now, days(8)),
            later: at(lab.now, days(8) + h(1)),
        }
    );
    assert!(err.to_string().starts_with("slots start on the whole hour: try 2026-11-09T10:00 CET"));
}

// ---- agreements required ------------------------------------------------------------------

#[test]
fn booking_needs_an_agreement() {
    let mut lab = lab();
    let err = lab
        .ledger
        .book(lab.now, AgreementId(99), &lab.code_a.clone(), "rig-a", at(lab.now, days(8)))
        .unwrap_err();
    assert_eq!(err, BookingError::UnknownAgreement { agreement: AgreementId(99) });
    assert!(err.to_string().contains("sign a one-year usage agreement"));
    assert_eq!(last_refusal(&lab.ledger), (Operation::Book, "unknown_agreement".into()));
    assert!(lab.ledger.all_slots().is_empty());
}

#[test]
fn wrong_access_code_is_refused_and_audited() {
    let mut lab = lab();
    let err = lab
        .ledger
        .book(lab.now, lab.a, &lab.code_b.clone(), "rig-a", at(lab.now, days(8)))
        .unwrap_err();
    assert_eq!(err, BookingError::WrongAccessCode { agreement: lab.a });
    let entry = lab.ledger.audit().last().unwrap();
    assert_eq!(entry.actor, Actor::Holder { agreement: lab.a });
    assert_eq!(
        entry.action,
        AuditAction::Refused { operation: Operation::Book, code: "wrong_access_code".into() }
    );
    assert!(entry.detail.contains("does not match agreement 1"), "{}", entry.detail);
    assert!(!entry.detail.contains(&lab.code_b), "the audit must not log typed codes");
    assert!(lab.ledger.all_slots().is_empty());
}

#[test]
fn expired_agreement_is_refused_with_the_date() {
    let mut lab = lab();
    let later = at(lab.now, days(400));
    let err = lab
        .ledger
        .book(later, lab.a, &lab.code_a.clone(), "rig-a", at(later, days(8)))
        .unwrap_err();
    let until = lab.ledger.agreement(lab.a).unwrap().valid_until;
    assert_eq!(err, BookingError::AgreementExpired { agreement: lab.a, valid_until: until });
    assert_eq!(
        err.to_string(),
        "usage agreement 1 expired at 2027-11-01T10:00 CET: sign a new one-year agreement before \
         booking"
    );
    assert_eq!(last_refusal(&lab.ledger), (Operation::Book, "agreement_expired".into()));
}

#[test]
fn slot_must_end_within_the_agreement() {
    let mut lab = lab();
    let until = lab.ledger.agreement(lab.a).unwrap().valid_until;
    let now = at(until, days(-10));
    let code = lab.code_a.clone();
    // Ends exactly at the end of validity: fine (half-open).
    lab.ledger.book(now, lab.a, &code, "rig-a", at(until, h(-22))).unwrap();
    let err = lab.ledger.book(now, lab.a, &code, "rig-b", at(until, h(-21))).unwrap_err();
    assert_eq!(
        err,
        BookingError::AgreementEndsBeforeSlot {
            agreement: lab.a,
            valid_until: until,
            slot_end: at(until, h(1)),
        }
    );
}

#[test]
fn unknown_rig_names_the_rigs() {
    let mut lab = lab();
    let err = lab
        .ledger
        .book(lab.now, lab.a, &lab.code_a.clone(), "rig-c", at(lab.now, days(8)))
        .unwrap_err();
    assert_eq!(err.to_string(), "there is no rig 'rig-c': choose one of rig-a, rig-b");
}

// ---- overlap -----------------------------------------------------------------------------

#[test]
fn overlap_is_refused_on_the_same_rig_and_allowed_on_the_other_and_back_to_back() {
    let mut lab = lab();
    let (code_a, code_b) = (lab.code_a.clone(), lab.code_b.clone());
    let start = at(lab.now, days(10));
    let first = lab.ledger.book(lab.now, lab.a, &code_a, "rig-a", start).unwrap();

    for s in [start, at(start, h(21)), at(start, h(-21))] {
        let err = lab.ledger.book(lab.now, lab.b, &code_b, "rig-a", s).unwrap_err();
        let BookingError::Overlap { rig, other, other_start, other_end, next_free, free_rigs } =
            &err
        else {
            panic!("expected overlap, got {err:?}");
        };
        assert_eq!((rig.as_str(), *other), ("rig-a", first.id));
        assert_eq!((*other_start, *other_end), (first.start, first.end));
        assert!(*next_free >= first.end || at(*next_free, h(22)) <= first.start);
        assert_eq!(free_rigs, &["rig-b".to_owned()]);
        assert!(err.to_string().contains("or book rig-b (free then)"), "{err}");
    }
    assert_eq!(
        refusals(&lab.ledger).iter().filter(|(_, c)| c == "overlap").count(),
        3,
        "every overlap refusal is audited"
    );

    // Same stretch on the other rig.
    lab.ledger.book(lab.now, lab.b, &code_b, "rig-b", start).unwrap();
    // Back to back on both sides (half-open intervals).
    let after = lab.ledger.book(lab.now, lab.b, &code_b, "rig-a", first.end).unwrap();
    assert_eq!(after.start, first.end);
    let before = lab.ledger.book(lab.now, lab.a, &code_a, "rig-a", at(start, h(-22))).unwrap();
    assert_eq!(before.end, first.start);
}

#[test]
fn overlap_suggests_the_next_free_start() {
    let mut lab = lab();
    let (code_a, code_b) = (lab.code_a.clone(), lab.code_b.clone());
    let start = at(lab.now, days(10));
    lab.ledger.book(lab.now, lab.a, &code_a, "rig-a", start).unwrap();
    lab.ledger.book(lab.now, lab.a, &code_a, "rig-a", at(start, h(22))).unwrap();
    let err = lab.ledger.book(lab.now, lab.b, &code_b, "rig-a", at(start, h(5))).unwrap_err();
    let BookingError::Overlap { next_free, .. } = err else { panic!("{err:?}") };
    assert_eq!(next_free, at(start, h(44)));
    assert_eq!(lab.ledger.next_free("rig-a", start), Some(at(start, h(44))));
    assert_eq!(lab.ledger.next_free("rig-a", at(start, h(-30))), Some(at(start, h(-30))));
    assert_eq!(lab.ledger.next_free("rig-a", at(start, h(-21))), Some(at(start, h(44))));
    assert_eq!(lab.ledger.next_free("rig-z", start), None);
}

// ---- per-agreement limit -------------------------------------------------------------------

#[test]
fn an_agreement_holds_at_most_two_open_slots() {
    let mut lab = lab();
    let code = lab.code_a.clone();
    let start = at(lab.now, days(10));
    let s1 = lab.ledger.book(lab.now, lab.a, &code, "rig-a", start).unwrap();
    lab.ledger.book(lab.now, lab.a, &code, "rig-a", at(start, h(22))).unwrap();
    let err = lab.ledger.book(lab.now, lab.a, &code, "rig-b", start).unwrap_err();
    assert_eq!(err, BookingError::TooManyOpenSlots { agreement: lab.a, open: 2, max: 2 });
    // The other agreement is not affected.
    lab.ledger.book(lab.now, lab.b, &lab.code_b.clone(), "rig-b", start).unwrap();
    // A cancellation makes room.
    lab.ledger.cancel(lab.now, s1.id, lab.a, &code).unwrap();
    lab.ledger.book(lab.now, lab.a, &code, "rig-b", at(start, h(22))).unwrap();
    // A slot that has ended no longer counts.
    let after = at(start, h(44));
    lab.ledger.tick(after);
    lab.ledger.book(after, lab.a, &code, "rig-a", at(after, days(7))).unwrap();
}

// ---- cancellation ------------------------------------------------------------------------

#[test]
fn cancellation_frees_the_slot() {
    let mut lab = lab();
    let (code_a, code_b) = (lab.code_a.clone(), lab.code_b.clone());
    let start = at(lab.now, days(9));
    let slot = lab.ledger.book(lab.now, lab.a, &code_a, "rig-a", start).unwrap();
    assert_eq!(
        lab.ledger.book(lab.now, lab.b, &code_b, "rig-a", start).unwrap_err().code(),
        "overlap"
    );

    // Only its holder, with the right code.
    let err = lab.ledger.cancel(lab.now, slot.id, lab.b, &code_b).unwrap_err();
    assert_eq!(err, BookingError::NotYourSlot { slot: slot.id });
    let err = lab.ledger.cancel(lab.now, slot.id, lab.a, &code_b).unwrap_err();
    assert_eq!(err, BookingError::WrongAccessCode { agreement: lab.a });
    let err = lab.ledger.cancel(lab.now, SlotId(77), lab.a, &code_a).unwrap_err();
    assert_eq!(err, BookingError::UnknownSlot { slot: SlotId(77) });

    let later = at(lab.now, h(3));
    let cancelled = lab.ledger.cancel(later, slot.id, lab.a, &code_a).unwrap();
    assert_eq!(cancelled.state, SlotState::Cancelled);
    assert_eq!(cancelled.closed_at, Some(later));
    assert_eq!(cancelled.occupied(), None);
    assert!(lab.ledger.slots("rig-a", lab.now, at(lab.now, days(30))).is_empty());
    assert_eq!(lab.ledger.who_holds("rig-a", start), None);

    let err = lab.ledger.cancel(later, slot.id, lab.a, &code_a).unwrap_err();
    assert_eq!(err, BookingError::AlreadyCancelled { slot: slot.id });

    let taken = lab.ledger.book(later, lab.b, &code_b, "rig-a", start).unwrap();
    assert_eq!(lab.ledger.who_holds("rig-a", start).map(|a| a.id), Some(lab.b));
    assert_eq!(lab.ledger.slots("rig-a", start, at(start, h(1))), vec![&taken]);
    assert_eq!(
        refusals(&lab.ledger),
        [
            (Operation::Book, "overlap".into()),
            (Operation::Cancel, "not_your_slot".into()),
            (Operation::Cancel, "wrong_access_code".into()),
            (Operation::Cancel, "unknown_slot".into()),
            (Operation::Cancel, "already_cancelled".into()),
        ]
    );
}

#[test]
fn a_started_slot_cannot_be_cancelled_only_stopped() {
    let mut lab = lab();
    let code_a = lab.code_a.clone();
    let start = at(lab.now, days(8));
    let slot = lab.ledger.book(lab.now, lab.a, &code_a, "rig-a", start).unwrap();

    let err = lab.ledger.stop(at(start, h(-1)), slot.id, lab.a, &code_a).unwrap_err();
    assert_eq!(err, BookingError::NotStarted { slot: slot.id, start });

    // Started even before a tick activated it.
    let err = lab.ledger.cancel(start, slot.id, lab.a, &code_a).unwrap_err();
    assert_eq!(err, BookingError::AlreadyStarted { slot: slot.id, start });
    assert!(err.to_string().contains("stop it instead"));

    lab.ledger.tick(start);
    let stop_at = at(start, h(5));
    let event = lab.ledger.stop(stop_at, slot.id, lab.a, &code_a).unwrap();
    assert_eq!(
        event,
        LedgerEvent::Ended {
            slot: slot.id,
            rig: "rig-a".into(),
            agreement: lab.a,
            at: stop_at,
            reason: EndReason::Stopped,
        }
    );
    assert_eq!(event.rig_to_release(), Some("rig-a"));
    let stopped = lab.ledger.slot(slot.id).unwrap();
    assert_eq!(stopped.state, SlotState::Ended);
    assert_eq!(stopped.occupied(), Some((start, stop_at)));
    assert_eq!(lab.ledger.active_slot("rig-a", stop_at), None);
    assert_eq!(lab.ledger.who_holds("rig-a", at(stop_at, h(-1))).map(|a| a.id), Some(lab.a));
    assert_eq!(lab.ledger.who_holds("rig-a", stop_at), None);
    // The tail is free again, and a later tick does not end the slot twice.
    assert!(lab.ledger.tick(at(start, h(30))).is_empty());
    lab.ledger
        .book_as_operator(stop_at, "ops", lab.b, "rig-a", at(stop_at, h(1)), LeadTime::Waive)
        .unwrap();
    let err = lab.ledger.stop(at(stop_at, h(1)), slot.id, lab.a, &code_a).unwrap_err();
    assert_eq!(err, BookingError::AlreadyEnded { slot: slot.id, at: stop_at });
}

// ---- tick ------------------------------------------------------------------------------------

#[test]
fn the_next_boundary_is_the_next_start_or_end_tick_acts_on() {
    let mut lab = lab();
    let code = lab.code_a.clone();
    assert_eq!(lab.ledger.next_boundary(lab.now), None, "no slot, no boundary");
    let start = at(lab.now, days(8));
    lab.ledger.book(lab.now, lab.a, &code, "rig-b", start).unwrap();
    let end = at(start, h(22));
    assert_eq!(lab.ledger.next_boundary(lab.now), Some(start));
    assert_eq!(lab.ledger.next_boundary(start), Some(end), "after the start, its end");
    lab.ledger.tick(start);
    assert_eq!(lab.ledger.next_boundary(start), Some(end), "an active slot's end");
    lab.ledger.tick(end);
    assert_eq!(lab.ledger.next_boundary(start), None, "an ended slot has none");
}

#[test]
fn tick_activates_at_start_and_hard_stops_at_the_end_with_a_release() {
    let mut lab = lab();
    let code = lab.code_a.clone();
    let start = at(lab.now, days(8));
    let slot = lab.ledger.book(lab.now, lab.a, &code, "rig-b", start).unwrap();

    assert!(lab.ledger.tick(at(start, SignedDuration::from_secs(-1))).is_empty());
    assert_eq!(lab.ledger.active_slot("rig-b", at(start, SignedDuration::from_secs(-1))), None);

    let events = lab.ledger.tick(start);
    assert_eq!(
        events,
        [LedgerEvent::Activated {
            slot: slot.id,
            rig: "rig-b".into(),
            agreement: lab.a,
            at: start
        }]
    );
    assert_eq!(events[0].rig_to_release(), None);
    assert_eq!(lab.ledger.slot(slot.id).unwrap().state, SlotState::Active);
    assert!(lab.ledger.tick(start).is_empty(), "tick is idempotent");

    // Time is not paused: the slot runs through the night and ends 22 h after its start.
    let almost = at(start, h(22) - SignedDuration::from_secs(1));
    assert!(lab.ledger.tick(almost).is_empty());
    assert_eq!(lab.ledger.active_slot("rig-b", almost).map(|s| s.id), Some(slot.id));
    assert_eq!(lab.ledger.active_slot("rig-a", almost), None);

    let end = at(start, h(22));
    let events = lab.ledger.tick(end);
    assert_eq!(
        events,
        [LedgerEvent::Ended {
            slot: slot.id,
            rig: "rig-b".into(),
            agreement: lab.a,
            at: end,
            reason: EndReason::SlotEnd,
        }]
    );
    assert_eq!(events[0].rig_to_release(), Some("rig-b"));
    let ended = lab.ledger.slot(slot.id).unwrap();
    assert_eq!((ended.state, ended.closed_at), (SlotState::Ended, Some(end)));
    assert_eq!(lab.ledger.active_slot("rig-b", end), None);
    let last = lab.ledger.audit().last().unwrap();
    assert_eq!(last.actor, Actor::Ledger);
    assert!(last.detail.contains("hard stop, release every line and session of rig-b"));
}

#[test]
fn back_to_back_hand_over_releases_before_it_activates() {
    let mut lab = lab();
    let start = at(lab.now, days(8));
    let first = lab.ledger.book(lab.now, lab.a, &lab.code_a.clone(), "rig-a", start).unwrap();
    let second = lab.ledger.book(lab.now, lab.b, &lab.code_b.clone(), "rig-a", first.end).unwrap();
    lab.ledger.tick(start);
    let events = lab.ledger.tick(first.end);
    assert_eq!(events.len(), 2);
    assert!(matches!(&events[0], LedgerEvent::Ended { slot, .. } if *slot == first.id));
    assert!(matches!(&events[1], LedgerEvent::Activated { slot, .. } if *slot == second.id));
    assert_eq!(lab.ledger.who_holds("rig-a", first.end).map(|a| a.id), Some(lab.b));
}

#[test]
fn a_late_tick_still_reports_every_event_in_time_order() {
    let mut lab = lab();
    let start = at(lab.now, days(8));
    let s1 = lab.ledger.book(lab.now, lab.a, &lab.code_a.clone(), "rig-a", start).unwrap();
    let s2 =
        lab.ledger.book(lab.now, lab.b, &lab.code_b.clone(), "rig-b", at(start, h(3))).unwrap();
    let events = lab.ledger.tick(at(start, days(3)));
    let summary: Vec<(SlotId, bool, Timestamp)> = events
        .iter()
        .map(|e| match e {
            LedgerEvent::Activated { slot, at, .. } => (*slot, true, *at),
            LedgerEvent::Ended { slot, at, .. } => (*slot, false, *at),
        })
        .collect();
    assert_eq!(
        summary,
        [
            (s1.id, true, start),
            (s2.id, true, at(start, h(3))),
            (s1.id, false, at(start, h(22))),
            (s2.id, false, at(start, h(25))),
        ]
    );
}

// ---- log-in (R-LAB-5) --------------------------------------------------------------------

#[test]
fn log_in_only_during_your_slot_with_your_code() {
    let mut lab = lab();
    let (code_a, code_b) = (lab.code_a.clone(), lab.code_b.clone());
    let start = at(lab.now, days(8));
    let slot = lab.ledger.book(lab.now, lab.a, &code_a, "rig-a", start).unwrap();

    let err = lab.ledger.log_in(at(start, h(-2)), "rig-a", lab.a, &code_a).unwrap_err();
    assert_eq!(
        err,
        BookingError::NoActiveSlot { rig: "rig-a".into(), agreement: lab.a, next: Some(start) }
    );
    assert!(err.to_string().ends_with("its next slot there starts at 2026-11-09T10:00 CET"));

    let during = at(start, h(12));
    assert_eq!(lab.ledger.log_in(during, "rig-a", lab.a, &code_a).unwrap().id, slot.id);
    assert_eq!(lab.ledger.audit().last().unwrap().action, AuditAction::LoggedIn { slot: slot.id });
    assert_eq!(
        lab.ledger.log_in(during, "rig-a", lab.a, &code_b).unwrap_err().code(),
        "wrong_access_code"
    );
    assert_eq!(
        lab.ledger.log_in(during, "rig-a", lab.b, &code_b).unwrap_err().code(),
        "no_active_slot"
    );
    assert_eq!(
        lab.ledger.log_in(during, "rig-b", lab.a, &code_a).unwrap_err().code(),
        "no_active_slot"
    );
    assert_eq!(
        lab.ledger.log_in(at(start, h(22)), "rig-a", lab.a, &code_a).unwrap_err(),
        BookingError::NoActiveSlot { rig: "rig-a".into(), agreement: lab.a, next: None }
    );
    assert_eq!(refusals(&lab.ledger).len(), 5);
}

// ---- update notices (R-LAB-4) --------------------------------------------------------------

#[test]
fn update_notices_go_to_valid_agreement_holders_only() {
    let now = ts("2027-06-01T08:00:00Z");
    let mut ledger = Ledger::new(Policy::default(), default_rigs(VARIANTS)).unwrap();
    // Expired by `now`.
    let (old, _) = ledger
        .sign_agreement(ts("2026-01-10T08:00:00Z"), "Old Co", "old@old.example", [1; 16])
        .unwrap();
    // Valid.
    let (valid, _) = ledger
        .sign_agreement(ts("2026-09-01T08:00:00Z"), "ACME", "dev@acme.example", [2; 16])
        .unwrap();
    // Same address renewed: one notice, under the newest agreement.
    let (renewed, _) = ledger
        .sign_agreement(ts("2027-05-01T08:00:00Z"), "ACME", "DEV@acme.example", [3; 16])
        .unwrap();
    // Another valid holder.
    let (watt, _) = ledger
        .sign_agreement(ts("2027-01-01T08:00:00Z"), "Watt Labs", "team@watt.example", [4; 16])
        .unwrap();
    assert!(!old.is_valid_at(now) && valid.is_valid_at(now));

    let variants = vec![
        RigVariant { variant_id: "fluvius-s211-emucs171".into(), firmware: "1.7.2".into() },
        RigVariant { variant_id: "sagemcom-smarty".into(), firmware: "2.3".into() },
        RigVariant { variant_id: "kaifa-dsmr42".into(), firmware: "4.2".into() },
    ];
    let notices = ledger.update_rig(now, "operator Ann", "rig-a", variants.clone()).unwrap();
    let to: Vec<(AgreementId, &str)> =
        notices.iter().map(|n| (n.agreement, n.email.as_str())).collect();
    assert_eq!(to, [(renewed.id, "DEV@acme.example"), (watt.id, "team@watt.example")]);
    assert!(notices.iter().all(|n| n.agreement != old.id));

    let n = &notices[1];
    assert_eq!((n.rig.as_str(), n.rig_name.as_str(), n.at), ("rig-a", "Rig A", now));
    assert_eq!(
        n.changes,
        [
            RigChange::VariantRemoved {
                variant_id: "fluvius-t211-emucs171".into(),
                firmware: "1.7.1".into()
            },
            RigChange::VariantAdded { variant_id: "kaifa-dsmr42".into(), firmware: "4.2".into() },
            RigChange::FirmwareChanged {
                variant_id: "fluvius-s211-emucs171".into(),
                from: "1.7.1".into(),
                to: "1.7.2".into()
            },
        ]
    );
    assert_eq!(n.subject(), "Rig A (rig-a) updated: 3 changes");
    let body = n.body();
    assert!(body.starts_with("Dear Watt Labs,"), "{body}");
    assert!(body.contains("- variant fluvius-s211-emucs171: firmware 1.7.1 → 1.7.2\n"), "{body}");
    assert!(body.contains("- variant kaifa-dsmr42 added (firmware 4.2)\n"), "{body}");
    assert!(body.contains("- variant fluvius-t211-emucs171 removed"), "{body}");
    assert!(body.contains("valid until 2028-01-01T09:00 CET"), "{body}");

    assert_eq!(ledger.rig("rig-a").unwrap().variants, variants);
    assert_eq!(ledger.rig("rig-b").unwrap().variants.len(), VARIANTS.len(), "rig-b untouched");
    let entry = ledger.audit().last().unwrap();
    assert_eq!(entry.actor, Actor::Operator { name: "operator Ann".into() });
    assert!(
        matches!(&entry.action, AuditAction::RigUpdated { notices: 2, changes, .. } if changes.len() == 3)
    );

    // The same list again changes nothing and sends nothing, but is still on record.
    assert!(ledger.update_rig(now, "operator Ann", "rig-a", variants).unwrap().is_empty());
    assert!(
        matches!(&ledger.audit().last().unwrap().action, AuditAction::RigUpdated { notices: 0, changes, .. } if changes.is_empty())
    );
}

#[test]
fn rig_update_refusals_are_audited() {
    let mut lab = lab();
    let err = lab.ledger.update_rig(lab.now, "ops", "rig-x", Vec::new()).unwrap_err();
    assert_eq!(err.code(), "unknown_rig");
    let twice = vec![
        RigVariant { variant_id: "v".into(), firmware: "1".into() },
        RigVariant { variant_id: "v".into(), firmware: "2".into() },
    ];
    let err = lab.ledger.update_rig(lab.now, "ops", "rig-a", twice).unwrap_err();
    assert_eq!(err, BookingError::DuplicateVariant { rig: "rig-a".into(), variant: "v".into() });
    assert_eq!(
        refusals(&lab.ledger),
        [
            (Operation::UpdateRig, "unknown_rig".into()),
            (Operation::UpdateRig, "duplicate_variant".into())
        ]
    );
    assert_eq!(lab.ledger.rig("rig-a").unwrap().variants.len(), VARIANTS.len());
}

// ---- audit -------------------------------------------------------------------------------

#[test]
fn audit_log_records_the_whole_life_of_a_slot() {
    let mut lab = lab();
    let code = lab.code_a.clone();
    let start = at(lab.now, days(8));
    let s1 = lab.ledger.book(lab.now, lab.a, &code, "rig-a", start).unwrap();
    let s2 = lab.ledger.book(lab.now, lab.a, &code, "rig-b", start).unwrap();
    lab.ledger.book(lab.now, lab.a, &code, "rig-b", at(lab.now, h(1))).unwrap_err();
    lab.ledger.cancel(lab.now, s2.id, lab.a, &code).unwrap();
    lab.ledger.tick(start);
    lab.ledger.tick(at(start, h(22)));
    lab.ledger.update_rig(lab.now, "ops", "rig-b", Vec::new()).unwrap();

    let actions: Vec<&AuditAction> = lab.ledger.audit().iter().map(|e| &e.action).collect();
    assert_eq!(
        actions,
        [
            &AuditAction::AgreementSigned { agreement: lab.a },
            &AuditAction::AgreementSigned { agreement: lab.b },
            &AuditAction::Booked { slot: s1.id, rig: "rig-a".into(), lead_time_waived: false },
            &AuditAction::Booked { slot: s2.id, rig: "rig-b".into(), lead_time_waived: false },
            &AuditAction::Refused { operation: Operation::Book, code: "too_short_notice".into() },
            &AuditAction::Cancelled { slot: s2.id },
            &AuditAction::Activated { slot: s1.id },
            &AuditAction::Ended { slot: s1.id, reason: EndReason::SlotEnd },
            &AuditAction::RigUpdated {
                rig: "rig-b".into(),
                changes: VARIANTS
                    .iter()
                    .map(|(id, fw)| RigChange::VariantRemoved {
                        variant_id: (*id).into(),
                        firmware: (*fw).into()
                    })
                    .collect(),
                notices: 2,
            },
        ]
    );
    let signed = &lab.ledger.audit()[0];
    assert_eq!(signed.actor, Actor::Party { name: "ACME Energy".into() });
    assert!(!signed.detail.contains(&lab.code_a), "the audit never holds an access code");
}

#[test]
fn calendar_lists_non_cancelled_slots_by_start() {
    let mut lab = lab();
    let (code_a, code_b) = (lab.code_a.clone(), lab.code_b.clone());
    let start = at(lab.now, days(8));
    let late = lab.ledger.book(lab.now, lab.a, &code_a, "rig-a", at(start, h(44))).unwrap();
    let early = lab.ledger.book(lab.now, lab.b, &code_b, "rig-a", start).unwrap();
    let gone = lab.ledger.book(lab.now, lab.b, &code_b, "rig-a", at(start, h(22))).unwrap();
    lab.ledger.cancel(lab.now, gone.id, lab.b, &code_b).unwrap();
    lab.ledger.book(lab.now, lab.a, &code_a, "rig-b", start).unwrap();
    let ids: Vec<SlotId> =
        lab.ledger.slots("rig-a", lab.now, at(lab.now, days(30))).iter().map(|s| s.id).collect();
    assert_eq!(ids, [early.id, late.id]);
    // Half-open query: a slot ending at `from` or starting at `to` is outside.
    assert!(lab.ledger.slots("rig-a", early.end, late.start).is_empty());
    assert_eq!(
        lab.ledger.who_holds("rig-a", at(start, h(1))).map(|a| a.holder.as_str()),
        Some("Watt Labs")
    );
}

#[test]
fn error_codes_are_distinct() {
    let t = ts("2026-01-01T00:00:00Z");
    let (a, s) = (AgreementId(1), SlotId(1));
    let all = [
        BookingError::UnknownAgreement { agreement: a },
        BookingError::WrongAccessCode { agreement: a },
        BookingError::AgreementExpired { agreement: a, valid_until: t },
        BookingError::AgreementEndsBeforeSlot { agreement: a, valid_until: t, slot_end: t },
        BookingError::AgreementNotYetValid { agreement: a, valid_from: t },
        BookingError::UnknownRig { rig: "x".into(), known: Vec::new() },
        BookingError::NotOnTheHour { start: t, earlier: t, later: t },
        BookingError::StartInPast { start: t, earliest: t },
        BookingError::TooShortNotice { lead: h(1), earliest: t },
        BookingError::TooManyOpenSlots { agreement: a, open: 1, max: 1 },
        BookingError::Overlap {
            rig: "x".into(),
            other: s,
            other_start: t,
            other_end: t,
            next_free: t,
            free_rigs: Vec::new(),
        },
        BookingError::UnknownSlot { slot: s },
        BookingError::NotYourSlot { slot: s },
        BookingError::AlreadyStarted { slot: s, start: t },
        BookingError::NotStarted { slot: s, start: t },
        BookingError::AlreadyCancelled { slot: s },
        BookingError::AlreadyEnded { slot: s, at: t },
        BookingError::NoActiveSlot { rig: "x".into(), agreement: a, next: None },
        BookingError::EmptyHolder,
        BookingError::InvalidEmail { email: "x".into() },
        BookingError::DuplicateRig { rig: "x".into() },
        BookingError::DuplicateVariant { rig: "x".into(), variant: "v".into() },
        BookingError::InvalidPolicy { reason: "x".into() },
    ];
    let codes: std::collections::BTreeSet<&str> = all.iter().map(BookingError::code).collect();
    assert_eq!(codes.len(), all.len());
    for e in &all {
        assert!(e.to_string().contains(':'), "every message says what to do next: {e}");
    }
}

// ---- properties ----------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Book { who: usize, rig: usize, hours: i64, minutes: i64, wrong_code: bool },
    OperatorBook { who: usize, rig: usize, hours: i64 },
    Cancel { who: usize, slot: u64 },
    Stop { who: usize, slot: u64 },
    LogIn { who: usize, rig: usize },
    Update { rig: usize, firmware: u8 },
    Advance { hours: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    // Index 5 is an agreement that does not exist, rig index 2 a rig that does not exist.
    let who = || prop_oneof![9 => 0usize..5, 1 => Just(5usize)];
    let rig = || prop_oneof![9 => 0usize..2, 1 => Just(2usize)];
    let hours = prop_oneof![4 => 168i64..300, 1 => 0i64..500];
    let minutes = prop_oneof![9 => Just(0i64), 1 => 0i64..60];
    prop_oneof![
        5 => (who(), rig(), hours, minutes, proptest::bool::weighted(0.05)).prop_map(
            |(who, rig, hours, minutes, wrong_code)| Op::Book { who, rig, hours, minutes, wrong_code }
        ),
        2 => (who(), rig(), -2i64..60).prop_map(|(who, rig, hours)| Op::OperatorBook { who, rig, hours }),
        2 => (who(), 1u64..16).prop_map(|(who, slot)| Op::Cancel { who, slot }),
        1 => (who(), 1u64..16).prop_map(|(who, slot)| Op::Stop { who, slot }),
        1 => (who(), rig()).prop_map(|(who, rig)| Op::LogIn { who, rig }),
        1 => (rig(), 0u8..3).prop_map(|(rig, firmware)| Op::Update { rig, firmware }),
        3 => (1i64..48).prop_map(|hours| Op::Advance { hours }),
    ]
}

fn assert_invariants(ledger: &Ledger, now: Timestamp, ticked: bool) -> Result<(), TestCaseError> {
    for rig in ["rig-a", "rig-b"] {
        let mut held: Vec<(Timestamp, Timestamp)> =
            ledger.all_slots().iter().filter(|s| s.rig == rig).filter_map(Slot::occupied).collect();
        held.sort();
        for pair in held.windows(2) {
            prop_assert!(pair[0].1 <= pair[1].0, "overlap on {}: {:?}", rig, pair);
        }
    }
    for slot in ledger.all_slots() {
        prop_assert_eq!(slot.end.duration_since(slot.start), h(22));
        if ticked {
            prop_assert!(!(slot.state == SlotState::Booked && slot.start <= now), "{:?}", slot);
            prop_assert!(!(slot.state == SlotState::Active && slot.end <= now), "{:?}", slot);
        }
    }
    for a in ledger.agreements() {
        let open =
            ledger.all_slots().iter().filter(|s| s.agreement == a.id && s.is_open(now)).count();
        prop_assert!(open <= 2);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Whatever holders, operators and time do, no rig is ever held by two slots at once, and
    /// every refusal is in the audit log with its code, in order.
    #[test]
    fn no_double_booking_and_every_refusal_is_audited(ops in proptest::collection::vec(op(), 1..60)) {
        let mut now = ts("2026-10-20T06:00:00Z");
        let mut ledger = Ledger::new(Policy::default(), default_rigs(VARIANTS)).unwrap();
        let mut creds = Vec::new();
        for i in 0..5u8 {
            // The last agreement was signed long ago and expires during the run.
            let signed = if i == 4 { at(now, days(-350)) } else { now };
            let (a, code) = ledger.sign_agreement(signed, "holder", "h@x.example", [i; 16]).unwrap();
            creds.push((a.id, code.to_string()));
        }
        creds.push((AgreementId(99), "0000-0000-0000-0000".to_owned()));
        let rigs = ["rig-a", "rig-b", "rig-x"];
        let mut expected_refusals = Vec::new();
        let mut audit_len = ledger.audit().len();

        for op in ops {
            let mut ticked = false;
            let refusal = match op {
                Op::Book { who, rig, hours, minutes, wrong_code } => {
                    let (id, code) = &creds[who];
                    let code = if wrong_code { creds[(who + 1) % 5].1.clone() } else { code.clone() };
                    let start = at(now, h(hours) + SignedDuration::from_mins(minutes));
                    ledger.book(now, *id, &code, rigs[rig], start).err().map(|e| (Operation::Book, e))
                }
                Op::OperatorBook { who, rig, hours } => {
                    let lead = if hours % 2 == 0 { LeadTime::Waive } else { LeadTime::Enforce };
                    ledger.book_as_operator(now, "ops", creds[who].0, rigs[rig], at(now, h(hours)), lead)
                        .err().map(|e| (Operation::Book, e))
                }
                Op::Cancel { who, slot } => {
                    let (id, code) = &creds[who];
                    ledger.cancel(now, SlotId(slot), *id, code).err().map(|e| (Operation::Cancel, e))
                }
                Op::Stop { who, slot } => {
                    let (id, code) = &creds[who];
                    ledger.stop(now, SlotId(slot), *id, code).err().map(|e| (Operation::Stop, e))
                }
                Op::LogIn { who, rig } => {
                    let (id, code) = &creds[who];
                    ledger.log_in(now, rigs[rig], *id, code).err().map(|e| (Operation::LogIn, e))
                }
                Op::Update { rig, firmware } => {
                    let variants = vec![RigVariant { variant_id: "m".into(), firmware: firmware.to_string() }];
                    ledger.update_rig(now, "ops", rigs[rig], variants).err().map(|e| (Operation::UpdateRig, e))
                }
                Op::Advance { hours } => {
                    now = at(now, h(hours));
                    for event in ledger.tick(now) {
                        prop_assert!(event.at() <= now);
                    }
                    ticked = true;
                    None
                }
            };
            if let Some((operation, err)) = refusal {
                expected_refusals.push((operation, err.code().to_owned()));
            }
            prop_assert!(ledger.audit().len() >= audit_len, "the audit log only grows");
            audit_len = ledger.audit().len();
            assert_invariants(&ledger, now, ticked)?;
        }
        prop_assert_eq!(refusals(&ledger), expected_refusals);
    }

    /// Any whole-hour start books a slot of exactly 22 elapsed hours.
    #[test]
    fn any_aligned_start_gives_22_hours(hours in 7 * 24i64..360 * 24) {
        let mut lab = lab_at(ts("2026-01-01T00:00:00Z"));
        let start = at(lab.now, h(hours));
        let slot = lab.ledger.book(lab.now, lab.a, &lab.code_a.clone(), "rig-a", start).unwrap();
        prop_assert_eq!(slot.end.duration_since(slot.start), h(22));
    }

    /// Every code made from entropy verifies against its own agreement, and a different code
    /// does not.
    #[test]
    fn codes_round_trip(e1 in any::<[u8; 16]>(), e2 in any::<[u8; 16]>()) {
        let mut ledger = Ledger::new(Policy::default(), default_rigs(VARIANTS)).unwrap();
        let (a, code) = ledger.sign_agreement(ts("2026-01-01T00:00:00Z"), "X", "x@y.be", e1).unwrap();
        prop_assert!(verify_code(&a, code.as_str()));
        let other = AccessCode::from_entropy(e2);
        prop_assert_eq!(verify_code(&a, other.as_str()), other == code);
    }
}
