//! What one accepted upload does to its dongle's supervision: each concern of
//! [`crate::Supervisor::on_upload`] is one step here, run in order.

use crate::dongle::{Buckets, Dongle, Sample};
use crate::incidents::{Register, anomaly, raise, resolve};
use crate::sequence::Outcome;
use crate::{Config, ConnectionState, Event, IncidentKind, Note, Observed};
use calendar::Timestamp;
use domain::Power;

/// One accepted upload being folded into its dongle's state.
pub(crate) struct Upload<'a> {
    cfg: &'a Config,
    register: &'a mut Register,
    d: &'a mut Dongle,
    up: &'a Observed,
    now: Timestamp,
    /// Anomaly kinds this upload showed: they do not go quiet with it.
    flagged: Vec<IncidentKind>,
    events: Vec<Event>,
}

/// The latency of the upload and the time since the dongle's previous one.
#[derive(Clone, Copy)]
pub(crate) struct Timing {
    /// Receive minus capture time, ns (saturating).
    pub(crate) latency_ns: i64,
    /// Since the previous upload was received, ms.
    interval_ms: Option<i128>,
}

impl<'a> Upload<'a> {
    pub(crate) fn new(
        cfg: &'a Config,
        register: &'a mut Register,
        d: &'a mut Dongle,
        up: &'a Observed,
        now: Timestamp,
    ) -> Self {
        Upload { cfg, register, d, up, now, flagged: Vec::new(), events: Vec::new() }
    }

    /// The events the steps caused, in order.
    pub(crate) fn events(self) -> Vec<Event> {
        self.events
    }

    /// Records an anomaly of `kind` seen in this upload and raises its incident.
    fn flag(&mut self, kind: IncidentKind, detail: impl FnOnce() -> String) {
        self.flagged.push(kind);
        let name = self.up.dongle.as_str();
        anomaly(self.d, self.register, name, kind, self.now, detail, &mut self.events);
    }

    /// The dongle is online (its Offline incident closes); last seen and last capture move.
    pub(crate) fn connection(&mut self) {
        let (d, up, now) = (&mut *self.d, self.up, self.now);
        if d.state != ConnectionState::Online {
            self.events.push(Event::StateChanged {
                dongle: up.dongle.clone(),
                from: d.state,
                to: ConnectionState::Online,
            });
            d.state = ConnectionState::Online;
        }
        let previous_seen = d.last_seen;
        resolve(
            &mut d.open,
            self.register,
            IncidentKind::Offline,
            now,
            || match previous_seen {
                Some(last) => {
                    format!("back online after {:#} of silence", now.duration_since(last))
                }
                None => "back online".to_owned(),
            },
            &mut self.events,
        );
        d.last_seen = Some(previous_seen.map_or(up.received_at, |last| last.max(up.received_at)));
        d.last_capture = Some(up.captured_at);
    }

    /// The upload and CRC counters, and the window of recent CRC results.
    pub(crate) fn counters(&mut self) {
        let d = &mut *self.d;
        d.uploads = d.uploads.saturating_add(1);
        let crc_bad = !self.up.crc_ok;
        if crc_bad {
            d.crc_errors = d.crc_errors.saturating_add(1);
        }
        d.crc_bits = (d.crc_bits << 1) | u128::from(crc_bad);
        d.crc_samples = (d.crc_samples + 1).min(self.cfg.crc_window);
    }

    /// Latency and arrival regularity: the ring of recent uploads.
    pub(crate) fn latency(&mut self) -> Timing {
        let (d, up) = (&mut *self.d, self.up);
        let latency = up.received_at.duration_since(up.captured_at);
        let latency_ns = i64::try_from(latency.as_nanos()).unwrap_or(if latency.is_negative() {
            i64::MIN
        } else {
            i64::MAX
        });
        let at_ms = up.received_at.as_millisecond();
        let interval_ms = d.samples.back().map(|s| i128::from(at_ms) - i128::from(s.at_ms));
        d.samples.push_back(Sample { at_ms, latency_ns });
        while d.samples.len() > self.cfg.latency_window {
            d.samples.pop_front();
        }
        Timing { latency_ns, interval_ms }
    }

    /// Sequence numbers: a jump opens SequenceGap, a restart notes what was lost, and the
    /// incident closes once nothing is missing.
    pub(crate) fn sequence(&mut self) -> Outcome {
        let (up, now) = (self.up, self.now);
        let outcome = self.d.seq.observe(up.sequence, up.captured_at, now, self.cfg.max_gap_ranges);
        match outcome {
            Outcome::Next { previous, gap, .. } if gap > 0 => {
                if !self.d.open.contains_key(&IncidentKind::SequenceGap) {
                    self.d.gap_mark = (self.d.seq.recovered, self.d.seq.lost);
                }
                let name = up.dongle.as_str();
                anomaly(
                    self.d,
                    self.register,
                    name,
                    IncidentKind::SequenceGap,
                    now,
                    || format!("sequence jumped from {previous} to {}: {gap} missing", up.sequence),
                    &mut self.events,
                );
            }
            Outcome::Restart { previous, lost } => {
                if let Some(&id) = self.d.open.get(&IncidentKind::SequenceGap)
                    && let Some(incident) = self.register.get_mut(id)
                {
                    incident.notes.push(Note {
                        at: now,
                        text: format!(
                            "numbering restarted at {} after {previous}; {lost} missing numbers lost",
                            up.sequence
                        ),
                    });
                }
            }
            _ => {}
        }
        let d = &mut *self.d;
        if d.seq.missing() == 0 {
            let (recovered0, lost0) = d.gap_mark;
            let (recovered, lost) = (d.seq.recovered, d.seq.lost);
            resolve(
                &mut d.open,
                self.register,
                IncidentKind::SequenceGap,
                now,
                || {
                    format!(
                        "nothing missing any more: {} backfilled, {} lost",
                        recovered.saturating_sub(recovered0),
                        lost.saturating_sub(lost0)
                    )
                },
                &mut self.events,
            );
        }
        outcome
    }

    /// Capture time ahead of the receive time, or going back in sequence order.
    pub(crate) fn capture_time(&mut self, outcome: Outcome) {
        let (up, skew) = (self.up, self.cfg.max_clock_skew);
        let ahead = up.captured_at.duration_since(up.received_at);
        if ahead > skew {
            self.flag(IncidentKind::TimeJump, || {
                format!(
                    "capture time {} is {ahead:#} ahead of receive time {}",
                    up.captured_at, up.received_at
                )
            });
        }
        if let Outcome::Next { previous, previous_capture, .. } = outcome {
            let back = previous_capture.duration_since(up.captured_at);
            if back > skew {
                self.flag(IncidentKind::TimeJump, || {
                    format!(
                        "capture time went back {back:#} from sequence {previous} ({previous_capture}) to {} ({})",
                        up.sequence, up.captured_at
                    )
                });
            }
        }
    }

    /// The energy registers of a CRC-clean telegram: out of order with the recent ones, or
    /// an impossible power.
    pub(crate) fn registers(&mut self) {
        let up = self.up;
        let (true, Some(r)) = (up.crc_ok, up.registers) else { return };
        let at = up.captured_at;
        let d = &*self.d;
        let before = d.registers.range(..at).next_back().map(|(&t, &v)| (t, v));
        let after = d
            .registers
            .range((std::ops::Bound::Excluded(at), std::ops::Bound::Unbounded))
            .next()
            .map(|(&t, &v)| (t, v));
        let backwards = before
            .filter(|&(_, (import, export))| r.import < import || r.export < export)
            .map(|(t, (import, export))| (t, import, export, "earlier"))
            .or_else(|| {
                after
                    .filter(|&(_, (import, export))| r.import > import || r.export > export)
                    .map(|(t, (import, export))| (t, import, export, "later"))
            });
        if let Some((t, import, export, which)) = backwards {
            self.flag(IncidentKind::RegisterBackwards, || {
                format!(
                    "registers import {} Wh, export {} Wh at {at} out of order with import {} Wh, export {} Wh at {which} {t}",
                    r.import.as_wh(),
                    r.export.as_wh(),
                    import.as_wh(),
                    export.as_wh()
                )
            });
        }
        let d = &mut *self.d;
        d.registers.insert(at, (r.import, r.export));
        while d.registers.len() > self.cfg.register_history {
            d.registers.pop_first();
        }
        let max = self.cfg.max_power_w;
        if r.power_import.max(r.power_export) > Power::w(u64::from(max)) {
            self.flag(IncidentKind::ImpossiblePower, || {
                format!(
                    "power import {} W, export {} W above {max} W",
                    r.power_import.as_w(),
                    r.power_export.as_w()
                )
            });
        }
    }

    /// The KPI buckets: data captured (by capture time, duplicates aside), received, CRC
    /// errors, latency and regular intervals (by receive time); buckets past retention go.
    pub(crate) fn kpi_buckets(&mut self, outcome: Outcome, timing: Timing) {
        let (cfg, up, now, d) = (self.cfg, self.up, self.now, &mut *self.d);
        let buckets = Buckets::new(cfg);
        let horizon = buckets.horizon(now);
        if outcome != Outcome::Duplicate {
            let key = buckets.of(up.captured_at);
            if key >= horizon && key <= buckets.of(now).saturating_add(buckets.ahead(cfg)) {
                let b = d.bucket(key);
                b.captured = b.captured.saturating_add(1);
            }
        }
        let key = buckets.of(up.received_at);
        if key >= horizon {
            let expected_ms = d.expected_interval.as_millis();
            let b = d.bucket(key);
            b.received = b.received.saturating_add(1);
            b.crc_errors = b.crc_errors.saturating_add(u32::from(!up.crc_ok));
            b.latency_sum_ns = b.latency_sum_ns.saturating_add(i128::from(timing.latency_ns));
            if let Some(interval) = timing.interval_ms {
                b.intervals = b.intervals.saturating_add(1);
                if 2 * interval >= expected_ms && 2 * interval <= 3 * expected_ms {
                    b.regular = b.regular.saturating_add(1);
                }
            }
        }
        while d.buckets.first_key_value().is_some_and(|(&k, _)| k < horizon) {
            d.buckets.pop_first();
        }
    }

    /// The CRC error rate over the recent uploads opens or closes the CrcErrors incident.
    pub(crate) fn crc_rate(&mut self) {
        let (cfg, now, d) = (self.cfg, self.now, &mut *self.d);
        if d.crc_samples < cfg.crc_min_samples {
            return;
        }
        let Some(rate) = d.crc_rate(cfg.crc_window) else { return };
        let samples = d.crc_samples;
        if rate > cfg.crc_open_rate {
            raise(
                &mut d.open,
                self.register,
                Some(self.up.dongle.as_str()),
                IncidentKind::CrcErrors,
                now,
                now,
                || format!("CRC errors in {:.1} % of the last {samples} uploads", rate * 100.0),
                &mut self.events,
            );
        } else if rate < cfg.crc_close_rate {
            resolve(
                &mut d.open,
                self.register,
                IncidentKind::CrcErrors,
                now,
                || {
                    format!(
                        "CRC errors down to {:.1} % of the last {samples} uploads",
                        rate * 100.0
                    )
                },
                &mut self.events,
            );
        }
    }

    /// Anomaly incidents this upload did not show close once their last occurrence is at
    /// least `anomaly_quiet` ago.
    pub(crate) fn quiet_anomalies(&mut self) {
        let (cfg, now, d) = (self.cfg, self.now, &mut *self.d);
        for kind in IncidentKind::QUIETING {
            if self.flagged.contains(&kind) || !d.open.contains_key(&kind) {
                continue;
            }
            let quiet = d
                .last_anomaly
                .get(&kind)
                .is_none_or(|&last| now.duration_since(last) >= cfg.anomaly_quiet);
            if quiet {
                let quiet_for = cfg.anomaly_quiet;
                resolve(
                    &mut d.open,
                    self.register,
                    kind,
                    now,
                    || format!("no recurrence for {quiet_for:#}"),
                    &mut self.events,
                );
            }
        }
    }
}
