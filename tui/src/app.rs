//! UI state and the key handler: [`App::update`] turns a key into at most one [`Action`].
//!
//! `App` holds only what the user chose (screen, selections, open form); the lab's data stays
//! in the [`Snapshot`] passed to every call, so a refresh never fights with the user.

use std::cell::Cell;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::model::Snapshot;

/// The console's screens, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Screen {
    #[default]
    Rigs,
    Live,
    Dongles,
    Platform,
    Consents,
    Scenarios,
}

impl Screen {
    /// All screens in tab order; key `1` selects the first.
    pub const ALL: [Screen; 6] = [
        Screen::Rigs,
        Screen::Live,
        Screen::Dongles,
        Screen::Platform,
        Screen::Consents,
        Screen::Scenarios,
    ];

    /// The tab title.
    pub fn title(self) -> &'static str {
        match self {
            Screen::Rigs => "Rigs",
            Screen::Live => "Live",
            Screen::Dongles => "Dongles",
            Screen::Platform => "Platform",
            Screen::Consents => "Consents",
            Screen::Scenarios => "Scenarios",
        }
    }

    /// Position in [`Screen::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    fn next(self) -> Screen {
        Screen::ALL[(self.index() + 1) % Screen::ALL.len()]
    }

    fn prev(self) -> Screen {
        Screen::ALL[(self.index() + Screen::ALL.len() - 1) % Screen::ALL.len()]
    }
}

/// What the user asked the lab to do; the driver hands it to [`crate::Source::perform`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Quit,
    /// Book a slot on `rig` starting at `start` (as typed: `2026-12-01` or `2026-12-01T10:00`)
    /// under the usage agreement (or holder) `agreement`.
    Book {
        rig: String,
        start: String,
        agreement: String,
    },
    /// Cancel `slot` as the lab operator; `reason` (never blank) goes into the audit log.
    Cancel {
        slot: String,
        reason: String,
    },
    /// `fault` is one of [`FAULTS`].
    InjectFault {
        dongle: String,
        fault: String,
    },
    Revoke {
        consent: String,
    },
    /// `kind` is a code from [`MARKET_SCENARIOS`].
    MarketScenario {
        point: String,
        kind: String,
    },
    /// Run the scenarios matching a Gherkin tag expression (empty: all).
    RunScenarios {
        tags: String,
    },
    /// Move the lab's simulated clock: `when` is a duration (`1d`, `3y`) or a time
    /// (`2029-06-01`), as typed.
    MoveClock {
        when: String,
    },
}

/// Faults the dongle picker offers (R-NRT-10); `clear` removes the injected fault.
pub const FAULTS: [&str; 4] = ["wifi-loss", "reset-needed", "crc-noise", "clear"];

/// Market scenario codes the picker offers, with a short meaning: every code the lab API
/// accepts, in its order.
pub const MARKET_SCENARIOS: [(&str, &str); 8] = [
    ("SS", "supplier switch"),
    ("CS", "customer switch"),
    ("CCSS", "combined customer and supplier switch"),
    ("MI", "move-in"),
    ("MO", "move-out"),
    ("MOZA", "move-out without arrangement"),
    ("EOC", "end of contract"),
    ("DROP", "drop procedure"),
];

/// The field of the booking form that has the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BookingField {
    #[default]
    Rig,
    Start,
    Agreement,
}

impl BookingField {
    fn next(self) -> BookingField {
        match self {
            BookingField::Rig => BookingField::Start,
            BookingField::Start => BookingField::Agreement,
            BookingField::Agreement => BookingField::Rig,
        }
    }

    fn prev(self) -> BookingField {
        match self {
            BookingField::Rig => BookingField::Agreement,
            BookingField::Start => BookingField::Rig,
            BookingField::Agreement => BookingField::Start,
        }
    }
}

/// Why the booking form cannot be sent yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("{0} is empty")]
    Empty(&'static str),
    #[error("start must look like 2026-12-01 or 2026-12-01T10:00")]
    BadStart,
}

/// The booking form's fields as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BookingForm {
    pub rig: String,
    pub start: String,
    pub agreement: String,
    pub field: BookingField,
    /// Shown under the fields after a refused Enter.
    pub error: Option<String>,
}

impl BookingForm {
    /// Checks the fields; the server still has the last word (lead time, overlaps).
    pub fn validate(&self) -> Result<(), (BookingField, FormError)> {
        if self.rig.trim().is_empty() {
            return Err((BookingField::Rig, FormError::Empty("rig")));
        }
        let start = self.start.trim();
        if start.is_empty() {
            return Err((BookingField::Start, FormError::Empty("start")));
        }
        let is_date = start.parse::<jiff::civil::Date>().is_ok();
        let is_datetime = start.parse::<jiff::civil::DateTime>().is_ok();
        if !is_date && !is_datetime {
            return Err((BookingField::Start, FormError::BadStart));
        }
        if self.agreement.trim().is_empty() {
            return Err((BookingField::Agreement, FormError::Empty("holder / agreement")));
        }
        Ok(())
    }

    fn text_mut(&mut self) -> &mut String {
        match self.field {
            BookingField::Rig => &mut self.rig,
            BookingField::Start => &mut self.start,
            BookingField::Agreement => &mut self.agreement,
        }
    }
}

/// What the keyboard is doing: moving around, or filling a form or picker.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Normal,
    Booking(BookingForm),
    /// Picking one of [`FAULTS`] for `dongle`.
    FaultPicker {
        dongle: String,
        selected: usize,
    },
    /// Picking one of [`MARKET_SCENARIOS`] for the access point `point`.
    MarketPicker {
        point: String,
        selected: usize,
    },
    /// Editing the scenario tag filter; Enter keeps `draft`, Esc drops it.
    TagFilter {
        draft: String,
    },
    /// Asking before a destructive action (revoke a consent, apply a market scenario): `y` or
    /// Enter hands `action` to the lab, `n` or Esc drops it.
    Confirm {
        prompt: String,
        action: Action,
    },
    /// Asking how far to move the lab's (simulated) clock: keys type into `draft`; Enter
    /// moves it once it is not blank, Esc drops it.
    ClockMove {
        draft: String,
        /// Shown under the text after a refused Enter.
        error: Option<String>,
    },
    /// Asking why `slot` is cancelled (the lab keeps the reason in its audit log): keys type
    /// into `draft`; Enter cancels with it once it is not blank, Esc drops the cancel.
    CancelReason {
        slot: String,
        prompt: String,
        draft: String,
        /// Shown under the text after a refused Enter.
        error: Option<String>,
    },
}

/// Which table of the consents screen the arrows move in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConsentFocus {
    #[default]
    Points,
    Consents,
}

/// A selection in a list plus the first visible row.
///
/// The offset is only known once the table's height is, so `render` updates it through a
/// `Cell`; it never changes what is selected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Scroll {
    selected: usize,
    offset: Cell<usize>,
}

impl Scroll {
    pub(crate) fn selected(&self, len: usize) -> Option<usize> {
        (len > 0).then(|| self.selected.min(len - 1))
    }

    fn step(&mut self, delta: isize, len: usize) {
        let last = len.saturating_sub(1);
        let cur = self.selected.min(last);
        self.selected = cur.saturating_add_signed(delta).min(last);
    }

    fn reset(&mut self) {
        self.selected = 0;
        self.offset.set(0);
    }

    /// The first visible row and the selected row relative to it, for a table that shows
    /// `height` of `len` rows; scrolls as little as possible to keep the selection in view.
    pub(crate) fn window(&self, len: usize, height: usize) -> (usize, Option<usize>) {
        if len == 0 || height == 0 {
            return (0, None);
        }
        let sel = self.selected.min(len - 1);
        let mut off = self.offset.get();
        if sel < off {
            off = sel;
        } else if sel >= off + height {
            off = sel + 1 - height;
        }
        // After the list shrank or the window grew, do not leave blank rows at the bottom.
        off = off.min(len.saturating_sub(height));
        self.offset.set(off);
        (off, Some(sel - off))
    }
}

/// The console's UI state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct App {
    screen: Screen,
    mode: Mode,
    help: bool,
    pub(crate) slots: Scroll,
    pub(crate) meters: Scroll,
    pub(crate) dongles: Scroll,
    pub(crate) incidents: Scroll,
    pub(crate) points: Scroll,
    pub(crate) consents: Scroll,
    pub(crate) scenarios: Scroll,
    consent_focus: ConsentFocus,
    show_access: bool,
    tag_filter: String,
    last_result: Option<Result<String, String>>,
}

const PAGE: isize = 10;

impl App {
    pub fn new() -> App {
        App::default()
    }

    pub fn screen(&self) -> Screen {
        self.screen
    }

    pub fn set_screen(&mut self, screen: Screen) {
        self.screen = screen;
    }

    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    pub fn help_visible(&self) -> bool {
        self.help
    }

    pub fn consent_focus(&self) -> ConsentFocus {
        self.consent_focus
    }

    /// Whether the consents screen shows the access register of the selected point.
    pub fn access_visible(&self) -> bool {
        self.show_access
    }

    /// The committed scenario tag filter.
    pub fn tag_filter(&self) -> &str {
        &self.tag_filter
    }

    pub fn last_result(&self) -> Option<&Result<String, String>> {
        self.last_result.as_ref()
    }

    /// Records the outcome of the last action for the status bar.
    pub fn set_result(&mut self, result: Result<String, String>) {
        self.last_result = Some(result);
    }

    /// Indices into `snap.scenarios` of the rows the tag filter lets through.
    pub fn visible_scenarios(&self, snap: &Snapshot) -> Vec<usize> {
        snap.scenarios
            .iter()
            .enumerate()
            .filter(|(_, s)| tags_match(&self.tag_filter, &s.tags))
            .map(|(idx, _)| idx)
            .collect()
    }

    /// Handles one key press; returns what the lab should do, if anything.
    pub fn update(&mut self, key: KeyEvent, snap: &Snapshot) -> Option<Action> {
        // Raw mode turns Ctrl-C into a key; it quits from anywhere, even a form.
        if key.modifiers.contains(KeyModifiers::CONTROL)
            && matches!(key.code, KeyCode::Char('c' | 'C'))
        {
            return Some(Action::Quit);
        }
        match self.mode {
            Mode::Normal => {}
            Mode::Booking(_) => return self.booking_key(key, snap),
            Mode::FaultPicker { .. } | Mode::MarketPicker { .. } => return self.picker_key(key),
            Mode::TagFilter { .. } => {
                self.tag_key(key);
                return None;
            }
            Mode::Confirm { .. } => return self.confirm_key(key),
            Mode::CancelReason { .. } => return self.reason_key(key),
            Mode::ClockMove { .. } => return self.clock_key(key),
        }
        if self.help {
            match key.code {
                KeyCode::Esc | KeyCode::Char('?') => self.help = false,
                KeyCode::Char('q') => return Some(Action::Quit),
                _ => {}
            }
            return None;
        }
        self.normal_key(key, snap)
    }

    fn normal_key(&mut self, key: KeyEvent, snap: &Snapshot) -> Option<Action> {
        match key.code {
            KeyCode::Char('q') => return Some(Action::Quit),
            KeyCode::Char('?') => self.help = true,
            KeyCode::Char('T') => self.mode = Mode::ClockMove { draft: String::new(), error: None },
            KeyCode::Char(c @ '1'..='6') => {
                let idx = c as usize - '1' as usize;
                self.screen = Screen::ALL[idx];
            }
            KeyCode::Tab => self.screen = self.screen.next(),
            KeyCode::BackTab => self.screen = self.screen.prev(),
            KeyCode::Up | KeyCode::Char('k') => self.step(-1, snap),
            KeyCode::Down | KeyCode::Char('j') => self.step(1, snap),
            KeyCode::PageUp => self.step(-PAGE, snap),
            KeyCode::PageDown => self.step(PAGE, snap),
            KeyCode::Home | KeyCode::Char('g') => self.step(isize::MIN / 2, snap),
            KeyCode::End | KeyCode::Char('G') => self.step(isize::MAX / 2, snap),
            _ => return self.screen_key(key, snap),
        }
        None
    }

    fn screen_key(&mut self, key: KeyEvent, snap: &Snapshot) -> Option<Action> {
        match (self.screen, key.code) {
            (Screen::Rigs, KeyCode::Char('b')) => {
                let rig = self
                    .slots
                    .selected(snap.slots.len())
                    .map(|idx| snap.slots[idx].rig.clone())
                    .or_else(|| snap.rigs.first().map(|r| r.id.clone()))
                    .unwrap_or_default();
                let field = if rig.is_empty() { BookingField::Rig } else { BookingField::Start };
                self.mode = Mode::Booking(BookingForm { rig, field, ..BookingForm::default() });
            }
            (Screen::Rigs, KeyCode::Char('c')) => {
                let slot = &snap.slots[self.slots.selected(snap.slots.len())?];
                self.mode = Mode::CancelReason {
                    slot: slot.id.clone(),
                    prompt: format!(
                        "Reason for cancelling slot {} of {} on {} (kept in the audit log):",
                        slot.id, slot.holder, slot.rig
                    ),
                    draft: String::new(),
                    error: None,
                };
            }
            (Screen::Dongles, KeyCode::Char('f')) => {
                let idx = self.dongles.selected(snap.dongles.len())?;
                let dongle = snap.dongles[idx].id.clone();
                self.mode = Mode::FaultPicker { dongle, selected: 0 };
            }
            (Screen::Consents, KeyCode::Left | KeyCode::Char('h')) => {
                self.consent_focus = ConsentFocus::Points;
            }
            (Screen::Consents, KeyCode::Right | KeyCode::Char('l')) => {
                self.consent_focus = ConsentFocus::Consents;
            }
            (Screen::Consents, KeyCode::Char('a')) => self.show_access = !self.show_access,
            (Screen::Consents, KeyCode::Char('m')) => {
                let idx = self.points.selected(snap.points.len())?;
                let point = snap.points[idx].ean.clone();
                self.mode = Mode::MarketPicker { point, selected: 0 };
            }
            (Screen::Consents, KeyCode::Char('r')) => {
                let point = &snap.points[self.points.selected(snap.points.len())?];
                let consent = &point.consents[self.consents.selected(point.consents.len())?];
                if consent.revoked_at.is_some() {
                    self.set_result(Err(format!("consent {} is already revoked", consent.id)));
                    return None;
                }
                self.mode = Mode::Confirm {
                    prompt: format!(
                        "Revoke consent {} ({} for {}) on {}? The ESP loses access at once.",
                        consent.id, consent.service, consent.esp, point.ean
                    ),
                    action: Action::Revoke { consent: consent.id.clone() },
                };
            }
            (Screen::Scenarios, KeyCode::Char('t')) => {
                self.mode = Mode::TagFilter { draft: self.tag_filter.clone() };
            }
            (Screen::Scenarios, KeyCode::Enter | KeyCode::Char('r')) => {
                return Some(Action::RunScenarios { tags: self.tag_filter.trim().to_owned() });
            }
            _ => {}
        }
        None
    }

    fn step(&mut self, delta: isize, snap: &Snapshot) {
        match self.screen {
            Screen::Rigs => self.slots.step(delta, snap.slots.len()),
            Screen::Live => self.meters.step(delta, snap.meters.len()),
            Screen::Dongles => self.dongles.step(delta, snap.dongles.len()),
            Screen::Platform => {
                let open = snap.incidents.iter().filter(|i| i.closed.is_none()).count();
                self.incidents.step(delta, open);
            }
            Screen::Consents => match self.consent_focus {
                ConsentFocus::Points => {
                    let before = self.points.selected(snap.points.len());
                    self.points.step(delta, snap.points.len());
                    if self.points.selected(snap.points.len()) != before {
                        self.consents.reset();
                    }
                }
                ConsentFocus::Consents => {
                    let len = self
                        .points
                        .selected(snap.points.len())
                        .map_or(0, |idx| snap.points[idx].consents.len());
                    self.consents.step(delta, len);
                }
            },
            Screen::Scenarios => {
                let len = self.visible_scenarios(snap).len();
                self.scenarios.step(delta, len);
            }
        }
    }

    fn booking_key(&mut self, key: KeyEvent, snap: &Snapshot) -> Option<Action> {
        let Mode::Booking(form) = &mut self.mode else {
            return None;
        };
        match key.code {
            KeyCode::Esc => {
                self.mode = Mode::Normal;
                return None;
            }
            KeyCode::Enter => match form.validate() {
                Ok(()) => {
                    let action = Action::Book {
                        rig: form.rig.trim().to_owned(),
                        start: form.start.trim().to_owned(),
                        agreement: form.agreement.trim().to_owned(),
                    };
                    self.mode = Mode::Normal;
                    return Some(action);
                }
                Err((field, err)) => {
                    form.field = field;
                    form.error = Some(err.to_string());
                }
            },
            KeyCode::Tab | KeyCode::Down => form.field = form.field.next(),
            KeyCode::BackTab | KeyCode::Up => form.field = form.field.prev(),
            KeyCode::Left | KeyCode::Right
                if form.field == BookingField::Rig && !snap.rigs.is_empty() =>
            {
                let n = snap.rigs.len();
                let cur = snap.rigs.iter().position(|r| r.id == form.rig);
                let next = match (cur, key.code) {
                    (None, _) => 0,
                    (Some(i), KeyCode::Left) => (i + n - 1) % n,
                    (Some(i), _) => (i + 1) % n,
                };
                form.rig = snap.rigs[next].id.clone();
            }
            KeyCode::Backspace => {
                form.text_mut().pop();
            }
            KeyCode::Char(c) if is_typing(key) => {
                form.text_mut().push(c);
                form.error = None;
            }
            _ => {}
        }
        None
    }

    fn picker_key(&mut self, key: KeyEvent) -> Option<Action> {
        let (selected, len) = match &mut self.mode {
            Mode::FaultPicker { selected, .. } => (selected, FAULTS.len()),
            Mode::MarketPicker { selected, .. } => (selected, MARKET_SCENARIOS.len()),
            _ => return None,
        };
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => *selected = selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => *selected = (*selected + 1).min(len - 1),
            KeyCode::Esc => self.mode = Mode::Normal,
            KeyCode::Enter => {
                let action = match std::mem::take(&mut self.mode) {
                    Mode::FaultPicker { dongle, selected } => Action::InjectFault {
                        dongle,
                        fault: FAULTS[selected.min(FAULTS.len() - 1)].to_owned(),
                    },
                    Mode::MarketPicker { point, selected } => {
                        // Register changes cannot be undone: ask first.
                        let (code, meaning) =
                            MARKET_SCENARIOS[selected.min(MARKET_SCENARIOS.len() - 1)];
                        self.mode = Mode::Confirm {
                            prompt: format!(
                                "Apply {code} ({meaning}) to {point} now? It cannot be undone."
                            ),
                            action: Action::MarketScenario { point, kind: code.to_owned() },
                        };
                        return None;
                    }
                    _ => return None,
                };
                return Some(action);
            }
            _ => {}
        }
        None
    }

    fn confirm_key(&mut self, key: KeyEvent) -> Option<Action> {
        match key.code {
            KeyCode::Char('y' | 'Y') | KeyCode::Enter => match std::mem::take(&mut self.mode) {
                Mode::Confirm { action, .. } => Some(action),
                _ => None,
            },
            KeyCode::Char('n' | 'N') | KeyCode::Esc => {
                self.mode = Mode::Normal;
                None
            }
            // Anything else keeps the question open: a stray key must not decide it.
            _ => None,
        }
    }

    fn reason_key(&mut self, key: KeyEvent) -> Option<Action> {
        let Mode::CancelReason { slot, draft, error, .. } = &mut self.mode else {
            return None;
        };
        match key.code {
            KeyCode::Esc => self.mode = Mode::Normal,
            KeyCode::Enter => {
                let reason = draft.trim();
                if reason.is_empty() {
                    // Enter alone must not cancel: the holder loses the slot.
                    *error = Some("type a reason first: the audit log keeps it".to_owned());
                    return None;
                }
                let action = Action::Cancel { slot: slot.clone(), reason: reason.to_owned() };
                self.mode = Mode::Normal;
                return Some(action);
            }
            KeyCode::Backspace => {
                draft.pop();
            }
            KeyCode::Char(c) if is_typing(key) => {
                draft.push(c);
                *error = None;
            }
            _ => {}
        }
        None
    }

    fn clock_key(&mut self, key: KeyEvent) -> Option<Action> {
        let Mode::ClockMove { draft, error } = &mut self.mode else {
            return None;
        };
        match key.code {
            KeyCode::Esc => self.mode = Mode::Normal,
            KeyCode::Enter => {
                let when = draft.trim();
                if when.is_empty() {
                    *error = Some("type how far (1d, 3y) or to when (2029-06-01)".to_owned());
                    return None;
                }
                let action = Action::MoveClock { when: when.to_owned() };
                self.mode = Mode::Normal;
                return Some(action);
            }
            KeyCode::Backspace => {
                draft.pop();
            }
            KeyCode::Char(c) if is_typing(key) => {
                draft.push(c);
                *error = None;
            }
            _ => {}
        }
        None
    }

    fn tag_key(&mut self, key: KeyEvent) {
        let Mode::TagFilter { draft } = &mut self.mode else {
            return;
        };
        match key.code {
            KeyCode::Esc => self.mode = Mode::Normal,
            KeyCode::Enter => {
                self.tag_filter = draft.trim().to_owned();
                self.mode = Mode::Normal;
                self.scenarios.reset();
            }
            KeyCode::Backspace => {
                draft.pop();
            }
            KeyCode::Char(c) if is_typing(key) => draft.push(c),
            _ => {}
        }
    }
}

/// A key that types its character into a text field (Shift is fine, Ctrl and Alt are not).
fn is_typing(key: KeyEvent) -> bool {
    !key.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
}

/// Whether a scenario with `tags` passes the console's tag filter.
///
/// The list understands `@a @b` and `@a and not @b` (tags with or without `@`). An expression
/// with `or` or parentheses is passed to the runner unchanged, and the list then shows every
/// row rather than guess.
pub fn tags_match(filter: &str, tags: &[String]) -> bool {
    let words: Vec<&str> = filter.split_whitespace().collect();
    if words.iter().any(|w| w.eq_ignore_ascii_case("or") || w.contains(['(', ')'])) {
        return true;
    }
    let has = |word: &str| {
        let word = word.trim_start_matches('@');
        tags.iter().any(|t| t.trim_start_matches('@').eq_ignore_ascii_case(word))
    };
    let mut negate = false;
    for word in words {
        if word.eq_ignore_ascii_case("and") {
            continue;
        }
        if word.eq_ignore_ascii_case("not") {
            negate = !negate;
            continue;
        }
        if has(word) == negate {
            return false;
        }
        negate = false;
    }
    true
}

#[cfg(test)]
mod tests;
