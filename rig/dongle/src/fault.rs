//! Field failures of a dongle (R-NRT-10): Wi-Fi loss in basements, outages of a single-operator
//! LTE-M network, firmware hangs that only a power cycle clears, and a drifting clock.
//!
//! Outage windows form an alternating renewal process per kind: the link is up for an
//! exponentially distributed time with mean `mean_interval`, then down for one with mean
//! `mean_duration`, and so on. Each kind draws from its own seeded stream, so adding one kind
//! does not move the windows of another, and windows are computed lazily as `now` advances:
//! the same seed gives the same windows however often the dongle is polled.

use calendar::{ParseDurationError, SignedDuration, Timestamp};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use std::fmt;

/// Stream constants: `seed ^ STREAM` seeds each kind's generator.
pub(crate) const WIFI_STREAM: u64 = 0x7769_6669_6c6f_7373; // "wifiloss"
pub(crate) const LTE_STREAM: u64 = 0x6c74_652d_6d6f_7574; // "lte-mout"
pub(crate) const HANG_STREAM: u64 = 0x6861_6e67_6861_6e67; // "hanghang"
pub(crate) const BACKOFF_STREAM: u64 = 0x6261_636b_6f66_6621; // "backoff!"

/// Recurring link outages: up for about `mean_interval`, then down for about `mean_duration`
/// (both exponential).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outages {
    /// Mean time the link stays up between two outages.
    pub mean_interval: SignedDuration,
    /// Mean length of an outage.
    pub mean_duration: SignedDuration,
}

/// The seeded field failures of one dongle. The default has none.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultModel {
    /// Wi-Fi losses (a weak signal in a basement): frequent and short.
    pub wifi_loss: Option<Outages>,
    /// Outages of a single-operator LTE-M network: rarer and longer.
    pub lte_outage: Option<Outages>,
    /// Mean time until the firmware hangs: it stops transmitting (the P1 reader keeps
    /// buffering) until [`crate::Dongle::reset`]. The next hang is drawn from the reset.
    pub hang: Option<SignedDuration>,
    /// Clock drift in parts per million: `+50` means the dongle's clock gains 50 µs per
    /// second since it last synchronised (at start and at each reset). Capture times carry it.
    pub clock_drift_ppm: f64,
}

/// A fault injected by hand with [`crate::Dongle::inject`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The uplink is down until this instant (on top of any seeded windows).
    LinkDown {
        /// When the link comes back.
        until: Timestamp,
    },
    /// An injected link loss ends now (the Wi-Fi is back); seeded outage windows keep their
    /// course.
    LinkUp,
    /// The firmware hangs now, until [`crate::Dongle::reset`].
    Hang,
    /// The dongle's clock jumps by this much (capture times shift until the next reset
    /// resynchronises the clock).
    ClockJump(SignedDuration),
}

/// One scheduled fault, from [`FaultModel::preview`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheduled {
    /// A Wi-Fi loss over `[start, end)`.
    WifiLoss {
        /// First instant the link is down.
        start: Timestamp,
        /// First instant it is up again.
        end: Timestamp,
    },
    /// An LTE-M outage over `[start, end)`.
    LteOutage {
        /// First instant the link is down.
        start: Timestamp,
        /// First instant it is up again.
        end: Timestamp,
    },
    /// A hang at this instant.
    Hang {
        /// When the firmware hangs.
        at: Timestamp,
    },
}

impl Scheduled {
    /// When the fault starts.
    pub fn start(&self) -> Timestamp {
        match *self {
            Scheduled::WifiLoss { start, .. } | Scheduled::LteOutage { start, .. } => start,
            Scheduled::Hang { at } => at,
        }
    }
}

/// Why [`FaultModel::parse`] refused a spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultModelError {
    /// A part without `kind:`.
    #[error("`{part}`: expected kind:value, e.g. `wifi:30m/2m,lte:7d/3h,hang:30d,drift:50`")]
    MissingValue {
        /// The part as written.
        part: String,
    },
    /// A kind other than wifi, lte, hang, drift.
    #[error(
        "unknown fault kind `{kind}`; use wifi, lte, hang or drift, e.g. `wifi:30m/2m,lte:7d/3h,hang:30d,drift:50`"
    )]
    UnknownKind {
        /// The kind as written.
        kind: String,
    },
    /// The same kind twice.
    #[error("fault kind `{kind}` is given twice")]
    Repeated {
        /// The kind.
        kind: String,
    },
    /// An outage kind without `interval/duration`.
    #[error("`{part}`: write mean interval / mean duration, e.g. `{kind}:30m/2m`")]
    MissingSlash {
        /// The part as written.
        part: String,
        /// Its kind.
        kind: String,
    },
    /// A duration that does not parse.
    #[error("`{part}`: {source}")]
    Duration {
        /// The part as written.
        part: String,
        /// What is wrong with the duration.
        source: ParseDurationError,
    },
    /// A zero duration.
    #[error("`{part}`: durations must be longer than zero")]
    Zero {
        /// The part as written.
        part: String,
    },
    /// A drift that is not a number of ppm.
    #[error(
        "`{part}`: drift is in parts per million, a number from -1000000 to 1000000 (e.g. `drift:50` or `drift:-20`)"
    )]
    Drift {
        /// The part as written.
        part: String,
    },
}

impl FaultModel {
    /// No faults.
    pub fn none() -> FaultModel {
        FaultModel::default()
    }

    /// Whether any fault can happen.
    pub fn is_empty(&self) -> bool {
        self.wifi_loss.is_none()
            && self.lte_outage.is_none()
            && self.hang.is_none()
            && self.clock_drift_ppm == 0.0
    }

    /// Parses `wifi:30m/2m,lte:7d/3h,hang:30d,drift:50`: comma-separated `kind:value` parts,
    /// each kind at most once. `wifi` and `lte` take mean interval / mean duration, `hang` a
    /// mean interval, `drift` parts per million (may be negative). Durations use the lab's
    /// syntax (`90s`, `2m`, `1h30m`, `7d`). An empty spec or `none` means no faults.
    pub fn parse(spec: &str) -> Result<FaultModel, FaultModelError> {
        let mut model = FaultModel::default();
        let spec = spec.trim();
        if spec == "none" {
            return Ok(model);
        }
        let mut seen: Vec<&str> = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (kind, value) = part
                .split_once(':')
                .map(|(k, v)| (k.trim(), v.trim()))
                .ok_or_else(|| FaultModelError::MissingValue { part: part.to_owned() })?;
            if seen.contains(&kind) {
                return Err(FaultModelError::Repeated { kind: kind.to_owned() });
            }
            match kind {
                "wifi" => model.wifi_loss = Some(outages(part, kind, value)?),
                "lte" => model.lte_outage = Some(outages(part, kind, value)?),
                "hang" => model.hang = Some(duration(part, value)?),
                "drift" => {
                    let ppm: f64 = value
                        .parse()
                        .map_err(|_| FaultModelError::Drift { part: part.to_owned() })?;
                    if !ppm.is_finite() || ppm.abs() > 1e6 {
                        return Err(FaultModelError::Drift { part: part.to_owned() });
                    }
                    model.clock_drift_ppm = ppm;
                }
                _ => return Err(FaultModelError::UnknownKind { kind: kind.to_owned() }),
            }
            seen.push(kind);
        }
        Ok(model)
    }

    /// The faults this model schedules over `[from, until)` for a dongle with this seed that
    /// was created at `from`: exactly the windows the dongle goes through. Hangs are listed as
    /// if each were reset at once (the dongle draws the next hang from its reset).
    pub fn preview(&self, seed: u64, from: Timestamp, until: Timestamp) -> Vec<Scheduled> {
        let mut out = Vec::new();
        for (outages, stream, wifi) in
            [(&self.wifi_loss, WIFI_STREAM, true), (&self.lte_outage, LTE_STREAM, false)]
        {
            let Some(o) = outages else { continue };
            let mut w = Windows::new(seed, stream, from, o);
            while w.start < until {
                let (start, end) = (w.start, w.end);
                out.push(if wifi {
                    Scheduled::WifiLoss { start, end }
                } else {
                    Scheduled::LteOutage { start, end }
                });
                w.draw_from(end);
            }
        }
        if let Some(mean) = self.hang {
            let mut hangs = Hangs::new(seed, mean);
            let mut at = hangs.next_after(from);
            while at < until {
                out.push(Scheduled::Hang { at });
                at = hangs.next_after(at);
            }
        }
        out.sort_by_key(Scheduled::start);
        out
    }
}

impl fmt::Display for FaultModel {
    /// The spec [`FaultModel::parse`] reads back (durations to the second).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        for (name, o) in [("wifi", &self.wifi_loss), ("lte", &self.lte_outage)] {
            if let Some(o) = o {
                parts.push(format!("{name}:{}/{}", Spec(o.mean_interval), Spec(o.mean_duration)));
            }
        }
        if let Some(h) = self.hang {
            parts.push(format!("hang:{}", Spec(h)));
        }
        if self.clock_drift_ppm != 0.0 {
            parts.push(format!("drift:{}", self.clock_drift_ppm));
        }
        if parts.is_empty() { f.write_str("none") } else { f.write_str(&parts.join(",")) }
    }
}

/// A duration in the spec syntax, largest unit first.
struct Spec(SignedDuration);

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut secs = self.0.as_secs().max(0);
        if secs == 0 {
            return f.write_str("0s");
        }
        for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
            if secs >= size {
                write!(f, "{}{unit}", secs / size)?;
                secs %= size;
            }
        }
        Ok(())
    }
}

fn outages(part: &str, kind: &str, value: &str) -> Result<Outages, FaultModelError> {
    let (interval, length) = value.split_once('/').ok_or_else(|| {
        FaultModelError::MissingSlash { part: part.to_owned(), kind: kind.to_owned() }
    })?;
    Ok(Outages { mean_interval: duration(part, interval)?, mean_duration: duration(part, length)? })
}

fn duration(part: &str, value: &str) -> Result<SignedDuration, FaultModelError> {
    let d = calendar::parse_duration(value)
        .map_err(|source| FaultModelError::Duration { part: part.to_owned(), source })?;
    if d <= SignedDuration::ZERO {
        return Err(FaultModelError::Zero { part: part.to_owned() });
    }
    Ok(d)
}

/// `t + d`, saturating at the ends of time instead of panicking.
pub(crate) fn add(t: Timestamp, d: SignedDuration) -> Timestamp {
    t.checked_add(d).unwrap_or(if d.is_negative() { Timestamp::MIN } else { Timestamp::MAX })
}

/// An exponential draw with this mean, at least 1 ms (so every window moves time forward).
fn exp(rng: &mut ChaCha8Rng, mean: SignedDuration) -> SignedDuration {
    let u: f64 = rng.random(); // [0, 1)
    let secs = -(1.0 - u).ln() * mean.as_secs_f64().max(0.001);
    SignedDuration::try_from_secs_f64(secs)
        .unwrap_or(SignedDuration::MAX)
        .max(SignedDuration::from_millis(1))
}

/// One kind's outage windows, drawn lazily: `[start, end)` is the current or next window.
#[derive(Debug)]
pub(crate) struct Windows {
    rng: ChaCha8Rng,
    outages: Outages,
    start: Timestamp,
    end: Timestamp,
}

impl Windows {
    pub(crate) fn new(seed: u64, stream: u64, from: Timestamp, outages: &Outages) -> Windows {
        let mut w = Windows {
            rng: ChaCha8Rng::seed_from_u64(seed ^ stream),
            outages: *outages,
            start: from,
            end: from,
        };
        w.draw_from(from);
        w
    }

    /// The next window after the link came up at `up`.
    fn draw_from(&mut self, up: Timestamp) {
        self.start = add(up, exp(&mut self.rng, self.outages.mean_interval));
        self.end = add(self.start, exp(&mut self.rng, self.outages.mean_duration));
    }

    /// Moves on to the window that contains `now` or comes next.
    pub(crate) fn advance(&mut self, now: Timestamp) {
        // A jump of more than a million mean cycles in one call (only an absurd clock does
        // that) restarts the process at `now` rather than drawing every window in between.
        let cycle = self.outages.mean_interval.as_secs_f64().max(0.001)
            + self.outages.mean_duration.as_secs_f64().max(0.001);
        if now.duration_since(self.end).as_secs_f64() > 1e6 * cycle {
            self.draw_from(now);
        }
        while self.end <= now {
            self.draw_from(self.end);
        }
    }

    /// The end of the window if `now` is inside it.
    pub(crate) fn down_until(&self, now: Timestamp) -> Option<Timestamp> {
        (self.start <= now && now < self.end).then_some(self.end)
    }
}

/// The hang stream: each hang is an exponential draw after the previous reset.
#[derive(Debug)]
pub(crate) struct Hangs {
    rng: ChaCha8Rng,
    mean: SignedDuration,
}

impl Hangs {
    pub(crate) fn new(seed: u64, mean: SignedDuration) -> Hangs {
        Hangs { rng: ChaCha8Rng::seed_from_u64(seed ^ HANG_STREAM), mean }
    }

    pub(crate) fn next_after(&mut self, t: Timestamp) -> Timestamp {
        add(t, exp(&mut self.rng, self.mean))
    }
}
