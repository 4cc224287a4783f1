//! Electric-vehicle charging at home.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use rand_distr::Exp1;

use crate::local::HourCtx;
use crate::shapes::{Pulses, REST_DAYS_PER_YEAR, Shape, Sink, WORKDAYS_PER_YEAR};

/// Arrival (plug-in) time by local hour, `[workday, rest day]`: commuters plugging in after
/// work on weekdays, spread over the day at weekends. *Assumption*, in line with published
/// home-charging arrival curves (evening peak 17–19 h).
const ARRIVALS: [Shape; 2] = [
    [
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.1, 0.3, 0.3, 0.2, 0.2, 0.2, 0.4, 0.4, 0.3, 0.4, 0.8, 1.8,
        2.5, 1.6, 0.9, 0.6, 0.4, 0.1,
    ],
    [
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.1, 0.2, 0.4, 0.6, 0.8, 0.8, 0.8, 0.8, 0.9, 1.0, 1.2,
        1.3, 1.1, 0.8, 0.6, 0.4, 0.1,
    ],
];
/// Mean energy per session (*assumption*: ~14 kWh ≈ 80 km). Sessions are Gamma(shape 3)
/// distributed around it (coefficient of variation 0.58, so most fall in 5–30 kWh), clamped
/// to 2–80 kWh.
const MEAN_SESSION_KWH: f64 = 14.0;
const SESSION_MIN_KWH: f64 = 2.0;
const SESSION_MAX_KWH: f64 = 80.0;
/// At most this many sessions per day on average; larger annual targets raise the session
/// energy instead.
const MAX_SESSIONS_PER_DAY: f64 = 0.85;
/// Rest days see 0.625× the average session rate, workdays enough more (~1.17×) to keep the
/// yearly mean. *Assumption*: charging at home is mostly a commuter pattern.
const REST_DAY_WEIGHT: f64 = 0.625;
/// The last 10 % of a session's energy is charged at half power (constant-voltage phase).
const TAPER_SHARE: f64 = 0.1;

/// EV charging: at most one session per day, plugged in at a time drawn from
/// [`ARRIVALS`], charging at the charger's power until the session energy is delivered.
#[derive(Debug)]
pub(crate) struct Ev {
    rng: ChaCha8Rng,
    charger_w: f64,
    mean_session_kwh: f64,
    p_day: [f64; 2],
    last_day: i64,
}

impl Ev {
    pub(crate) fn new(seed: u64, charger_kw: f64, annual_kwh: f64, present_fraction: f64) -> Self {
        let days = 365.0 * present_fraction;
        let mut mean = MEAN_SESSION_KWH;
        let mut rate = annual_kwh / (mean * days);
        if rate > MAX_SESSIONS_PER_DAY {
            rate = MAX_SESSIONS_PER_DAY;
            mean = annual_kwh / (rate * days);
        }
        let work_weight = (365.0 - REST_DAYS_PER_YEAR * REST_DAY_WEIGHT) / WORKDAYS_PER_YEAR;
        Ev {
            rng: ChaCha8Rng::seed_from_u64(seed),
            charger_w: charger_kw * 1_000.0,
            mean_session_kwh: mean,
            p_day: [(rate * work_weight).min(1.0), (rate * REST_DAY_WEIGHT).min(1.0)],
            last_day: i64::MIN,
        }
    }

    pub(crate) fn on_hour(&mut self, ctx: &HourCtx, away: bool, pulses: &mut Pulses) {
        if self.last_day == ctx.day.day {
            return;
        }
        self.last_day = ctx.day.day;
        // Draw everything even when away, so vacations do not shift later sessions.
        let kind = ctx.day.kind();
        let u: f64 = self.rng.random();
        let pick: f64 = self.rng.random::<f64>() * ARRIVALS[kind].iter().sum::<f64>();
        let minute_s = self.rng.random_range(0..3_600);
        let gamma3: f64 = self.rng.sample::<f64, _>(Exp1)
            + self.rng.sample::<f64, _>(Exp1)
            + self.rng.sample::<f64, _>(Exp1);
        if away || u >= self.p_day[kind] {
            return;
        }
        let mut acc = 0.0;
        let hour = ARRIVALS[kind]
            .iter()
            .position(|w| {
                acc += w;
                pick < acc
            })
            .unwrap_or(18);
        let kwh = (self.mean_session_kwh * gamma3 / 3.0).clamp(SESSION_MIN_KWH, SESSION_MAX_KWH);
        let at = ctx.local_midnight_s() + hour as i64 * 3_600 + minute_s;
        let main_s = (kwh * (1.0 - TAPER_SHARE) * 3.6e6 / self.charger_w).round() as i64;
        let tail_s = (kwh * TAPER_SHARE * 3.6e6 / (self.charger_w / 2.0)).round() as i64;
        pulses.push(at, main_s, self.charger_w, Sink::Ev);
        pulses.push(at + main_s, tail_s, self.charger_w / 2.0, Sink::Ev);
    }
}
