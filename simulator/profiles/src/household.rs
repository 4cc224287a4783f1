//! Household electricity: standby, fridge cycling, activity (electronics), lighting and
//! appliance events.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use crate::Env;
use crate::local::HourCtx;
use crate::shapes::{
    Pulses, REST_DAYS_PER_YEAR, Shape, Sink, WORKDAYS_PER_YEAR, interp, lognormal_mean_one,
    normalized, poisson,
};
use crate::stats::climate;
use crate::weather::{winter_cos, year_day};

/// Relative level of "activity" loads (TV, computers, chargers, small kitchen appliances,
/// ventilation…) by local hour, `[workday, rest day]`. *Assumption*, shaped like the
/// BDEW H0 household standard load profile (morning shoulder, evening peak around 20–21 h).
const ACTIVITY: [Shape; 2] = [
    [
        0.25, 0.15, 0.10, 0.10, 0.10, 0.15, 0.45, 0.70, 0.50, 0.35, 0.30, 0.35, 0.45, 0.40, 0.35,
        0.35, 0.45, 0.65, 0.80, 0.95, 1.00, 1.00, 0.80, 0.50,
    ],
    [
        0.35, 0.25, 0.15, 0.10, 0.10, 0.10, 0.15, 0.30, 0.55, 0.70, 0.75, 0.75, 0.80, 0.75, 0.70,
        0.70, 0.75, 0.80, 0.85, 0.95, 1.00, 1.00, 0.85, 0.60,
    ],
];

/// Fraction of the lighting that is wanted (people at home and awake) by local hour.
/// Multiplied by [`darkness`]. *Assumption*.
pub(crate) const AWAKE: [Shape; 2] = [
    [
        0.30, 0.10, 0.05, 0.05, 0.05, 0.15, 0.70, 0.90, 0.50, 0.30, 0.30, 0.30, 0.30, 0.30, 0.30,
        0.35, 0.50, 0.80, 0.95, 1.00, 1.00, 1.00, 0.80, 0.55,
    ],
    [
        0.45, 0.20, 0.10, 0.05, 0.05, 0.05, 0.10, 0.35, 0.70, 0.60, 0.45, 0.40, 0.40, 0.40, 0.40,
        0.45, 0.60, 0.85, 0.95, 1.00, 1.00, 1.00, 0.90, 0.65,
    ],
];

/// How dark it is indoors (0..=1) from the sun's elevation and cloud cover: lights go on
/// below ~3° elevation under a clear sky and below ~12° under overcast. *Assumption*.
pub(crate) fn darkness(elevation_deg: f64, cloud: f64) -> f64 {
    let threshold = 3.0 + 9.0 * cloud;
    ((threshold - elevation_deg) / 10.0).clamp(0.0, 1.0)
}

// Event timing shapes (relative weights by local hour, `[workday, rest day]`). *Assumptions*.
const TEA: [Shape; 2] = [
    [
        0.1, 0.0, 0.0, 0.0, 0.0, 0.3, 1.5, 2.0, 1.0, 0.5, 0.5, 0.5, 0.7, 0.5, 0.4, 0.6, 0.8, 0.8,
        0.7, 0.8, 0.8, 0.6, 0.4, 0.2,
    ],
    [
        0.2, 0.1, 0.0, 0.0, 0.0, 0.0, 0.2, 0.7, 1.3, 1.5, 1.2, 0.9, 0.8, 0.7, 0.7, 0.9, 1.0, 0.8,
        0.7, 0.7, 0.7, 0.6, 0.4, 0.2,
    ],
];
const MEALS: [Shape; 2] = [
    [
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.3, 0.6, 0.3, 0.1, 0.1, 0.5, 1.5, 0.8, 0.2, 0.2, 0.4, 1.0,
        1.5, 1.0, 0.5, 0.3, 0.2, 0.1,
    ],
    [
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 0.5, 0.5, 0.3, 0.8, 1.5, 1.0, 0.3, 0.3, 0.4, 0.9,
        1.3, 1.0, 0.5, 0.3, 0.2, 0.1,
    ],
];
pub(crate) const DINNER: [Shape; 2] = [
    [
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.05, 0.05, 0.0, 0.05, 0.4, 0.9, 0.3, 0.0, 0.05, 0.3,
        1.5, 2.5, 1.4, 0.4, 0.1, 0.0, 0.0,
    ],
    [
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 0.2, 0.3, 1.0, 1.5, 0.6, 0.1, 0.1, 0.3, 1.2,
        2.0, 1.4, 0.5, 0.1, 0.0, 0.0,
    ],
];
const LAUNDRY: [Shape; 2] = [
    [
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 0.6, 0.7, 0.6, 0.5, 0.4, 0.3, 0.3, 0.3, 0.3, 0.4, 0.6,
        0.7, 0.8, 0.8, 0.6, 0.3, 0.1,
    ],
    [
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.3, 0.8, 1.3, 1.5, 1.3, 0.9, 0.8, 0.9, 0.9, 0.8, 0.6,
        0.4, 0.4, 0.4, 0.3, 0.2, 0.0,
    ],
];
const DRYING: [Shape; 2] = [
    [
        0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.1, 0.4, 0.6, 0.6, 0.5, 0.4, 0.3, 0.3, 0.3, 0.3, 0.4,
        0.6, 0.7, 0.9, 0.9, 0.6, 0.3,
    ],
    [
        0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 0.6, 1.0, 1.3, 1.3, 1.0, 0.9, 0.9, 0.9, 0.8,
        0.6, 0.5, 0.5, 0.4, 0.3, 0.1,
    ],
];
const DISHES: [Shape; 2] = [
    [
        0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.3, 0.4, 0.2, 0.1, 0.1, 0.1, 0.3, 0.3, 0.1, 0.1, 0.1,
        0.2, 0.6, 1.3, 1.5, 1.1, 0.4,
    ],
    [
        0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 0.3, 0.3, 0.2, 0.2, 0.6, 0.8, 0.5, 0.2, 0.2,
        0.2, 0.5, 1.2, 1.3, 0.9, 0.4,
    ],
];
const DAYTIME: [Shape; 2] = [
    [
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 0.6, 0.8, 0.8, 0.6, 0.3, 0.4, 0.6, 0.6, 0.6, 0.6,
        0.5, 0.4, 0.2, 0.0, 0.0, 0.0,
    ],
    [
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.3, 0.9, 1.2, 1.1, 0.5, 0.4, 0.7, 0.8, 0.7, 0.5,
        0.3, 0.2, 0.1, 0.0, 0.0, 0.0,
    ],
];
const MORNING: [Shape; 2] = [
    [
        0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 1.5, 2.0, 1.0, 0.3, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.3, 0.4,
        0.4, 0.4, 0.5, 0.5, 0.4, 0.2,
    ],
    [
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 0.6, 1.2, 1.5, 1.2, 0.6, 0.3, 0.3, 0.3, 0.3, 0.4, 0.5,
        0.5, 0.5, 0.5, 0.5, 0.4, 0.2,
    ],
];

#[derive(Debug)]
/// An appliance that runs as discrete events (Poisson arrivals by local hour).
struct ApplianceKind {
    /// Share of homes that own one (*assumption*).
    ownership: f64,
    /// Expected uses per day `[workday, rest day]` before scaling to the annual target.
    per_day: [f64; 2],
    shape: &'static [Shape; 2],
    /// Nominal power phases `(seconds, watts)`.
    phases: &'static [(f64, f64)],
    /// Range of the per-home power factor (appliance size).
    home_factor: (f64, f64),
    /// Seasonal modulation: uses × (1 + `seasonal` in the coldest days … − in summer).
    seasonal: f64,
}

/// Appliance catalogue. Powers are typical nameplate values (*assumption*). Cycle counts:
/// the EU energy labels assume 220 washing cycles (Reg. 1061/2010), 280 dishwasher cycles
/// (Reg. 1059/2010) and 160 tumble-dryer cycles (Reg. 392/2012) per year; ownership shares
/// are *assumptions* of the order of Belgian household equipment rates.
const APPLIANCES: &[ApplianceKind] = &[
    // Kettle / coffee machine: ~2.2 kW for ~2.5 min.
    ApplianceKind {
        ownership: 1.0,
        per_day: [1.5, 2.0],
        shape: &TEA,
        phases: &[(150.0, 2_200.0)],
        home_factor: (0.85, 1.1),
        seasonal: 0.1,
    },
    // Microwave: ~1.1 kW for ~3 min.
    ApplianceKind {
        ownership: 0.9,
        per_day: [1.0, 1.0],
        shape: &MEALS,
        phases: &[(200.0, 1_100.0)],
        home_factor: (0.8, 1.2),
        seasonal: 0.0,
    },
    // Electric/induction hob: bring to the boil at ~2.6 kW, then simmer at ~1.1 kW.
    ApplianceKind {
        ownership: 1.0,
        per_day: [0.8, 0.9],
        shape: &DINNER,
        phases: &[(480.0, 2_600.0), (1_200.0, 1_100.0)],
        home_factor: (0.8, 1.25),
        seasonal: 0.1,
    },
    // Oven: ~10 min preheat at 2.4 kW, then thermostat cycling averaging ~1 kW.
    ApplianceKind {
        ownership: 0.95,
        per_day: [0.25, 0.45],
        shape: &DINNER,
        phases: &[(600.0, 2_400.0), (2_400.0, 1_000.0)],
        home_factor: (0.9, 1.15),
        seasonal: 0.2,
    },
    // Washing machine (40–60 °C): fill, heat ~2 kW for 15 min, wash, spin. ~0.75 kWh/cycle.
    ApplianceKind {
        ownership: 0.95,
        per_day: [0.55, 0.75],
        shape: &LAUNDRY,
        phases: &[(300.0, 150.0), (900.0, 2_000.0), (2_400.0, 200.0), (600.0, 450.0)],
        home_factor: (0.85, 1.15),
        seasonal: 0.0,
    },
    // Condenser tumble dryer: ~2.2 kW for ~70 min (~2.6 kWh). Used more in winter.
    ApplianceKind {
        ownership: 0.55,
        per_day: [0.35, 0.6],
        shape: &DRYING,
        phases: &[(4_200.0, 2_200.0)],
        home_factor: (0.8, 1.1),
        seasonal: 0.35,
    },
    // Dishwasher: pre-wash, heat ~1.9 kW, wash, rinse heat, dry. ~0.95 kWh/cycle.
    ApplianceKind {
        ownership: 0.65,
        per_day: [0.7, 0.9],
        shape: &DISHES,
        phases: &[
            (300.0, 100.0),
            (1_080.0, 1_900.0),
            (1_800.0, 120.0),
            (600.0, 1_800.0),
            (600.0, 50.0),
        ],
        home_factor: (0.9, 1.1),
        seasonal: 0.0,
    },
    // Vacuum cleaner: ~1 kW for ~20 min.
    ApplianceKind {
        ownership: 1.0,
        per_day: [0.2, 0.4],
        shape: &DAYTIME,
        phases: &[(1_200.0, 1_000.0)],
        home_factor: (0.7, 1.3),
        seasonal: 0.0,
    },
    // Hair dryer, iron, toaster…: ~1.5 kW for ~7 min.
    ApplianceKind {
        ownership: 1.0,
        per_day: [0.8, 1.0],
        shape: &MORNING,
        phases: &[(420.0, 1_500.0)],
        home_factor: (0.8, 1.2),
        seasonal: 0.0,
    },
];

/// Fridge-freezer compressor duty cycle. *Assumption*: 70–110 W compressor, 33 % duty on
/// average (≈ 260 kWh/yr at 90 W, an older A+ fridge-freezer), ±12 % with the season, cycles
/// of 40–70 min.
const FRIDGE_DUTY: f64 = 0.33;
const FRIDGE_DUTY_SEASONAL: f64 = 0.12;

#[derive(Clone, Debug)]
struct Appliance {
    kind: &'static ApplianceKind,
    power_factor: f64,
    /// Expected events per local hour `[workday, rest day][hour]`, scaled.
    lambda: [Shape; 2],
}

/// Household electricity (see the crate docs for the model and its calibration).
#[derive(Debug)]
pub(crate) struct Household {
    rng: ChaCha8Rng,
    scale: f64,
    standby_w: f64,
    activity_w: f64,
    light_w: f64,
    fridge_w: f64,
    fridge_period_s: f64,
    fridge_next: Option<i64>,
    appliances: Vec<Appliance>,
    /// Day-to-day activity factor for the last two local days seen.
    day_factor: [(i64, f64); 2],
}

/// Day-to-day variation of the activity level (log-normal, mean 1).
const DAY_FACTOR_SIGMA: f64 = 0.2;
/// Activity loads are ±10 % higher in winter (more time indoors). *Assumption*.
const ACTIVITY_SEASONAL: f64 = 0.1;

impl Household {
    /// `present_fraction`: share of the year the occupants are at home (vacations).
    pub(crate) fn new(seed: u64, annual_kwh: f64, present_fraction: f64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let standby_w = rng.random_range(40.0..90.0);
        let activity_w = rng.random_range(140.0..220.0);
        let light_w = rng.random_range(150.0..300.0);
        let fridge_w = rng.random_range(70.0..110.0);
        let fridge_period_s = rng.random_range(2_400.0..4_200.0);

        let mut appliances = Vec::new();
        let mut events_wh = 0.0;
        for kind in APPLIANCES {
            let owned = rng.random::<f64>() < kind.ownership;
            let power_factor = rng.random_range(kind.home_factor.0..kind.home_factor.1);
            if !owned {
                continue;
            }
            let wh_per_event: f64 =
                kind.phases.iter().map(|(s, w)| s * w / 3_600.0).sum::<f64>() * power_factor;
            events_wh += wh_per_event
                * (kind.per_day[0] * WORKDAYS_PER_YEAR + kind.per_day[1] * REST_DAYS_PER_YEAR);
            let mut lambda = [[0.0; 24]; 2];
            for (k, l) in lambda.iter_mut().enumerate() {
                let shape = normalized(&kind.shape[k]);
                for (h, v) in l.iter_mut().enumerate() {
                    *v = kind.per_day[k] * shape[h];
                }
            }
            appliances.push(Appliance { kind, power_factor, lambda });
        }

        // Expected annual energy at scale 1 (Wh): always-on loads, then presence-dependent ones.
        let stats = climate();
        let activity_h: f64 = ACTIVITY[0].iter().sum::<f64>() * WORKDAYS_PER_YEAR
            + ACTIVITY[1].iter().sum::<f64>() * REST_DAYS_PER_YEAR;
        let light_h =
            stats.light_hours[0] * WORKDAYS_PER_YEAR + stats.light_hours[1] * REST_DAYS_PER_YEAR;
        let always = (standby_w + fridge_w * FRIDGE_DUTY) * 8_760.0;
        let present = activity_w * activity_h + light_w * light_h + events_wh;
        let scale = annual_kwh * 1_000.0 / (always + present * present_fraction);
        for a in &mut appliances {
            for l in &mut a.lambda {
                for v in l.iter_mut() {
                    *v *= scale;
                }
            }
        }
        Household {
            rng,
            scale,
            standby_w,
            activity_w,
            light_w,
            fridge_w,
            fridge_period_s,
            fridge_next: None,
            appliances,
            day_factor: [(i64::MIN, 1.0); 2],
        }
    }

    /// Draws the events that start in the hour `ctx`.
    pub(crate) fn on_hour(&mut self, ctx: &HourCtx, away: bool, pulses: &mut Pulses) {
        let start = ctx.start_s();
        let end = start + 3_600;
        let sc = winter_cos(year_day(start as f64));

        // Fridge compressor cycles (runs while away too).
        let duty = FRIDGE_DUTY * (1.0 - FRIDGE_DUTY_SEASONAL * sc);
        let mut next = match self.fridge_next {
            Some(n) => n,
            None => start + self.rng.random_range(0..self.fridge_period_s as i64),
        };
        while next < end {
            let on =
                (duty * self.fridge_period_s * self.rng.random_range(0.85..1.15)).round() as i64;
            let off = ((1.0 - duty) * self.fridge_period_s * self.rng.random_range(0.85..1.15))
                .round() as i64;
            pulses.push(next, on, self.fridge_w * self.scale, Sink::Household);
            next += (on + off).max(60);
        }
        self.fridge_next = Some(next);

        if self.day_factor[1].0 != ctx.day.day {
            self.day_factor = [
                self.day_factor[1],
                (ctx.day.day, lognormal_mean_one(&mut self.rng, DAY_FACTOR_SIGMA)),
            ];
        }
        if away {
            return;
        }
        let kind = ctx.day.kind();
        for a in &self.appliances {
            let lambda = a.lambda[kind][ctx.local_hour] * (1.0 + a.kind.seasonal * sc);
            for _ in 0..poisson(&mut self.rng, lambda) {
                let at = start + self.rng.random_range(0..3_600);
                let dur = lognormal_mean_one(&mut self.rng, 0.25);
                let pow = a.power_factor * self.rng.random_range(0.9..1.1);
                pulses.push_phases(at, a.kind.phases, dur, pow, Sink::Household);
            }
        }
    }

    /// Smooth part (standby, activity, lighting), in W.
    pub(crate) fn power(&self, env: &Env) -> f64 {
        let mut w = self.standby_w;
        if !env.away {
            let kind = env.day.kind();
            let day_factor =
                self.day_factor.iter().find(|d| d.0 == env.day.day).map_or(1.0, |d| d.1);
            w += self.activity_w
                * interp(&ACTIVITY[kind], env.local_hour)
                * (1.0 + ACTIVITY_SEASONAL * env.winter_cos)
                * day_factor;
            if let Some(sun) = &env.sun {
                w += self.light_w
                    * interp(&AWAKE[kind], env.local_hour)
                    * darkness(sun.elevation_deg, env.weather.cloud_cover);
            }
        }
        w * self.scale
    }
}
