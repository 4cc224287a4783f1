//! The supervision state of one dongle: counters, the recent uploads, the sequence tracker,
//! recent registers, open incidents by kind, and its KPI buckets (with their arithmetic).

use crate::sequence::SequenceTracker;
use crate::{AnomalyCounts, Config, ConnectionState, IncidentKind};
use calendar::{SignedDuration, Timestamp};
use domain::Energy;
use std::collections::{BTreeMap, VecDeque};

/// One recent upload: receive time (ms since the epoch) and latency (ns, saturating).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sample {
    pub(crate) at_ms: i64,
    pub(crate) latency_ns: i64,
}

/// KPI counters of one bucket. `captured` counts by capture time (availability of data);
/// everything else by receive time.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Bucket {
    pub(crate) captured: u32,
    pub(crate) received: u32,
    pub(crate) crc_errors: u32,
    pub(crate) rejected: u32,
    pub(crate) intervals: u32,
    pub(crate) regular: u32,
    pub(crate) latency_sum_ns: i128,
}

#[derive(Clone, Debug)]
pub(crate) struct Dongle {
    pub(crate) registered: bool,
    pub(crate) expected_interval: SignedDuration,
    pub(crate) since: Timestamp,
    /// The state as of the latest upload or tick (what transitions are computed from).
    pub(crate) state: ConnectionState,
    pub(crate) last_seen: Option<Timestamp>,
    pub(crate) last_capture: Option<Timestamp>,
    pub(crate) uploads: u64,
    pub(crate) crc_errors: u64,
    pub(crate) rejected: u64,
    /// Last `crc_window` uploads, newest in bit 0; a set bit is a CRC error.
    pub(crate) crc_bits: u128,
    pub(crate) crc_samples: u32,
    pub(crate) samples: VecDeque<Sample>,
    pub(crate) seq: SequenceTracker,
    /// `seq.recovered` and `seq.lost` when the open SequenceGap incident was opened.
    pub(crate) gap_mark: (u64, u64),
    /// Recent energy registers by capture time: (import Wh, export Wh).
    pub(crate) registers: BTreeMap<Timestamp, (Energy, Energy)>,
    pub(crate) anomalies: AnomalyCounts,
    pub(crate) last_anomaly: BTreeMap<IncidentKind, Timestamp>,
    pub(crate) open: BTreeMap<IncidentKind, u64>,
    pub(crate) buckets: BTreeMap<i64, Bucket>,
}

impl Dongle {
    pub(crate) fn new(
        registered: bool,
        expected_interval: SignedDuration,
        since: Timestamp,
    ) -> Self {
        Self {
            registered,
            expected_interval,
            since,
            state: ConnectionState::NeverSeen,
            last_seen: None,
            last_capture: None,
            uploads: 0,
            crc_errors: 0,
            rejected: 0,
            crc_bits: 0,
            crc_samples: 0,
            samples: VecDeque::new(),
            seq: SequenceTracker::default(),
            gap_mark: (0, 0),
            registers: BTreeMap::new(),
            anomalies: AnomalyCounts::default(),
            last_anomaly: BTreeMap::new(),
            open: BTreeMap::new(),
            buckets: BTreeMap::new(),
        }
    }

    pub(crate) fn state_at(&self, now: Timestamp, config: &Config) -> ConnectionState {
        let Some(last) = self.last_seen else { return ConnectionState::NeverSeen };
        let silence = now.duration_since(last);
        if silence >= config.offline_after {
            ConnectionState::Offline
        } else if silence >= config.stale_after {
            ConnectionState::Stale
        } else {
            ConnectionState::Online
        }
    }

    pub(crate) fn crc_rate(&self, window: u32) -> Option<f64> {
        if self.crc_samples == 0 {
            return None;
        }
        Some(
            f64::from((self.crc_bits & window_mask(window)).count_ones())
                / f64::from(self.crc_samples),
        )
    }

    pub(crate) fn bucket(&mut self, key: i64) -> &mut Bucket {
        self.buckets.entry(key).or_default()
    }

    pub(crate) fn latencies(&self) -> Vec<i64> {
        self.samples.iter().map(|s| s.latency_ns).collect()
    }
}

pub(crate) fn window_mask(window: u32) -> u128 {
    if window >= 128 { u128::MAX } else { (1u128 << window) - 1 }
}

/// The KPI bucket arithmetic of a configuration.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Buckets {
    pub(crate) size_ns: i128,
    pub(crate) count: i64,
}

impl Buckets {
    pub(crate) fn new(config: &Config) -> Self {
        let size_s = config.kpi_bucket.as_secs().max(1);
        let count = (config.kpi_retention.as_secs() / size_s).max(1);
        Self { size_ns: i128::from(size_s) * 1_000_000_000, count }
    }

    /// The bucket holding `t`.
    pub(crate) fn of(self, t: Timestamp) -> i64 {
        // Timestamps span about ±3.2e11 s, so the quotient fits.
        i64::try_from(t.as_nanosecond().div_euclid(self.size_ns)).unwrap_or(i64::MAX)
    }

    /// The first bucket after `t`, or `t`'s when `t` is a bucket boundary.
    pub(crate) fn ceil(self, t: Timestamp) -> i64 {
        let ns = t.as_nanosecond();
        let q = ns.div_euclid(self.size_ns) + i128::from(ns.rem_euclid(self.size_ns) != 0);
        i64::try_from(q).unwrap_or(i64::MAX)
    }

    pub(crate) fn start(self, bucket: i64) -> Option<Timestamp> {
        Timestamp::from_nanosecond(i128::from(bucket) * self.size_ns).ok()
    }

    /// The oldest bucket kept at `now`.
    pub(crate) fn horizon(self, now: Timestamp) -> i64 {
        self.of(now).saturating_sub(self.count - 1)
    }

    /// How many buckets ahead of `now` a capture time may be and still count.
    pub(crate) fn ahead(self, config: &Config) -> i64 {
        i64::try_from(config.max_clock_skew.as_nanos().div_euclid(self.size_ns) + 1)
            .unwrap_or(i64::MAX)
    }
}

/// Mean of nanosecond values.
pub(crate) fn mean_ns(values: &[i64]) -> Option<SignedDuration> {
    if values.is_empty() {
        return None;
    }
    let sum: i128 = values.iter().map(|&v| i128::from(v)).sum();
    let mean = sum / values.len() as i128;
    SignedDuration::try_from_nanos_i128(mean)
}

/// The `num/den` quantile of nanosecond values, nearest rank (the smallest value with at
/// least that share of values at or below it).
pub(crate) fn quantile_ns(values: &mut [i64], num: usize, den: usize) -> Option<SignedDuration> {
    if values.is_empty() || den == 0 {
        return None;
    }
    let rank = (values.len() * num).div_ceil(den).clamp(1, values.len());
    let (_, &mut value, _) = values.select_nth_unstable(rank - 1);
    Some(SignedDuration::from_nanos(value))
}
