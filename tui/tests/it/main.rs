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
        apps.extend([help, form, access]);
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
fn snapshot_json_round_trips_and_partial_json_works() {
    let snap = canned::snapshot(3);
    let json = serde_json::to_string(&snap).unwrap();
    let back: Snapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(back, snap);

    let partial: Snapshot = serde_json::from_str(
        r#"{"at":"2026-11-23T09:30:00Z","dongles":[{"id":"d1","state":"late"}]}"#,
    )
    .unwrap();
    assert_eq!(partial.at, canned::AT);
    assert_eq!(partial.dongles[0].state, "late");
    assert_eq!(partial.dongles[0].last_seen, None);
    assert!(partial.meters.is_empty());
}
