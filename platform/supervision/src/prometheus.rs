//! Prometheus text exposition (format 0.0.4) of the supervision state.

use std::fmt::Write;

use calendar::Timestamp;

use crate::{ConnectionState, IncidentKind, Rejection, Supervisor, quantile_ns};

/// Escapes a label value: backslash, double quote and line feed.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A sample value as Prometheus spells it.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".to_owned() } else { "-Inf".to_owned() }
    } else {
        format!("{v}")
    }
}

/// A per-dongle sample value.
type DongleValue = fn(&crate::Dongle) -> u64;

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

impl Supervisor {
    /// The Prometheus text exposition at `now`: dongles by state, per-dongle counters, rejected
    /// uploads by reason, the latency summary (quantiles over the per-dongle rings of recent
    /// uploads; sum and count over all uploads), open and opened incidents by kind. Families
    /// and series come in a fixed order; label values are escaped.
    pub fn prometheus(&self, now: Timestamp) -> String {
        let mut out = String::new();
        let cfg = &self.config;

        family(&mut out, "meterlab_dongles", "gauge", "Dongles by connection state.");
        for state in ConnectionState::ALL {
            let n = self.dongles.values().filter(|d| d.state_at(now, cfg) == state).count();
            let _ = writeln!(out, "meterlab_dongles{{state=\"{}\"}} {n}", state.as_str());
        }

        let per_dongle: [(&str, &str, &str, DongleValue); 6] = [
            ("meterlab_uploads_total", "counter", "Accepted uploads per dongle.", |d| d.uploads),
            (
                "meterlab_crc_errors_total",
                "counter",
                "Accepted uploads whose telegram failed its CRC, per dongle.",
                |d| d.crc_errors,
            ),
            (
                "meterlab_dongle_rejected_total",
                "counter",
                "Rejected uploads under a known dongle id, per dongle.",
                |d| d.rejected,
            ),
            (
                "meterlab_sequence_gaps_total",
                "counter",
                "Missing sequence numbers detected, per dongle.",
                |d| d.seq.detected,
            ),
            (
                "meterlab_sequence_lost_total",
                "counter",
                "Missing sequence numbers given up on, per dongle.",
                |d| d.seq.lost,
            ),
            (
                "meterlab_sequence_missing",
                "gauge",
                "Sequence numbers missing now, per dongle.",
                |d| d.seq.missing(),
            ),
        ];
        for (name, kind, help, value) in per_dongle {
            family(&mut out, name, kind, help);
            for (id, d) in &self.dongles {
                let _ = writeln!(out, "{name}{{dongle=\"{}\"}} {}", escape(id), value(d));
            }
        }

        family(
            &mut out,
            "meterlab_last_seen_timestamp_seconds",
            "gauge",
            "Receive time of the latest upload, per dongle (seconds since the epoch).",
        );
        for (id, d) in &self.dongles {
            if let Some(last) = d.last_seen {
                let seconds = last.as_second() as f64 + f64::from(last.subsec_nanosecond()) / 1e9;
                let _ = writeln!(
                    out,
                    "meterlab_last_seen_timestamp_seconds{{dongle=\"{}\"}} {}",
                    escape(id),
                    number(seconds)
                );
            }
        }

        family(&mut out, "meterlab_rejected_total", "counter", "Rejected uploads by reason.");
        for reason in Rejection::ALL {
            let n = self.rejected.get(&reason).copied().unwrap_or(0);
            let _ = writeln!(out, "meterlab_rejected_total{{reason=\"{}\"}} {n}", reason.as_str());
        }

        family(
            &mut out,
            "meterlab_latency_seconds",
            "summary",
            "Receive time minus capture time of accepted uploads; quantiles over the last uploads of each dongle.",
        );
        let mut latencies: Vec<i64> =
            self.dongles.values().flat_map(|d| d.samples.iter().map(|s| s.latency_ns)).collect();
        for (label, num) in [("0.5", 50), ("0.99", 99)] {
            let q = quantile_ns(&mut latencies, num, 100).map_or(f64::NAN, |d| d.as_secs_f64());
            let _ = writeln!(out, "meterlab_latency_seconds{{quantile=\"{label}\"}} {}", number(q));
        }
        let _ = writeln!(
            out,
            "meterlab_latency_seconds_sum {}",
            number(self.latency_sum_ns as f64 / 1e9)
        );
        let _ = writeln!(out, "meterlab_latency_seconds_count {}", self.latency_count);

        family(&mut out, "meterlab_open_incidents", "gauge", "Open incidents by kind.");
        for kind in IncidentKind::ALL {
            let n = self.dongles.values().filter(|d| d.open.contains_key(&kind)).count()
                + usize::from(self.platform_open.contains_key(&kind));
            let _ = writeln!(out, "meterlab_open_incidents{{kind=\"{}\"}} {n}", kind.as_str());
        }

        family(&mut out, "meterlab_incidents_total", "counter", "Incidents opened, by kind.");
        for kind in IncidentKind::ALL {
            let n = self.register.opened.get(&kind).copied().unwrap_or(0);
            let _ = writeln!(out, "meterlab_incidents_total{{kind=\"{}\"}} {n}", kind.as_str());
        }
        out
    }
}
