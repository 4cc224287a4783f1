//! Deterministic sample data for tests, benchmarks and the demo: the same call gives the same
//! snapshot, byte for byte, with no clock and no randomness.

use domain::{Power, Voltage};
use jiff::{SignedDuration, Timestamp, civil, tz::TimeZone};

use crate::{
    app::Action,
    model::{
        AccessRow, ConsentRow, DongleLive, Incident, Kpis, MandateRow, MeterLive, PointView, Rig,
        ScenarioRow, Sla, Slot, Snapshot,
    },
    term::Source,
};

/// The canned lab clock: Monday 2026-11-23 10:30:00 in Brussels (09:30 UTC).
pub const AT: Timestamp = Timestamp::constant(1_795_426_200, 0);

/// Number of samples in each meter's power and voltage history (one a minute).
pub const HISTORY: usize = 60;

fn plus_minutes(at: Timestamp, minutes: i64) -> Timestamp {
    at.checked_add(SignedDuration::from_mins(minutes)).unwrap_or(at)
}

fn plus_seconds(at: Timestamp, seconds: i64) -> Timestamp {
    at.checked_add(SignedDuration::from_secs(seconds)).unwrap_or(at)
}

fn brussels() -> TimeZone {
    TimeZone::get("Europe/Brussels").unwrap_or(TimeZone::UTC)
}

/// Midnight of a Brussels calendar date.
fn day(year: i16, month: i8, day: i8) -> Timestamp {
    civil::Date::new(year, month, day)
        .and_then(|d| d.to_zoned(brussels()))
        .map_or(AT, |z| z.timestamp())
}

/// `days` after the canned day at `hour`:00 Brussels time (no DST change in these weeks).
fn local(days: i64, hour: i64) -> Timestamp {
    // AT is 10:30 local.
    plus_minutes(AT, days * 1440 + hour * 60 - 630)
}

/// A number in [0, 1) that depends only on `seed` (splitmix64).
fn noise(seed: u64) -> f64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Sample data with `meters` meters and as many dongles.
pub fn snapshot(meters: usize) -> Snapshot {
    let rigs = vec![
        Rig {
            id: "rig-a".into(),
            variants: vec!["fluvius-s211".into(), "fluvius-t211".into(), "iskra-am550".into()],
        },
        Rig {
            id: "rig-b".into(),
            variants: vec!["kaifa-ma105".into(), "sagemcom-xs210".into(), "fluvius-t211".into()],
        },
    ];
    let meter_rows: Vec<MeterLive> = (0..meters).map(|i| meter(i, &rigs)).collect();
    let dongles = meter_rows.iter().enumerate().map(|(i, m)| dongle(i, m)).collect();
    Snapshot {
        at: AT,
        api: "http://127.0.0.1:8080".into(),
        slots: slots(),
        rigs,
        meters: meter_rows,
        dongles,
        kpis: Kpis {
            availability_pct: 98.7,
            mean_latency_ms: 412.0,
            success_rate_pct: 99.4,
            regularity_pct: 97.9,
        },
        incidents: incidents(),
        sla: vec![
            Sla {
                rig: "rig-a".into(),
                daily_within_5d_pct: 99.1,
                monthly_within_15d_pct: 99.8,
                pass: true,
            },
            Sla {
                rig: "rig-b".into(),
                daily_within_5d_pct: 93.5,
                monthly_within_15d_pct: 98.0,
                pass: false,
            },
        ],
        points: points(),
        access_log: access_log(),
        scenarios: scenarios(),
        status_line: None,
    }
}

fn slots() -> Vec<Slot> {
    let slot =
        |id: &str, rig: &str, holder: &str, start: Timestamp, hours: i64, state: &str| Slot {
            id: id.into(),
            rig: rig.into(),
            holder: holder.into(),
            start,
            end: plus_minutes(start, hours * 60),
            state: state.into(),
        };
    vec![
        slot("s-101", "rig-a", "fluvius-qa", local(-2, 8), 22, "done"),
        slot("s-102", "rig-b", "acme-dongles", local(-1, 9), 6, "stopped"),
        slot("s-103", "rig-a", "eneco-lab", local(0, 8), 22, "running"),
        slot("s-104", "rig-b", "acme-dongles", local(2, 10), 22, "booked"),
        slot("s-105", "rig-a", "homewizard", local(3, 9), 22, "cancelled"),
        slot("s-106", "rig-a", "homewizard", local(7, 7), 22, "booked"),
        slot("s-107", "rig-b", "vub-energylab", local(9, 8), 22, "booked"),
        slot("s-108", "rig-a", "fluvius-qa", local(11, 12), 22, "booked"),
    ]
}

fn meter(i: usize, rigs: &[Rig]) -> MeterLive {
    let rig = &rigs[i % rigs.len()];
    let variant = rig.variants[(i / rigs.len()) % rig.variants.len()].clone();
    let seed = i as u64;
    let phases = if variant.contains("s211") { 1 } else { 3 };
    let has_pv = i % 4 == 1;
    let base = 300.0 + 1500.0 * noise(seed);
    // A PV home exports: its net power (offtake minus injection) runs below zero.
    let pv_w = if has_pv { 2.0 * base + 900.0 + 1200.0 * noise(seed + 99) } else { 0.0 };
    let power_history: Vec<f64> = (0..HISTORY)
        .map(|k| {
            let wave = 1.0 + 0.6 * ((k as f64) / 6.0 + i as f64).sin();
            (base * wave + 250.0 * noise(seed * 1000 + k as u64) - pv_w).round()
        })
        .collect();
    let voltage_history: Vec<f64> = (0..HISTORY)
        .map(|k| {
            let v = 230.0 + 3.0 * ((k as f64) / 9.0 + i as f64).sin() + noise(seed * 7 + k as u64);
            (v * 10.0).round() / 10.0
        })
        .collect();
    let now_w = power_history.last().copied().unwrap_or(0.0);
    let (import_w, export_w) = (now_w.max(0.0), (-now_w).max(0.0));
    let voltage_v: Vec<f64> =
        (0..phases).map(|p| ((229.0 + 3.0 * noise(seed * 3 + p)) * 10.0).round() / 10.0).collect();
    let month_peak_kw = ((2.5 + 4.0 * noise(seed + 17)) * 1000.0).round() / 1000.0;
    // The values are whole W and dV, as a meter writes them.
    let (import, export) = (Power::w(import_w as u64), Power::w(export_w as u64));
    let tariff = if i.is_multiple_of(3) { 2 } else { 1 };
    let stamp = AT.to_zoned(brussels()).strftime("%y%m%d%H%M%S").to_string();
    let reg = |n: u64| 1000.0 + 9000.0 * noise(seed * 11 + n);
    let mut last_telegram = vec![
        format!("0-0:1.0.0 {stamp}W"),
        format!("0-0:96.1.1 1SAG{:010}", 1_100_000 + i),
        format!("1-0:1.8.1 {:010.3} kWh", reg(1)),
        format!("1-0:1.8.2 {:010.3} kWh", reg(2)),
        format!("1-0:2.8.1 {:010.3} kWh", if has_pv { reg(3) } else { 0.0 }),
        format!("1-0:2.8.2 {:010.3} kWh", if has_pv { reg(4) } else { 0.0 }),
        format!("0-0:96.14.0 {tariff:04}"),
        format!("1-0:1.7.0 {:06.3} kW", import_w / 1000.0),
        format!("1-0:2.7.0 {:06.3} kW", export_w / 1000.0),
    ];
    for (p, v) in voltage_v.iter().enumerate() {
        last_telegram.push(format!("1-0:{}.7.0 {v:05.1} V", 32 + 20 * p));
    }
    last_telegram.push(format!("1-0:1.6.0 {}01074500W {month_peak_kw:06.3} kW", &stamp[..4]));
    MeterLive {
        id: format!("mtr-{i:04}"),
        rig: rig.id.clone(),
        variant,
        tariff,
        import_w: import,
        export_w: export,
        voltage_dv: voltage_v.iter().map(|v| Voltage::dv((v * 10.0).round() as u32)).collect(),
        month_peak_w: Some(Power::w((month_peak_kw * 1000.0).round() as u64)),
        power_history,
        voltage_history,
        last_telegram,
    }
}

fn dongle(i: usize, meter: &MeterLive) -> DongleLive {
    let interval_s = if meter.variant.starts_with("fluvius") || meter.variant.starts_with("iskra") {
        1.0
    } else {
        10.0
    };
    let ago = |s: usize| Some(plus_seconds(AT, -(s as i64)));
    let received = 86_000 + 37 * i as u64;
    let crc_errors = if i % 5 == 2 { (i % 9 + 1) as u64 } else { 0 };
    let mut d = DongleLive {
        id: format!("dgl-{i:04}"),
        meter: meter.id.clone(),
        state: "online".into(),
        buffered: 0,
        interval_s,
        received,
        crc_errors,
        last_seen: ago(i % 10),
        fault: (i % 17 == 2).then(|| "crc-noise".to_owned()),
    };
    if i % 13 == 8 {
        d.state = "never".into();
        d.received = 0;
        d.crc_errors = 0;
        d.last_seen = None;
    } else if i % 11 == 5 {
        d.state = "offline".into();
        d.buffered = 60 + i as u64;
        d.last_seen = ago(600 + 7 * i);
        d.fault = Some("wifi-loss".into());
    } else if i % 7 == 3 {
        d.state = "late".into();
        d.buffered = 3;
        d.last_seen = ago(25 + i % 20);
    }
    d
}

fn incidents() -> Vec<Incident> {
    let inc =
        |id: u64, dongle: &str, kind: &str, opened_min: i64, closed: Option<i64>, detail: &str| {
            Incident {
                id,
                dongle: dongle.into(),
                kind: kind.into(),
                opened: plus_minutes(AT, -opened_min),
                closed: closed.map(|c| plus_minutes(AT, -c)),
                detail: detail.into(),
            }
        };
    vec![
        inc(1, "dgl-0008", "never-seen", 3 * 1440, None, "no upload since install"),
        inc(2, "dgl-0002", "crc-errors", 1440, Some(1200), "burst of 12 CRC errors"),
        inc(3, "dgl-0005", "offline", 120, None, "no upload for 10 min, 65 buffered"),
        inc(4, "dgl-0003", "late", 40, None, "interval 25 s, expected 1 s"),
    ]
}

fn points() -> Vec<PointView> {
    let mandate =
        |id: &str, esp: &str, scope: &str, from: Timestamp, to: Option<Timestamp>| MandateRow {
            id: id.into(),
            esp: esp.into(),
            scope: scope.into(),
            period_from: from,
            period_to: to,
            state: if to.is_some() { "ended" } else { "active" }.into(),
            valid_until: Some(day(2027, 12, 31)),
        };
    let consent =
        |id: &str, esp: &str, service: &str, at: Timestamp, revoked: Option<Timestamp>| {
            ConsentRow {
                id: id.into(),
                esp: esp.into(),
                service: service.into(),
                granted_at: at,
                revoked_at: revoked,
            }
        };
    vec![
        PointView {
            ean: "541448820000000014".into(),
            grid_user: Some("Jan Peeters".into()),
            mandates: vec![
                mandate("m-1", "EnergieID", "quarter-hour", day(2026, 1, 1), None),
                mandate("m-2", "Tibber", "daily", day(2025, 6, 1), Some(day(2026, 3, 1))),
            ],
            consents: vec![
                consent("c-1", "EnergieID", "insights", day(2026, 1, 1), None),
                consent("c-2", "Tibber", "dynamic tariff", day(2025, 6, 1), Some(day(2026, 3, 1))),
                consent("c-3", "Smappee", "load control", day(2026, 9, 15), None),
            ],
        },
        PointView {
            ean: "541448820000000021".into(),
            grid_user: Some("Marie Dubois".into()),
            mandates: vec![mandate("m-3", "EnergieID", "monthly", day(2026, 4, 1), None)],
            consents: vec![consent("c-4", "EnergieID", "insights", day(2026, 4, 1), None)],
        },
        PointView {
            ean: "541448820000000038".into(),
            grid_user: None,
            mandates: vec![mandate(
                "m-4",
                "Octa+",
                "quarter-hour",
                day(2025, 11, 1),
                Some(day(2026, 10, 1)),
            )],
            consents: vec![consent(
                "c-5",
                "Octa+",
                "solar advice",
                day(2025, 11, 1),
                Some(day(2026, 10, 1)),
            )],
        },
    ]
}

fn access_log() -> Vec<AccessRow> {
    let row = |min_ago: i64, party: &str, point: &str, what: &str, allowed: bool, basis: &str| {
        AccessRow {
            at: plus_minutes(AT, -min_ago),
            party: party.into(),
            point: point.into(),
            what: what.into(),
            from: day(2026, 11, 1),
            to: day(2026, 11, 23),
            allowed,
            basis: basis.into(),
        }
    };
    vec![
        row(5, "EnergieID", "541448820000000014", "quarter-hour", true, "mandate m-1"),
        row(35, "Tibber", "541448820000000014", "daily", false, "mandate m-2 ended 2026-03-01"),
        row(90, "Smappee", "541448820000000014", "quarter-hour", false, "no mandate"),
        row(240, "EnergieID", "541448820000000021", "monthly", true, "mandate m-3"),
        row(600, "Octa+", "541448820000000038", "quarter-hour", false, "mandate m-4 ended (MO)"),
        row(1440, "EnergieID", "541448820000000014", "quarter-hour", true, "mandate m-1"),
    ]
}

fn scenarios() -> Vec<ScenarioRow> {
    let row = |feature: &str, name: &str, tags: &[&str], state: &str, message: Option<&str>| {
        ScenarioRow {
            feature: feature.into(),
            name: name.into(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            state: state.into(),
            message: message.map(str::to_owned),
        }
    };
    vec![
        row("lab/booking", "a slot runs 22 hours", &["@R-LAB-2"], "passed", None),
        row("lab/booking", "booking needs 7 days lead time", &["@R-LAB-1"], "passed", None),
        row(
            "dongle/outage-recovery",
            "newest first after an outage",
            &["@R-NRT-2", "@slow"],
            "failed",
            Some("backlog sent before newest telegram"),
        ),
        row("dongle/outage-recovery", "reset after a hang", &["@R-NRT-10"], "running", None),
        row(
            "consent/market-scenarios",
            "customer switch ends the consumption period",
            &["@R-MAN-5"],
            "passed",
            None,
        ),
        row(
            "consent/market-scenarios",
            "supplier switch keeps mandates",
            &["@R-MAN-5"],
            "passed",
            None,
        ),
        row(
            "p1/decoding",
            "smarty frames decrypt",
            &["@R-DAT-1", "@hardware"],
            "lab-error",
            Some("rig-b serial line not attached"),
        ),
        row("platform/sla", "daily values within 5 days", &["@R-SLA-1"], "pending", None),
        row("platform/sla", "monthly values within 15 days", &["@R-SLA-2"], "pending", None),
    ]
}

/// A [`Source`] over canned data for the demo: actions change the stored snapshot a little
/// (cancel, fault, revoke) so the screens react.
#[derive(Debug, Clone)]
pub struct Demo {
    snap: Snapshot,
    ticks: i64,
}

impl Demo {
    pub fn new(meters: usize) -> Demo {
        Demo { snap: snapshot(meters), ticks: 0 }
    }
}

impl Source for Demo {
    fn snapshot(&mut self) -> Result<Snapshot, String> {
        let mut snap = self.snap.clone();
        snap.at = plus_seconds(AT, self.ticks);
        self.ticks += 1;
        Ok(snap)
    }

    fn perform(&mut self, action: &Action) -> Result<String, String> {
        match action {
            Action::Quit => Ok(String::new()),
            Action::Cancel { slot, reason } => {
                if reason.trim().is_empty() {
                    return Err(format!("slot {slot} was not cancelled: a reason is required"));
                }
                let found = self.snap.slots.iter_mut().find(|s| &s.id == slot);
                let slot = found.ok_or_else(|| format!("no slot {slot}"))?;
                slot.state = "cancelled".into();
                Ok(format!("cancelled {}: {reason}", slot.id))
            }
            Action::InjectFault { dongle, fault } => {
                let found = self.snap.dongles.iter_mut().find(|d| &d.id == dongle);
                let d = found.ok_or_else(|| format!("no dongle {dongle}"))?;
                d.fault = (fault != "clear").then(|| fault.clone());
                Ok(format!("{fault} on {dongle}"))
            }
            Action::Revoke { consent } => {
                let at = self.snap.at;
                let found = self
                    .snap
                    .points
                    .iter_mut()
                    .flat_map(|p| p.consents.iter_mut())
                    .find(|c| &c.id == consent);
                let c = found.ok_or_else(|| format!("no consent {consent}"))?;
                c.revoked_at = Some(at);
                Ok(format!("revoked {consent}"))
            }
            Action::Book { rig, start, agreement } => {
                Err(format!("demo cannot book {rig} at {start} for {agreement}"))
            }
            Action::MarketScenario { point, kind } => Ok(format!("{kind} sent for {point}")),
            Action::RunScenarios { tags } => Ok(format!("run requested for '{tags}'")),
            Action::MoveClock { when } => Err(format!("the demo's clock stands still ({when})")),
        }
    }
}
