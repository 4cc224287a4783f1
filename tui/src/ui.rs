//! Drawing: [`render`] paints one frame from the UI state and a snapshot.
//!
//! Nothing here reads the system clock: times are shown in Brussels local time and ages are
//! measured from `Snapshot::at`. Long tables build rows only for the visible window.

use std::sync::OnceLock;

use jiff::{Timestamp, Zoned, tz::TimeZone};
use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    style::{Color, Modifier, Style, Stylize},
    symbols,
    text::{Line, Span, Text},
    widgets::{
        Axis, Block, Borders, Cell, Chart, Clear, Dataset, Gauge, GraphType, HighlightSpacing,
        List, ListItem, ListState, Paragraph, Row, Table, TableState, Tabs, Wrap,
    },
};

use crate::{
    app::{
        App, BookingField, BookingForm, ConsentFocus, FAULTS, MARKET_SCENARIOS, Mode, Screen,
        Scroll,
    },
    model::{PointView, Snapshot},
};

const HIGHLIGHT: &str = "▶ ";
const NONE: &str = "—";

fn brussels() -> &'static TimeZone {
    static TZ: OnceLock<TimeZone> = OnceLock::new();
    TZ.get_or_init(|| TimeZone::get("Europe/Brussels").unwrap_or(TimeZone::UTC))
}

fn local(ts: Timestamp) -> Zoned {
    ts.to_zoned(brussels().clone())
}

fn fmt_date(ts: Timestamp) -> String {
    local(ts).strftime("%Y-%m-%d").to_string()
}

fn fmt_short(ts: Timestamp) -> String {
    local(ts).strftime("%m-%d %H:%M").to_string()
}

fn fmt_hm(ts: Timestamp) -> String {
    local(ts).strftime("%H:%M").to_string()
}

fn fmt_opt_date(ts: Option<Timestamp>) -> String {
    ts.map_or_else(|| NONE.to_owned(), fmt_date)
}

/// A compact age such as `42s`, `5m`, `3h`, `2d` of `then` as seen at `now`.
fn fmt_age(now: Timestamp, then: Timestamp) -> String {
    let secs = now.as_second().saturating_sub(then.as_second());
    let (prefix, secs) = if secs < 0 { ("in ", secs.unsigned_abs()) } else { ("", secs as u64) };
    let body = match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86_400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    };
    format!("{prefix}{body}")
}

fn state_color(state: &str) -> Color {
    match state {
        "online" | "running" | "passed" | "active" => Color::Green,
        "late" | "booked" | "pending" => Color::Yellow,
        "offline" | "failed" | "stopped" | "revoked" | "ended" => Color::Red,
        // An undefined step: the suite could not test the system, like a lab error.
        "lab-error" | "undefined" => Color::Magenta,
        _ => Color::DarkGray,
    }
}

fn colored(text: impl Into<String>, state: &str) -> Span<'static> {
    Span::styled(text.into(), Style::new().fg(state_color(state)))
}

fn header_row(cells: &[&'static str]) -> Row<'static> {
    Row::new(cells.iter().copied()).style(Style::new().add_modifier(Modifier::BOLD))
}

fn screen_block<'a>(title: impl Into<Line<'a>>, hints: &'a str) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .title(title.into().bold())
        .title_bottom(Line::from(hints).dark_gray())
}

/// Renders `len` rows through `row`, building only those in the visible window of `scroll`.
fn windowed_table<'a>(
    frame: &mut Frame,
    area: Rect,
    block: Block<'a>,
    header: Row<'a>,
    widths: &[Constraint],
    (scroll, len): (&Scroll, usize),
    row: impl Fn(usize) -> Row<'a>,
) {
    let height = usize::from(block.inner(area).height.saturating_sub(1));
    let (offset, selected) = scroll.window(len, height);
    let end = offset.saturating_add(height).min(len);
    let rows: Vec<Row<'a>> = (offset..end).map(row).collect();
    let table = Table::new(rows, widths.iter().copied())
        .header(header)
        .block(block)
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .highlight_symbol(HIGHLIGHT)
        .highlight_spacing(HighlightSpacing::Always);
    let mut state = TableState::default().with_selected(selected);
    frame.render_stateful_widget(table, area, &mut state);
}

/// Draws the whole console.
pub fn render(frame: &mut Frame, app: &App, snap: &Snapshot) {
    let area = frame.area();
    if area.is_empty() {
        return;
    }
    // The status bar wraps a long message (a server's refusal, an error with its cause) over
    // as many lines as it needs, up to a third of the screen, rather than cutting it.
    let status_text = status_paragraph(app, snap);
    let status_height = u16::try_from(status_text.line_count(area.width))
        .unwrap_or(u16::MAX)
        .clamp(1, (area.height / 3).max(1));
    let [header, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(status_height),
    ])
    .areas(area);
    render_tabs(frame, header, app);
    match app.screen() {
        Screen::Rigs => render_rigs(frame, body, app, snap),
        Screen::Live => render_live(frame, body, app, snap),
        Screen::Dongles => render_dongles(frame, body, app, snap),
        Screen::Platform => render_platform(frame, body, app, snap),
        Screen::Consents => render_consents(frame, body, app, snap),
        Screen::Scenarios => render_scenarios(frame, body, app, snap),
    }
    frame.render_widget(status_text, status);
    match app.mode() {
        Mode::Booking(form) => render_booking(frame, area, form),
        Mode::FaultPicker { dongle, selected } => {
            let items = FAULTS.iter().map(|f| ListItem::new(*f)).collect();
            render_picker(frame, area, &format!("fault for {dongle}"), items, *selected);
        }
        Mode::MarketPicker { point, selected } => {
            let items = MARKET_SCENARIOS
                .iter()
                .map(|(code, meaning)| {
                    ListItem::new(Line::from(vec![
                        Span::from(format!("{code:<5}")).bold(),
                        Span::from(*meaning),
                    ]))
                })
                .collect();
            render_picker(frame, area, &format!("market scenario on {point}"), items, *selected);
        }
        Mode::Confirm { prompt, .. } => render_confirm(frame, area, prompt),
        Mode::CancelReason { prompt, draft, error, .. } => {
            let text = TextPrompt {
                title: "Cancel a slot",
                hints: " Enter cancel the slot  Esc keep it ",
                prompt,
            };
            render_text_prompt(frame, area, &text, draft, error.as_deref());
        }
        Mode::ClockMove { draft, error } => {
            let text = TextPrompt {
                title: "Move the lab clock",
                hints: " Enter move it  Esc leave it ",
                prompt: "How far (90m, 1d, 3y) or to when (2029-06-01, 2029-06-01T08:00)? \
                         Only a simulated clock moves (meterlab up --clock sim).",
            };
            render_text_prompt(frame, area, &text, draft, error.as_deref());
        }
        Mode::Normal | Mode::TagFilter { .. } => {}
    }
    if app.help_visible() {
        render_help(frame, area);
    }
}

fn render_tabs(frame: &mut Frame, area: Rect, app: &App) {
    let titles: Vec<String> = Screen::ALL
        .iter()
        .enumerate()
        .map(|(idx, s)| format!("{} {}", idx + 1, s.title()))
        .collect();
    // Each title is padded by one space on both sides, with a divider between titles.
    let tabs_width: usize = titles.iter().map(|t| t.chars().count() + 3).sum::<usize>() - 1;
    let spare = usize::from(area.width).saturating_sub(tabs_width);
    let hints = match spare {
        15.. => " ? help  q quit",
        7.. => " ? help",
        _ => "",
    };
    let hints_width = u16::try_from(hints.chars().count()).unwrap_or(u16::MAX);
    let [tabs_area, hints_area] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(hints_width)]).areas(area);
    let tabs = Tabs::new(titles)
        .select(app.screen().index())
        .highlight_style(Style::new().fg(Color::Black).bg(Color::Cyan).bold());
    frame.render_widget(tabs, tabs_area);
    frame.render_widget(Paragraph::new(hints).dark_gray().right_aligned(), hints_area);
}

fn status_paragraph(app: &App, snap: &Snapshot) -> Paragraph<'static> {
    let sep = || Span::from(" │ ").dark_gray();
    let api = if snap.api.is_empty() { "no api" } else { snap.api.as_str() };
    let clock = if snap.at == Timestamp::UNIX_EPOCH {
        "no snapshot yet".to_owned()
    } else {
        local(snap.at).strftime("%Y-%m-%d %H:%M:%S %Z").to_string()
    };
    let mut spans = vec![Span::from(api.to_owned()), sep(), Span::from(clock)];
    if let Some(note) = &snap.status_line {
        spans.push(sep());
        spans.push(Span::from(format!("⚠ {note}")).yellow());
    }
    match app.last_result() {
        Some(Ok(msg)) => {
            spans.push(sep());
            spans.push(Span::from(format!("✓ {msg}")).green());
        }
        Some(Err(msg)) => {
            spans.push(sep());
            spans.push(Span::from(format!("✗ {msg}")).red());
        }
        None => {}
    }
    Paragraph::new(Line::from(spans)).wrap(Wrap { trim: true })
}

// ---------------------------------------------------------------------------------------------
// Rigs & slots

const CALENDAR_DAYS: usize = 14;

fn render_rigs(frame: &mut Frame, area: Rect, app: &App, snap: &Snapshot) {
    let calendar_height = u16::try_from(CALENDAR_DAYS + 3)
        .unwrap_or(u16::MAX)
        .min(area.height.saturating_sub(8).max(area.height / 2));
    let [cal_area, list_area] =
        Layout::vertical([Constraint::Length(calendar_height), Constraint::Min(0)]).areas(area);
    render_calendar(frame, cal_area, snap);

    let block =
        screen_block(format!("Slots ({})", snap.slots.len()), " ↑↓ select  b book  c cancel slot ");
    let widths = [
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Max(24),
        Constraint::Length(11),
        Constraint::Length(11),
        Constraint::Length(9),
    ];
    let header = header_row(&["slot", "rig", "holder", "start", "end", "state"]);
    windowed_table(frame, list_area, block, header, &widths, (&app.slots, snap.slots.len()), |i| {
        let s = &snap.slots[i];
        Row::new(vec![
            Cell::from(s.id.clone()),
            Cell::from(s.rig.clone()),
            Cell::from(s.holder.clone()),
            Cell::from(fmt_short(s.start)),
            Cell::from(fmt_short(s.end)),
            Cell::from(colored(s.state.clone(), &s.state)),
        ])
    });
}

/// Day rows (Brussels dates from `snap.at`) by rig columns: which slot holds the rig that day.
fn render_calendar(frame: &mut Frame, area: Rect, snap: &Snapshot) {
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Line::from(format!("Rigs · next {CALENDAR_DAYS} days (Brussels)")).bold());
    let visible_days = usize::from(block.inner(area).height.saturating_sub(1)).min(CALENDAR_DAYS);
    let tz = brussels();
    let mut days = Vec::with_capacity(visible_days);
    let mut date = local(snap.at).date();
    for _ in 0..visible_days {
        let Ok(next) = date.tomorrow() else { break };
        let (Ok(start), Ok(end)) = (date.to_zoned(tz.clone()), next.to_zoned(tz.clone())) else {
            break;
        };
        days.push((start, end.timestamp()));
        date = next;
    }

    let mut widths = vec![Constraint::Length(10)];
    widths.extend(snap.rigs.iter().map(|_| Constraint::Fill(1)));
    let mut header = vec![Cell::from("day")];
    header.extend(snap.rigs.iter().map(|r| Cell::from(format!("{} ({})", r.id, r.variants.len()))));
    let rows = days.iter().map(|(day, day_end)| {
        let day_start = day.timestamp();
        let mut cells = vec![Cell::from(day.strftime("%a %d %b").to_string())];
        for rig in &snap.rigs {
            let mut spans: Vec<Span<'static>> = Vec::new();
            let held = snap.slots.iter().filter(|s| {
                s.rig == rig.id && s.state != "cancelled" && s.start < *day_end && s.end > day_start
            });
            for slot in held {
                if !spans.is_empty() {
                    spans.push(Span::from(", "));
                }
                let from = if slot.start >= day_start { fmt_hm(slot.start) } else { "…".into() };
                let to = if slot.end <= *day_end { fmt_hm(slot.end) } else { "…".into() };
                spans.push(colored(format!("{} {from}–{to}", slot.holder), &slot.state));
            }
            if spans.is_empty() {
                spans.push(Span::from("free").dark_gray());
            }
            cells.push(Cell::from(Line::from(spans)));
        }
        Row::new(cells)
    });
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(Style::new().add_modifier(Modifier::BOLD)))
        .block(block);
    frame.render_widget(table, area);
}

// ---------------------------------------------------------------------------------------------
// Live meters

fn render_live(frame: &mut Frame, area: Rect, app: &App, snap: &Snapshot) {
    let [table_area, detail_area] =
        Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(area);
    let block = screen_block(format!("Live meters ({})", snap.meters.len()), " ↑↓ select meter ");
    let widths = [
        Constraint::Length(9),
        Constraint::Length(14),
        Constraint::Length(2),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(17),
        Constraint::Length(7),
    ];
    let header = header_row(&["meter", "variant", "T", "imp W", "exp W", "V per phase", "peak kW"]);
    windowed_table(
        frame,
        table_area,
        block,
        header,
        &widths,
        (&app.meters, snap.meters.len()),
        |i| {
            let m = &snap.meters[i];
            let volts = m
                .voltage_dv
                .iter()
                .map(|v| format!("{:.1}", v.volts_f64()))
                .collect::<Vec<_>>()
                .join(" ");
            Row::new(vec![
                Cell::from(m.id.clone()),
                Cell::from(m.variant.clone()),
                Cell::from(m.tariff.to_string()),
                Cell::from(Text::from(m.import_w.as_w().to_string()).right_aligned()),
                Cell::from(Text::from(m.export_w.as_w().to_string()).right_aligned()),
                Cell::from(volts),
                // A meter without the register (e-MUCS 1.5, DSMR, Smarty) or before its first
                // quarter with offtake has no peak: a dash, not a peak of zero. Watts, as the
                // register counts them (0.025 kW is not 0.00).
                Cell::from(
                    Text::from(match m.month_peak_w {
                        Some(p) => format!("{:.3}", p.kw_f64()),
                        None => NONE.to_owned(),
                    })
                    .right_aligned(),
                ),
            ])
        },
    );

    let Some(meter) = app.meters.selected(snap.meters.len()).map(|i| &snap.meters[i]) else {
        frame.render_widget(
            Paragraph::new("no meters").block(Block::default().borders(Borders::ALL)),
            detail_area,
        );
        return;
    };
    let [charts, telegram] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
            .areas(detail_area);
    let [power_area, volt_area] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(charts);

    render_power(frame, power_area, &meter.id, &meter.power_history);

    render_voltage(frame, volt_area, &meter.voltage_history);

    let lines: Vec<Line> = meter.last_telegram.iter().map(|l| Line::from(l.as_str())).collect();
    let telegram_widget = Paragraph::new(lines).block(
        Block::default().borders(Borders::ALL).title(format!("last telegram · {}", meter.variant)),
    );
    frame.render_widget(telegram_widget, telegram);
}

/// Net power over the last minutes: offtake above zero (cyan), injection of an exporting
/// meter below it (green), so a PV home at noon shows its export rather than an empty chart.
fn render_power(frame: &mut Frame, area: Rect, id: &str, history: &[f64]) {
    let net: Vec<(f64, f64)> = history
        .iter()
        .enumerate()
        .filter(|(_, w)| w.is_finite())
        .map(|(i, w)| (i as f64, *w))
        .collect();
    let offtake: Vec<(f64, f64)> = net.iter().map(|&(x, w)| (x, w.max(0.0))).collect();
    let injection: Vec<(f64, f64)> = net.iter().map(|&(x, w)| (x, w.min(0.0))).collect();
    let (lo, hi) = net.iter().fold((0.0_f64, 0.0_f64), |(lo, hi), (_, w)| (lo.min(*w), hi.max(*w)));
    let hi = if hi <= lo { lo + 1.0 } else { hi };
    let now = net.last().map_or(0.0, |(_, w)| *w);
    let title = if now < 0.0 {
        format!("{id} W · now −{:.0} injected", -now)
    } else {
        format!("{id} W · now {now:.0}")
    };
    let mut datasets = vec![
        Dataset::default()
            .marker(symbols::Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::Cyan))
            .data(&offtake),
    ];
    if lo < 0.0 {
        datasets.push(
            Dataset::default()
                .marker(symbols::Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::new().fg(Color::Green))
                .data(&injection),
        );
    }
    let mut labels = vec![format!("{lo:.0}")];
    if lo < 0.0 && hi > 0.0 {
        labels.push("0".into());
    }
    labels.push(format!("{hi:.0}"));
    let chart = Chart::new(datasets)
        .block(Block::default().borders(Borders::ALL).title(title))
        .x_axis(Axis::default().bounds([0.0, net.len().saturating_sub(1).max(1) as f64]))
        .y_axis(Axis::default().bounds([lo, hi]).labels(labels).style(Style::new().dark_gray()));
    frame.render_widget(chart, area);
}

fn render_voltage(frame: &mut Frame, area: Rect, history: &[f64]) {
    let points: Vec<(f64, f64)> = history
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .map(|(i, v)| (i as f64, *v))
        .collect();
    let (lo, hi) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, v)| (lo.min(*v), hi.max(*v)));
    let (lo, hi) =
        if lo.is_finite() { ((lo - 1.0).floor(), (hi + 1.0).ceil()) } else { (0.0, 1.0) };
    let now = history.last().copied().unwrap_or(f64::NAN);
    let dataset = Dataset::default()
        .marker(symbols::Marker::Braille)
        .graph_type(GraphType::Line)
        .style(Style::new().fg(Color::Yellow))
        .data(&points);
    let chart = Chart::new(vec![dataset])
        .block(Block::default().borders(Borders::ALL).title(format!("voltage V · now {now:.1}")))
        .x_axis(Axis::default().bounds([0.0, points.len().saturating_sub(1).max(1) as f64]))
        .y_axis(
            Axis::default()
                .bounds([lo, hi])
                .labels([format!("{lo:.0}"), format!("{hi:.0}")])
                .style(Style::new().dark_gray()),
        );
    frame.render_widget(chart, area);
}

// ---------------------------------------------------------------------------------------------
// Dongles

fn render_dongles(frame: &mut Frame, area: Rect, app: &App, snap: &Snapshot) {
    let mut counts = [0usize; 4];
    for d in &snap.dongles {
        match d.state.as_str() {
            "online" => counts[0] += 1,
            "late" => counts[1] += 1,
            "offline" => counts[2] += 1,
            _ => counts[3] += 1,
        }
    }
    let title = Line::from(vec![
        Span::from(format!("Dongles ({}) ", snap.dongles.len())).bold(),
        colored(format!("online {} ", counts[0]), "online"),
        colored(format!("late {} ", counts[1]), "late"),
        colored(format!("offline {} ", counts[2]), "offline"),
        colored(format!("never {}", counts[3]), "never"),
    ]);
    let block = screen_block(title, " ↑↓ select  f inject fault ");
    let widths = [
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(7),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Length(7),
        Constraint::Length(4),
        Constraint::Length(6),
        Constraint::Fill(1),
    ];
    let header =
        header_row(&["dongle", "meter", "state", "buf", "int s", "recv", "crc", "seen", "fault"]);
    windowed_table(frame, area, block, header, &widths, (&app.dongles, snap.dongles.len()), |i| {
        let d = &snap.dongles[i];
        let seen = d.last_seen.map_or_else(|| NONE.to_owned(), |t| fmt_age(snap.at, t));
        let crc = Cell::from(Text::from(d.crc_errors.to_string()).right_aligned());
        let crc = if d.crc_errors > 0 { crc.style(Style::new().fg(Color::Yellow)) } else { crc };
        Row::new(vec![
            Cell::from(d.id.clone()),
            Cell::from(d.meter.clone()),
            Cell::from(colored(d.state.clone(), &d.state)),
            Cell::from(Text::from(d.buffered.to_string()).right_aligned()),
            Cell::from(Text::from(format!("{:.1}", d.interval_s)).right_aligned()),
            Cell::from(Text::from(d.received.to_string()).right_aligned()),
            crc,
            Cell::from(Text::from(seen).right_aligned()),
            Cell::from(d.fault.clone().map_or_else(|| Span::from(""), |f| Span::from(f).red())),
        ])
    });
}

// ---------------------------------------------------------------------------------------------
// Platform

fn pct_gauge(title: &str, pct: f64, good: f64) -> Gauge<'_> {
    let ratio = if pct.is_finite() { (pct / 100.0).clamp(0.0, 1.0) } else { 0.0 };
    let color = if pct >= good { Color::Green } else { Color::Red };
    Gauge::default()
        .block(Block::default().borders(Borders::ALL).title(title))
        .gauge_style(Style::new().fg(color).bg(Color::Black))
        .ratio(ratio)
        .label(format!("{pct:.1}%"))
}

fn render_platform(frame: &mut Frame, area: Rect, app: &App, snap: &Snapshot) {
    let sla_height = u16::try_from(snap.sla.len() + 3).unwrap_or(u16::MAX).min(area.height / 3);
    let [kpi_area, incident_area, sla_area] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Min(0),
        Constraint::Length(sla_height),
    ])
    .areas(area);

    let [a, b, c, d] = Layout::horizontal([Constraint::Ratio(1, 4); 4]).areas(kpi_area);
    let k = &snap.kpis;
    frame.render_widget(pct_gauge("availability", k.availability_pct, 99.0), a);
    frame.render_widget(pct_gauge("success rate", k.success_rate_pct, 99.0), b);
    frame.render_widget(pct_gauge("regularity", k.regularity_pct, 95.0), c);
    frame.render_widget(
        Paragraph::new(format!("{:.0} ms", k.mean_latency_ms))
            .centered()
            .block(Block::default().borders(Borders::ALL).title("mean latency")),
        d,
    );

    let open: Vec<_> = snap.incidents.iter().filter(|i| i.closed.is_none()).collect();
    let block = screen_block(
        format!("Open incidents ({} of {})", open.len(), snap.incidents.len()),
        " ↑↓ select ",
    );
    let widths = [
        Constraint::Length(4),
        Constraint::Length(8),
        Constraint::Length(12),
        Constraint::Length(11),
        Constraint::Length(4),
        Constraint::Fill(1),
    ];
    let header = header_row(&["id", "dongle", "kind", "opened", "age", "detail"]);
    windowed_table(
        frame,
        incident_area,
        block,
        header,
        &widths,
        (&app.incidents, open.len()),
        |i| {
            let inc = open[i];
            Row::new(vec![
                Cell::from(inc.id.to_string()),
                Cell::from(inc.dongle.clone()),
                Cell::from(Span::from(inc.kind.clone()).red()),
                Cell::from(fmt_short(inc.opened)),
                Cell::from(fmt_age(snap.at, inc.opened)),
                Cell::from(inc.detail.clone()),
            ])
        },
    );

    let rows = snap.sla.iter().map(|s| {
        let verdict = if s.pass { Span::from("PASS").green() } else { Span::from("FAIL").red() };
        Row::new(vec![
            Cell::from(s.rig.clone()),
            Cell::from(Text::from(format!("{:.1}%", s.daily_within_5d_pct)).right_aligned()),
            Cell::from(Text::from(format!("{:.1}%", s.monthly_within_15d_pct)).right_aligned()),
            Cell::from(verdict.bold()),
        ])
    });
    let sla = Table::new(
        rows,
        [
            Constraint::Fill(1),
            Constraint::Length(16),
            Constraint::Length(18),
            Constraint::Length(6),
        ],
    )
    .header(header_row(&["rig", "daily ≤5 d", "monthly ≤15 d", "SLA"]))
    .block(Block::default().borders(Borders::ALL).title(Line::from("SLA per rig").bold()));
    frame.render_widget(sla, sla_area);
}

// ---------------------------------------------------------------------------------------------
// Consents

fn render_consents(frame: &mut Frame, area: Rect, app: &App, snap: &Snapshot) {
    let [points_area, right] =
        Layout::horizontal([Constraint::Length(22), Constraint::Min(0)]).areas(area);
    let focus = app.consent_focus();
    let focused = |f: ConsentFocus| {
        if focus == f { Style::new().fg(Color::Cyan) } else { Style::new() }
    };
    let block = screen_block(format!("Points ({})", snap.points.len()), " ←→ focus ")
        .border_style(focused(ConsentFocus::Points));
    windowed_table(
        frame,
        points_area,
        block,
        header_row(&["EAN"]),
        &[Constraint::Fill(1)],
        (&app.points, snap.points.len()),
        |i| Row::new(vec![Cell::from(snap.points[i].ean.clone())]),
    );

    let point = app.points.selected(snap.points.len()).map(|i| &snap.points[i]);
    let areas: Vec<Rect> = if app.access_visible() {
        Layout::vertical([Constraint::Ratio(1, 3); 3]).split(right).to_vec()
    } else {
        Layout::vertical([Constraint::Ratio(1, 2); 2]).split(right).to_vec()
    };
    let empty = PointView::default();
    let point = point.unwrap_or(&empty);
    if let Some(area) = areas.first() {
        render_mandates(frame, *area, point);
    }
    if let Some(area) = areas.get(1) {
        let block = screen_block(
            format!("Consents ({})", point.consents.len()),
            " r revoke  m market scenario  a access register ",
        )
        .border_style(focused(ConsentFocus::Consents));
        let widths = [
            Constraint::Length(4),
            Constraint::Fill(2),
            Constraint::Fill(3),
            Constraint::Length(10),
            Constraint::Length(10),
        ];
        let header = header_row(&["id", "ESP", "service", "granted", "revoked"]);
        windowed_table(
            frame,
            *area,
            block,
            header,
            &widths,
            (&app.consents, point.consents.len()),
            |i| {
                let c = &point.consents[i];
                let revoked = match c.revoked_at {
                    Some(t) => Span::from(fmt_date(t)).red(),
                    None => Span::from(NONE).dark_gray(),
                };
                Row::new(vec![
                    Cell::from(c.id.clone()),
                    Cell::from(c.esp.clone()),
                    Cell::from(c.service.clone()),
                    Cell::from(fmt_date(c.granted_at)),
                    Cell::from(revoked),
                ])
            },
        );
    }
    if let Some(area) = areas.get(2) {
        render_access(frame, *area, snap, &point.ean);
    }
}

fn render_mandates(frame: &mut Frame, area: Rect, point: &PointView) {
    let user = point.grid_user.as_deref().unwrap_or("no grid user");
    let block = Block::default().borders(Borders::ALL).title(
        Line::from(format!("Mandates ({}) · {} · {user}", point.mandates.len(), point.ean)).bold(),
    );
    let wide = block.inner(area).width >= 72;
    let mut widths = vec![
        Constraint::Length(4),
        Constraint::Fill(3),
        Constraint::Fill(4),
        Constraint::Length(10),
        Constraint::Length(10),
        // `approved`, `finished`: the longest states, whole.
        Constraint::Length(8),
    ];
    let mut header = vec!["id", "ESP", "scope", "from", "to", "state"];
    if wide {
        widths.push(Constraint::Length(10));
        header.push("valid to");
    }
    let height = usize::from(block.inner(area).height.saturating_sub(1));
    let rows = point.mandates.iter().take(height).map(|m| {
        let mut cells = vec![
            Cell::from(m.id.clone()),
            Cell::from(m.esp.clone()),
            Cell::from(m.scope.clone()),
            Cell::from(fmt_date(m.period_from)),
            Cell::from(fmt_opt_date(m.period_to)),
            Cell::from(colored(m.state.clone(), &m.state)),
        ];
        if wide {
            cells.push(Cell::from(fmt_opt_date(m.valid_until)));
        }
        Row::new(cells)
    });
    let table = Table::new(rows, widths).header(header_row(&header)).block(block);
    frame.render_widget(table, area);
}

fn render_access(frame: &mut Frame, area: Rect, snap: &Snapshot, ean: &str) {
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Line::from(format!("Access register · {ean}")).bold());
    let inner = block.inner(area);
    let height = usize::from(inner.height.saturating_sub(1));
    // The requested period only fits on a wide screen; the basis matters more.
    let wide = inner.width >= 72;
    let rows = snap.access_log.iter().filter(|r| r.point == ean).take(height).map(|r| {
        let verdict = if r.allowed { Span::from("✓").green() } else { Span::from("✗").red() };
        let mut cells = vec![
            Cell::from(fmt_short(r.at)),
            Cell::from(r.party.clone()),
            Cell::from(r.what.clone()),
        ];
        if wide {
            cells.push(Cell::from(format!("{}→{}", fmt_date(r.from), fmt_date(r.to))));
        }
        cells.push(Cell::from(verdict));
        cells.push(Cell::from(r.basis.clone()));
        Row::new(cells)
    });
    // `esp:` and a whole KBO number (14): a cut id would read as another party.
    let mut widths = vec![Constraint::Length(11), Constraint::Length(14), Constraint::Fill(4)];
    let mut header = vec!["at", "party", "what"];
    if wide {
        widths.push(Constraint::Length(21));
        header.push("period");
    }
    widths.extend([Constraint::Length(1), Constraint::Fill(6)]);
    header.extend(["", "basis"]);
    let table = Table::new(rows, widths).header(header_row(&header)).block(block);
    frame.render_widget(table, area);
}

// ---------------------------------------------------------------------------------------------
// Scenarios

fn render_scenarios(frame: &mut Frame, area: Rect, app: &App, snap: &Snapshot) {
    let [filter_area, table_area, detail_area] =
        Layout::vertical([Constraint::Length(3), Constraint::Min(0), Constraint::Length(2)])
            .areas(area);
    let filter_line = match app.mode() {
        Mode::TagFilter { draft } => Line::from(vec![
            Span::from("› ").cyan(),
            Span::from(draft.clone()),
            Span::from("▏").cyan(),
        ]),
        _ if app.tag_filter().is_empty() => Line::from("(all scenarios)").dark_gray(),
        _ => Line::from(app.tag_filter().to_owned()),
    };
    let editing = matches!(app.mode(), Mode::TagFilter { .. });
    let hints = if editing { " Enter keep  Esc drop " } else { " t edit  Enter/r run " };
    let filter = Paragraph::new(filter_line).block(
        Block::default()
            .borders(Borders::ALL)
            .title("tag filter")
            .title_bottom(Line::from(hints).dark_gray())
            .border_style(if editing { Style::new().fg(Color::Cyan) } else { Style::new() }),
    );
    frame.render_widget(filter, filter_area);

    let visible = app.visible_scenarios(snap);
    let mut counts = [0usize; 5];
    for &i in &visible {
        match snap.scenarios[i].state.as_str() {
            "passed" => counts[0] += 1,
            "failed" => counts[1] += 1,
            // Undefined steps, like lab errors, mean the suite could not test the system.
            "lab-error" | "undefined" => counts[2] += 1,
            "running" => counts[3] += 1,
            _ => counts[4] += 1,
        }
    }
    let title = Line::from(vec![
        Span::from(format!("Scenarios ({} of {}) ", visible.len(), snap.scenarios.len())).bold(),
        colored(format!("passed {} ", counts[0]), "passed"),
        colored(format!("failed {} ", counts[1]), "failed"),
        colored(format!("lab-error {} ", counts[2]), "lab-error"),
        colored(format!("running {} ", counts[3]), "running"),
        colored(format!("pending {}", counts[4]), "pending"),
    ]);
    let block = screen_block(title, " ↑↓ select ");
    let widths = [
        Constraint::Length(9),
        Constraint::Fill(3),
        Constraint::Fill(5),
        Constraint::Fill(2),
        Constraint::Fill(4),
    ];
    let header = header_row(&["state", "feature", "scenario", "tags", "message"]);
    windowed_table(
        frame,
        table_area,
        block,
        header,
        &widths,
        (&app.scenarios, visible.len()),
        |i| {
            let s = &snap.scenarios[visible[i]];
            Row::new(vec![
                Cell::from(colored(s.state.clone(), &s.state)),
                Cell::from(s.feature.clone()),
                Cell::from(s.name.clone()),
                Cell::from(s.tags.join(" ")),
                Cell::from(s.message.clone().unwrap_or_default()),
            ])
        },
    );

    // The table truncates at 80 columns; the selected row is spelled out in full below it.
    let selected = app.scenarios.selected(visible.len()).map(|i| &snap.scenarios[visible[i]]);
    if let Some(s) = selected {
        let mut spans = vec![
            Span::from(format!("{} › {}", s.feature, s.name)).bold(),
            Span::from(format!("  {}", s.tags.join(" "))).dark_gray(),
        ];
        if let Some(msg) = &s.message {
            spans.push(Span::from("  "));
            spans.push(colored(msg.clone(), &s.state));
        }
        frame.render_widget(
            Paragraph::new(Line::from(spans)).wrap(Wrap { trim: true }),
            detail_area,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Overlays

/// A `width`×`height` rectangle centred in `area`, shrunk to fit.
fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

fn render_booking(frame: &mut Frame, area: Rect, form: &BookingForm) {
    let popup = centered(area, 60, 8);
    let field = |label: &str, value: String, which: BookingField| {
        let active = form.field == which;
        let marker = if active { Span::from("› ").cyan() } else { Span::from("  ") };
        let mut spans = vec![marker, Span::from(format!("{label:<20}")).bold(), Span::from(value)];
        if active {
            spans.push(Span::from("▏").cyan());
        }
        Line::from(spans)
    };
    let lines = vec![
        field("rig (←→)", form.rig.clone(), BookingField::Rig),
        field("start", form.start.clone(), BookingField::Start),
        field("holder / agreement", form.agreement.clone(), BookingField::Agreement),
        Line::from("  start as 2026-12-01 or 2026-12-01T10:00 (Brussels)").dark_gray(),
        match &form.error {
            Some(err) => Line::from(format!("  {err}")).red(),
            None => Line::from(""),
        },
    ];
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(Style::new().fg(Color::Cyan))
        .title(Line::from("Book a slot").bold())
        .title_bottom(Line::from(" Tab next field  Enter book  Esc cancel ").dark_gray());
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}

fn render_confirm(frame: &mut Frame, area: Rect, prompt: &str) {
    let popup = centered(area, 60, 6);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(Style::new().fg(Color::Yellow))
        .title(Line::from("Are you sure?").bold())
        .title_bottom(Line::from(" y/Enter yes  n/Esc no ").dark_gray());
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(prompt.to_owned()).wrap(Wrap { trim: true }).block(block),
        popup,
    );
}

/// The cancel's reason prompt: a destructive action, so framed like [`render_confirm`], with a
/// text line like the booking form's.
/// A one-line text field in a popup: its title, key hints and question.
struct TextPrompt<'a> {
    title: &'a str,
    hints: &'a str,
    prompt: &'a str,
}

fn render_text_prompt(
    frame: &mut Frame,
    area: Rect,
    p: &TextPrompt<'_>,
    draft: &str,
    error: Option<&str>,
) {
    let (prompt, title, hints) = (p.prompt, p.title, p.hints);
    let popup = centered(area, 60, 8);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(Style::new().fg(Color::Yellow))
        .title(Line::from(title.to_owned()).bold())
        .title_bottom(Line::from(hints.to_owned()).dark_gray());
    let inner = block.inner(popup);
    // A long reason scrolls: the end being typed stays in view, after a `…`.
    let room = usize::from(inner.width).saturating_sub(3);
    let len = draft.chars().count();
    let shown = if len > room {
        let tail: String = draft.chars().skip(len - room.saturating_sub(1)).collect();
        format!("…{tail}")
    } else {
        draft.to_owned()
    };
    let mut text = Text::from(Line::from(prompt.to_owned()));
    text.push_line(Line::from(""));
    text.push_line(Line::from(vec![
        Span::from("› ").cyan(),
        Span::from(shown),
        Span::from("▏").cyan(),
    ]));
    if let Some(err) = error {
        text.push_line(Line::from(err.to_owned()).red());
    }
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }).block(block), popup);
}

fn render_picker(
    frame: &mut Frame,
    area: Rect,
    title: &str,
    items: Vec<ListItem>,
    selected: usize,
) {
    let height = u16::try_from(items.len() + 2).unwrap_or(u16::MAX);
    let popup = centered(area, 50, height);
    let list = List::new(items)
        .block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(Style::new().fg(Color::Cyan))
                .title(Line::from(title.to_owned()).bold())
                .title_bottom(Line::from(" ↑↓ choose  Enter apply  Esc cancel ").dark_gray()),
        )
        .highlight_symbol(HIGHLIGHT)
        .highlight_spacing(HighlightSpacing::Always)
        .highlight_style(Style::new().add_modifier(Modifier::REVERSED));
    let mut state = ListState::default().with_selected(Some(selected));
    frame.render_widget(Clear, popup);
    frame.render_stateful_widget(list, popup, &mut state);
}

fn render_help(frame: &mut Frame, area: Rect) {
    let popup = centered(area, 72, 22);
    let key = |k: &'static str, what: &'static str| {
        Line::from(vec![Span::from(format!("  {k:<22}")).cyan(), Span::from(what)])
    };
    let lines = vec![
        Line::from("Everywhere").bold(),
        key("1-6  Tab  Shift-Tab", "switch screen"),
        key("↑↓ j k  PgUp PgDn", "move the selection"),
        key("Enter / Esc", "confirm / close a form or this help"),
        key("y Enter / n Esc", "yes / no to revoke, market scenario"),
        key("?", "toggle this help"),
        key("T", "move the lab clock (a simulated clock only)"),
        key("q  Ctrl-C", "quit (q types a q inside a form)"),
        Line::from("Screens").bold(),
        key("Rigs       b  c", "book a slot, cancel one (with a reason)"),
        key("Live       ↑↓", "pick the meter to chart"),
        key("Dongles    f", "inject a fault into the selected dongle"),
        key("Consents   ←→", "move between points and consents"),
        key("           r  m", "revoke consent, run a market scenario"),
        key("           a", "show the point's access register"),
        key("Scenarios  t", "edit the tag filter"),
        key("           Enter  r", "run the matching scenarios"),
        Line::from(""),
        Line::from("  Times are Europe/Brussels; ages count from the lab clock.").dark_gray(),
    ];
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(Style::new().fg(Color::Cyan))
        .title(Line::from("Help").bold())
        .title_bottom(Line::from(" ? or Esc to close ").dark_gray());
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block), popup);
}
