use calendar::{SignedDuration, Timestamp, brussels};
use domain::{
    AccessPoint, Channel, Commodity, ContractStatus, DataKind, DataServicePoint, DongleLink, Ean,
    Esp, GridUserId, Kbo, Service, SupplierId,
};
use jiff::civil::DateTime;
use proptest::prelude::*;
use rstest::rstest;

use super::*;

// ----- fixtures ---------------------------------------------------------------------------

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// An instant from a Brussels wall-clock time.
fn local(s: &str) -> Timestamp {
    s.parse::<DateTime>().unwrap().to_zoned(brussels().clone()).unwrap().timestamp()
}

fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * n)
}

fn ean(n: u32) -> Ean {
    Ean::with_check_digit(&format!("541448820000{n:05}")).unwrap()
}

fn ap() -> Ean {
    ean(1)
}

/// Offtake data service point of the access point.
fn dsp() -> Ean {
    ean(2)
}

/// Injection data service point of the access point.
fn dsp2() -> Ean {
    ean(3)
}

fn esp_kbo() -> Kbo {
    Kbo::with_check("01234567").unwrap()
}

fn other_kbo() -> Kbo {
    Kbo::with_check("04000000").unwrap()
}

fn g(s: &str) -> GridUserId {
    GridUserId::from(s)
}

fn s(id: &str) -> SupplierId {
    SupplierId::from(id)
}

/// When the access point was registered.
const T0: &str = "2025-01-01T00:00:00Z";
/// A "now" well after it.
const NOW: &str = "2026-03-10T10:00:00Z";

fn t0() -> Timestamp {
    ts(T0)
}

fn now() -> Timestamp {
    ts(NOW)
}

fn esp(kbo: Kbo, status: ContractStatus) -> Esp {
    Esp {
        kbo,
        gln: None,
        name: "Sunny Services".into(),
        channel: Channel::Api,
        status,
        webhook_url: Some("https://esp.example/hook".into()),
        services: vec![
            Service {
                id: "self-consumption".into(),
                name: "Self-consumption".into(),
                needs: vec![DataKind::Nrt, DataKind::QuarterHour],
            },
            Service {
                id: "insights".into(),
                name: "Monthly insights".into(),
                needs: vec![DataKind::Day, DataKind::Hour, DataKind::MonthPeak],
            },
        ],
    }
}

fn register_ap_cmd() -> Command {
    Command::RegisterAccessPoint {
        access_point: AccessPoint {
            ean: ap(),
            commodity: Commodity::Electricity,
            address: "Grote Markt 1, 1000 Brussel".into(),
            data_service_points: vec![dsp()],
        },
        data_service_points: vec![
            DataServicePoint {
                id: dsp(),
                access_point: ap(),
                commodity: Commodity::Electricity,
                meter: "1SAG1100000292".into(),
            },
            DataServicePoint {
                id: dsp2(),
                access_point: ap(),
                commodity: Commodity::Electricity,
                meter: "1SAG1100000292".into(),
            },
        ],
        grid_user: Some(g("g1")),
        supplier: Some(s("s1")),
        since: t0(),
    }
}

fn setup_with(rules: Rules) -> Registers {
    let mut reg = Registers::new(rules);
    reg.apply(register_ap_cmd(), t0()).unwrap();
    reg.apply(Command::RegisterEsp { esp: esp(esp_kbo(), ContractStatus::Active) }, t0()).unwrap();
    reg.apply(Command::RegisterEsp { esp: esp(other_kbo(), ContractStatus::Active) }, t0())
        .unwrap();
    reg
}

fn setup() -> Registers {
    setup_with(Rules::default())
}

fn request_cmd(customer: &str, scope: Scope, history: bool, renews: Option<&str>) -> Command {
    Command::RequestMandate {
        esp: esp_kbo(),
        data_service_point: dsp(),
        customer: g(customer),
        scope,
        period_from: t0(),
        period_to: None,
        history,
        renews: renews.map(str::to_owned),
    }
}

/// Requests and approves a mandate of `customer` (the grid user g1) at `at`; returns its id.
fn mandate(reg: &mut Registers, scope: Scope, history: bool, at: Timestamp) -> String {
    let notes = reg.apply(request_cmd("g1", scope, history, None), at).unwrap();
    let id = notes[0].mandate.clone().unwrap();
    reg.apply(Command::ApproveMandate { mandate: id.clone(), by: g("g1") }, at).unwrap();
    id
}

fn scenario(
    kind: ScenarioKind,
    effective: Timestamp,
    grid_user: Option<&str>,
    supplier: Option<&str>,
) -> Command {
    Command::MarketScenario {
        access_point: ap(),
        kind,
        effective,
        new_grid_user: grid_user.map(g),
        new_supplier: supplier.map(s),
    }
}

fn esp_party() -> Party {
    Party::Esp(esp_kbo())
}

fn kinds(notes: &[Notification]) -> Vec<NotificationKind> {
    notes.iter().map(|n| n.kind).collect()
}

/// Accepts the terms and grants an NRT consent of g1 to the ESP at `at`; returns its id.
fn consent(reg: &mut Registers, at: Timestamp) -> String {
    reg.apply(Command::AcceptTerms { grid_user: g("g1"), access_point: ap() }, at).unwrap();
    let notes = reg
        .apply(
            Command::GrantConsent {
                grid_user: g("g1"),
                data_service_point: dsp(),
                esp: esp_kbo(),
                service: "self-consumption".into(),
            },
            at,
        )
        .unwrap();
    assert_eq!(kinds(&notes), [NotificationKind::ConsentGranted]);
    notes[0].consent.clone().unwrap()
}

// ----- mandates: lifetime (R-MAN-1) -------------------------------------------------------

#[test]
fn approved_mandate_signals_renewal_once_and_expires_once_after_three_years() {
    let mut reg = setup();
    let id = mandate(&mut reg, Scope::WithInterval, true, now());
    let m = reg.mandate(&id).unwrap();
    assert_eq!(m.state, MandateState::Approved);
    assert_eq!(m.approved_at, Some(now()));
    let until = ts("2029-03-10T10:00:00Z");
    assert_eq!(m.valid_until, Some(until));

    let (mut renewal, mut expired) = (Vec::new(), Vec::new());
    let mut t = now();
    while t <= until + days(3) {
        for n in reg.apply(Command::Tick, t).unwrap() {
            match n.kind {
                NotificationKind::RenewalDue => renewal.push(t),
                NotificationKind::MandateExpired => expired.push(t),
                other => panic!("unexpected {other:?}"),
            }
            assert_eq!(n.esp, Some(esp_kbo()));
            assert_eq!(n.mandate.as_deref(), Some(id.as_str()));
        }
        t += days(1);
    }
    assert_eq!(renewal, [until - days(60)]);
    assert_eq!(expired, [until]);
    let m = reg.mandate(&id).unwrap();
    assert_eq!(m.state, MandateState::Expired);
    assert!(m.renewal_signalled);

    let d = reg.authorize(&esp_party(), &dsp(), DataKind::Day, t0(), until, until + days(4));
    assert!(!d.allowed);
    assert_eq!(d.code(), Some("mandate_expired"));
}

#[test]
fn an_approved_mandate_past_its_term_is_refused_even_before_the_tick() {
    let mut reg = setup();
    mandate(&mut reg, Scope::DayOnly, true, now());
    let until = ts("2029-03-10T10:00:00Z");
    let before = until - SignedDuration::from_secs(1);
    assert!(reg.authorize(&esp_party(), &dsp(), DataKind::Day, t0(), now(), before).allowed);
    let d = reg.authorize(&esp_party(), &dsp(), DataKind::Day, t0(), now(), until);
    assert_eq!(d.code(), Some("mandate_expired"));
}

#[test]
fn tick_with_nothing_due_changes_nothing() {
    let mut reg = setup();
    mandate(&mut reg, Scope::DayOnly, true, now());
    let before = reg.clone();
    assert!(reg.apply(Command::Tick, now() + days(30)).unwrap().is_empty());
    assert_eq!(reg, before);
}

#[test]
fn a_tick_past_the_term_expires_without_a_late_renewal_signal() {
    let mut reg = setup();
    mandate(&mut reg, Scope::DayOnly, true, now());
    let notes = reg.apply(Command::Tick, ts("2030-01-01T00:00:00Z")).unwrap();
    assert_eq!(kinds(&notes), [NotificationKind::MandateExpired]);
    assert!(reg.apply(Command::Tick, ts("2030-01-02T00:00:00Z")).unwrap().is_empty());
}

#[rstest]
// Summer time stays summer time: the same wall-clock hour three years on.
#[case("2026-07-01T10:00", "2029-07-01T10:00")]
// Winter to winter.
#[case("2026-12-15T23:30", "2029-12-15T23:30")]
// 29 February has no twin three years later.
#[case("2028-02-29T12:00", "2031-02-28T12:00")]
fn validity_is_three_calendar_years_in_brussels(#[case] approved: &str, #[case] until: &str) {
    let mut reg = setup();
    let id = mandate(&mut reg, Scope::DayOnly, true, local(approved));
    assert_eq!(reg.mandate(&id).unwrap().valid_until, Some(local(until)));
}

#[test]
fn renewal_finishes_the_old_mandate_and_leaves_no_gap() {
    let mut reg = setup();
    let old = mandate(&mut reg, Scope::WithInterval, true, now());
    let old_until = reg.mandate(&old).unwrap().valid_until.unwrap();
    let at = old_until - days(30);

    let notes = reg.apply(request_cmd("g1", Scope::WithInterval, true, Some(&old)), at).unwrap();
    let new = notes[0].mandate.clone().unwrap();
    // Until the renewal is approved the old one stands.
    assert_eq!(reg.mandate(&old).unwrap().state, MandateState::Approved);
    let notes =
        reg.apply(Command::ApproveMandate { mandate: new.clone(), by: g("g1") }, at).unwrap();
    assert_eq!(kinds(&notes), [NotificationKind::MandateApproved, NotificationKind::MandateEnded]);

    let o = reg.mandate(&old).unwrap();
    assert_eq!(o.state, MandateState::Finished { reason: EndReason::Renewed });
    let n = reg.mandate(&new).unwrap();
    assert_eq!(n.state, MandateState::Approved);
    assert_eq!(n.valid_until, Some(ts("2032-02-08T10:00:00Z")));

    // Reads keep working across the old term, without a gap.
    for read_at in [at, old_until, old_until + days(1)] {
        let d = reg.authorize(&esp_party(), &dsp(), DataKind::QuarterHour, t0(), read_at, read_at);
        assert!(d.allowed, "{read_at}");
        assert_eq!(d.windows, [(t0(), read_at)]);
        assert_eq!(d.basis, Some(Basis::Mandate(new.clone())));
    }
    // The old mandate never expires now: it is finished.
    assert!(
        reg.apply(Command::Tick, old_until + days(1))
            .unwrap()
            .iter()
            .all(|n| n.mandate.as_deref() != Some(old.as_str()))
    );
}

#[test]
fn only_an_approved_mandate_of_the_same_esp_and_point_can_be_renewed() {
    let mut reg = setup();
    let notes = reg.apply(request_cmd("g1", Scope::DayOnly, true, None), now()).unwrap();
    let pending = notes[0].mandate.clone().unwrap();
    let err = reg
        .apply(
            Command::RequestMandate {
                esp: esp_kbo(),
                data_service_point: dsp(),
                customer: g("g1"),
                scope: Scope::DayOnly,
                period_from: t0(),
                period_to: None,
                history: true,
                renews: Some(pending.clone()),
            },
            now(),
        )
        .unwrap_err();
    assert_eq!(err.code(), "already_decided");
    reg.apply(Command::ApproveMandate { mandate: pending.clone(), by: g("g1") }, now()).unwrap();
    let err = reg
        .apply(
            Command::RequestMandate {
                esp: other_kbo(),
                data_service_point: dsp(),
                customer: g("g1"),
                scope: Scope::DayOnly,
                period_from: t0(),
                period_to: None,
                history: true,
                renews: Some(pending),
            },
            now(),
        )
        .unwrap_err();
    assert_eq!(err.code(), "forbidden");
    let err = reg.apply(request_cmd("g1", Scope::DayOnly, true, Some("M99")), now()).unwrap_err();
    assert_eq!(err.code(), "unknown_mandate");
}

// ----- mandates: who decides (R-MAN-3, R-MAN-4) -------------------------------------------

#[test]
fn the_esp_cannot_end_a_mandate() {
    let mut reg = setup();
    let id = mandate(&mut reg, Scope::DayOnly, true, now());
    for by in [esp_party(), Party::Admin, Party::Operator] {
        let err = reg.apply(Command::EndMandate { mandate: id.clone(), by }, now()).unwrap_err();
        assert_eq!(err.code(), "forbidden");
    }
    // Strangers (another grid user, another ESP) get what a mandate that does not exist gets.
    let other_esp = Party::Esp(Kbo::with_check("09999999").unwrap());
    for by in [Party::GridUser(g("stranger")), other_esp] {
        let err = reg.apply(Command::EndMandate { mandate: id.clone(), by: by.clone() }, now());
        let missing = reg.apply(Command::EndMandate { mandate: "M404".into(), by }, now());
        assert_eq!(err.unwrap_err().code(), missing.unwrap_err().code());
    }
    assert_eq!(reg.mandate(&id).unwrap().state, MandateState::Approved);
}

#[test]
fn the_customer_ends_a_mandate_and_access_stops() {
    let mut reg = setup();
    let id = mandate(&mut reg, Scope::DayOnly, true, now());
    let at = now() + days(10);
    let notes = reg
        .apply(Command::EndMandate { mandate: id.clone(), by: Party::GridUser(g("g1")) }, at)
        .unwrap();
    assert_eq!(kinds(&notes), [NotificationKind::MandateEnded]);
    assert_eq!(notes[0].esp, Some(esp_kbo()));
    let m = reg.mandate(&id).unwrap();
    assert_eq!(m.state, MandateState::Finished { reason: EndReason::Customer });
    assert_eq!(m.ended_at, Some(at));
    let d = reg.authorize(&esp_party(), &dsp(), DataKind::Day, t0(), at, at);
    assert_eq!(d.code(), Some("no_mandate"));
    let err = reg
        .apply(Command::EndMandate { mandate: id, by: Party::GridUser(g("g1")) }, at)
        .unwrap_err();
    assert_eq!(err.code(), "already_decided");
}

#[test]
fn co_consent_is_needed_when_the_customer_is_not_the_grid_user() {
    let mut reg = setup();
    let notes = reg.apply(request_cmd("c2", Scope::WithInterval, true, None), now()).unwrap();
    assert_eq!(kinds(&notes), [NotificationKind::MandateRequested; 2]);
    assert_eq!(notes[0].esp, Some(esp_kbo()));
    assert_eq!((notes[1].esp.clone(), notes[1].grid_user.clone()), (None, Some(g("g1"))));
    let id = notes[0].mandate.clone().unwrap();
    let m = reg.mandate(&id).unwrap();
    assert!(m.needs_co_consent);
    assert_eq!(m.grid_user, g("g1"));

    let err = reg
        .apply(Command::ApproveMandate { mandate: id.clone(), by: g("stranger") }, now())
        .unwrap_err();
    assert_eq!(err.code(), "unknown_mandate", "a stranger learns nothing, not even existence");

    let notes =
        reg.apply(Command::ApproveMandate { mandate: id.clone(), by: g("c2") }, now()).unwrap();
    assert!(notes.is_empty());
    assert_eq!(reg.mandate(&id).unwrap().state, MandateState::Requested);
    let d = reg.authorize(&esp_party(), &dsp(), DataKind::Day, t0(), now(), now());
    assert_eq!(d.code(), Some("mandate_not_approved"));
    let err =
        reg.apply(Command::ApproveMandate { mandate: id.clone(), by: g("c2") }, now()).unwrap_err();
    assert_eq!(err.code(), "already_decided");

    let later = now() + days(1);
    let notes =
        reg.apply(Command::ApproveMandate { mandate: id.clone(), by: g("g1") }, later).unwrap();
    assert_eq!(kinds(&notes), [NotificationKind::MandateApproved]);
    let m = reg.mandate(&id).unwrap();
    assert_eq!(m.state, MandateState::Approved);
    assert_eq!(m.approved_at, Some(later));
    assert!(reg.authorize(&esp_party(), &dsp(), DataKind::Day, t0(), now(), later).allowed);

    // The current grid user may end it too, not only the customer.
    let notes = reg
        .apply(Command::EndMandate { mandate: id.clone(), by: Party::GridUser(g("g1")) }, later)
        .unwrap();
    assert_eq!(kinds(&notes), [NotificationKind::MandateEnded]);
    assert_eq!(
        reg.mandate(&id).unwrap().state,
        MandateState::Finished { reason: EndReason::GridUser }
    );
}

#[test]
fn the_grid_user_can_reject_a_mandate_the_customer_asked_for() {
    let mut reg = setup();
    let notes = reg.apply(request_cmd("c2", Scope::DayOnly, true, None), now()).unwrap();
    let id = notes[0].mandate.clone().unwrap();
    let notes =
        reg.apply(Command::RejectMandate { mandate: id.clone(), by: g("g1") }, now()).unwrap();
    assert_eq!(kinds(&notes), [NotificationKind::MandateRejected]);
    assert_eq!(reg.mandate(&id).unwrap().state, MandateState::Rejected);
    let err = reg.apply(Command::ApproveMandate { mandate: id, by: g("c2") }, now()).unwrap_err();
    assert_eq!(err.code(), "already_decided");
}

#[test]
fn a_second_pending_request_is_a_duplicate() {
    let mut reg = setup();
    reg.apply(request_cmd("g1", Scope::DayOnly, true, None), now()).unwrap();
    let err = reg.apply(request_cmd("g1", Scope::DayOnly, true, None), now()).unwrap_err();
    assert_eq!(err.code(), "duplicate");
}

#[test]
fn request_errors_name_what_is_wrong() {
    let mut reg = setup();
    let base = |esp: Kbo, point: Ean, to: Option<Timestamp>| Command::RequestMandate {
        esp,
        data_service_point: point,
        customer: g("g1"),
        scope: Scope::DayOnly,
        period_from: now(),
        period_to: to,
        history: false,
        renews: None,
    };
    let unknown = Kbo::with_check("09999999").unwrap();
    let cases = [
        (base(unknown, dsp(), None), "unknown_esp"),
        (base(esp_kbo(), ean(99), None), "unknown_point"),
        // An access point is not a data service point.
        (base(esp_kbo(), ap(), None), "unknown_point"),
        (base(esp_kbo(), dsp(), Some(now() - days(1))), "period_reversed"),
        (base(esp_kbo(), dsp(), Some(now())), "period_reversed"),
    ];
    for (cmd, code) in cases {
        assert_eq!(reg.apply(cmd, now()).unwrap_err().code(), code);
    }
    reg.apply(Command::RegisterEsp { esp: esp(esp_kbo(), ContractStatus::Suspended) }, now())
        .unwrap();
    let err = reg.apply(base(esp_kbo(), dsp(), None), now()).unwrap_err();
    assert_eq!(err.code(), "esp_not_active");
    assert!(err.to_string().contains("not active"));
}

#[test]
fn the_step_plan_link_is_one_per_esp() {
    let reg = setup();
    assert_eq!(
        reg.esp(&esp_kbo()).unwrap().step_plan_path(),
        "/dienstverlener/0123456749/stappenplan"
    );
}

// ----- authorization of mandates (R-MAN-2, R-MAN-6, R-ACC-2) -------------------------------

#[rstest]
#[case(DataKind::Day, None)]
#[case(DataKind::MonthPeak, None)]
#[case(DataKind::QuarterHour, Some("scope_excludes_granularity"))]
#[case(DataKind::Hour, Some("scope_excludes_granularity"))]
#[case(DataKind::Nrt, Some("no_consent"))]
fn day_only_mandates_serve_day_data_only(#[case] what: DataKind, #[case] code: Option<&str>) {
    let mut reg = setup();
    mandate(&mut reg, Scope::DayOnly, true, now());
    let d = reg.authorize(&esp_party(), &dsp(), what, t0(), now(), now());
    assert_eq!(d.code(), code);
    assert_eq!(d.allowed, code.is_none());
}

#[test]
fn with_interval_mandates_serve_interval_data() {
    let mut reg = setup();
    let id = mandate(&mut reg, Scope::WithInterval, true, now());
    for what in [DataKind::Day, DataKind::QuarterHour, DataKind::Hour, DataKind::MonthPeak] {
        let d = reg.authorize(&esp_party(), &dsp(), what, t0(), now(), now());
        assert_eq!(d.windows, [(t0(), now())]);
        assert_eq!(d.basis, Some(Basis::Mandate(id.clone())));
    }
    // Through the access point too, but not for another ESP or the other data service point.
    assert!(reg.authorize(&esp_party(), &ap(), DataKind::Day, t0(), now(), now()).allowed);
    let other = Party::Esp(other_kbo());
    assert_eq!(
        reg.authorize(&other, &dsp(), DataKind::Day, t0(), now(), now()).code(),
        Some("no_mandate")
    );
    assert_eq!(
        reg.authorize(&esp_party(), &dsp2(), DataKind::Day, t0(), now(), now()).code(),
        Some("no_mandate")
    );
}

#[test]
fn without_history_only_data_from_the_approval_on() {
    let mut reg = setup();
    mandate(&mut reg, Scope::DayOnly, false, now());
    let later = now() + days(5);
    let d = reg.authorize(&esp_party(), &dsp(), DataKind::Day, t0(), later, later);
    assert_eq!(d.windows, [(now(), later)]);
    let d = reg.authorize(&esp_party(), &dsp(), DataKind::Day, t0(), now(), later);
    assert_eq!(d.code(), Some("outside_period"));
}

#[test]
fn the_mandate_period_bounds_the_windows() {
    let mut reg = setup();
    let from = ts("2025-06-01T00:00:00Z");
    let to = ts("2025-09-01T00:00:00Z");
    reg.apply(
        Command::RequestMandate {
            esp: esp_kbo(),
            data_service_point: dsp(),
            customer: g("g1"),
            scope: Scope::DayOnly,
            period_from: from,
            period_to: Some(to),
            history: true,
            renews: None,
        },
        now(),
    )
    .unwrap();
    reg.apply(Command::ApproveMandate { mandate: "M1".into(), by: g("g1") }, now()).unwrap();
    let d = reg.authorize(&esp_party(), &dsp(), DataKind::Day, t0(), now(), now());
    assert_eq!(d.windows, [(from, to)]);
}

#[test]
fn roles_admin_sees_all_operator_nothing() {
    let reg = setup();
    let d = reg.authorize(&Party::Admin, &dsp(), DataKind::QuarterHour, t0(), now(), now());
    assert_eq!((d.allowed, d.windows, d.basis), (true, vec![(t0(), now())], Some(Basis::Admin)));
    for what in DataKind::ALL {
        let d = reg.authorize(&Party::Operator, &dsp(), what, t0(), now(), now());
        assert_eq!(d.code(), Some("forbidden_role"));
    }
    let d = reg.authorize(&Party::Admin, &ean(99), DataKind::Day, t0(), now(), now());
    assert_eq!(d.code(), Some("unknown_point"));
}

#[test]
fn an_unknown_point_is_refused_like_a_point_that_is_not_yours() {
    // No existence oracle: for everyone but staff, a point that does not exist gets the same
    // refusal as a real point they have no mandate, consent or occupancy on.
    let reg = setup();
    let stranger = Party::GridUser(g("stranger"));
    for who in [esp_party(), stranger] {
        for what in DataKind::ALL {
            let real = reg.authorize(&who, &dsp(), what, t0(), now(), now());
            let missing = reg.authorize(&who, &ean(99), what, t0(), now(), now());
            if !real.allowed {
                assert_eq!(real.code(), missing.code(), "{who:?} {what:?}");
            }
        }
    }
}

#[test]
fn a_suspended_esp_reads_nothing() {
    let mut reg = setup();
    mandate(&mut reg, Scope::WithInterval, true, now());
    reg.apply(Command::RegisterEsp { esp: esp(esp_kbo(), ContractStatus::Suspended) }, now())
        .unwrap();
    let d = reg.authorize(&esp_party(), &dsp(), DataKind::Day, t0(), now(), now());
    assert_eq!(d.code(), Some("esp_not_active"));
    assert!(reg.parties_with_access(&dsp(), now()).is_empty());
    let unknown = Party::Esp(Kbo::with_check("09999999").unwrap());
    let d = reg.authorize(&unknown, &dsp(), DataKind::Day, t0(), now(), now());
    assert_eq!(d.code(), Some("esp_not_active"));
}

#[test]
fn the_grid_user_sees_his_own_occupancy() {
    let reg = setup();
    let before = t0() - days(10);
    let d = reg.authorize(&Party::GridUser(g("g1")), &dsp(), DataKind::Nrt, before, now(), now());
    assert_eq!(d.windows, [(t0(), now())]);
    assert_eq!(d.basis, Some(Basis::Occupancy));
    let d = reg.authorize(&Party::GridUser(g("g2")), &dsp(), DataKind::Day, t0(), now(), now());
    assert_eq!(d.code(), Some("outside_occupancy"));
}

#[test]
fn mandate_status_and_parties_with_access() {
    let mut reg = setup();
    let id = mandate(&mut reg, Scope::DayOnly, true, now());
    let c = consent(&mut reg, now());
    let status = reg.mandate_status(&esp_kbo(), &[dsp(), dsp2()]);
    assert_eq!(status.len(), 2);
    assert_eq!(status[0].0, dsp());
    let view = status[0].1.clone().unwrap();
    assert_eq!((view.id.as_str(), view.state), (id.as_str(), MandateState::Approved));
    assert_eq!(status[1], (dsp2(), None));
    let mut access = reg.parties_with_access(&dsp(), now());
    access.sort();
    assert_eq!(
        access,
        [(esp_kbo(), Basis::Mandate(id.clone())), (esp_kbo(), Basis::Consent(c.clone()))]
    );
    assert_eq!(reg.parties_with_access(&ap(), now()).len(), 2);
    assert_eq!(reg.mandates_of_esp(&esp_kbo()).len(), 1);
    assert_eq!(reg.mandates_for_point(&ap()).len(), 1);
    assert_eq!(reg.consents_of_esp(&esp_kbo()).len(), 1);
    assert_eq!(reg.consents_for_point(&ap()).len(), 1);
    assert_eq!(reg.consent(&c).unwrap().service, "self-consumption");
    // The MandateStatus kind is allowed for the ESP itself.
    let d = reg.authorize(&esp_party(), &dsp(), DataKind::MandateStatus, t0(), now(), now());
    assert!(d.allowed);
}

// ----- market scenarios (R-MAN-5, R-NRT-7) ---------------------------------------------------

#[test]
fn a_supplier_switch_changes_only_the_supplier() {
    let mut reg = setup();
    let id = mandate(&mut reg, Scope::WithInterval, true, now());
    let c = consent(&mut reg, now());
    let e = now() - days(5);
    let notes = reg.apply(scenario(ScenarioKind::SupplierSwitch, e, None, Some("s2")), now());
    assert!(notes.unwrap().is_empty());
    assert_eq!(reg.mandate(&id).unwrap().period_to, None);
    assert_eq!(reg.consent(&c).unwrap().revoked_at, None);
    assert_eq!(reg.supplier_at(&ap(), e - days(1)), Some(&s("s1")));
    assert_eq!(reg.supplier_at(&ap(), e), Some(&s("s2")));
    assert_eq!(reg.grid_user_at(&ap(), e), Some(&g("g1")));
    assert_eq!(reg.occupancy(&ap()).len(), 2);
    let d = reg.authorize(&esp_party(), &dsp(), DataKind::QuarterHour, t0(), now(), now());
    assert_eq!(d.windows, [(t0(), now())]);
    let err = reg.apply(scenario(ScenarioKind::SupplierSwitch, e, None, None), now());
    assert_eq!(err.unwrap_err().code(), "scenario_incomplete");
}

#[test]
fn end_of_contract_leaves_the_point_without_supplier_and_mandates_untouched() {
    let mut reg = setup();
    let id = mandate(&mut reg, Scope::DayOnly, true, now());
    let notes = reg.apply(scenario(ScenarioKind::EndOfContract, now(), None, None), now());
    assert!(notes.unwrap().is_empty());
    assert_eq!(reg.supplier_at(&ap(), now()), None);
    assert_eq!(reg.grid_user_at(&ap(), now()), Some(&g("g1")));
    assert_eq!(reg.mandate(&id).unwrap().period_to, None);
}

#[test]
fn a_backdated_customer_switch_ends_the_period_at_its_effective_date() {
    let mut reg = setup();
    let id = mandate(&mut reg, Scope::WithInterval, true, now() - days(100));
    let e = now() - days(20);
    let notes =
        reg.apply(scenario(ScenarioKind::CustomerSwitch, e, Some("g2"), None), now()).unwrap();
    assert_eq!(kinds(&notes), [NotificationKind::PeriodTruncated]);
    assert_eq!(notes[0].esp, Some(esp_kbo()));
    let m = reg.mandate(&id).unwrap();
    assert_eq!(m.period_to, Some(e));
    assert_eq!(m.state, MandateState::Approved, "truncated, not ended");
    assert_eq!(reg.supplier_at(&ap(), now()), Some(&s("s1")));

    // The ESP keeps the data before the switch and nothing after, whatever it asks for.
    let d = reg.authorize(&esp_party(), &dsp(), DataKind::QuarterHour, t0(), now(), now());
    assert_eq!(d.windows, [(t0(), e)]);
    let d = reg.authorize(&esp_party(), &dsp(), DataKind::Day, e, now(), now());
    assert_eq!(d.code(), Some("outside_period"));
    // Access is still listed: data before the date stays readable.
    assert_eq!(reg.parties_with_access(&dsp(), now()), [(esp_kbo(), Basis::Mandate(id))]);

    // The new grid user never sees the previous one's history; the old one nothing after.
    let g2 = Party::GridUser(g("g2"));
    let g1 = Party::GridUser(g("g1"));
    let d = reg.authorize(&g2, &dsp(), DataKind::QuarterHour, t0(), now(), now());
    assert_eq!(d.windows, [(e, now())]);
    let d = reg.authorize(&g2, &dsp(), DataKind::QuarterHour, t0(), e, now());
    assert_eq!(d.code(), Some("outside_occupancy"));
    let d = reg.authorize(&g1, &dsp(), DataKind::QuarterHour, t0(), now(), now());
    assert_eq!(d.windows, [(t0(), e)]);
    let d = reg.authorize(&g1, &dsp(), DataKind::QuarterHour, e, now(), now());
    assert_eq!(d.code(), Some("outside_occupancy"));
}

#[test]
fn the_new_grid_users_mandate_never_reaches_into_the_previous_occupancy() {
    let mut reg = setup();
    let e = now() - days(20);
    reg.apply(scenario(ScenarioKind::CombinedSwitch, e, Some("g2"), Some("s2")), now()).unwrap();
    let notes = reg.apply(request_cmd("g2", Scope::WithInterval, true, None), now()).unwrap();
    let id = notes[0].mandate.clone().unwrap();
    reg.apply(Command::ApproveMandate { mandate: id, by: g("g2") }, now()).unwrap();
    let d = reg.authorize(&esp_party(), &dsp(), DataKind::QuarterHour, t0(), now(), now());
    assert_eq!(d.windows, [(e, now())]);
    // g1 may still ask as a customer, but now needs g2's co-consent.
    let notes = reg.apply(request_cmd("g1", Scope::DayOnly, true, None), now()).unwrap();
    assert!(reg.mandate(notes[0].mandate.as_ref().unwrap()).unwrap().needs_co_consent);
}

#[rstest]
#[case(ScenarioKind::CustomerSwitch, Some("g2"), None)]
#[case(ScenarioKind::CombinedSwitch, Some("g2"), Some("s2"))]
#[case(ScenarioKind::MoveIn, Some("g2"), None)]
#[case(ScenarioKind::MoveOut, None, None)]
#[case(ScenarioKind::Moza, None, None)]
fn scenarios_that_change_the_grid_user_truncate_and_revoke(
    #[case] kind: ScenarioKind,
    #[case] grid_user: Option<&str>,
    #[case] supplier: Option<&str>,
) {
    let mut reg = setup();
    let id = mandate(&mut reg, Scope::WithInterval, true, now() - days(50));
    let c = consent(&mut reg, now() - days(50));
    let e = now() - days(10);
    let notes = reg.apply(scenario(kind, e, grid_user, supplier), now()).unwrap();
    assert_eq!(
        kinds(&notes),
        [NotificationKind::PeriodTruncated, NotificationKind::ConsentRevoked],
        "{kind:?}"
    );
    assert_eq!(reg.mandate(&id).unwrap().period_to, Some(e));
    let consent = reg.consent(&c).unwrap();
    // Revoked now (the past cannot be unsent) …
    assert_eq!(consent.revoked_at, Some(now()));
    assert_eq!(consent.revoke_reason, Some(RevokeReason::MarketScenario));
    assert_eq!(reg.grid_user_at(&ap(), e), grid_user.map(g).as_ref());
    // … and nothing of either is readable any more past the effective date.
    let d = reg.authorize(&esp_party(), &dsp(), DataKind::Nrt, t0(), now(), now());
    assert_eq!(d.code(), Some("no_consent"));
    let d = reg.authorize(&esp_party(), &dsp(), DataKind::QuarterHour, t0(), now(), now());
    assert_eq!(d.windows.last().unwrap().1, e);
}

#[test]
fn scenarios_need_their_parties() {
    let mut reg = setup();
    let before = reg.clone();
    for cmd in [
        scenario(ScenarioKind::CustomerSwitch, now(), None, None),
        scenario(ScenarioKind::CombinedSwitch, now(), Some("g2"), None),
        scenario(ScenarioKind::CombinedSwitch, now(), None, Some("s2")),
        scenario(ScenarioKind::MoveIn, now(), None, Some("s2")),
    ] {
        assert_eq!(reg.apply(cmd, now()).unwrap_err().code(), "scenario_incomplete");
    }
    assert_eq!(reg, before);
}

#[test]
fn backdating_is_limited() {
    let mut reg = setup();
    let before = reg.clone();
    let cmd = scenario(ScenarioKind::CustomerSwitch, now() - days(61), Some("g2"), None);
    let err = reg.apply(cmd, now()).unwrap_err();
    assert_eq!(err.code(), "backdate_too_far");
    assert!(err.to_string().contains("60 days"), "{err}");
    assert_eq!(reg, before);
    let cmd = scenario(ScenarioKind::CustomerSwitch, now() - days(60), Some("g2"), None);
    reg.apply(cmd, now()).unwrap();
    // A data service point is not an access point.
    let cmd = Command::MarketScenario {
        access_point: dsp(),
        kind: ScenarioKind::SupplierSwitch,
        effective: now(),
        new_grid_user: None,
        new_supplier: Some(s("s2")),
    };
    assert_eq!(reg.apply(cmd, now()).unwrap_err().code(), "unknown_point");
}

#[test]
fn moza_after_a_move_out_extends_nothing() {
    let mut reg = setup();
    let id = mandate(&mut reg, Scope::DayOnly, true, now() - days(50));
    let mo = now() - days(30);
    reg.apply(scenario(ScenarioKind::MoveOut, mo, None, None), now()).unwrap();
    let notes = reg.apply(scenario(ScenarioKind::Moza, now(), None, None), now()).unwrap();
    assert!(notes.is_empty());
    assert_eq!(reg.mandate(&id).unwrap().period_to, Some(mo));
    assert_eq!(reg.grid_user_at(&ap(), now()), None);
    assert_eq!(reg.supplier_at(&ap(), now()), None);
    // A vacant point: nobody can grant a mandate.
    let err = reg.apply(request_cmd("g1", Scope::DayOnly, true, None), now()).unwrap_err();
    assert_eq!(err.code(), "not_grid_user");
    // A later occupant arrives by move-in, and starts from his own date.
    let mi = now() + days(1);
    reg.apply(scenario(ScenarioKind::MoveIn, mi, Some("g3"), Some("s3")), mi).unwrap();
    let d = reg.authorize(&Party::GridUser(g("g3")), &dsp(), DataKind::Day, t0(), mi, mi);
    assert_eq!(d.code(), Some("outside_occupancy"));
    let timeline: Vec<_> = reg.occupancy(&ap()).iter().map(|o| o.grid_user.clone()).collect();
    assert_eq!(timeline, [Some(g("g1")), None, None, Some(g("g3"))]);
}

#[rstest]
#[case(true)]
#[case(false)]
fn drop_truncates_only_when_the_rule_says_so(#[case] drop_truncates: bool) {
    let mut reg = setup_with(Rules { drop_truncates, ..Rules::default() });
    let id = mandate(&mut reg, Scope::DayOnly, true, now() - days(50));
    let c = consent(&mut reg, now() - days(50));
    let e = now() - days(5);
    let notes = reg.apply(scenario(ScenarioKind::Drop, e, None, None), now()).unwrap();
    assert_eq!(reg.supplier_at(&ap(), e), Some(&s(DSO_SOCIAL_SUPPLIER)));
    assert_eq!(reg.grid_user_at(&ap(), e), Some(&g("g1")));
    // The grid user stays, so his NRT consent does too.
    assert_eq!(reg.consent(&c).unwrap().revoked_at, None);
    let d = reg.authorize(&esp_party(), &dsp(), DataKind::Day, t0(), now(), now());
    if drop_truncates {
        assert_eq!(kinds(&notes), [NotificationKind::PeriodTruncated]);
        assert_eq!(reg.mandate(&id).unwrap().period_to, Some(e));
        assert_eq!(d.windows, [(t0(), e)]);
    } else {
        assert!(notes.is_empty());
        assert_eq!(reg.mandate(&id).unwrap().period_to, None);
        assert_eq!(d.windows, [(t0(), now())]);
    }
}

#[test]
fn a_backdated_switch_before_a_supplier_switch_keeps_the_later_supplier() {
    let mut reg = setup();
    let ss = now() - days(10);
    let cs = now() - days(20);
    reg.apply(scenario(ScenarioKind::SupplierSwitch, ss, None, Some("s2")), now()).unwrap();
    reg.apply(scenario(ScenarioKind::CustomerSwitch, cs, Some("g2"), None), now()).unwrap();
    let rows: Vec<_> = reg
        .occupancy(&ap())
        .iter()
        .map(|o| (o.grid_user.clone(), o.supplier.clone(), o.from, o.to))
        .collect();
    assert_eq!(
        rows,
        [
            (Some(g("g1")), Some(s("s1")), t0(), Some(cs)),
            (Some(g("g2")), Some(s("s1")), cs, Some(ss)),
            (Some(g("g2")), Some(s("s2")), ss, None),
        ]
    );
}

#[test]
fn a_future_switch_revokes_consents_at_its_date() {
    let mut reg = setup();
    let c = consent(&mut reg, now());
    let e = now() + days(30);
    reg.apply(scenario(ScenarioKind::CombinedSwitch, e, Some("g2"), Some("s2")), now()).unwrap();
    assert_eq!(reg.consent(&c).unwrap().revoked_at, Some(e));
    let mid = now() + days(10);
    let d = reg.authorize(&esp_party(), &dsp(), DataKind::Nrt, now(), mid, mid);
    assert_eq!(d.windows, [(now(), mid)]);
    let d = reg.authorize(&esp_party(), &dsp(), DataKind::Nrt, now(), e + days(1), e);
    assert_eq!(d.code(), Some("no_consent"));
}

// ----- NRT consents (R-NRT-5, R-NRT-6) -----------------------------------------------------

#[test]
fn consent_needs_terms_catalogue_service_and_the_current_grid_user() {
    let mut reg = setup();
    let grant = |grid_user: &str, service: &str| Command::GrantConsent {
        grid_user: g(grid_user),
        data_service_point: dsp(),
        esp: esp_kbo(),
        service: service.into(),
    };
    let err = reg.apply(grant("g1", "self-consumption"), now()).unwrap_err();
    assert_eq!(err.code(), "terms_not_accepted");
    let err = reg
        .apply(Command::AcceptTerms { grid_user: g("g2"), access_point: ap() }, now())
        .unwrap_err();
    assert_eq!(err.code(), "not_grid_user");
    reg.apply(Command::AcceptTerms { grid_user: g("g1"), access_point: ap() }, now()).unwrap();
    let err = reg
        .apply(Command::AcceptTerms { grid_user: g("g1"), access_point: ap() }, now())
        .unwrap_err();
    assert_eq!(err.code(), "duplicate");
    let err = reg.apply(grant("g1", "alerts"), now()).unwrap_err();
    assert_eq!(err.code(), "unknown_service");
    assert!(err.to_string().contains("self-consumption"));
    let err = reg.apply(grant("g2", "self-consumption"), now()).unwrap_err();
    assert_eq!(err.code(), "not_grid_user");
    reg.apply(grant("g1", "self-consumption"), now()).unwrap();
    let err = reg.apply(grant("g1", "self-consumption"), now()).unwrap_err();
    assert_eq!(err.code(), "duplicate");
}

#[test]
fn an_nrt_consent_is_no_quarter_hour_mandate() {
    let mut reg = setup();
    let c = consent(&mut reg, now());
    let later = now() + days(1);
    let d = reg.authorize(&esp_party(), &dsp(), DataKind::Nrt, t0(), later, later);
    assert_eq!(d.windows, [(now(), later)]);
    assert_eq!(d.basis, Some(Basis::Consent(c)));
    let d = reg.authorize(&esp_party(), &dsp(), DataKind::QuarterHour, t0(), later, later);
    assert_eq!(d.code(), Some("no_mandate"));
}

#[test]
fn revocation_cuts_nrt_access_at_the_instant() {
    let mut reg = setup();
    let c = consent(&mut reg, now());
    let t = now() + SignedDuration::from_secs(3600);
    let err = reg.apply(Command::RevokeConsent { consent: c.clone(), by: g("g2") }, t);
    let err = err.unwrap_err();
    assert_eq!(err.code(), "unknown_consent", "another grid user learns nothing of it");
    assert!(!err.to_string().contains("g1"), "{err}");
    let notes = reg.apply(Command::RevokeConsent { consent: c.clone(), by: g("g1") }, t).unwrap();
    assert_eq!(kinds(&notes), [NotificationKind::ConsentRevoked]);
    assert_eq!(notes[0].esp, Some(esp_kbo()));
    let consent = reg.consent(&c).unwrap();
    assert_eq!(
        (consent.revoked_at, consent.revoke_reason),
        (Some(t), Some(RevokeReason::GridUser))
    );
    let d = reg.authorize(&esp_party(), &dsp(), DataKind::Nrt, now(), t, t);
    assert_eq!(d.code(), Some("no_consent"));
    let err = reg.apply(Command::RevokeConsent { consent: c, by: g("g1") }, t);
    assert_eq!(err.unwrap_err().code(), "already_decided");
    let err = reg.apply(Command::RevokeConsent { consent: "C9".into(), by: g("g1") }, t);
    assert_eq!(err.unwrap_err().code(), "unknown_consent");
}

proptest! {
    /// After a revocation at `t` no NRT window of the ESP reaches past `t`, for any request
    /// at any later instant; before it, none reaches past the request's own end.
    #[test]
    fn no_consent_window_outlives_its_revocation(
        revoke_after in 1i64..100_000,
        from_off in -200_000i64..200_000,
        len in 1i64..400_000,
        ask_after in 0i64..100_000,
    ) {
        let mut reg = setup();
        let c = consent(&mut reg, now());
        let t = now() + SignedDuration::from_secs(revoke_after);
        reg.apply(Command::RevokeConsent { consent: c, by: g("g1") }, t).unwrap();
        let from = now() + SignedDuration::from_secs(from_off);
        let to = from + SignedDuration::from_secs(len);
        let at = t + SignedDuration::from_secs(ask_after);
        let d = reg.authorize(&esp_party(), &dsp(), DataKind::Nrt, from, to, at);
        prop_assert!(d.windows.iter().all(|&(_, e)| e <= t));
    }

    /// After a market scenario that changes the grid user at `e`, no window the ESP gets
    /// reaches past `e`, for any data kind, any request and any later instant.
    #[test]
    fn no_window_outlives_a_grid_user_change(
        back_days in 0i64..=60,
        kind in prop_oneof![
            Just(ScenarioKind::CustomerSwitch),
            Just(ScenarioKind::CombinedSwitch),
            Just(ScenarioKind::MoveIn),
            Just(ScenarioKind::MoveOut),
            Just(ScenarioKind::Moza),
        ],
        history in any::<bool>(),
        from_off in -800i64..100,
        len in 1i64..900,
        ask_after in 0i64..1000,
        what in prop::sample::select(DataKind::ALL.to_vec()),
    ) {
        let mut reg = setup();
        mandate(&mut reg, Scope::WithInterval, history, now() - days(300));
        consent(&mut reg, now() - days(300));
        let e = now() - days(back_days);
        reg.apply(scenario(kind, e, Some("g2"), Some("s2")), now()).unwrap();
        let from = now() + days(from_off);
        let to = from + days(len);
        let at = now() + SignedDuration::from_hours(ask_after);
        let d = reg.authorize(&esp_party(), &dsp(), what, from, to, at);
        if what != DataKind::MandateStatus {
            prop_assert!(d.windows.iter().all(|&(_, end)| end <= e), "{:?}", d);
        }
        // Windows are always sorted, non-empty, disjoint and inside the request.
        for w in d.windows.windows(2) {
            prop_assert!(w[0].1 < w[1].0);
        }
        prop_assert!(d.windows.iter().all(|&(s, e)| from <= s && s < e && e <= to));
    }
}

// ----- registry records -------------------------------------------------------------------

#[test]
fn access_point_registration_checks_its_records() {
    let mut reg = setup();
    let before = reg.clone();
    assert_eq!(reg.apply(register_ap_cmd(), now()).unwrap_err().code(), "duplicate");
    let Command::RegisterAccessPoint { mut access_point, data_service_points, .. } =
        register_ap_cmd()
    else {
        unreachable!()
    };
    access_point.ean = ean(10);
    let cmd = |ap: AccessPoint, dsps: Vec<DataServicePoint>| Command::RegisterAccessPoint {
        access_point: ap,
        data_service_points: dsps,
        grid_user: None,
        supplier: None,
        since: now(),
    };
    // Its data service points name another access point.
    let err = reg.apply(cmd(access_point.clone(), data_service_points.clone()), now());
    assert_eq!(err.unwrap_err().code(), "invalid_point");
    // A data service point that is already registered.
    let mut dsps = data_service_points.clone();
    for d in &mut dsps {
        d.access_point = ean(10);
    }
    let err = reg.apply(cmd(access_point.clone(), dsps), now());
    assert_eq!(err.unwrap_err().code(), "duplicate");
    // A listed point without a record.
    let err = reg.apply(cmd(access_point.clone(), Vec::new()), now());
    assert_eq!(err.unwrap_err().code(), "invalid_point");
    assert_eq!(reg, before);

    let stored = reg.access_point(&ap()).unwrap();
    assert_eq!(stored.data_service_points, [dsp(), dsp2()]);
    assert_eq!(reg.data_service_point(&dsp2()).unwrap().access_point, ap());
    assert_eq!(reg.access_points().count(), 1);
    assert_eq!(reg.esps().count(), 2);
    assert!(reg.occupancy(&ean(99)).is_empty());
}

#[test]
fn dongle_links_are_kept_and_replaced() {
    let mut reg = setup();
    let link = |point: Ean, since: Timestamp| DongleLink {
        dongle: "dongle-7".into(),
        meter: "1SAG1100000292".into(),
        data_service_point: point,
        since,
    };
    reg.apply(Command::LinkDongle { link: link(dsp(), now()) }, now()).unwrap();
    assert_eq!(reg.point_of_dongle("dongle-7"), Some(&dsp()));
    let err = reg.apply(Command::LinkDongle { link: link(dsp(), now()) }, now());
    assert_eq!(err.unwrap_err().code(), "duplicate");
    let err = reg.apply(Command::LinkDongle { link: link(ean(99), now()) }, now());
    assert_eq!(err.unwrap_err().code(), "unknown_point");
    let later = now() + days(1);
    reg.apply(Command::LinkDongle { link: link(dsp2(), later) }, later).unwrap();
    assert_eq!(reg.point_of_dongle("dongle-7"), Some(&dsp2()));
    assert_eq!(reg.dongle_links().len(), 1);
    assert_eq!(reg.point_of_dongle("dongle-8"), None);
}

// ----- event sourcing ------------------------------------------------------------------------

fn history() -> Vec<(Command, Timestamp)> {
    let d = |n| now() + days(n);
    vec![
        (register_ap_cmd(), t0()),
        (Command::RegisterEsp { esp: esp(esp_kbo(), ContractStatus::Active) }, t0()),
        (Command::RegisterEsp { esp: esp(other_kbo(), ContractStatus::Active) }, t0()),
        (
            Command::LinkDongle {
                link: DongleLink {
                    dongle: "dongle-1".into(),
                    meter: "1SAG1100000292".into(),
                    data_service_point: dsp(),
                    since: t0(),
                },
            },
            t0(),
        ),
        (request_cmd("g1", Scope::WithInterval, true, None), d(0)),
        (Command::ApproveMandate { mandate: "M1".into(), by: g("g1") }, d(0)),
        (request_cmd("c2", Scope::DayOnly, false, None), d(1)),
        (Command::ApproveMandate { mandate: "M2".into(), by: g("c2") }, d(2)),
        (Command::AcceptTerms { grid_user: g("g1"), access_point: ap() }, d(3)),
        (
            Command::GrantConsent {
                grid_user: g("g1"),
                data_service_point: dsp(),
                esp: esp_kbo(),
                service: "self-consumption".into(),
            },
            d(3),
        ),
        (scenario(ScenarioKind::SupplierSwitch, d(4), None, Some("s2")), d(4)),
        (Command::Tick, d(5)),
        (scenario(ScenarioKind::CustomerSwitch, d(-10), Some("g2"), None), d(6)),
        (Command::EndMandate { mandate: "M1".into(), by: Party::GridUser(g("g1")) }, d(7)),
        (Command::Tick, ts("2029-02-01T00:00:00Z")),
    ]
}

#[test]
fn replaying_the_persisted_commands_gives_the_same_state() {
    let mut live = Registers::new(Rules::default());
    let mut live_notes = Vec::new();
    for (cmd, at) in history() {
        live_notes.extend(live.apply(cmd, at).unwrap());
    }
    let log: Vec<serde_json::Value> = history()
        .into_iter()
        .map(|(cmd, at)| serde_json::json!({ "at": at, "command": cmd }))
        .collect();
    let text = serde_json::to_string(&log).unwrap();

    let parsed: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let entries: Vec<(Command, Timestamp)> = parsed
        .into_iter()
        .map(|v| {
            (
                serde_json::from_value(v["command"].clone()).unwrap(),
                serde_json::from_value(v["at"].clone()).unwrap(),
            )
        })
        .collect();
    let mut replayed = Registers::new(Rules::default());
    let mut replayed_notes = Vec::new();
    for (cmd, at) in &entries {
        replayed_notes.extend(replayed.apply(cmd.clone(), *at).unwrap());
    }
    assert_eq!(replayed, live);
    assert_eq!(serde_json::to_value(&replayed).unwrap(), serde_json::to_value(&live).unwrap());
    assert_eq!(replayed_notes, live_notes);
    let again = Registers::replay(Rules::default(), entries.iter().map(|(c, t)| (c, *t))).unwrap();
    assert_eq!(again, live);
    // The snapshot round-trips too.
    let snapshot: Registers = serde_json::from_value(serde_json::to_value(&live).unwrap()).unwrap();
    assert_eq!(snapshot, live);
    // Sanity: the history did what it says.
    assert_eq!(
        live.mandate("M1").unwrap().state,
        MandateState::Finished { reason: EndReason::Customer }
    );
    assert_eq!(live.mandate("M2").unwrap().state, MandateState::Requested);
}

#[test]
fn refused_commands_change_nothing() {
    let mut reg = Registers::new(Rules::default());
    for (cmd, at) in history() {
        reg.apply(cmd, at).unwrap();
    }
    let before = reg.clone();
    let at = now() + days(8);
    let refused = [
        register_ap_cmd(),
        request_cmd("g2", Scope::DayOnly, true, Some("M1")),
        Command::ApproveMandate { mandate: "M1".into(), by: g("g1") },
        Command::ApproveMandate { mandate: "M2".into(), by: g("stranger") },
        Command::RejectMandate { mandate: "M7".into(), by: g("g1") },
        Command::EndMandate { mandate: "M2".into(), by: esp_party() },
        Command::AcceptTerms { grid_user: g("g1"), access_point: ap() },
        Command::GrantConsent {
            grid_user: g("g2"),
            data_service_point: dsp(),
            esp: esp_kbo(),
            service: "self-consumption".into(),
        },
        Command::RevokeConsent { consent: "C1".into(), by: g("g1") },
        scenario(ScenarioKind::CombinedSwitch, at, Some("g3"), None),
        scenario(ScenarioKind::CustomerSwitch, at - days(90), Some("g3"), None),
    ];
    for cmd in refused {
        let name = cmd.name();
        assert!(reg.apply(cmd, at).is_err(), "{name} was accepted");
        assert_eq!(reg, before, "{name} changed the state");
    }
}

#[test]
fn wire_forms_are_stable() {
    let cmd = Command::ApproveMandate { mandate: "M1".into(), by: g("g1") };
    assert_eq!(
        serde_json::to_value(&cmd).unwrap(),
        serde_json::json!({"type": "approve_mandate", "mandate": "M1", "by": "g1"})
    );
    assert_eq!(serde_json::to_value(Command::Tick).unwrap(), serde_json::json!({"type": "tick"}));
    let cmd = Command::EndMandate { mandate: "M1".into(), by: Party::GridUser(g("g1")) };
    assert_eq!(
        serde_json::to_value(&cmd).unwrap()["by"],
        serde_json::json!({"role": "grid_user", "id": "g1"})
    );
    assert_eq!(serde_json::to_value(Party::Admin).unwrap(), serde_json::json!({"role": "admin"}));
    let codes: Vec<String> = [
        ScenarioKind::SupplierSwitch,
        ScenarioKind::CustomerSwitch,
        ScenarioKind::CombinedSwitch,
        ScenarioKind::MoveIn,
        ScenarioKind::MoveOut,
        ScenarioKind::Moza,
        ScenarioKind::EndOfContract,
        ScenarioKind::Drop,
    ]
    .iter()
    .map(|k| {
        let json = serde_json::to_value(k).unwrap();
        assert_eq!(json, k.code());
        json.as_str().unwrap().to_owned()
    })
    .collect();
    assert_eq!(codes, ["SS", "CS", "CCSS", "MI", "MO", "MOZA", "EOC", "DROP"]);
    assert_eq!(
        serde_json::to_value(NotificationKind::MandateApproved).unwrap(),
        NotificationKind::MandateApproved.as_str()
    );
    assert_eq!(
        serde_json::to_value(MandateState::Finished { reason: EndReason::Renewed }).unwrap(),
        serde_json::json!({"status": "finished", "reason": "renewed"})
    );
    assert_eq!(
        serde_json::to_value(Basis::Mandate("M1".into())).unwrap(),
        serde_json::json!({"kind": "mandate", "id": "M1"})
    );
    assert_eq!(Refusal::OutsideOccupancy.code(), "outside_occupancy");
    assert_eq!(serde_json::to_value(Refusal::MandateExpired).unwrap(), "mandate_expired");
}

// ----- the ESP's contract: channel, service needs, suspension (R-NRT-8, R-ACC-2) ----------

#[test]
fn a_portal_only_esp_reads_nothing_through_the_api() {
    let mut reg = setup();
    mandate(&mut reg, Scope::WithInterval, true, now());
    let mut portal = esp(esp_kbo(), ContractStatus::Active);
    portal.channel = Channel::Portal;
    reg.apply(Command::RegisterEsp { esp: portal }, now()).unwrap();
    let d = reg.authorize(&esp_party(), &dsp(), DataKind::Day, t0(), now(), now());
    assert_eq!(d.code(), Some("wrong_channel"));
    assert!(d.windows.is_empty());
}

#[test]
fn only_data_a_service_of_the_catalogue_needs_is_served() {
    let mut reg = setup();
    mandate(&mut reg, Scope::WithInterval, true, now());
    let c = consent(&mut reg, now());
    let at = now() + days(1);
    let read = |reg: &Registers, what| reg.authorize(&esp_party(), &dsp(), what, t0(), at, at);
    // The catalogue needs day and quarter-hour data: both are served under the mandate.
    assert!(read(&reg, DataKind::Day).allowed);
    assert!(read(&reg, DataKind::QuarterHour).allowed);
    assert!(read(&reg, DataKind::Nrt).allowed, "the consented service needs NRT data");
    // The ESP narrows its catalogue to day data: interval data is no longer needed.
    let mut narrow = esp(esp_kbo(), ContractStatus::Active);
    narrow.services = vec![Service {
        id: "self-consumption".into(),
        name: "S".into(),
        needs: vec![DataKind::Day],
    }];
    reg.apply(Command::RegisterEsp { esp: narrow }, at).unwrap();
    assert!(read(&reg, DataKind::Day).allowed);
    assert_eq!(read(&reg, DataKind::QuarterHour).code(), Some("not_needed"));
    assert_eq!(read(&reg, DataKind::Nrt).code(), Some("not_needed"));
    // Its own mandates' status stays readable whatever the catalogue.
    assert!(read(&reg, DataKind::MandateStatus).allowed);
    // A consent to a service that does not need NRT data gives none, even when another
    // service of the catalogue does.
    let mut two = esp(esp_kbo(), ContractStatus::Active);
    two.services[0].needs = vec![DataKind::QuarterHour];
    two.services[1].needs.push(DataKind::Nrt);
    reg.apply(Command::RegisterEsp { esp: two }, at).unwrap();
    assert_eq!(reg.consent(&c).unwrap().service, "self-consumption");
    assert_eq!(read(&reg, DataKind::Nrt).code(), Some("not_needed"));
}

#[test]
fn a_suspended_esp_loses_access_at_once_on_every_point_and_regains_it_when_reinstated() {
    let mut reg = setup();
    let m = mandate(&mut reg, Scope::WithInterval, true, now());
    let c = consent(&mut reg, now());
    let at = now() + days(1);
    let read = |reg: &Registers, what| reg.authorize(&esp_party(), &dsp(), what, t0(), at, at);
    let notes = reg
        .apply(Command::SuspendEsp { esp: esp_kbo(), reason: "certification failed".into() }, at)
        .unwrap();
    // The ESP is told, and so is the grid user whose data it had (R-ACC-5).
    assert_eq!(kinds(&notes), [NotificationKind::EspSuspended, NotificationKind::EspSuspended]);
    assert_eq!(notes[0].esp, Some(esp_kbo()));
    assert_eq!(notes[1].grid_user, Some(g("g1")));
    assert!(notes[1].detail.contains("certification failed"), "{}", notes[1].detail);
    for what in [DataKind::Day, DataKind::QuarterHour, DataKind::Nrt] {
        assert_eq!(read(&reg, what).code(), Some("esp_not_active"), "{what:?}");
    }
    assert!(reg.parties_with_access(&dsp(), at).is_empty());
    // Its mandate and consent stay; a second suspension is refused.
    assert_eq!(reg.mandate(&m).unwrap().state, MandateState::Approved);
    assert!(reg.consent(&c).unwrap().is_live(at));
    let again =
        reg.apply(Command::SuspendEsp { esp: esp_kbo(), reason: "again".into() }, at).unwrap_err();
    assert_eq!(again.code(), "esp_state");
    let notes = reg.apply(Command::ReinstateEsp { esp: esp_kbo() }, at + days(1)).unwrap();
    assert_eq!(notes[0].kind, NotificationKind::EspReinstated);
    assert!(read(&reg, DataKind::QuarterHour).allowed);
    let err = reg.apply(Command::ReinstateEsp { esp: esp_kbo() }, at).unwrap_err();
    assert_eq!(err.code(), "esp_state");
    let err = reg
        .apply(
            Command::SuspendEsp { esp: Kbo::with_check("05000000").unwrap(), reason: "x".into() },
            at,
        )
        .unwrap_err();
    assert_eq!(err.code(), "unknown_esp");
}

#[test]
fn an_esps_webhook_url_is_set_and_removed() {
    let mut reg = setup();
    let url = Some("https://new.example/hooks".to_owned());
    reg.apply(Command::SetWebhook { esp: esp_kbo(), url: url.clone() }, now()).unwrap();
    assert_eq!(reg.esp(&esp_kbo()).unwrap().webhook_url, url);
    reg.apply(Command::SetWebhook { esp: esp_kbo(), url: None }, now()).unwrap();
    assert_eq!(reg.esp(&esp_kbo()).unwrap().webhook_url, None);
}
