//! The P1 meter state machine.

use crate::fault::{FaultKind, FaultPlan};
use crate::variant::{Kind, Variant};
use calendar::{SignedDuration, Timestamp};
use p1::smarty::{Keys, Security};
use p1::{
    Demand, Dialect, HistoryEntry, MbusDevice, Medium, Peak, Phase, Reactive, Reading, Season, Tst,
};
use profiles::{Flow, Home, ProfileSpec};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

/// Why a meter cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum MeterError {
    /// The variant is an AMR meter: use [`crate::AmrMeter`].
    #[error("variant {0} has no P1 port (AMR): use the AMR head-end")]
    NoP1Port(String),
    /// The variant is invalid.
    #[error(transparent)]
    Variant(#[from] crate::VariantError),
    /// The Smarty key or system title is unusable.
    #[error("variant {0}: bad Smarty key or system title")]
    Smarty(String),
}

/// Which tariff register runs, by local time.
///
/// Belgium: tariff 1 = day (normal), 2 = night (low), e-MUCS 1.7.1 Table 4 note 2; the night
/// tariff is taken as weekdays 22:00–07:00 and all weekend (a common Fluvius schedule; the exact
/// hours depend on the DSO and contract). Netherlands: tariff 1 = low, 23:00–07:00 and weekends
/// (DSMR 5.0.2 §7.1). Luxembourg's Smarty has one total register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tariffs {
    /// BE meaning and schedule.
    Belgian,
    /// NL meaning and schedule.
    Dutch,
    /// A single register.
    Single,
}

impl Tariffs {
    /// The tariff (1 or 2) in force at a local time.
    pub fn at(self, local: jiff::civil::DateTime) -> u8 {
        let weekend = matches!(
            local.weekday(),
            jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday
        );
        let h = local.hour();
        match self {
            Tariffs::Belgian => {
                if weekend || !(7..22).contains(&h) {
                    2
                } else {
                    1
                }
            }
            Tariffs::Dutch => {
                if weekend || !(7..23).contains(&h) {
                    1
                } else {
                    2
                }
            }
            Tariffs::Single => 1,
        }
    }
}

/// Nominal voltage and the spread around it (EN 50160: 230 V ±10 %; real BE captures
/// 228–242 V, research/p1-protocol.md §7).
const NOMINAL_DV: f64 = 2310.0;

/// Household water use per kWh of household electricity: about 110 m³ a year for a
/// 3,500 kWh home (an approximation; the profiles crate does not model water).
const WATER_L_PER_HOUSEHOLD_KWH: f64 = 31.0;

#[derive(Debug, Clone)]
struct MbusState {
    spec: crate::MbusSpec,
    litres: f64,
    captured_at: Timestamp,
    captured_litres: u64,
}

/// A simulated P1 meter.
#[derive(Debug)]
pub struct Meter {
    variant: Variant,
    dialect: Dialect,
    tariffs: Tariffs,
    home: Home,
    rng: ChaCha8Rng,
    /// Registers are integrated up to here.
    at: Timestamp,
    import_wh: [f64; 2],
    export_wh: [f64; 2],
    reactive_varh: [f64; 2],
    flow: Flow,
    /// Per-phase share of consumption.
    shares: Vec<f64>,
    /// Per-phase voltage offset (random walk), dV.
    walk_dv: Vec<f64>,
    quarter_start: Timestamp,
    quarter_import_wh: f64,
    month_start: Timestamp,
    month_peak: Option<(Timestamp, u32)>,
    history: Vec<HistoryEntry>,
    mbus: Vec<MbusState>,
    /// Seconds after each 5-minute mark when the M-Bus devices report (real meters are not
    /// aligned: `121002W`, `190959W`).
    mbus_offset_s: i64,
    port_open: bool,
    next_telegram: Timestamp,
    smarty: Option<(Keys, [u8; 8])>,
    frame_counter: u32,
    faults: FaultPlan,
    silent_until: Option<Timestamp>,
    sent: u64,
}

impl Meter {
    /// A meter of `variant` fed by `profile`, starting at `start` with its registers at a
    /// seeded realistic level. The user port is closed (R-LAB-6): call [`Meter::open_port`].
    pub fn new(
        variant: &Variant,
        profile: &ProfileSpec,
        seed: u64,
        start: Timestamp,
    ) -> Result<Meter, MeterError> {
        let dialect = match variant.kind()? {
            Kind::P1(d) => d,
            Kind::Amr => return Err(MeterError::NoP1Port(variant.id.clone())),
        };
        let tariffs = match dialect {
            Dialect::EMucs171 | Dialect::EMucs15 => Tariffs::Belgian,
            Dialect::Smarty => Tariffs::Single,
            _ => Tariffs::Dutch,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6d65_7465_726c_6162);
        let smarty = match (&variant.encryption_key, &variant.system_title) {
            (Some(k), Some(t)) => {
                let keys = Keys::from_hex(k).map_err(|_| MeterError::Smarty(variant.id.clone()))?;
                let title: [u8; 8] =
                    t.as_bytes().try_into().map_err(|_| MeterError::Smarty(variant.id.clone()))?;
                Some((keys, title))
            }
            _ => None,
        };
        // A meter that has been on the wall for a few years.
        let years: f64 = rng.random_range(0.5..6.0);
        let import_total = years * 3500.0 * 1000.0;
        let day_share = if tariffs == Tariffs::Single { 1.0 } else { 0.55 };
        let phases = usize::from(variant.phases);
        let shares = if phases == 1 {
            vec![1.0]
        } else {
            let raw: Vec<f64> = (0..3).map(|_| rng.random_range(0.6..1.4)).collect();
            let sum: f64 = raw.iter().sum();
            raw.iter().map(|x| x / sum).collect()
        };
        let walk_dv = (0..phases).map(|_| rng.random_range(-40.0..60.0)).collect();
        let mbus = variant
            .mbus
            .iter()
            .map(|spec| {
                let litres = match spec.medium {
                    Medium::Gas => years * 1300.0 * 1000.0,
                    _ => years * 110.0 * 1000.0,
                };
                MbusState {
                    spec: spec.clone(),
                    litres: litres.floor(),
                    captured_at: start,
                    captured_litres: litres as u64,
                }
            })
            .collect();
        let mbus_offset_s = rng.random_range(0..300);
        let mut home = Home::new(profile, seed);
        // Prime the instantaneous values with the second before `start`, so the first
        // telegram shows real power rather than zeros.
        let flow = home.step(start - SignedDuration::from_secs(1), 1);
        Ok(Meter {
            variant: variant.clone(),
            dialect,
            tariffs,
            home,
            at: start,
            import_wh: [import_total * day_share, import_total * (1.0 - day_share)],
            export_wh: [0.0; 2],
            reactive_varh: [import_total * 0.08, import_total * 0.01],
            flow,
            shares,
            walk_dv,
            quarter_start: calendar::quarter_start(start),
            quarter_import_wh: 0.0,
            month_start: calendar::month_start(start),
            month_peak: None,
            history: Vec::new(),
            mbus,
            mbus_offset_s,
            port_open: false,
            next_telegram: start,
            smarty,
            frame_counter: rng.random_range(0..1_000_000),
            faults: FaultPlan::none(),
            silent_until: None,
            sent: 0,
            rng,
        })
    }

    /// Injects faults from this plan from now on (a separate random stream, so the meter's
    /// values stay the same with or without faults).
    pub fn with_faults(mut self, faults: FaultPlan) -> Meter {
        self.faults = faults;
        self
    }

    /// The variant.
    pub fn variant(&self) -> &Variant {
        &self.variant
    }

    /// Opens the user port (R-LAB-6): from now on the meter sends telegrams.
    pub fn open_port(&mut self) {
        self.port_open = true;
    }

    /// Closes the user port: the meter goes silent at once (DSMR 5.0.2 §5.7.1).
    pub fn close_port(&mut self) {
        self.port_open = false;
    }

    /// Whether the user port is open.
    pub fn port_open(&self) -> bool {
        self.port_open
    }

    /// Telegrams sent so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// When the next telegram is due.
    pub fn next_deadline(&self) -> Timestamp {
        self.next_telegram
    }

    /// Advances the meter to `now` and returns the telegram bytes due at `now`, if any (port
    /// open, interval elapsed, no silence fault). Times before the last call are ignored.
    pub fn tick(&mut self, now: Timestamp) -> Option<Vec<u8>> {
        self.advance(now);
        if now < self.next_telegram {
            return None;
        }
        let interval = i64::from(self.variant.interval_s);
        // Catch up without a burst: a meter sends on its own cadence, never a backlog.
        let behind = (now.as_second() - self.next_telegram.as_second()) / interval;
        self.next_telegram += SignedDuration::from_secs((behind + 1) * interval);
        if !self.port_open {
            return None;
        }
        if self.silent_until.is_some_and(|until| now < until) {
            return None;
        }
        let fault = self.faults.roll(now);
        let mut reading = self.reading(now);
        match fault {
            Some(FaultKind::Silence(d)) => {
                self.silent_until = Some(now + d);
                return None;
            }
            Some(FaultKind::ClockJump(d)) => reading.time = tst(now + d),
            Some(FaultKind::WrongDst) => {
                reading.time.season = match reading.time.season {
                    Season::Summer => Season::Winter,
                    Season::Winter => Season::Summer,
                };
            }
            _ => {}
        }
        let mut bytes = self.dialect.build(&self.variant.header, &reading).encode();
        if let Some((keys, title)) = &self.smarty {
            let sec = Security { system_title: *title, frame_counter: self.frame_counter };
            self.frame_counter = self.frame_counter.wrapping_add(1);
            if let Ok(frame) = p1::smarty::encrypt(&bytes, keys, sec) {
                bytes = frame;
            }
        }
        if let Some(f) = fault {
            self.faults.damage(f, &mut bytes);
        }
        self.sent += 1;
        Some(bytes)
    }

    /// Integrates the registers up to `now`, closing quarters and months on the way.
    pub fn advance(&mut self, now: Timestamp) {
        while self.at < now {
            let quarter_end = calendar::next_quarter(self.at);
            let step_end = now.min(quarter_end);
            let secs = step_end.as_second() - self.at.as_second();
            if secs <= 0 {
                // Sub-second remainder: registers move in whole seconds.
                break;
            }
            self.integrate(secs as u32);
            self.at += SignedDuration::from_secs(secs);
            if self.at >= quarter_end {
                self.close_quarter(quarter_end);
            }
        }
    }

    fn integrate(&mut self, secs: u32) {
        let flow = self.home.step(self.at, secs);
        let hours = f64::from(secs) / 3600.0;
        let local = calendar::local_datetime(self.at);
        let t = usize::from(self.tariffs.at(local) - 1);
        // e-MUCS 1.7.1 Table 4 note 3: phases are netted algebraically into one register.
        let net_w = flow.consumption_w - flow.production_w;
        if net_w >= 0.0 {
            self.import_wh[t] += net_w * hours;
            self.quarter_import_wh += net_w * hours;
        } else {
            self.export_wh[t] += -net_w * hours;
        }
        // Households run at a power factor around 0.95: reactive ≈ 0.33 × active.
        self.reactive_varh[0] += flow.consumption_w * 0.33 * hours;
        self.reactive_varh[1] += flow.production_w * 0.02 * hours;
        for m in &mut self.mbus {
            m.litres += match m.spec.medium {
                Medium::Gas => flow.gas_m3 * 1000.0,
                _ => flow.breakdown.household_w * hours / 1000.0 * WATER_L_PER_HOUSEHOLD_KWH,
            };
        }
        // Voltage wanders slowly (an Ornstein–Uhlenbeck walk, ~±5 V).
        let k = (f64::from(secs) / 600.0).min(1.0);
        for w in &mut self.walk_dv {
            let noise: f64 = self.rng.random_range(-1.0..1.0);
            *w += -k * *w + noise * 6.0 * k.sqrt();
        }
        self.capture_mbus(self.at + SignedDuration::from_secs(i64::from(secs)));
        self.flow = flow;
    }

    fn capture_mbus(&mut self, now: Timestamp) {
        // DSMR 4.x reports gas hourly on the hour; the others every 5 minutes (e-MUCS,
        // maakjemeterslim.be; DSMR 5.0.2 §7.3).
        let (period, offset) = match self.dialect {
            Dialect::Dsmr42 | Dialect::Dsmr22 => (3600, 0),
            _ => (300, self.mbus_offset_s),
        };
        let s = now.as_second() - offset;
        let mark = Timestamp::from_second(s - s.rem_euclid(period) + offset).unwrap_or(now);
        for m in &mut self.mbus {
            if mark > m.captured_at && mark <= now {
                m.captured_at = mark;
                m.captured_litres = m.litres as u64;
            }
        }
    }

    fn close_quarter(&mut self, end: Timestamp) {
        let avg_w = (self.quarter_import_wh * 4.0).round() as u32;
        if self.month_peak.is_none_or(|(_, w)| avg_w > w) {
            // Stamped with the quarter's start. Whether real meters stamp start or end is not
            // documented (p1-protocol.md §2.5); the start keeps a peak in the last quarter of
            // a month inside that month, as the real 98.1.0 entries are.
            self.month_peak = Some((self.quarter_start, avg_w));
        }
        self.quarter_import_wh = 0.0;
        self.quarter_start = end;
        let month = calendar::month_start(end);
        if month > self.month_start {
            // The peak of the month that just ended goes into 0-0:98.1.0, stamped with the
            // 1st 00:00 of the new month; 13 entries kept, oldest first.
            let peak = self.month_peak.take().map(|(at, w)| Peak { at: tst(at), w });
            self.history.push(HistoryEntry { captured: tst(month), peak });
            if self.history.len() > 13 {
                self.history.remove(0);
            }
            self.month_start = month;
        }
    }

    /// What the meter shows at `now` (after [`Meter::advance`]).
    pub fn reading(&self, now: Timestamp) -> Reading {
        let f = &self.flow;
        let n = self.shares.len();
        let mut phases = Vec::with_capacity(n);
        let mut net_total = 0.0;
        for i in 0..n {
            // PV inverters of 3-phase homes feed all phases evenly.
            let net = f.consumption_w * self.shares[i] - f.production_w / n as f64;
            net_total += net;
            let v_dv = (NOMINAL_DV + self.walk_dv[i] - net * 0.004).clamp(2070.0, 2530.0);
            let amps = net.abs() / (v_dv / 10.0);
            phases.push(Phase {
                voltage_dv: v_dv.round() as u32,
                current_ca: (amps * 100.0).round() as u32,
                import_w: net.max(0.0).round() as u32,
                export_w: (-net).max(0.0).round() as u32,
                reactive_import_var: (net.max(0.0) * 0.33).round() as u32,
                reactive_export_var: 0,
            });
        }
        let demand = (self.dialect == Dialect::EMucs171).then(|| Demand {
            // 1.4.0 rises from 0 at each quarter to the quarter's average at its end
            // (dsmr_parser #138): energy so far divided by the whole 15 minutes.
            average_w: (self.quarter_import_wh * 4.0).round() as u32,
            month_peak: self.month_peak.map(|(at, w)| Peak { at: tst(at), w }),
            history: self.history.clone(),
        });
        let local = calendar::local_datetime(now);
        let reactive = (self.dialect == Dialect::Smarty).then(|| Reactive {
            import_varh: self.reactive_varh[0] as u64,
            export_varh: self.reactive_varh[1] as u64,
            import_var: phases.iter().map(|p| p.reactive_import_var).sum(),
            export_var: 0,
            apparent_import_va: (net_total.max(0.0) * 1.05).round() as u32,
            apparent_export_va: ((-net_total).max(0.0) * 1.0).round() as u32,
        });
        Reading {
            time: tst(now),
            equipment_id: self.variant.equipment_id.clone(),
            tariff: self.tariffs.at(local),
            import_wh: self.import_wh.map(|x| x as u64),
            export_wh: self.export_wh.map(|x| x as u64),
            power_import_w: net_total.max(0.0).round() as u32,
            power_export_w: (-net_total).max(0.0).round() as u32,
            phases,
            demand,
            breaker: 1,
            limiter_d: None,
            fuse_a: None,
            current_limits_a: (self.dialect == Dialect::Smarty).then_some((40, -40)),
            relays: if self.dialect == Dialect::Smarty { vec![0, 0] } else { Vec::new() },
            message: String::new(),
            power_failures: 2,
            long_power_failures: 1,
            failure_log: Vec::new(),
            sags: [0; 3],
            swells: [0; 3],
            reactive,
            mbus: self
                .mbus
                .iter()
                .map(|m| MbusDevice {
                    channel: m.spec.channel,
                    medium: m.spec.medium,
                    id: m.spec.id.clone(),
                    valve: (m.spec.medium == Medium::Gas).then_some(1),
                    captured: tst(m.captured_at),
                    litres: m.captured_litres,
                })
                .collect(),
        }
    }

    /// The last flows the profile produced (for summaries and consoles).
    pub fn flow(&self) -> &Flow {
        &self.flow
    }

    /// The import and export registers, Wh (tariff 1, tariff 2).
    pub fn registers_wh(&self) -> ([f64; 2], [f64; 2]) {
        (self.import_wh, self.export_wh)
    }
}

/// A P1 timestamp: Brussels local time with the S/W flag (BE, NL and LU share the rules).
pub(crate) fn tst(ts: Timestamp) -> Tst {
    let l = calendar::local_datetime(ts);
    Tst {
        yy: (l.year().rem_euclid(100)) as u8,
        month: l.month() as u8,
        day: l.day() as u8,
        hour: l.hour() as u8,
        minute: l.minute() as u8,
        second: l.second() as u8,
        season: if calendar::is_dst(ts) { Season::Summer } else { Season::Winter },
    }
}
