//! Sun position and irradiance for central Belgium.
//!
//! * Declination and equation of time: Spencer (1971), "Fourier series representation of the
//!   position of the sun", *Search* 2(5), as given in Duffie & Beckman, *Solar Engineering of
//!   Thermal Processes*, §1.4–1.6 (accuracy ~0.05° / ~30 s, ample for energy).
//! * Clear-sky global horizontal irradiance: Haurwitz (1945),
//!   `GHI = 1098 · cos z · exp(−0.059 / cos z)` W/m² (also offered by pvlib), scaled by 0.928
//!   to match pvlib's Ineichen clear sky at the Brussels June-solstice noon.
//! * Clouds: Kasten & Czeplak (1980), `GHI = GHI_clear · (1 − 0.75 · N^3.4)`.
//! * Diffuse fraction: Erbs, Klein & Duffie (1982) correlation on the clearness index.
//! * Plane of array: isotropic-sky transposition (Liu & Jordan), ground albedo 0.2, incidence
//!   angle from Duffie & Beckman eq. 1.6.2, ASHRAE incidence-angle modifier (b₀ = 0.05).

use std::f64::consts::TAU;

use jiff::Timestamp;

use crate::weather::{YEAR_DAYS, year_day};

/// Latitude of the modelled site (Brussels), degrees north.
pub const LATITUDE_DEG: f64 = 50.85;
/// Longitude of the modelled site (Brussels), degrees east.
pub const LONGITUDE_DEG: f64 = 4.35;
/// Solar constant (W/m²) as used with Spencer's series.
const SOLAR_CONSTANT_W_M2: f64 = 1_367.0;
/// Ground reflectance for the transposition (*assumption*: grass/roofs, the usual 0.2).
const ALBEDO: f64 = 0.2;

/// Where the sun is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SunPosition {
    /// Cosine of the zenith angle (= sine of the elevation); negative at night.
    pub cos_zenith: f64,
    /// Elevation above the horizon (degrees; negative at night).
    pub elevation_deg: f64,
    /// Day of year (0-based) on the mean-year grid, for the extraterrestrial irradiance.
    pub(crate) doy: f64,
    sin_decl: f64,
    cos_decl: f64,
    sin_hour: f64,
    cos_hour: f64,
}

/// Sun position over Brussels (50.85 N, 4.35 E) at an instant.
pub fn sun_position(t: Timestamp) -> SunPosition {
    sun_at(t.as_second() as f64 + f64::from(t.subsec_nanosecond()) * 1e-9)
}

/// Sun position at Unix time `t` (seconds).
pub(crate) fn sun_at(t: f64) -> SunPosition {
    let doy = year_day(t);
    let g = TAU * doy / YEAR_DAYS;
    let (s1, c1) = g.sin_cos();
    let (s2, c2) = (2.0 * s1 * c1, c1 * c1 - s1 * s1);
    let (s3, c3) = (s2 * c1 + c2 * s1, c2 * c1 - s2 * s1);
    let decl = 0.006918 - 0.399912 * c1 + 0.070257 * s1 - 0.006758 * c2 + 0.000907 * s2
        - 0.002697 * c3
        + 0.00148 * s3;
    let eot_min =
        229.18 * (0.000075 + 0.001868 * c1 - 0.032077 * s1 - 0.014615 * c2 - 0.040849 * s2);
    let solar_h = (t / 3_600.0).rem_euclid(24.0) + LONGITUDE_DEG / 15.0 + eot_min / 60.0;
    let hour_angle = (solar_h - 12.0) * (TAU / 24.0);
    let (sin_hour, cos_hour) = hour_angle.sin_cos();
    let (sin_decl, cos_decl) = decl.sin_cos();
    let (sin_lat, cos_lat) = LATITUDE_DEG.to_radians().sin_cos();
    let cos_zenith = sin_lat * sin_decl + cos_lat * cos_decl * cos_hour;
    SunPosition {
        cos_zenith,
        elevation_deg: cos_zenith.clamp(-1.0, 1.0).asin().to_degrees(),
        doy,
        sin_decl,
        cos_decl,
        sin_hour,
        cos_hour,
    }
}

/// Scale on Haurwitz's clear sky for Brussels' turbidity: pvlib's Ineichen model (Linke
/// turbidity climatology) gives 846.5 W/m² at the 21 June solar noon in Brussels
/// (research/dependencies.md §3.11) where plain Haurwitz gives ~912 W/m².
const CLEAR_SKY_SCALE: f64 = 0.928;

/// Clear-sky global horizontal irradiance (W/m²): Haurwitz, scaled for Brussels' turbidity.
pub fn clear_sky_ghi(cos_zenith: f64) -> f64 {
    if cos_zenith <= 0.0 {
        0.0
    } else {
        CLEAR_SKY_SCALE * 1_098.0 * cos_zenith * (-0.059 / cos_zenith).exp()
    }
}

/// Global horizontal irradiance under cloud cover `n` (0..=1), Kasten & Czeplak.
pub fn cloudy_ghi(clear_ghi: f64, n: f64) -> f64 {
    clear_ghi * (1.0 - 0.75 * n.clamp(0.0, 1.0).powf(3.4))
}

/// A tilted, oriented plane (a PV array).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Plane {
    cos_tilt: f64,
    sin_tilt: f64,
    cos_az: f64,
    sin_az: f64,
}

impl Plane {
    /// `tilt_deg` from horizontal, `azimuth_deg` from south, west positive.
    pub(crate) fn new(tilt_deg: f64, azimuth_deg: f64) -> Self {
        let (sin_tilt, cos_tilt) = tilt_deg.to_radians().sin_cos();
        let (sin_az, cos_az) = azimuth_deg.to_radians().sin_cos();
        Plane { cos_tilt, sin_tilt, cos_az, sin_az }
    }

    /// Cosine of the angle of incidence of the beam (Duffie & Beckman eq. 1.6.2).
    fn cos_incidence(&self, s: &SunPosition) -> f64 {
        let (sin_lat, cos_lat) = LATITUDE_DEG.to_radians().sin_cos();
        s.sin_decl * sin_lat * self.cos_tilt - s.sin_decl * cos_lat * self.sin_tilt * self.cos_az
            + s.cos_decl * cos_lat * self.cos_tilt * s.cos_hour
            + s.cos_decl * sin_lat * self.sin_tilt * self.cos_az * s.cos_hour
            + s.cos_decl * self.sin_tilt * self.sin_az * s.sin_hour
    }

    /// Irradiance on the plane (W/m²) for a global horizontal irradiance `ghi`.
    pub(crate) fn irradiance(&self, s: &SunPosition, ghi: f64) -> f64 {
        if s.cos_zenith <= 0.0 || ghi <= 0.0 {
            return 0.0;
        }
        let sky = (1.0 + self.cos_tilt) / 2.0;
        let ground = ALBEDO * (1.0 - self.cos_tilt) / 2.0;
        // Below ~1° elevation treat everything as diffuse (beam/cos z is ill-conditioned).
        if s.cos_zenith < 0.0175 {
            return ghi * (sky + ground);
        }
        let g0 =
            SOLAR_CONSTANT_W_M2 * (1.0 + 0.033 * (TAU * s.doy / YEAR_DAYS).cos()) * s.cos_zenith;
        let kt = (ghi / g0).clamp(0.0, 1.0);
        let kd = if kt <= 0.22 {
            1.0 - 0.09 * kt
        } else if kt <= 0.8 {
            0.9511 - 0.1604 * kt + 4.388 * kt.powi(2) - 16.638 * kt.powi(3) + 12.336 * kt.powi(4)
        } else {
            0.165
        };
        let dhi = kd * ghi;
        let beam_h = ghi - dhi;
        let cos_i = self.cos_incidence(s);
        let beam = if cos_i > 0.0 {
            let iam = (1.0 - 0.05 * (1.0 / cos_i - 1.0)).max(0.0);
            beam_h / s.cos_zenith * cos_i * iam
        } else {
            0.0
        };
        beam + dhi * sky + ghi * ground
    }
}
