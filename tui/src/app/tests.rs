use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::canned;

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

/// Feeds keys and returns every action they produced.
fn press(app: &mut App, snap: &Snapshot, keys: &[KeyCode]) -> Vec<Action> {
    keys.iter().filter_map(|code| app.update(key(*code), snap)).collect()
}

fn typed(text: &str) -> Vec<KeyCode> {
    text.chars().map(KeyCode::Char).collect()
}

#[test]
fn digits_tab_and_backtab_switch_screens() {
    let snap = canned::snapshot(3);
    let mut app = App::new();
    press(&mut app, &snap, &[KeyCode::Char('3')]);
    assert_eq!(app.screen(), Screen::Dongles);
    press(&mut app, &snap, &[KeyCode::Tab, KeyCode::Tab, KeyCode::Tab]);
    assert_eq!(app.screen(), Screen::Scenarios);
    press(&mut app, &snap, &[KeyCode::Tab]);
    assert_eq!(app.screen(), Screen::Rigs);
    press(&mut app, &snap, &[KeyCode::BackTab]);
    assert_eq!(app.screen(), Screen::Scenarios);
}

#[test]
fn booking_form_filled_and_confirmed_books_the_typed_fields() {
    let snap = canned::snapshot(3);
    let mut app = App::new();
    // Selected slot is s-101 on rig-a; move to s-102 (rig-b) so the form starts on rig-b.
    let mut keys = vec![KeyCode::Char('j'), KeyCode::Char('b')];
    keys.extend(typed("2026-12-07"));
    keys.push(KeyCode::Tab);
    keys.extend(typed("agr-2026-007"));
    assert_eq!(press(&mut app, &snap, &keys), vec![]);
    assert!(matches!(app.mode(), Mode::Booking(_)));
    let actions = press(&mut app, &snap, &[KeyCode::Enter]);
    assert_eq!(
        actions,
        vec![Action::Book {
            rig: "rig-b".into(),
            start: "2026-12-07".into(),
            agreement: "agr-2026-007".into(),
        }]
    );
    assert_eq!(app.mode(), &Mode::Normal);
}

#[test]
fn booking_form_cycles_rigs_with_arrows_and_edits_with_backspace() {
    let snap = canned::snapshot(3);
    let mut app = App::new();
    let mut keys = vec![KeyCode::Char('b'), KeyCode::BackTab, KeyCode::Right];
    keys.push(KeyCode::Tab);
    keys.extend(typed("2026-12-07T10:0x"));
    keys.push(KeyCode::Backspace);
    keys.push(KeyCode::Char('0'));
    keys.push(KeyCode::Tab);
    keys.extend(typed("quality"));
    keys.push(KeyCode::Enter);
    let actions = press(&mut app, &snap, &keys);
    assert_eq!(
        actions,
        vec![Action::Book {
            rig: "rig-b".into(),
            start: "2026-12-07T10:00".into(),
            agreement: "quality".into(),
        }]
    );
}

#[test]
fn booking_form_refuses_incomplete_or_bad_fields() {
    let snap = canned::snapshot(3);
    let mut app = App::new();
    let mut keys = vec![KeyCode::Char('b')];
    keys.extend(typed("next tuesday"));
    keys.push(KeyCode::Enter);
    assert_eq!(press(&mut app, &snap, &keys), vec![]);
    let Mode::Booking(form) = app.mode() else { panic!("form closed") };
    assert_eq!(form.field, BookingField::Start);
    assert_eq!(form.error.as_deref(), Some("start must look like 2026-12-01 or 2026-12-01T10:00"));

    let mut app = App::new();
    let mut keys = vec![KeyCode::Char('b')];
    keys.extend(typed("2026-12-07"));
    keys.push(KeyCode::Enter);
    assert_eq!(press(&mut app, &snap, &keys), vec![]);
    let Mode::Booking(form) = app.mode() else { panic!("form closed") };
    assert_eq!(form.field, BookingField::Agreement);
    assert_eq!(form.error.as_deref(), Some("holder / agreement is empty"));
}

#[test]
fn q_inside_a_form_types_q_instead_of_quitting() {
    let snap = canned::snapshot(3);
    let mut app = App::new();
    let actions = press(&mut app, &snap, &[KeyCode::Char('b'), KeyCode::Tab, KeyCode::Char('q')]);
    assert_eq!(actions, vec![]);
    let Mode::Booking(form) = app.mode() else { panic!("form closed") };
    assert_eq!(form.agreement, "q");

    let mut app = App::new();
    app.set_screen(Screen::Scenarios);
    let actions = press(&mut app, &snap, &[KeyCode::Char('t'), KeyCode::Char('q')]);
    assert_eq!(actions, vec![]);
    assert_eq!(app.mode(), &Mode::TagFilter { draft: "q".into() });
}

#[test]
fn q_quits_and_ctrl_c_quits_even_in_a_form() {
    let snap = canned::snapshot(3);
    let mut app = App::new();
    assert_eq!(press(&mut app, &snap, &[KeyCode::Char('q')]), vec![Action::Quit]);

    press(&mut app, &snap, &[KeyCode::Char('b')]);
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(app.update(ctrl_c, &snap), Some(Action::Quit));
}

#[test]
fn esc_closes_forms_pickers_and_help() {
    let snap = canned::snapshot(3);
    let mut app = App::new();
    press(&mut app, &snap, &[KeyCode::Char('b'), KeyCode::Char('x'), KeyCode::Esc]);
    assert_eq!(app.mode(), &Mode::Normal);

    press(&mut app, &snap, &[KeyCode::Char('?')]);
    assert!(app.help_visible());
    // Keys other than Esc, ? and q do nothing while help is open.
    press(&mut app, &snap, &[KeyCode::Char('3')]);
    assert_eq!(app.screen(), Screen::Rigs);
    press(&mut app, &snap, &[KeyCode::Esc]);
    assert!(!app.help_visible());

    press(&mut app, &snap, &[KeyCode::Char('3'), KeyCode::Char('f')]);
    assert!(matches!(app.mode(), Mode::FaultPicker { .. }));
    assert_eq!(press(&mut app, &snap, &[KeyCode::Esc, KeyCode::Enter]), vec![]);
    assert_eq!(app.mode(), &Mode::Normal);
}

/// Cancels the selected slot with `reason` typed into the prompt.
fn cancel_keys(reason: &str) -> Vec<KeyCode> {
    let mut keys = vec![KeyCode::Char('c')];
    keys.extend(typed(reason));
    keys.push(KeyCode::Enter);
    keys
}

#[test]
fn c_asks_a_reason_and_the_typed_reason_reaches_the_cancel() {
    let snap = canned::snapshot(3);
    let mut app = App::new();
    let keys = [KeyCode::Down, KeyCode::Down, KeyCode::Char('c')];
    assert_eq!(press(&mut app, &snap, &keys), vec![]);
    let Mode::CancelReason { slot, prompt, draft, error } = app.mode() else {
        panic!("no reason asked")
    };
    assert_eq!(slot, "s-103");
    assert_eq!(
        prompt,
        "Reason for cancelling slot s-103 of eneco-lab on rig-a (kept in the audit log):"
    );
    assert_eq!((draft.as_str(), error), ("", &None));
    // y, n, q, ? and j are text here, not answers, quits, help or moves; Backspace edits.
    let mut keys = typed("  rig-a: meter swap, no jobs? quit x");
    keys.push(KeyCode::Backspace);
    keys.push(KeyCode::Backspace);
    keys.extend(typed("  "));
    assert_eq!(press(&mut app, &snap, &keys), vec![]);
    assert_eq!(
        press(&mut app, &snap, &[KeyCode::Enter]),
        vec![Action::Cancel {
            slot: "s-103".into(),
            reason: "rig-a: meter swap, no jobs? quit".into(),
        }]
    );
    assert_eq!(app.mode(), &Mode::Normal);
}

#[test]
fn a_blank_reason_cannot_cancel() {
    let snap = canned::snapshot(3);
    let mut app = App::new();
    // Enter at once, then spaces only: refused, the prompt stays open and says why.
    assert_eq!(press(&mut app, &snap, &[KeyCode::Char('c'), KeyCode::Enter]), vec![]);
    let Mode::CancelReason { error, .. } = app.mode() else { panic!("prompt closed") };
    assert_eq!(error.as_deref(), Some("type a reason first: the audit log keeps it"));
    let mut keys = typed("   ");
    keys.push(KeyCode::Enter);
    assert_eq!(press(&mut app, &snap, &keys), vec![]);
    assert!(matches!(app.mode(), Mode::CancelReason { error: Some(_), .. }));
    // Typing clears the complaint; a real reason then goes through.
    press(&mut app, &snap, &[KeyCode::Char('x')]);
    assert!(matches!(app.mode(), Mode::CancelReason { error: None, .. }));
    assert_eq!(
        press(&mut app, &snap, &[KeyCode::Enter]),
        vec![Action::Cancel { slot: "s-101".into(), reason: "x".into() }]
    );
}

#[test]
fn esc_aborts_a_cancel_and_drops_its_reason() {
    let snap = canned::snapshot(3);
    let mut app = App::new();
    let mut keys = vec![KeyCode::Char('c')];
    keys.extend(typed("wrong slot"));
    keys.extend([KeyCode::Esc, KeyCode::Enter]);
    assert_eq!(press(&mut app, &snap, &keys), vec![]);
    assert_eq!(app.mode(), &Mode::Normal);
    // The next cancel starts blank.
    press(&mut app, &snap, &[KeyCode::Char('c')]);
    assert!(matches!(app.mode(), Mode::CancelReason { draft, .. } if draft.is_empty()));
    // Ctrl-C still quits from the prompt.
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(app.update(ctrl_c, &snap), Some(Action::Quit));
}

#[test]
fn destructive_actions_wait_for_a_yes() {
    let snap = canned::snapshot(3);
    // Revoke a consent.
    let mut app = App::new();
    let keys = [KeyCode::Char('5'), KeyCode::Right, KeyCode::Char('r')];
    assert_eq!(press(&mut app, &snap, &keys), vec![]);
    let Mode::Confirm { prompt, .. } = app.mode() else { panic!("no question asked") };
    assert!(prompt.starts_with("Revoke consent c-1 "), "{prompt}");
    assert_eq!(press(&mut app, &snap, &[KeyCode::Esc]), vec![]);
    assert_eq!(
        press(&mut app, &snap, &[KeyCode::Char('r'), KeyCode::Char('y')]),
        vec![Action::Revoke { consent: "c-1".into() }]
    );

    // A market scenario: picked, then confirmed.
    let mut app = App::new();
    let keys = [KeyCode::Char('5'), KeyCode::Char('m'), KeyCode::Enter];
    assert_eq!(press(&mut app, &snap, &keys), vec![]);
    let Mode::Confirm { prompt, .. } = app.mode() else { panic!("no question asked") };
    assert!(prompt.starts_with("Apply SS (supplier switch) to "), "{prompt}");
    assert_eq!(press(&mut app, &snap, &[KeyCode::Char('n')]), vec![]);
    assert_eq!(app.mode(), &Mode::Normal);

    // Ctrl-C still quits from the question.
    press(&mut app, &snap, &[KeyCode::Char('m'), KeyCode::Enter]);
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(app.update(ctrl_c, &snap), Some(Action::Quit));
}

#[test]
fn selection_stops_at_both_ends() {
    let snap = canned::snapshot(3);
    let mut app = App::new();
    let mut keys = vec![KeyCode::Up, KeyCode::End, KeyCode::Down, KeyCode::PageDown];
    keys.extend(cancel_keys("r"));
    let last = snap.slots.last().map(|s| s.id.clone()).unwrap();
    assert_eq!(
        press(&mut app, &snap, &keys),
        vec![Action::Cancel { slot: last, reason: "r".into() }]
    );
    let mut keys = vec![KeyCode::Home, KeyCode::PageUp];
    keys.extend(cancel_keys("r"));
    assert_eq!(
        press(&mut app, &snap, &keys),
        vec![Action::Cancel { slot: "s-101".into(), reason: "r".into() }]
    );
}

#[test]
fn f_picks_a_fault_for_the_selected_dongle() {
    let snap = canned::snapshot(12);
    let mut app = App::new();
    let keys = [
        KeyCode::Char('3'),
        KeyCode::Char('j'),
        KeyCode::Char('j'),
        KeyCode::Char('f'),
        KeyCode::Down,
        KeyCode::Down,
        KeyCode::Enter,
    ];
    assert_eq!(
        press(&mut app, &snap, &keys),
        vec![Action::InjectFault { dongle: "dgl-0002".into(), fault: "crc-noise".into() }]
    );
}

#[test]
fn r_on_consents_revokes_the_selected_consent() {
    let snap = canned::snapshot(3);
    let mut app = App::new();
    // Point 1, consents pane, third consent (c-3).
    let keys = [
        KeyCode::Char('5'),
        KeyCode::Right,
        KeyCode::Down,
        KeyCode::Down,
        KeyCode::Char('r'),
        KeyCode::Enter,
    ];
    assert_eq!(press(&mut app, &snap, &keys), vec![Action::Revoke { consent: "c-3".into() }]);
}

#[test]
fn changing_point_resets_the_consent_selection() {
    let snap = canned::snapshot(3);
    let mut app = App::new();
    let keys = [
        KeyCode::Char('5'),
        KeyCode::Right,
        KeyCode::Down,
        KeyCode::Left,
        KeyCode::Down,
        KeyCode::Char('r'),
        KeyCode::Char('y'),
    ];
    assert_eq!(press(&mut app, &snap, &keys), vec![Action::Revoke { consent: "c-4".into() }]);
}

#[test]
fn revoking_a_revoked_consent_is_refused_locally() {
    let snap = canned::snapshot(3);
    let mut app = App::new();
    let keys = [KeyCode::Char('5'), KeyCode::Right, KeyCode::Down, KeyCode::Char('r')];
    assert_eq!(press(&mut app, &snap, &keys), vec![]);
    assert_eq!(app.last_result(), Some(&Err("consent c-2 is already revoked".to_owned())));
}

#[test]
fn m_runs_a_market_scenario_on_the_selected_point() {
    let snap = canned::snapshot(3);
    let mut app = App::new();
    let keys = [
        KeyCode::Char('5'),
        KeyCode::Down,
        KeyCode::Char('m'),
        KeyCode::Down,
        KeyCode::Enter,
        KeyCode::Char('y'),
    ];
    assert_eq!(
        press(&mut app, &snap, &keys),
        vec![Action::MarketScenario { point: "541448820000000021".into(), kind: "CS".into() }]
    );
}

#[test]
fn market_picker_offers_every_scenario_the_lab_accepts() {
    let codes: Vec<&str> = MARKET_SCENARIOS.iter().map(|(code, _)| *code).collect();
    assert_eq!(codes, ["SS", "CS", "CCSS", "MI", "MO", "MOZA", "EOC", "DROP"]);
    let snap = canned::snapshot(3);
    let pick = |downs: usize| {
        let mut app = App::new();
        let mut keys = vec![KeyCode::Char('5'), KeyCode::Char('m')];
        keys.extend(std::iter::repeat_n(KeyCode::Down, downs));
        keys.extend([KeyCode::Enter, KeyCode::Char('y')]);
        press(&mut app, &snap, &keys)
    };
    let mi = Action::MarketScenario { point: "541448820000000014".into(), kind: "MI".into() };
    assert_eq!(pick(3), vec![mi]);
    let eoc = Action::MarketScenario { point: "541448820000000014".into(), kind: "EOC".into() };
    assert_eq!(pick(6), vec![eoc]);
}

#[test]
fn a_toggles_the_access_register() {
    let snap = canned::snapshot(3);
    let mut app = App::new();
    press(&mut app, &snap, &[KeyCode::Char('5'), KeyCode::Char('a')]);
    assert!(app.access_visible());
    press(&mut app, &snap, &[KeyCode::Char('a')]);
    assert!(!app.access_visible());
}

#[test]
fn tag_filter_is_edited_then_run() {
    let snap = canned::snapshot(3);
    let mut app = App::new();
    let mut keys = vec![KeyCode::Char('6'), KeyCode::Char('t')];
    keys.extend(typed("@R-MAN-5"));
    keys.push(KeyCode::Enter);
    keys.push(KeyCode::Enter);
    keys.push(KeyCode::Char('r'));
    let run = Action::RunScenarios { tags: "@R-MAN-5".into() };
    assert_eq!(press(&mut app, &snap, &keys), vec![run.clone(), run]);
    assert_eq!(app.visible_scenarios(&snap).len(), 2);

    // Esc drops the draft and keeps the committed filter.
    let mut keys = vec![KeyCode::Char('t'), KeyCode::Backspace];
    keys.push(KeyCode::Esc);
    press(&mut app, &snap, &keys);
    assert_eq!(app.tag_filter(), "@R-MAN-5");
}

#[test]
fn tag_filter_matching() {
    let tags: Vec<String> = vec!["@R-NRT-2".into(), "@slow".into()];
    assert!(tags_match("", &tags));
    assert!(tags_match("@R-NRT-2", &tags));
    assert!(tags_match("r-nrt-2 slow", &tags));
    assert!(!tags_match("@R-NRT-2 and not @slow", &tags));
    assert!(tags_match("not @hardware", &tags));
    assert!(!tags_match("@hardware", &tags));
    assert!(tags_match("@hardware or @slow", &tags), "or: the list shows everything");
}

#[test]
fn keys_on_empty_snapshot_do_nothing_harmful() {
    let snap = Snapshot::default();
    let mut app = App::new();
    for screen in Screen::ALL {
        app.set_screen(screen);
        let keys = [
            KeyCode::Down,
            KeyCode::Up,
            KeyCode::End,
            KeyCode::Char('c'),
            KeyCode::Char('f'),
            KeyCode::Char('r'),
            KeyCode::Char('m'),
            KeyCode::Right,
            KeyCode::Char('r'),
        ];
        for action in press(&mut app, &snap, &keys) {
            assert!(matches!(action, Action::RunScenarios { .. }), "{action:?}");
        }
    }
    // With no rigs the booking form starts on the rig field, which takes typed text.
    app.set_screen(Screen::Rigs);
    let mut keys = vec![KeyCode::Char('b')];
    keys.extend(typed("rig-z"));
    press(&mut app, &snap, &keys);
    let Mode::Booking(form) = app.mode() else { panic!("form closed") };
    assert_eq!(form.rig, "rig-z");
}

#[test]
fn scroll_window_keeps_the_selection_visible() {
    let mut s = Scroll::default();
    assert_eq!(s.window(0, 5), (0, None));
    assert_eq!(s.window(100, 0), (0, None));
    s.step(12, 100);
    assert_eq!(s.window(100, 5), (8, Some(4)));
    s.step(-2, 100);
    assert_eq!(s.window(100, 5), (8, Some(2)), "no scroll while in view");
    s.step(-5, 100);
    assert_eq!(s.window(100, 5), (5, Some(0)));
    // The list shrinks under the selection.
    assert_eq!(s.window(3, 5), (0, Some(2)));
}
