//! The R-NRT-9 KPIs over a window: availability, latency, successful transmission rate and
//! regularity, per dongle and overall.

use calendar::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::{Buckets, Supervisor, quantile_ns};

/// KPIs over a window. The window asked for is widened to whole KPI buckets (`kpi_bucket`,
/// default 5 min); `from` and `to` are the widened window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Kpis {
    /// Start of the window (inclusive).
    pub from: Timestamp,
    /// End of the window (exclusive).
    pub to: Timestamp,
    /// All dongles together (and rejections of unknown dongles).
    pub overall: KpiFigures,
    /// Per dongle, by id.
    pub dongles: Vec<DongleKpis>,
}

/// The KPIs of one dongle.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DongleKpis {
    /// Dongle id.
    pub dongle: String,
    /// Its figures.
    pub figures: KpiFigures,
}

/// The figures behind the KPIs, and the KPIs. A KPI is `None` when its denominator is zero.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct KpiFigures {
    /// Uploads expected in the window: its part after registration (or first upload), before
    /// `now` and within the retention, divided by the expected interval.
    pub expected: f64,
    /// Distinct uploads captured in the window (duplicates excluded), whenever they arrived.
    pub received: u64,
    /// `received / expected`, at most 1; overall, each dongle's received count is capped at its
    /// expected count first, so one dongle's surplus cannot hide another's loss.
    pub availability: Option<f64>,
    /// Uploads accepted in the window (by receive time).
    pub accepted: u64,
    /// Of those, with a CRC error.
    pub crc_errors: u64,
    /// Uploads rejected in the window.
    pub rejected: u64,
    /// Successful transmission rate: `(accepted − crc_errors) / (accepted + rejected)`.
    pub success_rate: Option<f64>,
    /// Mean receive − capture of the uploads received in the window (exact).
    pub latency_mean: Option<SignedDuration>,
    /// 99th percentile (nearest rank) of the same, over the uploads of the window still in the
    /// per-dongle rings of the last `latency_window` uploads (an approximation for long
    /// windows: the most recent uploads of the window).
    pub latency_p99: Option<SignedDuration>,
    /// Intervals between consecutive arrivals ending in the window.
    pub intervals: u64,
    /// Of those, within ±50 % of the expected interval.
    pub regular_intervals: u64,
    /// `regular_intervals / intervals`.
    pub regularity: Option<f64>,
}

impl KpiFigures {
    fn finish(&mut self, latency_sum_ns: i128, latencies: &mut [i64], capped_received: f64) {
        self.availability =
            (self.expected > 0.0).then(|| (capped_received / self.expected).min(1.0));
        let attempts = self.accepted.saturating_add(self.rejected);
        self.success_rate = (attempts > 0)
            .then(|| self.accepted.saturating_sub(self.crc_errors) as f64 / attempts as f64);
        self.latency_mean = if self.accepted > 0 {
            SignedDuration::try_from_nanos_i128(latency_sum_ns / i128::from(self.accepted))
        } else {
            None
        };
        self.latency_p99 = quantile_ns(latencies, 99, 100);
        self.regularity =
            (self.intervals > 0).then(|| self.regular_intervals as f64 / self.intervals as f64);
    }
}

impl Supervisor {
    /// The KPIs over `window` (`[from, to)`, widened to whole buckets) as of `now`.
    pub fn kpis(&self, now: Timestamp, window: (Timestamp, Timestamp)) -> Kpis {
        let buckets = Buckets::new(&self.config);
        let first = buckets.of(window.0);
        let end = buckets.ceil(window.1).max(first);
        let from = buckets.start(first).unwrap_or(window.0);
        let to = buckets.start(end).unwrap_or(window.1);
        let low = first.max(buckets.horizon(now));
        let kept_from = buckets.start(low).unwrap_or(from).max(from);
        let (from_ms, to_ms) = (from.as_millisecond(), to.as_millisecond());

        let mut overall = KpiFigures::default();
        let mut overall_latency_ns = 0i128;
        let mut overall_capped = 0.0;
        let mut overall_latencies = Vec::new();
        let mut dongles = Vec::with_capacity(self.dongles.len());
        for (name, d) in &self.dongles {
            let mut f = KpiFigures::default();
            let start = kept_from.max(d.since);
            let stop = to.min(now);
            if stop > start {
                f.expected = stop.duration_since(start).div_duration_f64(d.expected_interval);
            }
            let mut latency_ns = 0i128;
            if low < end {
                for b in d.buckets.range(low..end).map(|(_, b)| b) {
                    f.received += u64::from(b.captured);
                    f.accepted += u64::from(b.received);
                    f.crc_errors += u64::from(b.crc_errors);
                    f.rejected += u64::from(b.rejected);
                    f.intervals += u64::from(b.intervals);
                    f.regular_intervals += u64::from(b.regular);
                    latency_ns = latency_ns.saturating_add(b.latency_sum_ns);
                }
            }
            let mut latencies: Vec<i64> = d
                .samples
                .iter()
                .filter(|s| s.at_ms >= from_ms && s.at_ms < to_ms)
                .map(|s| s.latency_ns)
                .collect();
            let capped = (f.received as f64).min(f.expected);
            f.finish(latency_ns, &mut latencies, capped);

            overall.expected += f.expected;
            overall.received += f.received;
            overall.accepted += f.accepted;
            overall.crc_errors += f.crc_errors;
            overall.rejected += f.rejected;
            overall.intervals += f.intervals;
            overall.regular_intervals += f.regular_intervals;
            overall_latency_ns = overall_latency_ns.saturating_add(latency_ns);
            overall_capped += capped;
            overall_latencies.extend_from_slice(&latencies);
            dongles.push(DongleKpis { dongle: name.clone(), figures: f });
        }
        if low < end {
            overall.rejected +=
                self.unattributed.range(low..end).map(|(_, &n)| u64::from(n)).sum::<u64>();
        }
        overall.finish(overall_latency_ns, &mut overall_latencies, overall_capped);
        Kpis { from, to, overall, dongles }
    }
}
