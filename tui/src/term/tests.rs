use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::*;
use crate::{app::Screen, canned};

/// A source that replays snapshots (or errors) and records what it was asked to do.
struct Fake {
    snapshots: Vec<Result<Snapshot, String>>,
    performed: Vec<Action>,
}

impl Source for Fake {
    fn snapshot(&mut self) -> Result<Snapshot, String> {
        if self.snapshots.is_empty() { Err("exhausted".into()) } else { self.snapshots.remove(0) }
    }

    fn perform(&mut self, action: &Action) -> Result<String, String> {
        self.performed.push(action.clone());
        Err("slot s-101 already done".into())
    }
}

fn press(code: KeyCode) -> Event {
    Event::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

#[test]
fn failed_refresh_keeps_the_last_good_snapshot_and_says_why() {
    let good = canned::snapshot(2);
    let mut source = Fake {
        snapshots: vec![Ok(good.clone()), Err("connection refused".into())],
        performed: vec![],
    };
    let mut console = Console::new();
    console.refresh(&mut source);
    assert_eq!(console.snap, good);
    console.refresh(&mut source);
    assert_eq!(console.snap.meters, good.meters);
    assert_eq!(console.snap.status_line.as_deref(), Some("refresh failed: connection refused"));
}

#[test]
fn actions_go_to_the_source_and_their_result_to_the_status_bar() {
    let mut source = Fake { snapshots: vec![Ok(canned::snapshot(2))], performed: vec![] };
    let mut console = Console::new();
    console.refresh(&mut source);
    assert_eq!(console.on_event(&press(KeyCode::Char('c')), &mut source), Flow::Continue);
    assert_eq!(console.on_event(&press(KeyCode::Char('y')), &mut source), Flow::Continue);
    assert!(source.performed.is_empty(), "a cancel waits for its reason");
    assert_eq!(console.on_event(&press(KeyCode::Enter), &mut source), Flow::Refresh);
    assert_eq!(source.performed, vec![Action::Cancel { slot: "s-101".into(), reason: "y".into() }]);
    assert_eq!(console.app.last_result(), Some(&Err("slot s-101 already done".to_owned())));
}

#[test]
fn only_key_presses_count_and_quit_ends_the_loop() {
    let mut source = Fake { snapshots: vec![], performed: vec![] };
    let mut console = Console::new();
    let mut release = KeyEvent::new(KeyCode::Char('2'), KeyModifiers::NONE);
    release.kind = KeyEventKind::Release;
    assert_eq!(console.on_event(&Event::Key(release), &mut source), Flow::Continue);
    assert_eq!(console.app.screen(), Screen::Rigs);
    assert_eq!(console.on_event(&Event::Resize(80, 24), &mut source), Flow::Continue);
    assert_eq!(console.on_event(&press(KeyCode::Char('q')), &mut source), Flow::Quit);
    let ctrl_c = Event::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert_eq!(console.on_event(&ctrl_c, &mut source), Flow::Quit);
    assert!(source.performed.is_empty());
}

#[test]
fn demo_source_reacts_to_actions() {
    let mut demo = canned::Demo::new(12);
    assert_eq!(demo.perform(&Action::Revoke { consent: "c-1".into() }), Ok("revoked c-1".into()));
    let snap = demo.snapshot().unwrap();
    assert!(snap.points[0].consents[0].revoked_at.is_some());
    assert!(demo.perform(&Action::Cancel { slot: "nope".into(), reason: "x".into() }).is_err());
    let blank = Action::Cancel { slot: "s-104".into(), reason: " ".into() };
    assert!(demo.perform(&blank).is_err());
    let cancel = Action::Cancel { slot: "s-104".into(), reason: "rig rewired".into() };
    assert_eq!(demo.perform(&cancel), Ok("cancelled s-104: rig rewired".into()));
}
