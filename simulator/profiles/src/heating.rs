//! Space heating and hot water: air/water heat pump (electric) and gas combi boiler.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use crate::Env;
use crate::household::DINNER;
use crate::local::HourCtx;
use crate::shapes::{
    Pulses, Shape, Sink, interp, lognormal_mean_one, mean_one, normalized, poisson,
};
use crate::stats::climate;
use crate::weather::{WeatherSample, winter_cos, year_day};

/// Share of the indoor/outdoor temperature swing within a day that reaches the heating
/// demand: the building's thermal mass smooths the diurnal cycle, so demand follows the
/// daily mean temperature (as degree-days do) plus a quarter of the diurnal deviation.
/// *Assumption*.
pub(crate) const INERTIA: f64 = 0.25;

/// Effective outdoor temperature seen by the heating demand.
fn effective_temp(w: &WeatherSample) -> f64 {
    w.daily_mean_c + INERTIA * (w.temperature_c - w.daily_mean_c)
}

/// Base temperature of the heat-pump demand (the brief: degree-hours below ~16 °C; a
/// well-insulated home needs no heating above it).
pub(crate) const HP_BASE_C: f64 = 16.0;
/// Base temperature of gas heating: Belgian degree-days use 16.5 °C (Synergrid/Fluvius
/// "graaddagen 16,5/16,5").
pub(crate) const GAS_BASE_C: f64 = 16.5;

/// Heat-pump heating COP versus outdoor temperature, linear through typical EN 14511
/// ratings of air/water units at a 35 °C flow: A7/W35 ≈ 4.0, A2/W35 ≈ 3.5, A−7/W35 ≈ 2.6
/// (*assumption*: representative datasheet values, not one product), clamped to 2.0..=5.0.
pub(crate) fn cop_space(t_out_c: f64) -> f64 {
    (3.5 + 0.1 * (t_out_c - 2.0)).clamp(2.0, 5.0)
}

/// Heat-pump COP when heating the hot-water tank (~55 °C sink): 2.5 at 7 °C (*assumption*),
/// clamped to 1.8..=3.2.
fn cop_dhw(t_out_c: f64) -> f64 {
    (2.5 + 0.04 * (t_out_c - 7.0)).clamp(1.8, 3.2)
}

/// Annual domestic-hot-water heat demand of a heat-pump home: ~40 l/person/day heated by
/// 45 K for ~2.5 persons ≈ 5.2 kWh/day, plus tank losses → 2,000 kWh/yr (*assumption*).
const HP_DHW_HEAT_KWH: f64 = 2_000.0;
/// Electric power of the heat pump in hot-water mode (*assumption*, ~1.6 kW).
const HP_DHW_W: f64 = 1_600.0;
/// Weekly anti-legionella cycle by the tank's immersion heater: 2.5 kW for 40 min.
const LEGIONELLA_W: f64 = 2_500.0;
const LEGIONELLA_S: i64 = 2_400;
/// Circulation pump and controls while heating; standby otherwise (*assumptions*).
const HP_PUMP_W: f64 = 40.0;
const HP_STANDBY_W: f64 = 10.0;
/// Outdoor design temperature for the heat-pump size: about −7 °C in central Belgium
/// (NBN EN 12831 national annex). Below it an electric backup heater (COP 1) helps.
const HP_DESIGN_C: f64 = -7.0;
/// Hot water is ±15 % more in winter (colder mains water). *Assumption*.
const DHW_SEASONAL: f64 = 0.15;

/// Air/water heat pump: space heating from degree-hours below [`HP_BASE_C`] divided by a
/// temperature-dependent COP, a daily hot-water cycle and a weekly legionella cycle.
#[derive(Debug)]
pub(crate) struct HeatPump {
    rng: ChaCha8Rng,
    /// Heat demand per kelvin below the base (W/K).
    k_w_per_k: f64,
    capacity_w: f64,
    dhw_hour: usize,
    legionella_weekday: u32,
    last_dhw_day: i64,
    last_legionella_day: i64,
}

impl HeatPump {
    pub(crate) fn new(seed: u64, space_heat_kwh: f64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // Hot water at night (off-peak) or early afternoon (PV surplus).
        const DHW_HOURS: [usize; 5] = [2, 3, 13, 14, 15];
        let dhw_hour = DHW_HOURS[rng.random_range(0..DHW_HOURS.len())];
        let legionella_weekday = rng.random_range(0..7);
        let k_w_per_k = space_heat_kwh * 1_000.0 / climate().hdh_heatpump;
        HeatPump {
            rng,
            k_w_per_k,
            capacity_w: k_w_per_k * (HP_BASE_C - HP_DESIGN_C),
            dhw_hour,
            legionella_weekday,
            last_dhw_day: i64::MIN,
            last_legionella_day: i64::MIN,
        }
    }

    pub(crate) fn on_hour(
        &mut self,
        ctx: &HourCtx,
        away: bool,
        weather: &WeatherSample,
        pulses: &mut Pulses,
    ) {
        let start = ctx.start_s();
        if ctx.local_hour == self.dhw_hour && self.last_dhw_day != ctx.day.day {
            self.last_dhw_day = ctx.day.day;
            let jitter = lognormal_mean_one(&mut self.rng, 0.2);
            if !away {
                let sc = winter_cos(year_day(start as f64));
                let heat_wh =
                    HP_DHW_HEAT_KWH * 1_000.0 / 365.0 * (1.0 + DHW_SEASONAL * sc) * jitter;
                let el_wh = heat_wh / cop_dhw(weather.temperature_c);
                let at = start + self.rng.random_range(0..600);
                pulses.push(
                    at,
                    (el_wh / HP_DHW_W * 3_600.0).round() as i64,
                    HP_DHW_W,
                    Sink::HeatPump,
                );
            }
        }
        if ctx.local_hour == 1
            && ctx.day.weekday == self.legionella_weekday
            && self.last_legionella_day != ctx.day.day
        {
            self.last_legionella_day = ctx.day.day;
            pulses.push(start, LEGIONELLA_S, LEGIONELLA_W, Sink::HeatPump);
        }
    }

    pub(crate) fn power(&self, env: &Env) -> f64 {
        let heat = self.k_w_per_k * (HP_BASE_C - effective_temp(&env.weather)).max(0.0);
        if heat <= 0.0 {
            return HP_STANDBY_W;
        }
        let by_pump = heat.min(self.capacity_w);
        let backup = heat - by_pump;
        by_pump / cop_space(env.weather.temperature_c) + backup + HP_PUMP_W
    }
}

/// Gas thermostat programme by local hour (relative; normalised to a mean of 1): night
/// set-back 23–6 h, morning boost, evening comfort. *Assumption*.
pub(crate) const GAS_THERMOSTAT: Shape = [
    0.55, 0.5, 0.5, 0.5, 0.5, 0.6, 1.4, 1.5, 1.1, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.1, 1.2, 1.2,
    1.2, 1.1, 1.0, 0.8, 0.6,
];
const SHOWERS: [Shape; 2] = [
    [
        0.0, 0.0, 0.0, 0.0, 0.0, 0.3, 2.0, 2.0, 0.8, 0.3, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 0.3,
        0.4, 0.6, 0.8, 0.9, 0.7, 0.3,
    ],
    [
        0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 0.8, 1.5, 1.5, 1.0, 0.5, 0.3, 0.2, 0.2, 0.2, 0.3, 0.4,
        0.5, 0.7, 0.9, 0.9, 0.7, 0.3,
    ],
];
const TAPS: [Shape; 2] = [
    [
        0.1, 0.0, 0.0, 0.0, 0.0, 0.2, 0.8, 1.0, 0.6, 0.4, 0.4, 0.5, 0.8, 0.6, 0.4, 0.4, 0.5, 0.8,
        1.0, 1.0, 0.9, 0.7, 0.4, 0.2,
    ],
    [
        0.2, 0.1, 0.0, 0.0, 0.0, 0.0, 0.2, 0.5, 0.8, 0.9, 0.8, 0.8, 1.0, 0.8, 0.6, 0.6, 0.6, 0.8,
        1.0, 1.0, 0.9, 0.7, 0.5, 0.3,
    ],
];

/// Gas combi boiler: firing power while delivering hot water (*assumption*: 22 kW, a typical
/// 24 kW combi). A shower draw ~7 min (~2.6 kWh), a tap draw ~40 s (~0.24 kWh).
const COMBI_W: f64 = 22_000.0;
const SHOWER_S: f64 = 420.0;
const TAP_S: f64 = 40.0;
/// Gas hob: two burners ~2 kW for ~25 min (~0.83 kWh). *Assumption*.
const HOB_W: f64 = 2_000.0;
const HOB_S: f64 = 1_500.0;
/// Shares of the annual gas: hot water ~14 % (≈2,000 kWh of the 14,132 kWh Flemish average;
/// *assumption*), of which three quarters showers; gas hob 2 %; space heating the rest.
const DHW_SHARE: f64 = 0.14;
const SHOWER_SHARE_OF_DHW: f64 = 0.75;
const COOK_SHARE: f64 = 0.02;
/// Boiler output limit for space heating (W of gas).
const BOILER_MAX_W: f64 = 24_000.0;

/// Gas: space heating by degree-hours below [`GAS_BASE_C`] with a thermostat programme,
/// plus hot-water draws and a gas hob as Poisson events.
#[derive(Debug)]
pub(crate) struct GasHeating {
    rng: ChaCha8Rng,
    k_w_per_k: f64,
    thermostat: Shape,
    /// Expected events per local hour `[workday, rest day][hour]` for showers, taps, hob.
    lambda: [[Shape; 2]; 3],
}

impl GasHeating {
    pub(crate) fn new(seed: u64, annual_kwh: f64, present_fraction: f64) -> Self {
        let rng = ChaCha8Rng::seed_from_u64(seed);
        let space_wh = annual_kwh * 1_000.0 * (1.0 - DHW_SHARE - COOK_SHARE);
        let k_w_per_k = space_wh / climate().hdh_gas;
        let present_days = 365.0 * present_fraction;
        let dhw_wh = annual_kwh * 1_000.0 * DHW_SHARE;
        let per_day = [
            dhw_wh * SHOWER_SHARE_OF_DHW / present_days / (COMBI_W * SHOWER_S / 3_600.0),
            dhw_wh * (1.0 - SHOWER_SHARE_OF_DHW) / present_days / (COMBI_W * TAP_S / 3_600.0),
            annual_kwh * 1_000.0 * COOK_SHARE / present_days / (HOB_W * HOB_S / 3_600.0),
        ];
        let shapes = [&SHOWERS, &TAPS, &DINNER];
        let mut lambda = [[[0.0; 24]; 2]; 3];
        for (e, l) in lambda.iter_mut().enumerate() {
            for (k, lk) in l.iter_mut().enumerate() {
                let s = normalized(&shapes[e][k]);
                for (h, v) in lk.iter_mut().enumerate() {
                    *v = per_day[e] * s[h];
                }
            }
        }
        GasHeating { rng, k_w_per_k, thermostat: mean_one(&GAS_THERMOSTAT), lambda }
    }

    pub(crate) fn on_hour(&mut self, ctx: &HourCtx, away: bool, pulses: &mut Pulses) {
        if away {
            return;
        }
        let start = ctx.start_s();
        let sc = winter_cos(year_day(start as f64));
        let kind = ctx.day.kind();
        const EVENTS: [(f64, f64, f64); 3] = [
            (SHOWER_S, COMBI_W, DHW_SEASONAL),
            (TAP_S, COMBI_W, DHW_SEASONAL),
            (HOB_S, HOB_W, 0.0),
        ];
        for (e, &(secs, watts, seasonal)) in EVENTS.iter().enumerate() {
            let lambda = self.lambda[e][kind][ctx.local_hour] * (1.0 + seasonal * sc);
            for _ in 0..poisson(&mut self.rng, lambda) {
                let at = start + self.rng.random_range(0..3_600);
                let dur = lognormal_mean_one(&mut self.rng, 0.3);
                pulses.push(at, (secs * dur).round().max(1.0) as i64, watts, Sink::Gas);
            }
        }
    }

    /// Space-heating gas power (W).
    pub(crate) fn power(&self, env: &Env) -> f64 {
        let deficit = (GAS_BASE_C - effective_temp(&env.weather)).max(0.0);
        (self.k_w_per_k * deficit * interp(&self.thermostat, env.local_hour)).min(BOILER_MAX_W)
    }
}
