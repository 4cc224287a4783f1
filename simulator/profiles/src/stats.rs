//! Expected values of the climate model, used to calibrate components to annual targets.
//!
//! Computed once per process (a 10-minute grid over a mean year, ~50k points) and cached.

use std::f64::consts::{FRAC_1_SQRT_2, PI};
use std::sync::OnceLock;

use crate::heating::{GAS_BASE_C, GAS_THERMOSTAT, HP_BASE_C, INERTIA};
use crate::household::{AWAKE, darkness};
use crate::shapes::{Shape, interp, mean_one};
use crate::solar::sun_at;
use crate::weather::{
    CLOUD_SPREAD, T_NOISE_PHI, cloud_mu, diurnal_c, logistic, noise_sd_c, seasonal_mean_c,
    temp_anchor, winter_cos, year_day,
};

#[derive(Debug)]
pub(crate) struct ClimateStats {
    /// Expected full-power lighting hours per day, averaged over the year, if every day
    /// were a `[workday, rest day]`.
    pub(crate) light_hours: [f64; 2],
    /// Expected heating degree-hours per year (K·h) of the heat pump's effective temperature
    /// below [`HP_BASE_C`].
    pub(crate) hdh_heatpump: f64,
    /// Expected degree-hours per year (K·h) below [`GAS_BASE_C`], weighted by the gas
    /// thermostat schedule.
    pub(crate) hdh_gas: f64,
}

pub(crate) fn climate() -> &'static ClimateStats {
    static STATS: OnceLock<ClimateStats> = OnceLock::new();
    STATS.get_or_init(compute)
}

/// erf, Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7).
fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let y = 1.0
        - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736) * t
            + 0.254_829_592)
            * t
            * (-x * x).exp();
    if x >= 0.0 { y } else { -y }
}

fn normal_cdf(z: f64) -> f64 {
    0.5 * (1.0 + erf(z * FRAC_1_SQRT_2))
}

fn normal_pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * PI).sqrt()
}

/// E[max(0, base − X)] for X ~ N(mean, sd²).
pub(crate) fn expected_deficit(base: f64, mean: f64, sd: f64) -> f64 {
    let d = base - mean;
    if sd <= 0.0 {
        return d.max(0.0);
    }
    let z = d / sd;
    d * normal_cdf(z) + sd * normal_pdf(z)
}

/// E[logistic(mu + spread·Z)], Z standard normal (midpoint rule on ±5 sd).
fn expected_cloud(mu: f64) -> f64 {
    const N: usize = 100;
    let dz = 10.0 / N as f64;
    (0..N)
        .map(|i| {
            let z = -5.0 + (i as f64 + 0.5) * dz;
            logistic(mu + CLOUD_SPREAD * z) * normal_pdf(z) * dz
        })
        .sum()
}

fn compute() -> ClimateStats {
    const STEP_S: f64 = 600.0;
    const PER_DAY: usize = 144;
    let t0 = 946_684_800.0; // 2000-01-01T00:00Z, the origin of `year_day`
    let gas_sched: Shape = mean_one(&GAS_THERMOSTAT);
    let mut light = [0.0; 2];
    let (mut hdh_hp, mut hdh_gas) = (0.0, 0.0);
    for d in 0..365 {
        let cloud = expected_cloud(cloud_mu(winter_cos(d as f64 + 0.5)));
        // Central European Summer Time roughly from day 87 to day 300.
        let offset_h = if (87..300).contains(&d) { 2.0 } else { 1.0 };
        for i in 0..PER_DAY {
            let t = t0 + d as f64 * 86_400.0 + (i as f64 + 0.5) * STEP_S;
            let sc = winter_cos(year_day(t));
            let local_h = ((t / 3_600.0) + offset_h).rem_euclid(24.0);

            let sun = sun_at(t);
            let dark = darkness(sun.elevation_deg, cloud);
            for (k, l) in light.iter_mut().enumerate() {
                *l += interp(&AWAKE[k], local_h) * dark * STEP_S / 3_600.0;
            }

            let mean = seasonal_mean_c(sc) + INERTIA * diurnal_c(t, sc);
            let (_, w) = temp_anchor(t);
            let var_factor = w * w + (1.0 - w) * (1.0 - w) + 2.0 * w * (1.0 - w) * T_NOISE_PHI;
            let sd = noise_sd_c(sc) * var_factor.sqrt();
            let hours = STEP_S / 3_600.0;
            hdh_hp += expected_deficit(HP_BASE_C, mean, sd) * hours;
            hdh_gas += expected_deficit(GAS_BASE_C, mean, sd) * interp(&gas_sched, local_h) * hours;
        }
    }
    ClimateStats {
        light_hours: [light[0] / 365.0, light[1] / 365.0],
        hdh_heatpump: hdh_hp,
        hdh_gas,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deficit_matches_limits() {
        assert!((expected_deficit(16.0, 6.0, 0.0) - 10.0).abs() < 1e-12);
        assert!((expected_deficit(16.0, 6.0, 1e-3) - 10.0).abs() < 1e-6);
        // Symmetric case: E[max(0, Z)] = 1/sqrt(2π).
        assert!((expected_deficit(0.0, 0.0, 1.0) - 1.0 / (2.0 * PI).sqrt()).abs() < 1e-7);
        assert!((normal_cdf(1.96) - 0.975).abs() < 1e-4);
    }
}
