//! Thresholds and memory bounds of supervision.

use calendar::SignedDuration;
use serde::{Deserialize, Serialize};

/// Thresholds and memory bounds. [`Config::default`] holds the values documented per field;
/// [`Supervisor::new`] replaces nonsensical values (zero or negative durations, rates outside
/// `0..=1`, zero capacities) by the defaults or the nearest sensible bound.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// No upload for this long makes a dongle [`ConnectionState::Stale`]. Default 30 s.
    pub stale_after: SignedDuration,
    /// No upload for this long makes a dongle [`ConnectionState::Offline`] and opens an
    /// [`IncidentKind::Offline`] incident. Default 5 min.
    pub offline_after: SignedDuration,
    /// Interval between uploads of a dongle unless [`Supervisor::register_dongle`] says
    /// otherwise. Default 1 s.
    pub expected_interval: SignedDuration,
    /// Import or export power above this is impossible for a connection. Default 100 kW.
    pub max_power_w: u32,
    /// Capture time ahead of receive time, or going back in sequence order, by more than this
    /// is a time jump. Default 10 min.
    pub max_clock_skew: SignedDuration,
    /// An anomaly incident (register backwards, time jump, impossible power) closes at the
    /// first clean upload at least this long after its last occurrence. Default 10 min.
    pub anomaly_quiet: SignedDuration,
    /// CRC error rate window, in uploads (at most 128). Default 100.
    pub crc_window: u32,
    /// The CRC rate is judged once this many uploads are in the window. Default 20.
    pub crc_min_samples: u32,
    /// A CRC error rate above this opens [`IncidentKind::CrcErrors`]. Default 0.05.
    pub crc_open_rate: f64,
    /// A CRC error rate below this closes it. Default 0.01.
    pub crc_close_rate: f64,
    /// Ranges of missing sequence numbers tracked per dongle; the oldest beyond this are
    /// counted lost. Default 64.
    pub max_gap_ranges: usize,
    /// Missing sequence numbers not backfilled this long after the gap was seen are counted
    /// lost. Default 24 h.
    pub gap_timeout: SignedDuration,
    /// Recent uploads kept per dongle for latency quantiles and frequency. Default 1024.
    pub latency_window: usize,
    /// Recent uploads the transmission frequency is measured over. Default 60.
    pub frequency_window: usize,
    /// Recent register readings kept per dongle to detect registers going backwards.
    /// Default 16.
    pub register_history: usize,
    /// Granularity of the KPI history (whole seconds). Default 5 min.
    pub kpi_bucket: SignedDuration,
    /// How far back the KPI history reaches. Default 24 h.
    pub kpi_retention: SignedDuration,
    /// Incidents kept in the register; beyond this the oldest closed ones are dropped.
    /// Default 100 000.
    pub max_incidents: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            stale_after: SignedDuration::from_secs(30),
            offline_after: SignedDuration::from_mins(5),
            expected_interval: SignedDuration::from_secs(1),
            max_power_w: 100_000,
            max_clock_skew: SignedDuration::from_mins(10),
            anomaly_quiet: SignedDuration::from_mins(10),
            crc_window: 100,
            crc_min_samples: 20,
            crc_open_rate: 0.05,
            crc_close_rate: 0.01,
            max_gap_ranges: 64,
            gap_timeout: SignedDuration::from_hours(24),
            latency_window: 1024,
            frequency_window: 60,
            register_history: 16,
            kpi_bucket: SignedDuration::from_mins(5),
            kpi_retention: SignedDuration::from_hours(24),
            max_incidents: 100_000,
        }
    }
}

impl Config {
    pub(crate) fn sanitized(self) -> Self {
        let d = Self::default();
        let positive = |v: SignedDuration, default| if v.is_positive() { v } else { default };
        let not_negative = |v: SignedDuration, default| if v.is_negative() { default } else { v };
        let rate = |v: f64, default| if v.is_nan() { default } else { v.clamp(0.0, 1.0) };
        let offline_after = positive(self.offline_after, d.offline_after);
        let stale_after = positive(self.stale_after, d.stale_after).min(offline_after);
        let crc_window = self.crc_window.clamp(1, 128);
        let crc_open_rate = rate(self.crc_open_rate, d.crc_open_rate);
        let latency_window = self.latency_window.max(2);
        let kpi_bucket = SignedDuration::from_secs(self.kpi_bucket.as_secs().max(1));
        Self {
            stale_after,
            offline_after,
            expected_interval: positive(self.expected_interval, d.expected_interval),
            max_power_w: self.max_power_w,
            max_clock_skew: not_negative(self.max_clock_skew, d.max_clock_skew),
            anomaly_quiet: not_negative(self.anomaly_quiet, d.anomaly_quiet),
            crc_window,
            crc_min_samples: self.crc_min_samples.clamp(1, crc_window),
            crc_open_rate,
            crc_close_rate: rate(self.crc_close_rate, d.crc_close_rate).min(crc_open_rate),
            max_gap_ranges: self.max_gap_ranges.max(1),
            gap_timeout: positive(self.gap_timeout, d.gap_timeout),
            latency_window,
            frequency_window: self.frequency_window.clamp(2, latency_window),
            register_history: self.register_history.max(1),
            kpi_bucket,
            kpi_retention: self.kpi_retention.max(kpi_bucket),
            max_incidents: self.max_incidents.max(1),
        }
    }
}
