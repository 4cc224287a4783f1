//! Small business / office electricity.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use crate::Env;
use crate::local::HourCtx;
use crate::shapes::{Pulses, Shape, Sink, WORKDAYS_PER_YEAR, interp, lognormal_mean_one, poisson};

/// Occupancy by local hour on working days: office hours 8–18 h with ramps and a lunch dip.
/// Closed at weekends and on Belgian public holidays. *Assumption*.
const OCCUPANCY: Shape = [
    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.05, 0.35, 0.85, 1.0, 1.0, 1.0, 0.85, 1.0, 1.0, 1.0, 1.0, 0.8,
    0.3, 0.1, 0.05, 0.0, 0.0, 0.0,
];
/// Shares of the annual energy: always-on base (servers, fridges, ventilation, emergency
/// lighting, standby) 35 %, occupancy-driven load (lighting, computers, HVAC) 58 %, bursts
/// (kitchen, printers, lifts) 7 %. *Assumption*; small offices typically use 25–40 % of their
/// electricity outside opening hours.
const BASE_SHARE: f64 = 0.35;
const OFFICE_SHARE: f64 = 0.58;
const BURST_SHARE: f64 = 0.07;
/// A burst is 30 % of the full office load for ~10 min.
const BURST_FRACTION: f64 = 0.3;
const BURST_S: f64 = 600.0;
/// Occupancy-driven load is ±12 % higher in winter (lighting). *Assumption*.
const SEASONAL: f64 = 0.12;
const DAY_FACTOR_SIGMA: f64 = 0.08;

#[derive(Debug)]
pub(crate) struct Business {
    rng: ChaCha8Rng,
    base_w: f64,
    office_w: f64,
    burst_w: f64,
    bursts_per_occupied_hour: f64,
    day_factor: [(i64, f64); 2],
}

impl Business {
    pub(crate) fn new(seed: u64, annual_kwh: f64) -> Self {
        let wh = annual_kwh * 1_000.0;
        let occupied_h = OCCUPANCY.iter().sum::<f64>() * WORKDAYS_PER_YEAR;
        let office_w = wh * OFFICE_SHARE / occupied_h;
        let burst_w = office_w * BURST_FRACTION;
        Business {
            rng: ChaCha8Rng::seed_from_u64(seed),
            base_w: wh * BASE_SHARE / 8_760.0,
            office_w,
            burst_w,
            bursts_per_occupied_hour: wh * BURST_SHARE / occupied_h / (burst_w * BURST_S / 3_600.0),
            day_factor: [(i64::MIN, 1.0); 2],
        }
    }

    pub(crate) fn on_hour(&mut self, ctx: &HourCtx, pulses: &mut Pulses) {
        if self.day_factor[1].0 != ctx.day.day {
            self.day_factor = [
                self.day_factor[1],
                (ctx.day.day, lognormal_mean_one(&mut self.rng, DAY_FACTOR_SIGMA)),
            ];
        }
        if ctx.day.rest_day {
            return;
        }
        let start = ctx.start_s();
        let lambda = self.bursts_per_occupied_hour * OCCUPANCY[ctx.local_hour];
        for _ in 0..poisson(&mut self.rng, lambda) {
            let at = start + self.rng.random_range(0..3_600);
            let dur = lognormal_mean_one(&mut self.rng, 0.4);
            pulses.push(at, (BURST_S * dur).round() as i64, self.burst_w, Sink::Business);
        }
    }

    pub(crate) fn power(&self, env: &Env) -> f64 {
        if env.day.rest_day {
            return self.base_w;
        }
        let day_factor = self.day_factor.iter().find(|d| d.0 == env.day.day).map_or(1.0, |d| d.1);
        self.base_w
            + self.office_w
                * interp(&OCCUPANCY, env.local_hour)
                * (1.0 + SEASONAL * env.winter_cos)
                * day_factor
    }
}
