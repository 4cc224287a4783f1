//! The terminal driver: the only part of the crate that touches the terminal or the lab.

use std::{io, time::Duration};

use clock::Stopwatch;
use ratatui::{
    DefaultTerminal,
    crossterm::event::{self, Event, KeyEvent, KeyEventKind},
};

use crate::{
    app::{Action, App},
    model::Snapshot,
    ui,
};

/// Where the console gets its data and sends its actions (the lab's HTTP API in the binary,
/// canned data in tests and the demo).
pub trait Source {
    /// The current state of the lab, or a message saying why it could not be read.
    fn snapshot(&mut self) -> Result<Snapshot, String>;
    /// Carries out an action (never [`Action::Quit`]); `Ok` holds a message for the status bar.
    fn perform(&mut self, action: &Action) -> Result<String, String>;
}

/// Runs the console until the user quits: refreshes the snapshot every `refresh`, draws, and
/// hands the user's actions to `source`.
///
/// The terminal is restored on every exit, including errors; `ratatui::try_init` (the
/// non-panicking `ratatui::init`) also installs a panic hook that restores it before the panic
/// message is printed. Without a terminal (stdout not a tty) this returns the error.
pub fn run(source: &mut dyn Source, refresh: Duration) -> io::Result<()> {
    let mut terminal = match ratatui::try_init() {
        Ok(terminal) => terminal,
        Err(err) => {
            // Raw mode may already be on when entering the alternate screen failed.
            ratatui::restore();
            return Err(err);
        }
    };
    let result = event_loop(&mut terminal, source, refresh);
    ratatui::restore();
    result
}

/// Gives the terminal back (raw mode off, main screen, cursor shown), for a driver that ends
/// while [`run`] still holds the terminal on another thread (the process stops on a signal).
pub fn restore() {
    ratatui::restore();
    // `run`'s terminal would show the cursor again when dropped; it never will be.
    let _ = ratatui::crossterm::execute!(io::stdout(), ratatui::crossterm::cursor::Show);
}

fn event_loop(
    terminal: &mut DefaultTerminal,
    source: &mut dyn Source,
    refresh: Duration,
) -> io::Result<()> {
    let mut console = Console::new();
    // Refreshes follow the terminal's real time, not the lab's: a month simulated in a minute
    // still redraws once a second.
    let mut since: Option<Stopwatch> = None;
    loop {
        if since.is_none_or(|s| s.passed(refresh)) {
            console.refresh(source);
            since = Some(Stopwatch::start());
        }
        terminal.draw(|frame| ui::render(frame, &console.app, &console.snap))?;
        let timeout = since.map_or(Duration::ZERO, |s| s.left(refresh));
        if !event::poll(timeout)? {
            continue;
        }
        match console.on_event(&event::read()?, source) {
            Flow::Quit => return Ok(()),
            Flow::Refresh => since = None,
            // A resize needs nothing but the redraw at the top of the loop.
            Flow::Continue => {}
        }
    }
}

/// What the loop does after an event.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    /// An action was performed: fetch a fresh snapshot now.
    Refresh,
    Quit,
}

/// The driver's state without the terminal, so the loop's decisions can be tested.
struct Console {
    app: App,
    snap: Snapshot,
}

impl Console {
    fn new() -> Console {
        Console { app: App::new(), snap: Snapshot::default() }
    }

    /// Takes a fresh snapshot; on failure keeps the last good one and says so in its status line.
    fn refresh(&mut self, source: &mut dyn Source) {
        match source.snapshot() {
            Ok(snap) => self.snap = snap,
            Err(err) => self.snap.status_line = Some(format!("refresh failed: {err}")),
        }
    }

    fn on_event(&mut self, event: &Event, source: &mut dyn Source) -> Flow {
        match event {
            Event::Key(key) if key.kind == KeyEventKind::Press => self.on_key(*key, source),
            _ => Flow::Continue,
        }
    }

    fn on_key(&mut self, key: KeyEvent, source: &mut dyn Source) -> Flow {
        match self.app.update(key, &self.snap) {
            None => Flow::Continue,
            Some(Action::Quit) => Flow::Quit,
            Some(action) => {
                let result = source.perform(&action);
                self.app.set_result(result);
                Flow::Refresh
            }
        }
    }
}

#[cfg(test)]
mod tests;
