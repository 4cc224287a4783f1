//! Rooftop photovoltaics.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use crate::Env;
use crate::solar::{Plane, clear_sky_ghi, cloudy_ghi};

/// Cell heating above ambient per W/m² of plane-of-array irradiance, from a nominal operating
/// cell temperature (NOCT) of 45 °C: (45 − 20) / 800 (standard NOCT conditions).
const NOCT_K_PER_W_M2: f64 = (45.0 - 20.0) / 800.0;
/// Power temperature coefficient of crystalline silicon, −0.37 %/K (typical datasheet value).
const GAMMA_PER_K: f64 = -0.0037;
/// System losses (wiring, soiling, mismatch, inverter): PVGIS's default of 14 %.
const SYSTEM_LOSSES: f64 = 0.14;

/// A PV array with its inverter. Orientation is drawn per home: tilt 25–40°, azimuth
/// south ±25° (*assumption*: typical pitched Belgian roofs facing roughly south).
#[derive(Clone, Debug)]
pub(crate) struct Pv {
    kwp: f64,
    inverter_w: f64,
    plane: Plane,
}

impl Pv {
    pub(crate) fn new(seed: u64, kwp: f64, inverter_kw: f64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let tilt = rng.random_range(25.0..40.0);
        let azimuth = rng.random_range(-25.0..25.0);
        Pv { kwp, inverter_w: inverter_kw * 1_000.0, plane: Plane::new(tilt, azimuth) }
    }

    /// AC output (W).
    pub(crate) fn power(&self, env: &Env) -> f64 {
        let Some(sun) = &env.sun else { return 0.0 };
        if sun.cos_zenith <= 0.0 {
            return 0.0;
        }
        let ghi = cloudy_ghi(clear_sky_ghi(sun.cos_zenith), env.weather.cloud_cover);
        let poa = self.plane.irradiance(sun, ghi);
        let cell_c = env.weather.temperature_c + NOCT_K_PER_W_M2 * poa;
        let dc = self.kwp * poa * (1.0 + GAMMA_PER_K * (cell_c - 25.0)); // kWp × W/m² / 1000 W/m² × 1000 W/kW
        (dc * (1.0 - SYSTEM_LOSSES)).clamp(0.0, self.inverter_w)
    }
}
