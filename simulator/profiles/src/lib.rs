//! Power flows of simulated Belgian homes and small businesses, deterministic from a seed.
//!
//! A pure model: no I/O, never reads the clock (time is passed in). A [`ProfileSpec`] such as
//! `household:3500+pv:4+ev:11` describes the installation; a [`Home`] built from it and a seed
//! is stepped through time and returns average [`Flow`]s (consumption, PV production, gas
//! volume) over each step, for a meter model to integrate or an exporter to write.
//!
//! ```text
//! let spec: ProfileSpec = "household:3500+pv:4".parse()?;
//! let mut home = Home::new(&spec, 42);
//! let mut t = jiff::Timestamp::from_second(1_735_686_000)?; // 2025-01-01T00:00+01:00
//! for _ in 0..96 {
//!     let flow = home.step(t, 900);
//!     t += jiff::SignedDuration::from_secs(900);
//! }
//! ```
//!
//! # Time and step size
//!
//! Steps must follow each other (`start` = previous end; forward gaps are allowed and bridged,
//! going back is an error). Any step length works, e.g. 1 s for a meter ticking every second
//! or 900 s for quarter-hour export, and the results agree:
//!
//! * Appliance runs, EV sessions, hot-water draws and fridge cycles are *pulses* (constant
//!   power over an interval, in whole seconds). They are drawn hour by hour (UTC hour = local
//!   hour, since Brussels offsets are whole hours) when the simulation first reaches an hour,
//!   and integrated exactly over each step, so the random stream and the energies do not
//!   depend on the step size.
//! * Smooth loads (standby, activity, lighting, PV, space heating) are functions of time and
//!   weather. They are integrated with the midpoint rule on a fixed 5-minute grid (a step is
//!   split at every :00/:05/…); weather is interpolated within the hour and its sub-hourly
//!   flicker is constant per 5-minute slot, so 1 s and 900 s steps agree to well under 1 %.
//!
//! A quarter-hour step costs 3 smooth evaluations plus a quarter of an hour's event draws:
//! ~0.7 µs for `household+pv:4+ev` in release on the 2-core lab machine (a year of quarter
//! hours in ~25 ms, so 1,000 homes in ~25 s on one core; see the timing test).
//!
//! Local behaviour follows Europe/Brussels civil time (jiff's bundled tz database; POSIX rule
//! `CET-1CEST,M3.5.0,M10.5.0/3` as fallback), with weekends and the ten Belgian public
//! holidays (law of 4 January 1974) treated as rest days.
//!
//! # Determinism and weather sharing
//!
//! Everything is a function of the seed and the sequence of steps: the same seed and calls
//! give bitwise-identical flows on the same build and platform (transcendental functions may
//! differ in the last bit across platforms). Each component draws from its own
//! `ChaCha8Rng` stream derived from the home seed, so adding `+pv`
//! does not change the household's appliance events. The [`Weather`]'s innovations are a
//! pure function of `(weather seed, time index)`: [`Home::new`] derives the weather seed from
//! the home seed (independent weather per home), while [`Home::with_weather_seed`] lets a
//! fleet of homes in one region share the same weather (same clouds over all PV roofs, same
//! cold snap for all heating) without any shared state at run time.
//!
//! # Components, calibration and sources
//!
//! * `household[:kWh/yr]`, default 3,500 kWh (CREG/Eurostat standard household; Flanders
//!   averaged 3,305 kWh per access point in 2017, vreg.be). Standby 40–90 W, fridge-freezer
//!   cycling, activity loads following an H0-like day shape, lighting from the sun's
//!   elevation and clouds, and Poisson appliance events (kettle, microwave, hob, oven, washing
//!   machine, tumble dryer, dishwasher, vacuum cleaner, hair dryer/iron) with rates by local
//!   hour and workday/rest day. Cycle counts follow the EU energy-label assumptions (220
//!   washes, 280 dishwasher and 160 dryer cycles a year). Half of the homes take a 1–2 week
//!   summer vacation (only standby and fridge run). The expected annual energy of the drawn
//!   home is computed analytically and all rates and powers are scaled to the target.
//!   Monthly quarter-hour peaks come from overlapping hob, oven, dryer, washer and kettle
//!   runs: typically 3–6 kW (the capacity tariff counts at least 2.5 kW; wikibooks'
//!   example shows 0.6–9.2 kW).
//! * `pv[:kWp[,inverter kW]]`: Spencer sun position for 50.85 N 4.35 E, Haurwitz clear sky
//!   (scaled 0.928 to pvlib's Ineichen value for Brussels), Kasten–Czeplak clouds, Erbs diffuse fraction, isotropic transposition onto a roof tilted
//!   25–40° facing south ±25°, NOCT cell temperature with −0.37 %/K, PVGIS's 14 % system
//!   losses, inverter clipping (default inverter kWp/1.1). With the cloud model calibrated for
//!   it, yields ~900 kWh/kWp/yr (850–950 across weather seeds; eha.be: ~950 kWh/kWp under
//!   ideal conditions), ~25 kWh/kWp in January and ~130 in June.
//! * `ev[:kW[,kWh/yr]]`: 7.4 kW (1×32 A) or 11 kW (3×16 A); one session per day at most,
//!   mostly plugged in 17–19 h on workdays, Gamma-distributed energy around 14 kWh, default
//!   2,500 kWh/yr.
//! * `heatpump[:space-heat kWh/yr]`: heat demand proportional to degree-hours of an
//!   effective (inertia-smoothed) temperature below 16 °C, scaled to the annual heat (default
//!   8,000 kWh), divided by a COP of 2.6–4.0 over −7…7 °C, electric backup below the −7 °C
//!   design temperature, a daily hot-water cycle (2,000 kWh heat/yr) and a weekly legionella
//!   cycle. About 3,500 kWh/yr of electricity.
//! * `gas[:kWh/yr]`, default 14,000 kWh (Flemish household average 14,132 kWh in 2019,
//!   hln.be citing Mijnenergie.be): degree-hours below 16.5 °C (Belgian degree-day base)
//!   with a thermostat programme, showers and tap draws on a 22 kW combi boiler (14 %), a gas
//!   hob (2 %). Volume uses [`GAS_KWH_PER_M3`].
//! * `business[:kWh/yr]`, default 50,000 kWh: 35 % always-on base, 58 % office-hour load
//!   (8–18 h on working days), 7 % bursts.
//! * [`Weather`]: Uccle climate normals (January ~3 °C, July ~18 °C), diurnal swing, AR(1)
//!   day-to-day anomalies and AR(1) hourly cloud cover, cloudier in winter.
//!
//! Figures marked *assumption* in the item docs are engineering estimates, not sourced data.

mod business;
mod ev;
mod heating;
mod household;
mod local;
mod pv;
mod shapes;
pub mod solar;
mod spec;
mod stats;
mod weather;

#[cfg(test)]
mod tests;

use jiff::Timestamp;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

pub use spec::{
    Component, ComponentKind, DEFAULT_BUSINESS_KWH, DEFAULT_DC_AC_RATIO, DEFAULT_EV_KW,
    DEFAULT_EV_KWH, DEFAULT_GAS_KWH, DEFAULT_HEATPUMP_SPACE_HEAT_KWH, DEFAULT_HOUSEHOLD_KWH,
    DEFAULT_PV_KWP, ProfileSpec, SpecError,
};
pub use weather::{Weather, WeatherSample};

use business::Business;
use ev::Ev;
use heating::{GasHeating, HeatPump};
use household::Household;
use local::{DayInfo, HOUR_S, HourCtx, LocalClock};
use pv::Pv;
use shapes::{Pulses, SINKS, Sink};
use solar::{SunPosition, sun_at};
use weather::{SLOT_S, derive_seed, winter_cos, year_day};

/// Gas energy per cubic metre used to convert gas use to meter volume (kWh/m³, gross
/// calorific value). *Assumption*: a typical Belgian H-gas value; the DSO (Fluvius) publishes
/// the exact conversion factor per month and region, usually between ~10 and ~11.5 kWh/m³.
pub const GAS_KWH_PER_M3: f64 = 10.55;

/// Average flows over one step.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Flow {
    /// Step length (s).
    pub duration_s: u32,
    /// Average electric consumption of all loads (W).
    pub consumption_w: f64,
    /// Average PV production (W, AC).
    pub production_w: f64,
    /// Gas volume used in the step (m³, at [`GAS_KWH_PER_M3`]).
    pub gas_m3: f64,
    /// Per-component averages.
    pub breakdown: Breakdown,
    /// Average outdoor temperature over the step (°C).
    pub outdoor_temp_c: f64,
    /// Average cloud cover over the step (0..=1).
    pub cloud_cover: f64,
}

impl Flow {
    /// Consumed energy (kWh).
    pub fn consumption_kwh(&self) -> f64 {
        self.consumption_w * f64::from(self.duration_s) / 3.6e6
    }

    /// Produced energy (kWh).
    pub fn production_kwh(&self) -> f64 {
        self.production_w * f64::from(self.duration_s) / 3.6e6
    }

    /// Gas energy (kWh, gross calorific value).
    pub fn gas_kwh(&self) -> f64 {
        self.gas_m3 * GAS_KWH_PER_M3
    }

    /// Net power, positive when importing (W). Over long steps this nets averages; a meter
    /// that nets per second sees more import and export, so step it in seconds.
    pub fn net_w(&self) -> f64 {
        self.consumption_w - self.production_w
    }
}

/// Per-component average power over a step (W). Components not in the spec read 0.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Breakdown {
    /// `household` electricity.
    pub household_w: f64,
    /// `business` electricity.
    pub business_w: f64,
    /// EV charging.
    pub ev_w: f64,
    /// Heat pump (compressor, backup heater, pumps, hot water).
    pub heat_pump_w: f64,
    /// PV production (same as [`Flow::production_w`]).
    pub pv_w: f64,
    /// Gas use as fuel power (W, gross calorific value).
    pub gas_w: f64,
}

/// Why a step was refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StepError {
    /// A zero-length step.
    #[error("step duration must be at least 1 s")]
    ZeroDuration,
    /// A step that starts before the previous one ended.
    #[error(
        "steps must move forward in time: step starts at {start} but the previous step ended at {expected}"
    )]
    Backwards {
        /// Start of the refused step.
        start: Timestamp,
        /// End of the previous step.
        expected: Timestamp,
    },
}

/// State shared by the components when evaluating smooth loads at one instant.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Env {
    /// Local hour of day, fractional (0..24).
    pub(crate) local_hour: f64,
    pub(crate) day: DayInfo,
    /// Occupants away (vacation).
    pub(crate) away: bool,
    pub(crate) weather: WeatherSample,
    /// Present when a component needs it (PV, lighting).
    pub(crate) sun: Option<SunPosition>,
    /// `cos` of the seasonal phase: +1 in mid-January, −1 in mid-July.
    pub(crate) winter_cos: f64,
}

/// Summer vacation of the occupants (*assumption*: half of the homes are away 7–16 days,
/// starting between 1 July and 10 August; only standby loads, the fridge and the heating run).
#[derive(Clone, Copy, Debug)]
struct Occupancy {
    vacation: Option<(u32, u32)>,
}

impl Occupancy {
    fn new(seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let has = rng.random::<f64>() < 0.5;
        let start = rng.random_range(181..222);
        let len = rng.random_range(7..17);
        Occupancy { vacation: has.then_some((start, len)) }
    }

    fn away(&self, day: &DayInfo) -> bool {
        self.vacation.is_some_and(|(s, l)| (s..s + l).contains(&day.doy))
    }

    /// Share of the year at home.
    fn present_fraction(&self) -> f64 {
        1.0 - self.vacation.map_or(0.0, |(_, l)| f64::from(l) / 365.0)
    }
}

/// Hours before the first step for which events are drawn, so that e.g. an EV session or a
/// dryer run started before the simulation is already running.
const LOOKBACK_H: i64 = 12;
/// Longest forward gap that is bridged by drawing the skipped hours (keeping the random
/// stream identical to stepping through); longer gaps restart as at the first step.
const MAX_BRIDGED_GAP_H: i64 = 24 * 400;

const STREAM_WEATHER: u64 = 1;
const STREAM_OCCUPANCY: u64 = 2;
const STREAM_HOUSEHOLD: u64 = 3;
const STREAM_BUSINESS: u64 = 4;
const STREAM_PV: u64 = 5;
const STREAM_EV: u64 = 6;
const STREAM_HEATPUMP: u64 = 7;
const STREAM_GAS: u64 = 8;

/// A simulated home (or business): the components of a [`ProfileSpec`], their weather and
/// their carried-over event state.
#[derive(Debug)]
pub struct Home {
    spec: ProfileSpec,
    seed: u64,
    weather: Weather,
    clock: LocalClock,
    occupancy: Occupancy,
    household: Option<Household>,
    business: Option<Business>,
    pv: Option<Pv>,
    ev: Option<Ev>,
    heat_pump: Option<HeatPump>,
    gas: Option<GasHeating>,
    needs_sun: bool,
    pulses: Pulses,
    /// Next UTC hour whose events have not been drawn yet.
    next_hour: Option<i64>,
    /// End of the previous step (Unix s).
    end_s: Option<i64>,
}

impl Home {
    /// A home with its own weather (weather seed derived from `seed`).
    pub fn new(spec: &ProfileSpec, seed: u64) -> Self {
        Home::with_weather_seed(spec, seed, derive_seed(seed, STREAM_WEATHER))
    }

    /// A home whose weather comes from `weather_seed`: homes sharing a weather seed see the
    /// same temperatures and clouds (one region), while their loads differ by `seed`.
    pub fn with_weather_seed(spec: &ProfileSpec, seed: u64, weather_seed: u64) -> Self {
        let occupancy = Occupancy::new(derive_seed(seed, STREAM_OCCUPANCY));
        let present = occupancy.present_fraction();
        let mut home = Home {
            spec: spec.clone(),
            seed,
            weather: Weather::new(weather_seed),
            clock: LocalClock::new(),
            occupancy,
            household: None,
            business: None,
            pv: None,
            ev: None,
            heat_pump: None,
            gas: None,
            needs_sun: false,
            pulses: Pulses::default(),
            next_hour: None,
            end_s: None,
        };
        for c in spec.components() {
            match *c {
                Component::Household { annual_kwh } => {
                    home.household = Some(Household::new(
                        derive_seed(seed, STREAM_HOUSEHOLD),
                        annual_kwh,
                        present,
                    ));
                    home.needs_sun = true;
                }
                Component::Business { annual_kwh } => {
                    home.business =
                        Some(Business::new(derive_seed(seed, STREAM_BUSINESS), annual_kwh));
                }
                Component::Pv { kwp, inverter_kw } => {
                    home.pv = Some(Pv::new(derive_seed(seed, STREAM_PV), kwp, inverter_kw));
                    home.needs_sun = true;
                }
                Component::Ev { charger_kw, annual_kwh } => {
                    home.ev = Some(Ev::new(
                        derive_seed(seed, STREAM_EV),
                        charger_kw,
                        annual_kwh,
                        present,
                    ));
                }
                Component::HeatPump { space_heat_kwh } => {
                    home.heat_pump =
                        Some(HeatPump::new(derive_seed(seed, STREAM_HEATPUMP), space_heat_kwh));
                }
                Component::Gas { annual_kwh } => {
                    home.gas =
                        Some(GasHeating::new(derive_seed(seed, STREAM_GAS), annual_kwh, present));
                }
            }
        }
        home
    }

    /// The spec this home was built from.
    pub fn spec(&self) -> &ProfileSpec {
        &self.spec
    }

    /// The home seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The weather seed.
    pub fn weather_seed(&self) -> u64 {
        self.weather.seed()
    }

    /// Where the next step must start (the end of the previous one), if any step was taken.
    pub fn next_start(&self) -> Option<Timestamp> {
        self.end_s.and_then(|s| Timestamp::from_second(s).ok())
    }

    /// Average flows over `[start, start + dur_s)`. Sub-second parts of `start` are ignored.
    ///
    /// # Panics
    ///
    /// If `dur_s` is 0 or `start` is before the end of the previous step; use
    /// [`Home::try_step`] to get an error instead.
    pub fn step(&mut self, start: Timestamp, dur_s: u32) -> Flow {
        match self.try_step(start, dur_s) {
            Ok(flow) => flow,
            Err(e) => panic!("{e}"),
        }
    }

    /// Like [`Home::step`], but refuses bad steps with an error (leaving the state unchanged).
    pub fn try_step(&mut self, start: Timestamp, dur_s: u32) -> Result<Flow, StepError> {
        if dur_s == 0 {
            return Err(StepError::ZeroDuration);
        }
        let a = start.as_second();
        if let Some(end) = self.end_s
            && a < end
        {
            return Err(StepError::Backwards {
                start,
                expected: Timestamp::from_second(end).unwrap_or(Timestamp::UNIX_EPOCH),
            });
        }
        let b = a + i64::from(dur_s);
        Ok(self.advance(a, b))
    }

    fn advance(&mut self, a: i64, b: i64) -> Flow {
        let first = a.div_euclid(HOUR_S);
        match self.next_hour {
            Some(n) if first - n <= MAX_BRIDGED_GAP_H => {}
            Some(_) => {
                self.pulses.clear();
                self.next_hour = Some(first - LOOKBACK_H);
            }
            None => self.next_hour = Some(first - LOOKBACK_H),
        }
        let mut acc = [0.0; SINKS];
        let (mut pv_ws, mut temp_s, mut cloud_s) = (0.0, 0.0, 0.0);
        // Hour by hour, so that weather queries only move forward: draw the hour's events,
        // integrate the pulses exactly, then the smooth loads on the 5-minute grid.
        let mut t = a;
        while t < b {
            let hour = t.div_euclid(HOUR_S);
            self.draw_until(hour);
            let ctx = self.clock.at_hour(hour);
            let away = self.occupancy.away(&ctx.day);
            let chunk_end = b.min((hour + 1) * HOUR_S);
            self.pulses.integrate(t, chunk_end, &mut acc);
            while t < chunk_end {
                let end = chunk_end.min((t.div_euclid(SLOT_S) + 1) * SLOT_S);
                let dt = (end - t) as f64;
                let mid = 0.5 * (t as f64 + end as f64);
                let env = Env {
                    local_hour: ((mid + ctx.offset_s as f64) / 3_600.0).rem_euclid(24.0),
                    day: ctx.day,
                    away,
                    weather: self.weather.at(mid),
                    sun: self.needs_sun.then(|| sun_at(mid)),
                    winter_cos: winter_cos(year_day(mid)),
                };
                if let Some(c) = &self.household {
                    acc[Sink::Household as usize] += c.power(&env) * dt;
                }
                if let Some(c) = &self.business {
                    acc[Sink::Business as usize] += c.power(&env) * dt;
                }
                if let Some(c) = &self.heat_pump {
                    acc[Sink::HeatPump as usize] += c.power(&env) * dt;
                }
                if let Some(c) = &self.gas {
                    acc[Sink::Gas as usize] += c.power(&env) * dt;
                }
                if let Some(c) = &self.pv {
                    pv_ws += c.power(&env) * dt;
                }
                temp_s += env.weather.temperature_c * dt;
                cloud_s += env.weather.cloud_cover * dt;
                t = end;
            }
        }
        self.end_s = Some(b);

        let dur = (b - a) as f64;
        let breakdown = Breakdown {
            household_w: acc[Sink::Household as usize] / dur,
            business_w: acc[Sink::Business as usize] / dur,
            ev_w: acc[Sink::Ev as usize] / dur,
            heat_pump_w: acc[Sink::HeatPump as usize] / dur,
            pv_w: pv_ws / dur,
            gas_w: acc[Sink::Gas as usize] / dur,
        };
        Flow {
            duration_s: (b - a) as u32,
            consumption_w: breakdown.household_w
                + breakdown.business_w
                + breakdown.ev_w
                + breakdown.heat_pump_w,
            production_w: breakdown.pv_w,
            gas_m3: acc[Sink::Gas as usize] / 3.6e6 / GAS_KWH_PER_M3,
            breakdown,
            outdoor_temp_c: temp_s / dur,
            cloud_cover: cloud_s / dur,
        }
    }

    /// Draws the events of every hour up to and including `hour`.
    fn draw_until(&mut self, hour: i64) {
        let mut h = self.next_hour.unwrap_or(hour);
        while h <= hour {
            let ctx = self.clock.at_hour(h);
            self.draw_hour(&ctx);
            h += 1;
        }
        self.next_hour = Some(h);
    }

    fn draw_hour(&mut self, ctx: &HourCtx) {
        let away = self.occupancy.away(&ctx.day);
        if let Some(c) = &mut self.household {
            c.on_hour(ctx, away, &mut self.pulses);
        }
        if let Some(c) = &mut self.business {
            c.on_hour(ctx, &mut self.pulses);
        }
        if let Some(c) = &mut self.ev {
            c.on_hour(ctx, away, &mut self.pulses);
        }
        if let Some(c) = &mut self.heat_pump {
            let w = self.weather.at(ctx.start_s() as f64);
            c.on_hour(ctx, away, &w, &mut self.pulses);
        }
        if let Some(c) = &mut self.gas {
            c.on_hour(ctx, away, &mut self.pulses);
        }
    }
}
