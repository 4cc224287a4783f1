//! Seeded Belgian weather: outdoor temperature and cloud cover.

use std::f64::consts::{PI, TAU};

use jiff::Timestamp;

/// 2000-01-01T00:00:00Z, the origin of [`year_day`].
const EPOCH_2000_S: f64 = 946_684_800.0;
/// Mean Gregorian year.
pub(crate) const YEAR_DAYS: f64 = 365.2425;

/// Annual mean temperature (°C). Uccle (Brussels) 1991–2020 normal: ~10.9–11.0 °C (KMI/IRM
/// climate normals). *Assumption* that the normal is representative for all of Belgium.
pub(crate) const T_ANNUAL_MEAN_C: f64 = 10.9;
/// Half the difference between the warmest and coldest monthly means: Uccle ~3.5 °C in
/// January, ~18.7 °C in July (KMI/IRM normals); the brief asks for ~3 °C → ~18 °C.
pub(crate) const T_SEASONAL_AMP_C: f64 = 7.6;
/// Day of year (0-based) of the coldest seasonal mean (~18 January).
const T_COLDEST_DAY: f64 = 17.0;
/// Half the diurnal range: ~2.5 K in winter, ~5 K in summer (*assumption*, in line with
/// Uccle's mean daily minimum/maximum spread of ~5 K in January and ~10 K in July).
const DIURNAL_AMP_MEAN_C: f64 = 3.75;
const DIURNAL_AMP_SEASONAL_C: f64 = 1.25;
/// Local mean solar hour of the daily maximum (*assumption*: ~15:00 solar time).
const DIURNAL_PEAK_SOLAR_H: f64 = 15.0;
/// Day-to-day temperature anomaly: AR(1) with lag-1 correlation 0.75 and a stationary
/// standard deviation of 3.0 ± 0.5 K (larger in winter). *Assumption* typical of a
/// maritime mid-latitude climate; not fitted to KMI data.
pub(crate) const T_NOISE_PHI: f64 = 0.75;
const T_NOISE_SD_MEAN_C: f64 = 3.0;
const T_NOISE_SD_SEASONAL_C: f64 = 0.5;

/// Cloud cover: an hourly AR(1) latent Gaussian (lag-1 correlation 0.95, i.e. weather
/// regimes lasting about a day) mapped through a logistic to 0..=1 (mostly near-clear or
/// overcast, as Belgian skies are), with a seasonal mean that is cloudier in winter (monthly
/// means ~0.85 in winter, ~0.6 in summer). Calibrated, not measured: chosen so that the PV
/// model yields ~900 kWh/kWp/yr (850–950 across weather seeds) with ~25 kWh/kWp in January
/// and ~130 in June, the Belgian range (eha.be: ~950 kWh/kWp/yr under ideal conditions).
const CLOUD_PHI: f64 = 0.95;
const CLOUD_MU_MEAN: f64 = 2.2;
const CLOUD_MU_SEASONAL: f64 = 1.2;
pub(crate) const CLOUD_SPREAD: f64 = 4.0;
/// Sub-hourly cloud flicker (per 5-minute slot), strongest for broken clouds.
const CLOUD_FLICKER: f64 = 0.35;
/// Length of a flicker slot; also the integration grid of [`crate::Home`].
pub(crate) const SLOT_S: i64 = 300;

/// Warm-up lengths when the AR(1) state has to be (re)built: the influence of the start
/// state is below 1e-8 after them.
const T_WARMUP_DAYS: i64 = 70;
const CLOUD_WARMUP_HOURS: i64 = 400;

const STREAM_TEMP: u64 = 0x7465_6d70;
const STREAM_CLOUD: u64 = 0x636c_6f75;
const STREAM_FLICKER: u64 = 0x666c_6963;
const STREAM_INIT: u64 = 0x696e_6974;

/// Day of year (0-based, fractional) of a Unix time, on a mean-year grid anchored at
/// 2000-01-01 (within a day of the calendar in any year, smooth across New Year).
pub(crate) fn year_day(t: f64) -> f64 {
    ((t - EPOCH_2000_S) / 86_400.0).rem_euclid(YEAR_DAYS)
}

/// `cos` of the seasonal phase: +1 on the coldest day (~18 January), −1 half a year later.
pub(crate) fn winter_cos(doy: f64) -> f64 {
    (TAU * (doy - T_COLDEST_DAY) / YEAR_DAYS).cos()
}

/// Seasonal mean temperature (°C) for a given `winter_cos`.
pub(crate) fn seasonal_mean_c(sc: f64) -> f64 {
    T_ANNUAL_MEAN_C - T_SEASONAL_AMP_C * sc
}

/// Diurnal deviation (°C) from the daily mean at Unix time `t`.
pub(crate) fn diurnal_c(t: f64, sc: f64) -> f64 {
    let amp = DIURNAL_AMP_MEAN_C - DIURNAL_AMP_SEASONAL_C * sc;
    let solar_h = (t / 3_600.0).rem_euclid(24.0) + crate::solar::LONGITUDE_DEG / 15.0;
    amp * (TAU * (solar_h - DIURNAL_PEAK_SOLAR_H) / 24.0).cos()
}

/// Standard deviation of the day-to-day anomaly (°C).
pub(crate) fn noise_sd_c(sc: f64) -> f64 {
    T_NOISE_SD_MEAN_C + T_NOISE_SD_SEASONAL_C * sc
}

/// Position of `t` between temperature anchors (12:00 UTC each day): (day index, weight).
pub(crate) fn temp_anchor(t: f64) -> (i64, f64) {
    let x = (t - 43_200.0) / 86_400.0;
    let k = x.floor();
    (k as i64, x - k)
}

/// Logistic mean of the latent cloud variable for a given `winter_cos` (cloudier in winter).
pub(crate) fn cloud_mu(sc: f64) -> f64 {
    CLOUD_MU_MEAN + CLOUD_MU_SEASONAL * sc
}

pub(crate) fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// SplitMix64 finaliser (Steele, Lea & Flood 2014).
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Independent seed for a named sub-stream.
pub(crate) fn derive_seed(seed: u64, stream: u64) -> u64 {
    mix64(seed ^ mix64(stream))
}

/// Uniform in (0, 1) from 53 hash bits.
fn unit_open(h: u64) -> f64 {
    ((h >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
}

/// A standard normal that is a pure function of (seed, stream, index) (Box–Muller).
fn hash_normal(seed: u64, stream: u64, idx: i64) -> f64 {
    let h1 = mix64(derive_seed(seed, stream) ^ idx as u64);
    let h2 = mix64(h1 ^ 0x5851_F42D_4C95_7F2D);
    (-2.0 * unit_open(h1).ln()).sqrt() * (2.0 * PI * unit_open(h2)).cos()
}

/// A stationary unit-variance AR(1) series indexed by integers, with innovations that are a
/// pure function of (seed, stream, index). Moving forward is incremental; going backwards or
/// jumping far rebuilds the state from a stationary draw `warmup` steps earlier.
#[derive(Clone, Debug)]
struct Ar1 {
    stream: u64,
    phi: f64,
    innov_sd: f64,
    warmup: i64,
    /// `(idx, x_idx, x_idx+1)` once initialised.
    state: Option<(i64, f64, f64)>,
}

impl Ar1 {
    fn new(stream: u64, phi: f64, warmup: i64) -> Self {
        Ar1 { stream, phi, innov_sd: (1.0 - phi * phi).sqrt(), warmup, state: None }
    }

    fn next(&self, seed: u64, x: f64, idx: i64) -> f64 {
        self.phi * x + self.innov_sd * hash_normal(seed, self.stream, idx)
    }

    /// `(x_i, x_{i+1})`.
    fn pair(&mut self, seed: u64, i: i64) -> (f64, f64) {
        let (mut idx, mut x0, mut x1) = match self.state {
            Some((idx, x0, x1)) if idx <= i && i - idx <= self.warmup => (idx, x0, x1),
            _ => {
                let j = i - self.warmup;
                let x0 = hash_normal(seed, self.stream ^ STREAM_INIT, j);
                (j, x0, self.next(seed, x0, j + 1))
            }
        };
        while idx < i {
            idx += 1;
            x0 = x1;
            x1 = self.next(seed, x1, idx + 1);
        }
        self.state = Some((idx, x0, x1));
        (x0, x1)
    }
}

/// Weather at one instant.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct WeatherSample {
    /// Outdoor air temperature (°C).
    pub temperature_c: f64,
    /// The day's mean temperature (°C): seasonal normal plus the day-to-day anomaly,
    /// without the diurnal swing. Drives the heating models (degree-days).
    pub daily_mean_c: f64,
    /// Cloud cover, 0 (clear) ..= 1 (overcast).
    pub cloud_cover: f64,
}

/// Seeded Belgian weather (Uccle climate) as a function of time.
///
/// * Temperature = seasonal normal (~3.3 °C mid-January, ~18.5 °C mid-July, annual mean
///   10.9 °C) + diurnal swing (±2.5 K winter, ±5 K summer, maximum at 15:00 solar time) +
///   a day-to-day AR(1) anomaly (lag-1 correlation 0.75, sd 3.5 K in winter, 2.5 K in
///   summer) interpolated between daily anchors at 12:00 UTC.
/// * Cloud cover = logistic of an hourly AR(1) (lag-1 correlation 0.95) interpolated
///   between hour centres, cloudier in winter (mean ~0.85 in January, ~0.6 in July), plus a
///   small 5-minute flicker for broken clouds.
///
/// The random innovations are a pure function of `(seed, time index)`; the AR(1) state is
/// carried forward between queries. Queries should move forward in time (anything else
/// works but rebuilds the state from a long warm-up). Two `Weather`s with the same seed
/// therefore agree at every time (bitwise when queried along the same path, to ~1e-8
/// otherwise), so homes of one region share weather simply by using the same weather seed:
/// nothing is shared at run time, and homes can run on different threads.
#[derive(Clone, Debug)]
pub struct Weather {
    seed: u64,
    temp: Ar1,
    cloud: Ar1,
}

impl Weather {
    /// Weather for a seed.
    pub fn new(seed: u64) -> Self {
        Weather {
            seed,
            temp: Ar1::new(STREAM_TEMP, T_NOISE_PHI, T_WARMUP_DAYS),
            cloud: Ar1::new(STREAM_CLOUD, CLOUD_PHI, CLOUD_WARMUP_HOURS),
        }
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Weather at an instant.
    pub fn sample(&mut self, t: Timestamp) -> WeatherSample {
        self.at(t.as_second() as f64 + f64::from(t.subsec_nanosecond()) * 1e-9)
    }

    /// Weather at Unix time `t` (seconds).
    pub(crate) fn at(&mut self, t: f64) -> WeatherSample {
        let sc = winter_cos(year_day(t));
        let (k, w) = temp_anchor(t);
        let (x0, x1) = self.temp.pair(self.seed, k);
        let daily_mean_c = seasonal_mean_c(sc) + noise_sd_c(sc) * (x0 + (x1 - x0) * w);
        let temperature_c = daily_mean_c + diurnal_c(t, sc);

        let xh = (t - 1_800.0) / 3_600.0;
        let kh = xh.floor();
        let (y0, y1) = self.cloud.pair(self.seed, kh as i64);
        let y = y0 + (y1 - y0) * (xh - kh);
        let n = logistic(cloud_mu(sc) + CLOUD_SPREAD * y);
        let slot = (t / SLOT_S as f64).floor() as i64;
        let flicker = CLOUD_FLICKER * n * (1.0 - n) * hash_normal(self.seed, STREAM_FLICKER, slot);
        let cloud_cover = (n + flicker).clamp(0.0, 1.0);
        WeatherSample { temperature_c, daily_mean_c, cloud_cover }
    }
}
