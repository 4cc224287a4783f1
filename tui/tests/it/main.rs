//! Whole-screen snapshots from `TestBackend`, and a no-panic sweep over terminal sizes.

use ratatui::{
    Terminal,
    backend::TestBackend,
    crossterm::event::{KeyCode, KeyEvent, KeyModifiers},
};
use tui::{App, Screen, Snapshot, canned, render};

fn draw(app: &App, snap: &Snapshot, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| render(frame, app, snap)).unwrap();
    terminal
}

fn keys(app: &mut App, snap: &Snapshot, codes: &[KeyCode]) {
    for code in codes {
        let action = app.update(KeyEvent::new(*code, KeyModifiers::NONE), snap);
        assert_eq!(action, None, "{code:?}");
    }
}

fn on(screen: Screen) -> App {
    let mut app = App::new();
    app.set_screen(screen);
    app
}

#[test]
fn rigs_80x24() {
    let snap = canned::snapshot(12);
    insta::assert_snapshot!(draw(&on(Screen::Rigs), &snap, 80, 24).backend());
}

#[test]
fn live_80x24() {
    let snap = canned::snapshot(12);
    let mut app = on(Screen::Live);
    keys(&mut app, &snap, &[KeyCode::Down]);
    insta::assert_snapshot!(draw(&app, &snap, 80, 24).backend());
}

#[test]
fn dongles_80x24() {
    let snap = canned::snapshot(12);
    insta::assert_snapshot!(draw(&on(Screen::Dongles), &snap, 80, 24).backend());
}

#[test]
fn platform_80x24() {
    let snap = canned::snapshot(12);
    insta::assert_snapshot!(draw(&on(Screen::Platform), &snap, 80, 24).backend());
}

#[test]
fn consents_80x24() {
    let snap = canned::snapshot(12);
    insta::assert_snapshot!(draw(&on(Screen::Consents), &snap, 80, 24).backend());
}

#[test]
fn consents_with_access_register_80x24() {
    let snap = canned::snapshot(12);
    let mut app = on(Screen::Consents);
    keys(&mut app, &snap, &[KeyCode::Char('a'), KeyCode::Right]);
    insta::assert_snapshot!(draw(&app, &snap, 80, 24).backend());
}

#[test]
fn scenarios_80x24() {
    let snap = canned::snapshot(12);
    insta::assert_snapshot!(draw(&on(Screen::Scenarios), &snap, 80, 24).backend());
}

#[test]
fn scenarios_tag_filter_editing_80x24() {
    let snap = canned::snapshot(12);
    let mut app = on(Screen::Scenarios);
    let mut codes = vec![KeyCode::Char('t')];
    codes.extend("@R-MAN-5".chars().map(KeyCode::Char));
    codes.push(KeyCode::Enter);
    codes.push(KeyCode::Char('t'));
    codes.extend(" and not @slow".chars().map(KeyCode::Char));
    keys(&mut app, &snap, &codes);
    insta::assert_snapshot!(draw(&app, &snap, 80, 24).backend());
}

#[test]
fn help_overlay_80x24() {
    let snap = canned::snapshot(12);
    let mut app = on(Screen::Live);
    keys(&mut app, &snap, &[KeyCode::Char('?')]);
    insta::assert_snapshot!(draw(&app, &snap, 80, 24).backend());
}

#[test]
fn booking_form_80x24() {
    let snap = canned::snapshot(12);
    let mut app = on(Screen::Rigs);
    let mut codes = vec![KeyCode::Char('b')];
    codes.extend("2026-12-07".chars().map(KeyCode::Char));
    codes.push(KeyCode::Tab);
    codes.extend("agr-2026-q".chars().map(KeyCode::Char));
    keys(&mut app, &snap, &codes);
    insta::assert_snapshot!(draw(&app, &snap, 80, 24).backend());
}

#[test]
fn fault_picker_with_result_80x24() {
    let snap = canned::snapshot(12);
    let mut app = on(Screen::Dongles);
    app.set_result(Ok("wifi-loss on dgl-0004".into()));
    keys(&mut app, &snap, &[KeyCode::Char('f'), KeyCode::Down]);
    insta::assert_snapshot!(draw(&app, &snap, 80, 24).backend());
}

#[test]
fn rigs_120x40() {
    let mut snap = canned::snapshot(12);
    snap.status_line = Some("refresh failed: connection refused".into());
    let mut app = on(Screen::Rigs);
    app.set_result(Err("slot s-103 is running".into()));
    insta::assert_snapshot!(draw(&app, &snap, 120, 40).backend());
}

#[test]
fn live_120x40() {
    let snap = canned::snapshot(12);
    insta::assert_snapshot!(draw(&on(Screen::Live), &snap, 120, 40).backend());
}

#[test]
fn empty_snapshot_80x24() {
    let snap = Snapshot::default();
    insta::assert_snapshot!(draw(&on(Screen::Live), &snap, 80, 24).backend());
}

#[test]
fn dongles_scrolled_far_down_in_1000() {
    let snap = canned::snapshot(1000);
    let mut app = on(Screen::Dongles);
    keys(&mut app, &snap, &[KeyCode::End, KeyCode::PageUp, KeyCode::Up]);
    insta::assert_snapshot!(draw(&app, &snap, 80, 24).backend());
}

#[test]
fn cancel_asks_a_reason_80x24() {
    let snap = canned::snapshot(12);
    let mut app = on(Screen::Rigs);
    let mut codes = vec![KeyCode::Down, KeyCode::Char('c')];
    codes.extend("rig-b gets new firmware".chars().map(KeyCode::Char));
    keys(&mut app, &snap, &codes);
    insta::assert_snapshot!(draw(&app, &snap, 80, 24).backend());
}

#[test]
fn a_blank_cancel_reason_is_refused_on_screen_and_a_long_one_scrolls() {
    let snap = canned::snapshot(3);
    let mut app = on(Screen::Rigs);
    keys(&mut app, &snap, &[KeyCode::Char('c'), KeyCode::Enter]);
    let screen = text_of(&draw(&app, &snap, 80, 24), 0..24, 0..80).join("\n");
    assert!(screen.contains("type a reason first: the audit log keeps it"), "{screen}");

    let long = format!("{}the end", "x".repeat(100));
    keys(&mut app, &snap, &long.chars().map(KeyCode::Char).collect::<Vec<_>>());
    let screen = text_of(&draw(&app, &snap, 80, 24), 0..24, 0..80).join("\n");
    assert!(screen.contains("› …xxx") && screen.contains("xxxthe end▏"), "{screen}");
    assert!(!screen.contains("type a reason first"), "{screen}");
}

#[test]
fn undefined_scenarios_count_with_the_lab_errors() {
    let mut snap = canned::snapshot(3);
    let row = snap.scenarios.iter_mut().find(|s| s.state == "pending").unwrap();
    row.state = "undefined".into();
    let terminal = draw(&on(Screen::Scenarios), &snap, 80, 24);
    let title = text_of(&terminal, 4..5, 0..80).join("");
    assert!(title.contains("lab-error 2 running 1 pending 1"), "{title}");
}

/// The text of the rows `rows` of the screen between columns `cols`, one string per row.
fn text_of(
    terminal: &Terminal<TestBackend>,
    rows: std::ops::Range<u16>,
    cols: std::ops::Range<u16>,
) -> Vec<String> {
    let buf = terminal.backend().buffer();
    rows.map(|y| cols.clone().map(|x| buf[(x, y)].symbol().to_owned()).collect()).collect()
}

#[test]
fn an_exporting_meter_charts_its_injection() {
    let mut snap = canned::snapshot(1);
    let m = &mut snap.meters[0];
    // A PV home at noon: 2 kW going out for the whole window.
    m.power_history = (0..300).map(|k| -2000.0 - f64::from(k % 7) * 10.0).collect();
    m.import_w = domain::Power::ZERO;
    m.export_w = domain::Power::w(2060);
    let terminal = draw(&on(Screen::Live), &snap, 80, 24);
    // The power chart is the top-left quarter of the detail pane (rows 11..17, columns 0..40).
    let chart = text_of(&terminal, 11..17, 0..40).join("\n");
    let dots = chart.chars().filter(|c| ('\u{2801}'..='\u{28ff}').contains(c)).count();
    assert!(dots > 10, "no power drawn for an exporting meter:\n{chart}");
    assert!(chart.contains("injected"), "{chart}");
    assert!(chart.contains("-2060"), "the axis shows the export:\n{chart}");
}

#[test]
fn a_meter_without_a_month_peak_shows_a_dash_and_small_peaks_show_watts() {
    let mut snap = canned::snapshot(2);
    snap.meters[0].month_peak_w = None;
    snap.meters[1].month_peak_w = Some(domain::Power::w(25));
    let terminal = draw(&on(Screen::Live), &snap, 80, 24);
    let rows = text_of(&terminal, 3..5, 0..80);
    assert!(rows[0].trim_end_matches([' ', '│']).ends_with('—'), "{}", rows[0]);
    assert!(rows[1].trim_end_matches([' ', '│']).ends_with("0.025"), "{}", rows[1]);
}

#[test]
fn a_long_status_message_wraps_instead_of_being_cut() {
    let snap = canned::snapshot(3);
    let mut app = on(Screen::Rigs);
    let msg = "slot s-104 was not cancelled: 403 forbidden: only the holder of the slot, the \
               lab operator or an admin may cancel it; ask acme-dongles or sign in as the lab \
               operator (meterlab console --token), then try again (request id 7f3a)";
    app.set_result(Err(msg.into()));
    let terminal = draw(&app, &snap, 120, 40);
    let screen = text_of(&terminal, 0..40, 0..120).join(" ");
    let words = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>().join(" ");
    assert!(words(&screen).contains(&words(msg)), "cut:\n{screen}");
}

/// Every screen and overlay at sizes from 0×0 to 200×60 (every small one, then stepped), empty
/// and with 1,000 meters.
#[test]
fn no_size_panics() {
    let snaps = [Snapshot::default(), canned::snapshot(1000)];
    let mut widths: Vec<u16> = vec![0, 1, 2, 3, 4, 7, 13];
    widths.extend((20..=200).step_by(30));
    widths.push(200);
    let mut heights: Vec<u16> = vec![0, 1, 2, 3, 4, 7, 10];
    heights.extend((13..=60).step_by(12));
    heights.push(60);
    for snap in &snaps {
        let mut apps: Vec<App> = Screen::ALL.iter().map(|s| on(*s)).collect();
        let mut help = on(Screen::Platform);
        keys(&mut help, snap, &[KeyCode::Char('?')]);
        let mut form = on(Screen::Rigs);
        keys(&mut form, snap, &[KeyCode::Char('b'), KeyCode::Char('x')]);
        let mut access = on(Screen::Consents);
        keys(&mut access, snap, &[KeyCode::Char('a'), KeyCode::Char('m')]);
        let mut confirm = on(Screen::Rigs);
        keys(&mut confirm, snap, &[KeyCode::Char('5'), KeyCode::Char('m'), KeyCode::Enter]);
        let mut reason = on(Screen::Rigs);
        let mut codes = vec![KeyCode::Char('c')];
        codes.extend("a reason ".repeat(30).chars().map(KeyCode::Char));
        keys(&mut reason, snap, &codes);
        let mut long = on(Screen::Live);
        long.set_result(Err("refused: ".repeat(40)));
        apps.extend([help, form, access, confirm, reason, long]);
        for app in &apps {
            for &w in &widths {
                for &h in &heights {
                    draw(app, snap, w, h);
                }
            }
        }
    }
}

#[test]
fn snapshot_json_round_trips_and_a_missing_field_is_an_error() {
    let snap = canned::snapshot(3);
    let json = serde_json::to_string(&snap).unwrap();
    let back: Snapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(back, snap);

    // A renamed or dropped field must not turn into a default the console would show.
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["dongles"][0].as_object_mut().unwrap().remove("state");
    let err = serde_json::from_value::<Snapshot>(v).unwrap_err();
    assert!(err.to_string().contains("state"), "{err}");
}

#[test]
fn shift_t_asks_how_far_to_move_the_lab_clock() {
    let snap = canned::snapshot(3);
    let mut app = on(Screen::Live);
    // Enter on nothing moves nothing and says what to type.
    keys(&mut app, &snap, &[KeyCode::Char('T'), KeyCode::Enter]);
    let screen = text_of(&draw(&app, &snap, 80, 24), 0..24, 0..80).join("\n");
    assert!(screen.contains("Move the lab clock"), "{screen}");
    assert!(screen.contains("type how far (1d, 3y)"), "{screen}");
    keys(&mut app, &snap, &"3y".chars().map(KeyCode::Char).collect::<Vec<_>>());
    let action = app.update(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE), &snap);
    assert_eq!(action, Some(tui::Action::MoveClock { when: "3y".into() }));
    // The popup is gone; Esc drops a half-typed move.
    let screen = text_of(&draw(&app, &snap, 80, 24), 0..24, 0..80).join("\n");
    assert!(!screen.contains("Move the lab clock"), "{screen}");
    keys(&mut app, &snap, &[KeyCode::Char('T'), KeyCode::Char('1'), KeyCode::Esc]);
    let screen = text_of(&draw(&app, &snap, 80, 24), 0..24, 0..80).join("\n");
    assert!(!screen.contains("Move the lab clock"), "{screen}");
}
