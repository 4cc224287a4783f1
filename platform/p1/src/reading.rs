//! What a meter shows, in meaning rather than lines: [`Reading`]. [`Dialect::build`] writes a
//! reading as the lines, order and number formats of one country's spec; [`Reading::from_telegram`]
//! reads any telegram back by OBIS code, whatever its order.
//!
//! Quantities are integers in the unit of the wire's last decimal (Wh, W, dV, cA, dm³) so that a
//! reading survives encoding exactly.

use crate::model::{Line, Num, Obis, Season, Telegram, Tst, Unit, Value};

/// A line layout and number formats of one P1 specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Dialect {
    /// Belgian e-MUCS P1 1.7.1 (Fluvius, Sibelga, ORES, RESA): 1.4.0 / 1.6.0 / 98.1.0 peaks.
    EMucs171,
    /// Belgian e-MUCS P1 1.5: per-phase power, no peak objects.
    EMucs15,
    /// Dutch DSMR 5.0.2: 1 s telegrams, voltages, 5-minute gas.
    Dsmr502,
    /// Dutch DSMR 4.2: 10 s telegrams, no voltages, hourly gas.
    Dsmr42,
    /// Dutch DSMR 2.2: 9600 baud, no CRC, gas as a two-line profile.
    Dsmr22,
    /// Luxembourg Smarty (Luxmetering v1.1.3): totals only, reactive energy, AES-GCM frames.
    Smarty,
}

impl Dialect {
    /// Every dialect, for listings and tests.
    pub const ALL: [Dialect; 6] = [
        Dialect::EMucs171,
        Dialect::EMucs15,
        Dialect::Dsmr502,
        Dialect::Dsmr42,
        Dialect::Dsmr22,
        Dialect::Smarty,
    ];

    /// A short stable name (`emucs-1.7.1`, `dsmr-5.0.2`, `smarty`…).
    pub fn name(self) -> &'static str {
        match self {
            Dialect::EMucs171 => "emucs-1.7.1",
            Dialect::EMucs15 => "emucs-1.5",
            Dialect::Dsmr502 => "dsmr-5.0.2",
            Dialect::Dsmr42 => "dsmr-4.2",
            Dialect::Dsmr22 => "dsmr-2.2",
            Dialect::Smarty => "smarty",
        }
    }

    /// Whether tariff 1 means the low (night) tariff. True in the Netherlands (DSMR 5.0.2 §7.1)
    /// and false in Belgium, where tariff 1 is day (e-MUCS 1.7.1 Table 4 note 2).
    pub fn tariff1_is_low(self) -> bool {
        matches!(self, Dialect::Dsmr502 | Dialect::Dsmr42 | Dialect::Dsmr22)
    }

    /// Recognises the dialect of a decoded telegram from its version lines.
    pub fn detect(t: &Telegram) -> Option<Dialect> {
        if let Some(v) = t.value(obis::BE_VERSION).and_then(Value::as_num) {
            return match v.digits % 100 {
                17 => Some(Dialect::EMucs171),
                15 | 16 => Some(Dialect::EMucs15),
                _ => None,
            };
        }
        match t.value(obis::VERSION).and_then(Value::as_num).map(|n| n.digits) {
            Some(42) if t.line(obis::LOGICAL_DEVICE_NAME).is_some() => Some(Dialect::Smarty),
            Some(50) => Some(Dialect::Dsmr502),
            Some(40 | 42) => Some(Dialect::Dsmr42),
            None if !t.has_crc => Some(Dialect::Dsmr22),
            _ => None,
        }
    }

    /// Writes a reading as a telegram of this dialect, lines in the order real meters use
    /// (Sagemcom S211/T211, Iskra AM550, Kaifa, XMX, Sagemcom Smarty; see fixtures/p1).
    pub fn build(self, header: &str, r: &Reading) -> Telegram {
        let mut b = Builder { lines: Vec::with_capacity(48) };
        match self {
            Dialect::EMucs171 | Dialect::EMucs15 => b.belgian(self, r),
            Dialect::Dsmr502 | Dialect::Dsmr42 => b.dutch(self, r),
            Dialect::Dsmr22 => b.dsmr22(r),
            Dialect::Smarty => b.smarty(r),
        }
        Telegram { header: header.to_owned(), lines: b.lines, has_crc: self != Dialect::Dsmr22 }
    }
}

/// OBIS codes this crate knows by meaning.
pub mod obis {
    use crate::model::Obis;
    macro_rules! codes {
        ($($(#[$m:meta])* $name:ident = $a:literal $b:literal $c:literal $d:literal $e:literal;)*) => {
            $($(#[$m])* pub const $name: Obis = Obis::new($a, $b, $c, $d, $e);)*
            /// Every named code with its name, for listings.
            pub const NAMED: &[(Obis, &str)] = &[$(($name, stringify!($name)),)*];
        };
    }
    codes! {
        /// DSMR version (NL, LU): `1-3:0.2.8`.
        VERSION = 1 3 0 2 8;
        /// e-MUCS version `XXXYY` (BE).
        BE_VERSION = 0 0 96 1 4;
        /// Equipment identifier (hex ASCII).
        EQUIPMENT_ID = 0 0 96 1 1;
        /// Smarty logical device name (hex ASCII).
        LOGICAL_DEVICE_NAME = 0 0 42 0 0;
        /// Telegram timestamp.
        TIMESTAMP = 0 0 1 0 0;
        /// Import, tariff 1.
        IMPORT_T1 = 1 0 1 8 1;
        /// Import, tariff 2.
        IMPORT_T2 = 1 0 1 8 2;
        /// Export, tariff 1.
        EXPORT_T1 = 1 0 2 8 1;
        /// Export, tariff 2.
        EXPORT_T2 = 1 0 2 8 2;
        /// Import total (Smarty).
        IMPORT_TOTAL = 1 0 1 8 0;
        /// Export total (Smarty).
        EXPORT_TOTAL = 1 0 2 8 0;
        /// Reactive import total (Smarty).
        REACTIVE_IMPORT_TOTAL = 1 0 3 8 0;
        /// Reactive export total (Smarty).
        REACTIVE_EXPORT_TOTAL = 1 0 4 8 0;
        /// Tariff indicator.
        TARIFF = 0 0 96 14 0;
        /// Current average demand (running quarter hour, BE).
        AVERAGE_DEMAND = 1 0 1 4 0;
        /// Maximum demand this month (BE).
        MONTH_PEAK = 1 0 1 6 0;
        /// Maximum demand of the last 13 months (BE).
        PEAK_HISTORY = 0 0 98 1 0;
        /// Power import (net over phases).
        POWER_IMPORT = 1 0 1 7 0;
        /// Power export (net over phases).
        POWER_EXPORT = 1 0 2 7 0;
        /// Reactive power import (Smarty).
        REACTIVE_POWER_IMPORT = 1 0 3 7 0;
        /// Reactive power export (Smarty).
        REACTIVE_POWER_EXPORT = 1 0 4 7 0;
        /// Apparent power import (Smarty).
        APPARENT_IMPORT = 1 0 9 7 0;
        /// Apparent power export (Smarty).
        APPARENT_EXPORT = 1 0 10 7 0;
        /// Breaker state.
        BREAKER = 0 0 96 3 10;
        /// Limiter threshold (BE kW, LU kVA).
        LIMITER = 0 0 17 0 0;
        /// Fuse supervision threshold (BE).
        FUSE = 1 0 31 4 0;
        /// Import/export current thresholds (Smarty).
        CURRENT_LIMITS = 1 1 31 4 0;
        /// Text message.
        MESSAGE = 0 0 96 13 0;
        /// Message code (DSMR 2.2–4.x).
        MESSAGE_CODE = 0 0 96 13 1;
        /// Power failures in any phase.
        POWER_FAILURES = 0 0 96 7 21;
        /// Long power failures in any phase.
        LONG_POWER_FAILURES = 0 0 96 7 9;
        /// Power failure event log.
        FAILURE_LOG = 1 0 99 97 0;
        /// M-Bus device type (channel in group B).
        MBUS_TYPE = 0 1 24 1 0;
        /// M-Bus equipment id, BE.
        MBUS_ID_BE = 0 1 96 1 1;
        /// M-Bus equipment id, NL/LU.
        MBUS_ID = 0 1 96 1 0;
        /// M-Bus valve state.
        MBUS_VALVE = 0 1 24 4 0;
        /// M-Bus reading, temperature corrected (NL/LU gas, BE water).
        MBUS_READING = 0 1 24 2 1;
        /// M-Bus reading, not temperature corrected (BE gas).
        MBUS_READING_UNCORRECTED = 0 1 24 2 3;
        /// DSMR 2.2 gas profile.
        MBUS_PROFILE_22 = 0 1 24 3 0;
    }

    /// Per-phase objects `[L1, L2, L3]`.
    pub const VOLTAGE: [Obis; 3] = phase(32, 7);
    /// Current per phase.
    pub const CURRENT: [Obis; 3] = phase(31, 7);
    /// Active import per phase.
    pub const PHASE_IMPORT: [Obis; 3] = phase(21, 7);
    /// Active export per phase.
    pub const PHASE_EXPORT: [Obis; 3] = phase(22, 7);
    /// Reactive import per phase (Smarty).
    pub const PHASE_REACTIVE_IMPORT: [Obis; 3] = phase(23, 7);
    /// Reactive export per phase (Smarty).
    pub const PHASE_REACTIVE_EXPORT: [Obis; 3] = phase(24, 7);
    /// Voltage sags per phase.
    pub const SAGS: [Obis; 3] = phase(32, 32);
    /// Voltage swells per phase.
    pub const SWELLS: [Obis; 3] = phase(32, 36);

    const fn phase(c: u8, d: u8) -> [Obis; 3] {
        [Obis::new(1, 0, c, d, 0), Obis::new(1, 0, c + 20, d, 0), Obis::new(1, 0, c + 40, d, 0)]
    }
}

/// One phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Phase {
    /// Voltage in decivolts (2301 = 230.1 V).
    pub voltage_dv: u32,
    /// Current in centiamperes (BE resolution; NL and LU round to whole amperes).
    pub current_ca: u32,
    /// Active import in W.
    pub import_w: u32,
    /// Active export in W.
    pub export_w: u32,
    /// Reactive import in var (Smarty).
    pub reactive_import_var: u32,
    /// Reactive export in var (Smarty).
    pub reactive_export_var: u32,
}

/// A peak: when and how high.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Peak {
    /// The quarter hour of the peak.
    pub at: Tst,
    /// Average power over that quarter hour, W.
    pub w: u32,
}

/// One month of the 13-month peak history (`0-0:98.1.0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct HistoryEntry {
    /// Capture time: 00:00 on the 1st of the month after the peak's month.
    pub captured: Tst,
    /// The month's peak; `None` is sent as `(632525252525W)(00.000*kW)`.
    pub peak: Option<Peak>,
}

/// Capacity-tariff objects of e-MUCS 1.7 meters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Demand {
    /// Running quarter-hour average (`1-0:1.4.0`), W.
    pub average_w: u32,
    /// This month's highest quarter hour so far (`1-0:1.6.0`).
    pub month_peak: Option<Peak>,
    /// Up to 13 past months, oldest first (`0-0:98.1.0`).
    pub history: Vec<HistoryEntry>,
}

/// The medium of an M-Bus device (OMS device type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Medium {
    /// 003
    Gas,
    /// 004
    Heat,
    /// 007
    Water,
    /// Any other code.
    Other(u8),
}

impl Medium {
    fn code(self) -> u8 {
        match self {
            Medium::Gas => 3,
            Medium::Heat => 4,
            Medium::Water => 7,
            Medium::Other(c) => c,
        }
    }

    fn from_code(c: u8) -> Medium {
        match c {
            3 => Medium::Gas,
            4 => Medium::Heat,
            7 => Medium::Water,
            c => Medium::Other(c),
        }
    }
}

/// A device on the meter's M-Bus (gas, water, heat).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MbusDevice {
    /// Channel 1..4 (OBIS group B).
    pub channel: u8,
    /// What it measures.
    pub medium: Medium,
    /// Equipment id (plain ASCII, e.g. `7FLO2119033733`; hex-encoded on the wire).
    pub id: String,
    /// Valve state when the device has one (0 closed, 1 open, 2 ready).
    pub valve: Option<u8>,
    /// Capture time of the last reading (the last M-Bus exchange).
    pub captured: Tst,
    /// The reading in dm³ (litres); m³ with 3 decimals on the wire.
    pub litres: u64,
}

/// A power failure in the DSMR event log: when it ended and how long it lasted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PowerFailure {
    /// End of the failure.
    pub end: Tst,
    /// Duration in seconds.
    pub seconds: u64,
}

/// Luxembourg's reactive and apparent totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Reactive {
    /// Reactive import total, varh.
    pub import_varh: u64,
    /// Reactive export total, varh.
    pub export_varh: u64,
    /// Reactive power import, var.
    pub import_var: u32,
    /// Reactive power export, var.
    pub export_var: u32,
    /// Apparent power import, VA.
    pub apparent_import_va: u32,
    /// Apparent power export, VA.
    pub apparent_export_va: u32,
}

/// What a meter displays at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Reading {
    /// Telegram timestamp, local time with the S/W flag.
    pub time: Tst,
    /// Equipment identifier in plain ASCII (hex-encoded on the wire).
    pub equipment_id: String,
    /// Active tariff, 1 or 2 (meaning by country: see [`Dialect::tariff1_is_low`]).
    pub tariff: u8,
    /// Import registers per tariff, Wh. Smarty has one total: tariff 1 holds it.
    pub import_wh: [u64; 2],
    /// Export registers per tariff, Wh.
    pub export_wh: [u64; 2],
    /// Net import power, W.
    pub power_import_w: u32,
    /// Net export power, W.
    pub power_export_w: u32,
    /// One or three phases.
    pub phases: Vec<Phase>,
    /// Capacity-tariff objects (e-MUCS 1.7 only).
    pub demand: Option<Demand>,
    /// Breaker state: 0 disconnected, 1 connected, 2 ready for reconnection.
    pub breaker: u8,
    /// Limiter threshold in deci-kW (BE) or deci-kVA (LU); `None` = deactivated (999.9).
    pub limiter_d: Option<u32>,
    /// Fuse supervision threshold, A (BE); `None` = deactivated (999).
    pub fuse_a: Option<u16>,
    /// Import and export current thresholds, A (Smarty `1-1:31.4.0`).
    pub current_limits_a: Option<(i16, i16)>,
    /// Extra relay states (Smarty `0-1:96.3.10`, `0-2:96.3.10`).
    pub relays: Vec<u8>,
    /// Text message, hex as on the wire.
    pub message: String,
    /// Power failures in any phase (NL, LU).
    pub power_failures: u32,
    /// Long power failures in any phase (NL).
    pub long_power_failures: u32,
    /// Power failure event log (NL).
    pub failure_log: Vec<PowerFailure>,
    /// Voltage sags per phase (NL, LU).
    pub sags: [u32; 3],
    /// Voltage swells per phase (NL, LU).
    pub swells: [u32; 3],
    /// Reactive and apparent values (LU).
    pub reactive: Option<Reactive>,
    /// M-Bus devices, by channel.
    pub mbus: Vec<MbusDevice>,
}

impl Default for Reading {
    fn default() -> Self {
        Reading {
            time: Tst {
                yy: 0,
                month: 1,
                day: 1,
                hour: 0,
                minute: 0,
                second: 0,
                season: Season::Winter,
            },
            equipment_id: String::new(),
            tariff: 1,
            import_wh: [0; 2],
            export_wh: [0; 2],
            power_import_w: 0,
            power_export_w: 0,
            phases: vec![Phase::default()],
            demand: None,
            breaker: 1,
            limiter_d: None,
            fuse_a: None,
            current_limits_a: None,
            relays: Vec::new(),
            message: String::new(),
            power_failures: 0,
            long_power_failures: 0,
            failure_log: Vec::new(),
            sags: [0; 3],
            swells: [0; 3],
            reactive: None,
            mbus: Vec::new(),
        }
    }
}

/// Hex-encodes ASCII the way P1 writes identifiers (`1SAG…` → `3153414…`).
pub fn hex_ascii(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len() * 2);
    for b in s.bytes() {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xF)]));
    }
    out
}

/// Decodes hex-encoded ASCII; `None` if it is not hex pairs of printable ASCII.
pub fn unhex_ascii(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks_exact(2)
        .map(|p| {
            let hi = char::from(p[0]).to_digit(16)?;
            let lo = char::from(p[1]).to_digit(16)?;
            let c = (hi * 16 + lo) as u8;
            (c.is_ascii_graphic() || c == b' ').then_some(char::from(c))
        })
        .collect()
}

// Wire registers are 6 integer digits of kWh (F9(3,3)); a real meter rolls over at 10⁶ kWh.
const WH_WRAP: u64 = 1_000_000_000;

struct Builder {
    lines: Vec<Line>,
}

fn kwh(wh: u64, int_width: u8) -> Value {
    Value::num(Num::fixed((wh % WH_WRAP) as i64, int_width, 3), Unit::KWh)
}
fn kw(w: u32) -> Value {
    Value::num(Num::fixed(i64::from(w), 2, 3), Unit::Kw)
}
fn int(v: u64, width: u8) -> Value {
    Value::Num(Num::int(v as i64, width), None)
}
fn text(s: &str) -> Value {
    Value::text(s)
}
fn m3(litres: u64, int_width: u8, unit: bool) -> Value {
    let n = Num::fixed(litres as i64, int_width, 3);
    if unit { Value::num(n, Unit::M3) } else { Value::Num(n, None) }
}

impl Builder {
    fn line(&mut self, obis: Obis, values: Vec<Value>) {
        self.lines.push(Line::new(obis, values));
    }
    fn one(&mut self, obis: Obis, v: Value) {
        self.lines.push(Line::single(obis, v));
    }
    fn per_phase(&mut self, codes: &[Obis; 3], r: &Reading, f: impl Fn(&Phase) -> Value) {
        for (o, p) in codes.iter().zip(&r.phases) {
            self.one(*o, f(p));
        }
    }
    fn registers(&mut self, r: &Reading) {
        self.one(obis::IMPORT_T1, kwh(r.import_wh[0], 6));
        self.one(obis::IMPORT_T2, kwh(r.import_wh[1], 6));
        self.one(obis::EXPORT_T1, kwh(r.export_wh[0], 6));
        self.one(obis::EXPORT_T2, kwh(r.export_wh[1], 6));
        self.one(obis::TARIFF, int(u64::from(r.tariff), 4));
    }
    fn sags_swells(&mut self, r: &Reading) {
        let n = r.phases.len().min(3);
        for (o, v) in obis::SAGS.iter().zip(r.sags).take(n) {
            self.one(*o, int(u64::from(v), 5));
        }
        for (o, v) in obis::SWELLS.iter().zip(r.swells).take(n) {
            self.one(*o, int(u64::from(v), 5));
        }
    }
    fn voltages(&mut self, r: &Reading) {
        self.per_phase(&obis::VOLTAGE, r, |p| {
            Value::num(Num::fixed(i64::from(p.voltage_dv), 3, 1), Unit::V)
        });
    }
    fn whole_amps(&mut self, r: &Reading) {
        self.per_phase(&obis::CURRENT, r, |p| {
            Value::num(Num::int(i64::from((p.current_ca + 50) / 100), 3), Unit::A)
        });
    }
    fn phase_powers(&mut self, r: &Reading) {
        self.per_phase(&obis::PHASE_IMPORT, r, |p| kw(p.import_w));
        self.per_phase(&obis::PHASE_EXPORT, r, |p| kw(p.export_w));
    }

    fn belgian(&mut self, d: Dialect, r: &Reading) {
        let version = if d == Dialect::EMucs171 { 50217 } else { 50215 };
        self.one(obis::BE_VERSION, int(version, 5));
        self.one(obis::EQUIPMENT_ID, text(&hex_ascii(&r.equipment_id)));
        self.one(obis::TIMESTAMP, Value::Time(r.time));
        self.registers(r);
        if d == Dialect::EMucs171 {
            let demand = r.demand.clone().unwrap_or_default();
            self.one(obis::AVERAGE_DEMAND, kw(demand.average_w));
            let peak = demand.month_peak.unwrap_or(Peak { at: r.time, w: 0 });
            self.line(obis::MONTH_PEAK, vec![Value::Time(peak.at), kw(peak.w)]);
            let reference = Value::text("1-0:1.6.0");
            let mut v = vec![int(demand.history.len() as u64, 1), reference.clone(), reference];
            for h in &demand.history {
                v.push(Value::Time(h.captured));
                match h.peak {
                    Some(p) => v.extend([Value::Time(p.at), kw(p.w)]),
                    None => v.extend([Value::Time(Tst::NONE_BE), kw(0)]),
                }
            }
            if demand.history.is_empty() {
                // Meters close an empty buffer with `()` (ORES example, e-MUCS Annex B).
                v.push(text(""));
            }
            self.line(obis::PEAK_HISTORY, v);
        }
        self.one(obis::POWER_IMPORT, kw(r.power_import_w));
        self.one(obis::POWER_EXPORT, kw(r.power_export_w));
        self.phase_powers(r);
        self.voltages(r);
        // BE currents have two decimals since e-MUCS 1.4: F5(2,2).
        self.per_phase(&obis::CURRENT, r, |p| {
            Value::num(Num::fixed(i64::from(p.current_ca), 3, 2), Unit::A)
        });
        self.one(obis::BREAKER, int(u64::from(r.breaker), 1));
        let limiter = r.limiter_d.unwrap_or(9999);
        self.one(obis::LIMITER, Value::num(Num::fixed(i64::from(limiter), 3, 1), Unit::Kw));
        let fuse = r.fuse_a.unwrap_or(999);
        self.one(obis::FUSE, Value::num(Num::int(i64::from(fuse), 3), Unit::A));
        self.one(obis::MESSAGE, text(&r.message));
        for m in &r.mbus {
            let ch = m.channel;
            self.one(obis::MBUS_TYPE.on_channel(ch), int(u64::from(m.medium.code()), 3));
            self.one(obis::MBUS_ID_BE.on_channel(ch), text(&hex_ascii(&m.id)));
            if let Some(valve) = m.valve {
                self.one(obis::MBUS_VALVE.on_channel(ch), int(u64::from(valve), 1));
            }
            // BE gas is not temperature corrected (24.2.3); water stays on 24.2.1.
            let code = if m.medium == Medium::Gas {
                obis::MBUS_READING_UNCORRECTED
            } else {
                obis::MBUS_READING
            };
            self.line(code.on_channel(ch), vec![Value::Time(m.captured), m3(m.litres, 5, true)]);
        }
    }

    fn dutch(&mut self, d: Dialect, r: &Reading) {
        self.one(obis::VERSION, int(if d == Dialect::Dsmr502 { 50 } else { 42 }, 2));
        self.one(obis::TIMESTAMP, Value::Time(r.time));
        self.one(obis::EQUIPMENT_ID, text(&hex_ascii(&r.equipment_id)));
        self.registers(r);
        self.one(obis::POWER_IMPORT, kw(r.power_import_w));
        self.one(obis::POWER_EXPORT, kw(r.power_export_w));
        self.one(obis::POWER_FAILURES, int(u64::from(r.power_failures), 5));
        self.one(obis::LONG_POWER_FAILURES, int(u64::from(r.long_power_failures), 5));
        let mut log = vec![int(r.failure_log.len() as u64, 1), text("0-0:96.7.19")];
        for f in &r.failure_log {
            log.push(Value::Time(f.end));
            log.push(Value::num(Num::int(f.seconds as i64, 10), Unit::S));
        }
        self.line(obis::FAILURE_LOG, log);
        self.sags_swells(r);
        if d == Dialect::Dsmr42 {
            self.one(obis::MESSAGE_CODE, text(""));
        }
        self.one(obis::MESSAGE, text(&r.message));
        if d == Dialect::Dsmr502 {
            self.voltages(r);
        }
        self.whole_amps(r);
        self.phase_powers(r);
        for m in &r.mbus {
            let ch = m.channel;
            self.one(obis::MBUS_TYPE.on_channel(ch), int(u64::from(m.medium.code()), 3));
            self.one(obis::MBUS_ID.on_channel(ch), text(&hex_ascii(&m.id)));
            self.line(
                obis::MBUS_READING.on_channel(ch),
                vec![Value::Time(m.captured), m3(m.litres, 5, true)],
            );
        }
    }

    fn dsmr22(&mut self, r: &Reading) {
        self.one(obis::EQUIPMENT_ID, text(&hex_ascii(&r.equipment_id)));
        for (o, wh) in [
            (obis::IMPORT_T1, r.import_wh[0]),
            (obis::IMPORT_T2, r.import_wh[1]),
            (obis::EXPORT_T1, r.export_wh[0]),
            (obis::EXPORT_T2, r.export_wh[1]),
        ] {
            self.one(o, kwh(wh % 100_000_000, 5));
        }
        self.one(obis::TARIFF, int(u64::from(r.tariff), 4));
        // DSMR 2.2 power is F6(2,2) kW: 10 W resolution.
        let kw22 = |w: u32| Value::num(Num::fixed(i64::from((w + 5) / 10), 4, 2), Unit::Kw);
        self.one(obis::POWER_IMPORT, kw22(r.power_import_w));
        self.one(obis::POWER_EXPORT, kw22(r.power_export_w));
        self.one(obis::MESSAGE_CODE, text(""));
        self.one(obis::MESSAGE, text(&r.message));
        for m in &r.mbus {
            let ch = m.channel;
            self.one(obis::MBUS_ID.on_channel(ch), text(&hex_ascii(&m.id)));
            self.one(obis::MBUS_TYPE.on_channel(ch), int(u64::from(m.medium.code()), 2));
            let t = m.captured;
            let stamp = [t.yy, t.month, t.day, t.hour, t.minute, t.second]
                .iter()
                .fold(0u64, |acc, &v| acc * 100 + u64::from(v));
            // `(status)(period min)(values)(object)(unit)`, then the value on its own line.
            // Status 08 is what the real XMX meter in fixtures/p1 sends.
            self.line(
                obis::MBUS_PROFILE_22.on_channel(ch),
                vec![
                    int(stamp, 12),
                    int(8, 2),
                    int(60, 2),
                    int(1, 1),
                    text(&Obis::new(0, ch, 24, 2, 0).to_string()),
                    text("m3"),
                ],
            );
            self.lines
                .push(Line { obis: None, values: smallvec::smallvec![m3(m.litres, 5, false)] });
        }
    }

    fn smarty(&mut self, r: &Reading) {
        let x = r.reactive.unwrap_or_default();
        self.one(obis::VERSION, int(42, 2));
        self.one(obis::TIMESTAMP, Value::Time(r.time));
        self.one(obis::LOGICAL_DEVICE_NAME, text(&hex_ascii(&r.equipment_id)));
        self.one(obis::IMPORT_TOTAL, kwh(r.import_wh[0] + r.import_wh[1], 6));
        self.one(obis::EXPORT_TOTAL, kwh(r.export_wh[0] + r.export_wh[1], 6));
        let kvarh = |v: u64| Value::num(Num::fixed((v % WH_WRAP) as i64, 6, 3), Unit::Kvarh);
        let kvar = |v: u32| Value::num(Num::fixed(i64::from(v), 2, 3), Unit::Kvar);
        let kva = |v: u32| Value::num(Num::fixed(i64::from(v), 2, 3), Unit::Kva);
        self.one(obis::REACTIVE_IMPORT_TOTAL, kvarh(x.import_varh));
        self.one(obis::REACTIVE_EXPORT_TOTAL, kvarh(x.export_varh));
        self.one(obis::POWER_IMPORT, kw(r.power_import_w));
        self.one(obis::POWER_EXPORT, kw(r.power_export_w));
        self.one(obis::REACTIVE_POWER_IMPORT, kvar(x.import_var));
        self.one(obis::REACTIVE_POWER_EXPORT, kvar(x.export_var));
        let limiter = r.limiter_d.unwrap_or(9999);
        self.one(obis::LIMITER, Value::num(Num::fixed(i64::from(limiter), 3, 1), Unit::Kva));
        self.one(obis::APPARENT_IMPORT, kva(x.apparent_import_va));
        self.one(obis::APPARENT_EXPORT, kva(x.apparent_export_va));
        let (imp, exp) = r.current_limits_a.unwrap_or((40, -40));
        let amps = |a: i16| Value::num(Num::int(i64::from(a), 3), Unit::A);
        self.line(obis::CURRENT_LIMITS, vec![amps(imp), amps(exp)]);
        self.one(obis::BREAKER, int(u64::from(r.breaker), 1));
        for (i, relay) in r.relays.iter().enumerate() {
            self.one(obis::BREAKER.on_channel(i as u8 + 1), int(u64::from(*relay), 1));
        }
        self.one(obis::POWER_FAILURES, int(u64::from(r.power_failures), 5));
        self.sags_swells(r);
        self.one(obis::MESSAGE, text(&r.message));
        for e in 2..=5 {
            self.one(Obis::new(0, 0, 96, 13, e), text(""));
        }
        self.voltages(r);
        self.whole_amps(r);
        self.phase_powers(r);
        self.per_phase(&obis::PHASE_REACTIVE_IMPORT, r, |p| kvar(p.reactive_import_var));
        self.per_phase(&obis::PHASE_REACTIVE_EXPORT, r, |p| kvar(p.reactive_export_var));
        for m in &r.mbus {
            let ch = m.channel;
            self.one(obis::MBUS_TYPE.on_channel(ch), int(u64::from(m.medium.code()), 3));
            self.one(obis::MBUS_ID.on_channel(ch), text(&hex_ascii(&m.id)));
            self.line(
                obis::MBUS_READING.on_channel(ch),
                vec![Value::Time(m.captured), m3(m.litres, 5, true)],
            );
            if let Some(valve) = m.valve {
                self.one(obis::MBUS_VALVE.on_channel(ch), int(u64::from(valve), 1));
            }
        }
    }
}

/// The number in units of its last wire decimal, `frac` decimals of the spec's unit (kWh, kW,
/// kvarh, kvar). A meter that writes the base unit instead (Sagemcom T210-D-r: `*Wh`, `*W`,
/// `*varh`, `*var`, whole numbers) already counts in that unit: reading it as kWh made its
/// registers a thousand times too high.
fn scaled(v: Option<&Value>, frac: u8) -> Option<i64> {
    match v? {
        Value::Num(n, Some(Unit::Other(u))) if frac == 3 && is_base_unit(u) => Some(n.scaled(0)),
        Value::Num(n, _) => Some(n.scaled(frac)),
        _ => None,
    }
}

/// Wh, W, varh, var: the thousandth of the spec's kWh, kW, kvarh, kvar.
fn is_base_unit(u: &str) -> bool {
    ["Wh", "W", "varh", "var", "VArh", "VAr"].contains(&u)
}

fn unsigned(v: Option<&Value>, frac: u8) -> u64 {
    scaled(v, frac).map_or(0, |x| x.max(0) as u64)
}

fn small(v: Option<&Value>, frac: u8) -> u32 {
    u32::try_from(unsigned(v, frac)).unwrap_or(u32::MAX)
}

fn tst_from_digits(n: &Num) -> Option<Tst> {
    let d = n.digits;
    if n.int_width != 12 || n.frac != 0 {
        return None;
    }
    let part = |k: u32| ((d / 10u64.pow(k)) % 100) as u8;
    Some(Tst {
        yy: part(10),
        month: part(8),
        day: part(6),
        hour: part(4),
        minute: part(2),
        second: part(0),
        season: Season::Winter,
    })
}

impl Reading {
    /// Reads the meaning out of any telegram, keyed by OBIS code in one pass over its lines;
    /// absent objects keep their defaults. Never fails: what cannot be read is left out.
    pub fn from_telegram(t: &Telegram) -> Reading {
        let mut r = Reading { phases: Vec::new(), ..Reading::default() };
        let mut phases = [Phase::default(); 3];
        let mut n_phases = 0;
        let mut totals = false;
        let mut relays = [None; 4];
        let mut mbus: [Option<MbusDevice>; 4] = Default::default();
        for (idx, line) in t.lines.iter().enumerate() {
            let Some(o) = line.obis else { continue };
            let v = line.values.first();
            if o.a == 1 && o.b == 0 && (21..=72).contains(&o.c) && o.e == 0 {
                // Per-phase objects: L1 is C = 21..32, L2 adds 20, L3 adds 40.
                let phase = usize::from((o.c - 21) / 20);
                let p = &mut phases[phase];
                let slot = match (o.c - 20 * phase as u8, o.d) {
                    (32, 7) => Some((&mut p.voltage_dv, 1)),
                    (31, 7) => Some((&mut p.current_ca, 2)),
                    (21, 7) => Some((&mut p.import_w, 3)),
                    (22, 7) => Some((&mut p.export_w, 3)),
                    (23, 7) => Some((&mut p.reactive_import_var, 3)),
                    (24, 7) => Some((&mut p.reactive_export_var, 3)),
                    (32, 32) => Some((&mut r.sags[phase], 0)),
                    (32, 36) => Some((&mut r.swells[phase], 0)),
                    _ => None,
                };
                let known = slot.is_some();
                if let Some((field, frac)) = slot {
                    *field = small(v, frac);
                }
                if known {
                    if o.d == 7 {
                        n_phases = n_phases.max(phase + 1);
                    }
                    continue;
                }
            }
            if o.a == 0 && (1..=4).contains(&o.b) {
                let ch = usize::from(o.b - 1);
                if (o.c, o.d, o.e) == (96, 3, 10) {
                    relays[ch] = Some(unsigned(v, 0).min(9) as u8);
                    continue;
                }
                let m = mbus[ch].get_or_insert_with(|| MbusDevice {
                    channel: o.b,
                    medium: Medium::Other(0),
                    id: String::new(),
                    valve: None,
                    captured: Tst::NONE_BE,
                    litres: 0,
                });
                read_mbus_line(m, o, line, t.lines.get(idx + 1));
                continue;
            }
            match o {
                obis::TIMESTAMP => {
                    if let Some(ts) = v.and_then(Value::as_time) {
                        r.time = *ts;
                    }
                }
                obis::EQUIPMENT_ID | obis::LOGICAL_DEVICE_NAME => {
                    let hex = v.map(|v| v.to_string()).unwrap_or_default();
                    r.equipment_id = unhex_ascii(&hex).unwrap_or(hex);
                }
                obis::TARIFF => r.tariff = unsigned(v, 0).min(9) as u8,
                obis::IMPORT_T1 => r.import_wh[0] = unsigned(v, 3),
                obis::IMPORT_T2 => r.import_wh[1] = unsigned(v, 3),
                obis::EXPORT_T1 => r.export_wh[0] = unsigned(v, 3),
                obis::EXPORT_T2 => r.export_wh[1] = unsigned(v, 3),
                obis::IMPORT_TOTAL => {
                    totals = true;
                    r.import_wh[0] = unsigned(v, 3);
                }
                obis::EXPORT_TOTAL => {
                    totals = true;
                    r.export_wh[0] = unsigned(v, 3);
                }
                obis::POWER_IMPORT => r.power_import_w = small(v, 3),
                obis::POWER_EXPORT => r.power_export_w = small(v, 3),
                obis::AVERAGE_DEMAND => {
                    r.demand.get_or_insert_with(Demand::default).average_w = small(v, 3)
                }
                obis::MONTH_PEAK => {
                    let d = r.demand.get_or_insert_with(Demand::default);
                    if let [at, w, ..] = line.values.as_slice() {
                        d.month_peak =
                            at.as_time().map(|at| Peak { at: *at, w: small(Some(w), 3) });
                    }
                }
                obis::PEAK_HISTORY => {
                    r.demand.get_or_insert_with(Demand::default).history = read_history(line)
                }
                obis::BREAKER => r.breaker = unsigned(v, 0).min(9) as u8,
                obis::LIMITER => {
                    r.limiter_d =
                        scaled(v, 1).filter(|&x| x != 9999).map(|x| u32::try_from(x).unwrap_or(0))
                }
                obis::FUSE => {
                    r.fuse_a =
                        scaled(v, 0).filter(|&x| x != 999).map(|x| u16::try_from(x).unwrap_or(0))
                }
                obis::CURRENT_LIMITS => {
                    let a = |i: usize| {
                        scaled(line.values.get(i), 0).unwrap_or(0).clamp(-999, 999) as i16
                    };
                    r.current_limits_a = Some((a(0), a(1)));
                }
                obis::MESSAGE => r.message = v.map(|v| v.to_string()).unwrap_or_default(),
                obis::POWER_FAILURES => r.power_failures = small(v, 0),
                obis::LONG_POWER_FAILURES => r.long_power_failures = small(v, 0),
                obis::FAILURE_LOG => {
                    r.failure_log = line
                        .values
                        .get(2..)
                        .unwrap_or(&[])
                        .chunks_exact(2)
                        .filter_map(|p| {
                            let end = *p[0].as_time()?;
                            Some(PowerFailure { end, seconds: unsigned(Some(&p[1]), 0) })
                        })
                        .collect()
                }
                obis::REACTIVE_IMPORT_TOTAL => reactive(&mut r).import_varh = unsigned(v, 3),
                obis::REACTIVE_EXPORT_TOTAL => reactive(&mut r).export_varh = unsigned(v, 3),
                obis::REACTIVE_POWER_IMPORT => reactive(&mut r).import_var = small(v, 3),
                obis::REACTIVE_POWER_EXPORT => reactive(&mut r).export_var = small(v, 3),
                obis::APPARENT_IMPORT => reactive(&mut r).apparent_import_va = small(v, 3),
                obis::APPARENT_EXPORT => reactive(&mut r).apparent_export_va = small(v, 3),
                _ => {}
            }
        }
        if totals {
            r.import_wh[1] = 0;
            r.export_wh[1] = 0;
        }
        r.phases = phases[..n_phases].to_vec();
        r.relays = relays.iter().map_while(|x| *x).collect();
        r.mbus = mbus.into_iter().flatten().collect();
        r
    }
}

fn reactive(r: &mut Reading) -> &mut Reactive {
    r.reactive.get_or_insert_with(Reactive::default)
}

fn read_history(line: &Line) -> Vec<HistoryEntry> {
    line.values
        .get(3..)
        .unwrap_or(&[])
        .chunks_exact(3)
        .filter_map(|e| {
            let captured = *e[0].as_time()?;
            let at = *e[1].as_time()?;
            let peak = (at != Tst::NONE_BE).then(|| Peak { at, w: small(Some(&e[2]), 3) });
            Some(HistoryEntry { captured, peak })
        })
        .collect()
}

/// One M-Bus line (`0-n:…`) into its device; `next` is the line after it (DSMR 2.2 puts the
/// gas reading on a continuation line).
fn read_mbus_line(m: &mut MbusDevice, o: Obis, line: &Line, next: Option<&Line>) {
    let v = line.values.first();
    match (o.c, o.d, o.e) {
        (24, 1, 0) => m.medium = Medium::from_code(unsigned(v, 0).min(255) as u8),
        (96, 1, 0) | (96, 1, 1) => {
            let hex = v.map(|v| v.to_string()).unwrap_or_default();
            m.id = unhex_ascii(&hex).unwrap_or(hex);
        }
        (24, 4, 0) => m.valve = Some(unsigned(v, 0).min(9) as u8),
        (24, 2, 1) | (24, 2, 3) => {
            if let [at, reading, ..] = line.values.as_slice() {
                if let Some(at) = at.as_time() {
                    m.captured = *at;
                }
                m.litres = unsigned(Some(reading), 3);
            }
        }
        (24, 3, 0) => {
            if let Some(at) = v.and_then(Value::as_num).and_then(tst_from_digits) {
                m.captured = at;
            }
            if let Some(next) = next.filter(|l| l.obis.is_none()) {
                m.litres = unsigned(next.values.first(), 3);
            }
        }
        _ => {}
    }
}
