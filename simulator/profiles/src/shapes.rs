//! Hour-of-day shapes, pulses (piecewise-constant loads) and small random helpers.

use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use rand_distr::StandardNormal;

/// A value per local hour of day; index `h` describes the hour `h:00–h+1:00`.
pub(crate) type Shape = [f64; 24];

/// Working days and rest days (weekends and Belgian public holidays) per year. Belgium has
/// ~253 working days (261 weekdays minus ~8 public holidays falling on weekdays).
pub(crate) const WORKDAYS_PER_YEAR: f64 = 253.0;
pub(crate) const REST_DAYS_PER_YEAR: f64 = 365.0 - WORKDAYS_PER_YEAR;

/// Linear interpolation of a shape whose values sit at the hour centres (periodic), so
/// that the integral over a day equals the sum of the values (in value·hours).
pub(crate) fn interp(shape: &Shape, local_hour: f64) -> f64 {
    let x = local_hour - 0.5;
    let i = x.floor();
    let f = x - i;
    let i0 = (i as i64).rem_euclid(24) as usize;
    let i1 = (i0 + 1) % 24;
    shape[i0] + (shape[i1] - shape[i0]) * f
}

/// Shape scaled to sum to 1.
pub(crate) fn normalized(shape: &Shape) -> Shape {
    let sum: f64 = shape.iter().sum();
    let mut out = [0.0; 24];
    if sum > 0.0 {
        for (o, v) in out.iter_mut().zip(shape) {
            *o = v / sum;
        }
    }
    out
}

/// Shape scaled to a mean of 1.
pub(crate) fn mean_one(shape: &Shape) -> Shape {
    let mut out = normalized(shape);
    for v in &mut out {
        *v *= 24.0;
    }
    out
}

/// Poisson variate by inversion (λ is small here: expected events per appliance-hour).
pub(crate) fn poisson(rng: &mut ChaCha8Rng, lambda: f64) -> u32 {
    if lambda <= 0.0 {
        return 0;
    }
    let u: f64 = rng.random();
    let mut p = (-lambda).exp();
    let mut cdf = p;
    let mut k = 0;
    while u > cdf && k < 50 {
        k += 1;
        p *= lambda / f64::from(k);
        cdf += p;
    }
    k
}

/// Log-normal factor with mean 1 and log-standard deviation `sigma`.
pub(crate) fn lognormal_mean_one(rng: &mut ChaCha8Rng, sigma: f64) -> f64 {
    let z: f64 = rng.sample(StandardNormal);
    (sigma * z - 0.5 * sigma * sigma).exp()
}

/// Where a pulse's energy goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sink {
    Household = 0,
    Business = 1,
    Ev = 2,
    HeatPump = 3,
    /// Gas fuel power (W, gross calorific value).
    Gas = 4,
}

pub(crate) const SINKS: usize = 5;

/// A constant power over `[start, end)` (Unix seconds).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Pulse {
    start: i64,
    end: i64,
    watts: f64,
    sink: Sink,
}

/// Pending and running pulses. Integration over a step is exact, so results do not depend
/// on the step size.
#[derive(Clone, Debug, Default)]
pub(crate) struct Pulses {
    v: Vec<Pulse>,
}

impl Pulses {
    pub(crate) fn push(&mut self, start: i64, dur_s: i64, watts: f64, sink: Sink) {
        if dur_s > 0 && watts > 0.0 {
            self.v.push(Pulse { start, end: start + dur_s, watts, sink });
        }
    }

    /// Consecutive phases `(seconds, watts)` from `start`, each duration times `dur_factor`
    /// and each power times `power_factor`. Returns the end.
    pub(crate) fn push_phases(
        &mut self,
        start: i64,
        phases: &[(f64, f64)],
        dur_factor: f64,
        power_factor: f64,
        sink: Sink,
    ) -> i64 {
        let mut t = start;
        for &(secs, watts) in phases {
            let d = (secs * dur_factor).round().max(1.0) as i64;
            self.push(t, d, watts * power_factor, sink);
            t += d;
        }
        t
    }

    /// Adds the watt-seconds of every pulse inside `[a, b)` to `acc` and forgets pulses that
    /// end by `b`.
    pub(crate) fn integrate(&mut self, a: i64, b: i64, acc: &mut [f64; SINKS]) {
        for p in &self.v {
            let overlap = p.end.min(b) - p.start.max(a);
            if overlap > 0 {
                acc[p.sink as usize] += p.watts * overlap as f64;
            }
        }
        self.v.retain(|p| p.end > b);
    }

    /// Drops everything (used when a gap in time is too long to bridge).
    pub(crate) fn clear(&mut self) {
        self.v.clear();
    }
}
