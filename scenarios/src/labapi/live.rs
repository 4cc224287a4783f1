//! What the lab sees of each running meter, and the faults it can inject: a [`MeterWatch`] per
//! P1 meter is the rig runner's [`runner::Tap`] (telegrams decoded, a bounded history of power
//! and voltage, the dongle's counters) and passes the faults to the station as dongle
//! commands, the one way faults reach a dongle (the `Lab` and its steps use it too).
//!
//! How real each fault is:
//! - `wifi-loss`: the dongle's link is down for 5 minutes ([`dongle::Fault::LinkDown`]): it
//!   sends nothing, keeps buffering, and after it sends newest first, then the backlog.
//!   `clear` brings the link back at once ([`dongle::Fault::LinkUp`]).
//! - `reset-needed`: the dongle model's own firmware hang ([`dongle::Fault::Hang`]): nothing
//!   is sent, uploads keep buffering, until `clear` power-cycles it ([`dongle::Dongle::reset`];
//!   a RAM buffer is lost and counted as dropped, as on a real power cycle).
//! - `crc-noise`: real bit errors on the P1 bytes the dongle reads (one digit of the body
//!   flipped in a fifth of the telegrams); the pty and TCP readers still get clean bytes.
//!   The dongle uploads them flagged, the platform checks the CRC itself. A Smarty frame
//!   with a flipped bit fails decryption (the dongle drops it); a DSMR 2.2 telegram has no
//!   CRC, so its damaged value goes through undetected, as it would in the field.

use clock::{SignedDuration, Timestamp};
use domain::{Power, Voltage};
use dongle::Fault;
use runner::{DongleCommand, Tap};
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

/// How long an injected Wi-Fi loss lasts.
pub(crate) const WIFI_LOSS: SignedDuration = SignedDuration::from_mins(5);

/// How far back the power and voltage histories reach.
pub(crate) const HISTORY_SPAN: SignedDuration = SignedDuration::from_mins(5);

/// At most this many samples per history (5 minutes of a 1-second meter).
pub(crate) const HISTORY_MAX: usize = 300;

/// Share of the telegrams `crc-noise` damages, in 1/1000.
const NOISE_PER_MILLE: u64 = 200;

/// The faults the lab can inject, as the console names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultKind {
    WifiLoss,
    ResetNeeded,
    CrcNoise,
    Clear,
}

impl FaultKind {
    pub(crate) fn parse(s: &str) -> Option<FaultKind> {
        match s {
            "wifi-loss" => Some(FaultKind::WifiLoss),
            "reset-needed" => Some(FaultKind::ResetNeeded),
            "crc-noise" => Some(FaultKind::CrcNoise),
            "clear" => Some(FaultKind::Clear),
            _ => None,
        }
    }
}

/// The values of the latest telegram.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Latest {
    pub(crate) at: Option<Timestamp>,
    pub(crate) tariff: u8,
    pub(crate) import_w: Power,
    pub(crate) export_w: Power,
    pub(crate) voltage_dv: Vec<Voltage>,
    pub(crate) month_peak_w: Option<Power>,
    pub(crate) lines: Vec<String>,
}

#[derive(Debug, Default)]
struct Faults {
    wifi_until: Option<Timestamp>,
    hung: bool,
    crc_noise: bool,
    /// Commands for the dongle, one taken per step of the station.
    pending: VecDeque<DongleCommand>,
}

#[derive(Debug, Default)]
struct State {
    latest: Latest,
    /// (time, net power W, voltage V of the first phase if sent) oldest first.
    history: VecDeque<(Timestamp, f64, Option<f64>)>,
    dongle: Option<dongle::Stats>,
    faults: Faults,
    telegrams: u64,
    flipped: u64,
}

/// One P1 meter of a running rig, as the lab API shows it.
pub(crate) struct MeterWatch {
    /// `rig-a/meter-01`.
    pub(crate) id: String,
    pub(crate) rig: String,
    pub(crate) variant: String,
    /// The id of its dongle on the platform (`rig-a-meter-01`).
    pub(crate) dongle: String,
    decoder: Mutex<p1::Decoder>,
    state: Mutex<State>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl MeterWatch {
    /// A watch on a meter of `variant` (its Smarty key, if any, decrypts what it sends).
    pub(crate) fn new(rig: &str, name: &str, variant: &meter::Variant) -> MeterWatch {
        let mut decoder = p1::Decoder::new();
        if let Some(keys) =
            variant.encryption_key.as_deref().and_then(|k| p1::smarty::Keys::from_hex(k).ok())
        {
            decoder = decoder.with_keys(keys);
        }
        MeterWatch {
            id: format!("{rig}/{name}"),
            rig: rig.to_owned(),
            variant: variant.id.clone(),
            dongle: format!("{rig}-{name}"),
            decoder: Mutex::new(decoder),
            state: Mutex::new(State::default()),
        }
    }

    /// The latest values and the histories (power W, voltage V), oldest first.
    pub(crate) fn latest(&self) -> (Latest, Vec<f64>, Vec<f64>) {
        let s = lock(&self.state);
        let power = s.history.iter().map(|h| h.1).collect();
        let volts = s.history.iter().filter_map(|h| h.2).collect();
        (s.latest.clone(), power, volts)
    }

    /// The dongle's counters as of its meter's latest tick.
    pub(crate) fn dongle_stats(&self) -> Option<dongle::Stats> {
        lock(&self.state).dongle
    }

    /// The injected faults in force at `now`, as the console shows them (`None`: none).
    pub(crate) fn fault(&self, now: Timestamp) -> Option<String> {
        let s = lock(&self.state);
        let mut on = Vec::new();
        if let Some(until) = s.faults.wifi_until.filter(|u| now < *u) {
            let left = until.duration_since(now).as_secs();
            on.push(format!("wifi-loss {}:{:02}", left / 60, left % 60));
        }
        if s.faults.hung {
            on.push("reset-needed".to_owned());
        }
        if s.faults.crc_noise {
            on.push("crc-noise".to_owned());
        }
        (!on.is_empty()).then(|| on.join(" + "))
    }

    /// Injects a fault (or clears them all) at `now`; a sentence for the status bar.
    pub(crate) fn inject(&self, kind: FaultKind, now: Timestamp) -> String {
        let name = super::snapshot::short_dongle(&self.dongle);
        let mut s = lock(&self.state);
        let f = &mut s.faults;
        match kind {
            FaultKind::WifiLoss => {
                let until = now + WIFI_LOSS;
                f.wifi_until = Some(until);
                f.pending.push_back(DongleCommand::Inject(Fault::LinkDown { until }));
                format!(
                    "{}: Wi-Fi lost until {} (the dongle sends nothing and buffers)",
                    name,
                    clock::local_datetime(until).strftime("%H:%M:%S")
                )
            }
            FaultKind::ResetNeeded => {
                f.hung = true;
                f.pending.push_back(DongleCommand::Inject(Fault::Hang));
                format!("{name}: firmware hung; it sends nothing until `clear` resets it")
            }
            FaultKind::CrcNoise => {
                f.crc_noise = true;
                format!(
                    "{}: noise on the P1 cable: {}% of telegrams reach the dongle with a bit flipped",
                    name,
                    NOISE_PER_MILLE / 10
                )
            }
            FaultKind::Clear => {
                let (was_hung, wifi) = (f.hung, f.wifi_until.is_some_and(|u| now < u));
                *f = Faults::default();
                if wifi {
                    f.pending.push_back(DongleCommand::Inject(Fault::LinkUp));
                }
                if was_hung {
                    f.pending.push_back(DongleCommand::Reset);
                    format!("{name}: faults cleared; the dongle is power-cycled")
                } else {
                    format!("{name}: faults cleared")
                }
            }
        }
    }

    /// Decodes a telegram into the latest values and the histories.
    fn observe(&self, now: Timestamp, bytes: &[u8]) {
        let frames: Vec<p1::Frame> = lock(&self.decoder).decode(bytes).collect();
        let Some(telegram) = frames.into_iter().rev().find_map(|f| match f {
            p1::Frame::Ok { telegram, .. } => Some(telegram),
            _ => None,
        }) else {
            return;
        };
        let latest = latest_of(now, &telegram);
        let net = latest.import_w.as_w() as f64 - latest.export_w.as_w() as f64;
        let volts = latest.voltage_dv.first().map(|v| v.volts_f64());
        let mut s = lock(&self.state);
        push_history(&mut s.history, (now, net, volts));
        s.latest = latest;
    }
}

/// The console's view of one telegram.
pub(crate) fn latest_of(now: Timestamp, t: &p1::Telegram) -> Latest {
    let r = p1::Reading::from_telegram(t);
    let mut lines = vec![format!("/{}", t.header)];
    lines.extend(t.lines.iter().map(|l| {
        // Equipment ids (Smarty's `0-0:42.0.0` too) and the text message travel as hex ASCII:
        // shown as text.
        let text = l
            .obis
            .is_some_and(|o| (o.c == 96 && (o.d == 1 || o.d == 13)) || (o.c == 42 && o.d == 0));
        let values: Vec<String> = l
            .values
            .iter()
            .map(|v| match v {
                p1::Value::Num(n, Some(u)) => format!("{n} {}", u.as_str()),
                p1::Value::Text(s) if text => p1::unhex_ascii(s).unwrap_or_else(|| s.to_string()),
                other => other.to_string(),
            })
            .collect();
        match l.obis {
            Some(o) => format!("{o} {}", values.join(" ")),
            None => format!("  {}", values.join(" ")),
        }
    }));
    Latest {
        at: Some(now),
        tariff: r.tariff,
        import_w: Power::w(u64::from(r.power_import_w)),
        export_w: Power::w(u64::from(r.power_export_w)),
        // A phase without a voltage line (DSMR 4.2 may leave it out) shows none, not 0 V.
        voltage_dv: r
            .phases
            .iter()
            .filter(|p| p.voltage_dv > 0)
            .map(|p| Voltage::dv(p.voltage_dv))
            .collect(),
        // A peak of 0 W is the meter's "none yet" (its first quarter with offtake is to come).
        month_peak_w: r
            .demand
            .as_ref()
            .and_then(|d| d.month_peak)
            .filter(|p| p.w > 0)
            .map(|p| Power::w(u64::from(p.w))),
        lines,
    }
}

/// Appends a sample and drops what is older than [`HISTORY_SPAN`] or beyond [`HISTORY_MAX`].
pub(crate) fn push_history(
    h: &mut VecDeque<(Timestamp, f64, Option<f64>)>,
    sample: (Timestamp, f64, Option<f64>),
) {
    let oldest = sample.0 - HISTORY_SPAN;
    h.push_back(sample);
    while h.front().is_some_and(|s| s.0 < oldest) || h.len() > HISTORY_MAX {
        h.pop_front();
    }
}

/// A number in [0, 1000) from `n` (splitmix64): which telegrams the noise hits, the same
/// ones every run.
fn per_mille(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) % 1000
}

/// The telegram with one bit flipped: a digit of a plain telegram's body (so it stays a
/// telegram, with a CRC that no longer matches), or a byte of a Smarty frame's ciphertext.
pub(crate) fn flip(bytes: &[u8], n: u64) -> Option<Vec<u8>> {
    let mut b = bytes.to_vec();
    let candidates: Vec<usize> = if b.first() == Some(&0xDB) {
        // Smarty: the 18-byte header, then ciphertext, then the 12-byte tag.
        (18..b.len().saturating_sub(12)).collect()
    } else {
        let body_end = b.iter().rposition(|&c| c == b'!')?;
        let body_start = b.iter().position(|&c| c == b'\n')?;
        (body_start..body_end).filter(|&i| b[i].is_ascii_digit()).collect()
    };
    if candidates.is_empty() {
        return None;
    }
    let i = candidates[(per_mille(n ^ 0x5A5A) as usize * 7919) % candidates.len()];
    b[i] ^= 0x01;
    Some(b)
}

impl Tap for MeterWatch {
    fn telegram(&self, now: Timestamp, bytes: &[u8]) -> Option<Vec<u8>> {
        self.observe(now, bytes);
        let (noise, n) = {
            let mut s = lock(&self.state);
            s.telegrams += 1;
            (s.faults.crc_noise, s.telegrams)
        };
        if !noise || per_mille(n) >= NOISE_PER_MILLE {
            return None;
        }
        let flipped = flip(bytes, n)?;
        lock(&self.state).flipped += 1;
        Some(flipped)
    }

    fn dongle(&self, _: Timestamp, stats: &dongle::Stats) {
        lock(&self.state).dongle = Some(*stats);
    }

    fn command(&self) -> Option<DongleCommand> {
        lock(&self.state).faults.pending.pop_front()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn variant(id: &str) -> meter::Variant {
        meter::Catalogue::builtin().get(id).unwrap().clone()
    }

    fn telegram_of(v: &meter::Variant, at: Timestamp) -> Vec<u8> {
        let mut m = meter::Meter::new(v, &"household+pv".parse().unwrap(), 3, at).unwrap();
        m.open_port();
        let mut t = at;
        loop {
            if let Some(b) = m.tick(t) {
                return b;
            }
            t += SignedDuration::from_secs(1);
        }
    }

    const T0: Timestamp = Timestamp::constant(1_795_426_200, 0);

    #[test]
    fn the_history_keeps_five_minutes_and_at_most_300_samples() {
        let mut h = VecDeque::new();
        for s in 0..1000 {
            push_history(&mut h, (T0 + SignedDuration::from_secs(s), s as f64, Some(230.0)));
        }
        assert_eq!(h.len(), 300);
        assert_eq!(h.back().unwrap().1, 999.0);
        let mut h = VecDeque::new();
        for s in 0..100 {
            push_history(&mut h, (T0 + SignedDuration::from_secs(10 * s), s as f64, None));
        }
        // 10-second meters: 5 minutes is 31 samples (both ends included).
        assert_eq!(h.len(), 31);
    }

    #[test]
    fn a_telegram_becomes_values_lines_and_history() {
        for id in meter::Catalogue::builtin().all().iter().filter(|v| v.baud > 0).map(|v| &v.id) {
            let v = variant(id);
            let w = MeterWatch::new("rig-a", "meter-01", &v);
            let bytes = telegram_of(&v, T0);
            assert_eq!(w.telegram(T0, &bytes), None, "no noise unless injected");
            let (latest, power, volts) = w.latest();
            assert_eq!(latest.at, Some(T0), "{id} decoded");
            assert!(latest.lines[0].starts_with('/'), "{id}: {:?}", latest.lines);
            assert!(latest.lines.len() > 5, "{id}: {:?}", latest.lines);
            let equipment = format!(" {}", v.equipment_id);
            assert!(
                latest.lines.iter().any(|l| l.ends_with(&equipment)),
                "{id}: {:?}",
                latest.lines
            );
            assert!(latest.voltage_dv.len() <= usize::from(v.phases), "{id}");
            let volts_ok = |v: &Voltage| (2000..2600).contains(&v.as_dv());
            assert!(latest.voltage_dv.iter().all(volts_ok), "{id}");
            let net = latest.import_w.as_w() as f64 - latest.export_w.as_w() as f64;
            assert_eq!(power, vec![net]);
            assert_eq!(volts.len(), latest.voltage_dv.len().min(1));
        }
    }

    #[test]
    fn crc_noise_flips_a_body_digit_so_the_crc_fails() {
        let v = variant("fluvius-t211-1.7.1");
        let bytes = telegram_of(&v, T0);
        for n in 0..50 {
            let bad = flip(&bytes, n).unwrap();
            assert_eq!(bad.len(), bytes.len());
            assert_eq!(bad.iter().zip(&bytes).filter(|(a, b)| a != b).count(), 1);
            let frames: Vec<_> = p1::Decoder::new().decode(&bad).collect();
            assert!(matches!(frames[..], [p1::Frame::CorruptCrc { .. }]), "{frames:?}");
        }
        // Injected: about a fifth of the telegrams the dongle reads are damaged.
        let w = MeterWatch::new("rig-a", "meter-01", &v);
        w.inject(FaultKind::CrcNoise, T0);
        let hit = (0..1000).filter(|_| w.telegram(T0, &bytes).is_some()).count();
        assert!((150..250).contains(&hit), "{hit} of 1000");
        assert_eq!(w.fault(T0).as_deref(), Some("crc-noise"));
    }

    #[test]
    fn faults_switch_on_and_clear_resets_a_hung_dongle() {
        let w = MeterWatch::new("rig-b", "meter-03", &variant("fluvius-t211-1.7.1"));
        assert_eq!(w.dongle, "rig-b-meter-03");
        assert_eq!(w.fault(T0), None);
        w.inject(FaultKind::WifiLoss, T0);
        let until = T0 + SignedDuration::from_secs(300);
        assert_eq!(w.command(), Some(DongleCommand::Inject(Fault::LinkDown { until })), "5 min");
        assert_eq!(w.fault(T0 + SignedDuration::from_secs(60)).as_deref(), Some("wifi-loss 4:00"));
        assert_eq!(w.fault(until), None, "over after 5 minutes");
        w.inject(FaultKind::ResetNeeded, T0);
        assert_eq!(w.command(), Some(DongleCommand::Inject(Fault::Hang)));
        assert_eq!(w.command(), None, "taken once");
        assert_eq!(w.fault(T0).as_deref(), Some("wifi-loss 5:00 + reset-needed"));
        w.inject(FaultKind::Clear, T0);
        assert_eq!(w.command(), Some(DongleCommand::Inject(Fault::LinkUp)), "the Wi-Fi is back");
        assert_eq!(w.command(), Some(DongleCommand::Reset));
        assert_eq!(w.command(), None);
        assert_eq!(w.fault(T0), None);
        w.inject(FaultKind::Clear, T0);
        assert_eq!(w.command(), None, "no reset when nothing hung");
    }
}
