//! Supervision of the dongles that feed the platform (R-NRT-9, R-NRT-10): connection state,
//! transmission frequency and quality, reception anomalies, the incident register, the KPIs
//! (availability, latency, successful transmission rate, regularity) and their Prometheus
//! exposition. A [`Supervisor`] is a fold over what the platform ingest sees: accepted uploads
//! ([`Supervisor::on_upload`]), rejected ones ([`Supervisor::on_rejected`]) and the passing of
//! time ([`Supervisor::tick`]); each step returns the [`Event`]s it caused.
//!
//! Invariants:
//! - Pure: no I/O, never reads the clock; `now` is an argument. The same calls give the same
//!   state, events, reports and exposition text, byte for byte (ordered maps only).
//! - Memory per dongle is bounded by the [`Config`] (rings of recent uploads, capped ranges of
//!   missing sequence numbers, KPI buckets for a retention period), so is the state kept for
//!   rejected uploads from unknown dongles (counters and one platform-wide incident), and so is
//!   the register: it keeps every open incident and the newest closed ones.
//! - At most one incident is open per (dongle, kind); incident ids are sequential from 1;
//!   `closed_at >= opened_at`.
//! - No input panics: time arithmetic is checked or saturating, counters saturate.
//!
//! Rules (thresholds are [`Config`] fields, defaults in brackets):
//! - State from the time since the last accepted upload: online, stale [30 s], offline
//!   [5 min]. Becoming offline (seen by [`Supervisor::tick`]) opens an `Offline` incident dated
//!   last upload + `offline_after`; the next upload closes it. Rejected uploads never count as
//!   contact.
//! - Sequence numbers: a jump opens `SequenceGap`; the missing numbers are tracked as ranges
//!   [64 per dongle, the oldest beyond are lost] and closed by backfill in any order, by a
//!   [24 h] timeout (lost) or by a numbering restart (lost). Numbers below the first one seen
//!   are a backlog, not duplicates.
//! - Anomalies, each an incident closed by the first upload [10 min] after its last
//!   occurrence: `RegisterBackwards` (an energy total lower than at the previous capture time,
//!   or higher than at the next, among the last [16] readings), `TimeJump` (capture ahead of
//!   receive, or going back in sequence order, by more than [10 min]; late backfill is not a
//!   jump), `ImpossiblePower` (above [100 kW]). Registers of CRC-corrupt telegrams are not
//!   judged.
//! - `CrcErrors` opens above [5 %] of the last [100] uploads (judged from [20]), closes
//!   below [1 %].
//! - A bad signature or unknown dongle opens `Security` (per known dongle, else one
//!   platform-wide incident); only a person closes it.
//! - Latency quantiles come from the last [1024] uploads per dongle (an approximation for
//!   long windows); KPI counters from [5 min] buckets kept [24 h].

mod config;
mod dongle;
mod incidents;
mod kpi;
mod model;
mod prometheus;
mod sequence;
pub mod sla;
#[cfg(test)]
mod tests;
mod upload;

use std::collections::BTreeMap;

use calendar::{SignedDuration, Timestamp};

pub use config::Config;
use dongle::{Buckets, Dongle, mean_ns, quantile_ns};
use incidents::{Register, anomaly, raise, resolve, shown};
pub use kpi::{DongleKpis, KpiFigures, Kpis};
pub use model::{
    AnomalyCounts, ConnectionState, DongleStatus, Event, Incident, IncidentKind, Note, Observed,
    Registers, Rejection, SupervisionError,
};

/// The supervision state of the platform: dongles, incident register, counters. See the crate
/// documentation for the invariants.
#[derive(Clone, Debug)]
pub struct Supervisor {
    config: Config,
    dongles: BTreeMap<String, Dongle>,
    register: Register,
    /// Open platform-wide incidents (not about a known dongle).
    platform_open: BTreeMap<IncidentKind, u64>,
    rejected: BTreeMap<Rejection, u64>,
    /// Rejections not attributed to a known dongle, by KPI bucket of their `now`.
    unattributed: BTreeMap<i64, u32>,
    latency_count: u64,
    latency_sum_ns: i128,
}

impl Supervisor {
    /// An empty supervisor. `config` is sanitised (see [`Config`]).
    pub fn new(config: Config) -> Self {
        let config = config.sanitized();
        let register = Register {
            incidents: Vec::new(),
            next_id: 1,
            max: config.max_incidents,
            opened: BTreeMap::new(),
        };
        Self {
            config,
            dongles: BTreeMap::new(),
            register,
            platform_open: BTreeMap::new(),
            rejected: BTreeMap::new(),
            unattributed: BTreeMap::new(),
            latency_count: 0,
            latency_sum_ns: 0,
        }
    }

    /// The configuration in force (after sanitising).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Registers a dongle that should upload every `expected_interval` (a non-positive value
    /// means the configured default). Its availability counts from `now`. Registering again
    /// only changes the interval.
    pub fn register_dongle(
        &mut self,
        dongle: &str,
        expected_interval: SignedDuration,
        now: Timestamp,
    ) {
        let interval = if expected_interval.is_positive() {
            expected_interval
        } else {
            self.config.expected_interval
        };
        match self.dongles.get_mut(dongle) {
            Some(d) => {
                d.registered = true;
                d.expected_interval = interval;
            }
            None => {
                self.dongles.insert(dongle.to_owned(), Dongle::new(true, interval, now));
            }
        }
    }

    /// Folds in an accepted upload processed at `now`.
    ///
    /// The dongle becomes online (closing its Offline incident); counters, the latency ring
    /// and the KPI buckets are updated; the sequence number is checked for gaps, backfill,
    /// restarts; the capture time for time jumps; CRC-clean registers for going backwards and
    /// impossible power. Anomaly incidents of kinds not seen in this upload close when their
    /// last occurrence is at least `anomaly_quiet` ago. Each is a step of [`upload::Upload`].
    pub fn on_upload(&mut self, now: Timestamp, up: &Observed) -> Vec<Event> {
        if !self.dongles.contains_key(&up.dongle) {
            let d = Dongle::new(false, self.config.expected_interval, now);
            self.dongles.insert(up.dongle.clone(), d);
        }
        let Some(d) = self.dongles.get_mut(&up.dongle) else { return Vec::new() };
        let mut u = upload::Upload::new(&self.config, &mut self.register, d, up, now);
        u.connection();
        u.counters();
        let timing = u.latency();
        let outcome = u.sequence();
        u.capture_time(outcome);
        u.registers();
        u.kpi_buckets(outcome, timing);
        u.crc_rate();
        u.quiet_anomalies();
        let events = u.events();
        self.latency_count = self.latency_count.saturating_add(1);
        self.latency_sum_ns = self.latency_sum_ns.saturating_add(i128::from(timing.latency_ns));
        events
    }

    /// Folds in an upload the platform refused at `now`. It is counted per reason, and per
    /// dongle when `dongle` names one the supervisor knows (registered or seen); a rejection
    /// never makes a dongle online. A bad signature or an unknown dongle opens a
    /// [`IncidentKind::Security`] incident: on the known dongle, or else on the one
    /// platform-wide incident (`dongle: None`), so that made-up ids cannot grow the state.
    pub fn on_rejected(
        &mut self,
        now: Timestamp,
        dongle: Option<&str>,
        reason: Rejection,
    ) -> Vec<Event> {
        let mut events = Vec::new();
        let count = self.rejected.entry(reason).or_default();
        *count = count.saturating_add(1);
        let buckets = Buckets::new(&self.config);
        let key = buckets.of(now);
        let register = &mut self.register;
        match dongle.and_then(|id| self.dongles.get_mut(id).map(|d| (id, d))) {
            Some((name, d)) => {
                d.rejected = d.rejected.saturating_add(1);
                let b = d.bucket(key);
                b.rejected = b.rejected.saturating_add(1);
                if reason.is_security() {
                    anomaly(
                        d,
                        register,
                        name,
                        IncidentKind::Security,
                        now,
                        || {
                            format!(
                                "upload under dongle id {} rejected: {}",
                                shown(name),
                                reason.as_str()
                            )
                        },
                        &mut events,
                    );
                }
            }
            None => {
                let b = self.unattributed.entry(key).or_default();
                *b = b.saturating_add(1);
                let horizon = buckets.horizon(now);
                while self.unattributed.first_key_value().is_some_and(|(&k, _)| k < horizon) {
                    self.unattributed.pop_first();
                }
                if reason.is_security() {
                    raise(
                        &mut self.platform_open,
                        register,
                        None,
                        IncidentKind::Security,
                        now,
                        now,
                        || match dongle {
                            Some(id) => format!(
                                "upload from unknown dongle id {} rejected: {}",
                                shown(id),
                                reason.as_str()
                            ),
                            None => {
                                format!("upload without dongle id rejected: {}", reason.as_str())
                            }
                        },
                        &mut events,
                    );
                }
            }
        }
        events
    }

    /// Lets time pass to `now`: dongles silent for `stale_after` become stale, for
    /// `offline_after` offline (opening an Offline incident dated last upload +
    /// `offline_after`); missing sequence numbers older than `gap_timeout` are counted lost.
    pub fn tick(&mut self, now: Timestamp) -> Vec<Event> {
        let mut events = Vec::new();
        let cfg = &self.config;
        let register = &mut self.register;
        for (name, d) in &mut self.dongles {
            let to = d.state_at(now, cfg);
            if to != d.state {
                events.push(Event::StateChanged { dongle: name.clone(), from: d.state, to });
                d.state = to;
                if to == ConnectionState::Offline
                    && let Some(last) = d.last_seen
                {
                    let opened_at = last.checked_add(cfg.offline_after).map_or(now, |t| t.min(now));
                    raise(
                        &mut d.open,
                        register,
                        Some(name),
                        IncidentKind::Offline,
                        opened_at,
                        now,
                        || format!("no upload since {last}"),
                        &mut events,
                    );
                }
            }
            if d.seq.missing() > 0 && d.seq.expire(now, cfg.gap_timeout) > 0 && d.seq.missing() == 0
            {
                let (recovered0, lost0) = d.gap_mark;
                let (recovered, lost) = (d.seq.recovered, d.seq.lost);
                let timeout = cfg.gap_timeout;
                resolve(
                    &mut d.open,
                    register,
                    IncidentKind::SequenceGap,
                    now,
                    || {
                        format!(
                            "gave up after {timeout:#}: {} backfilled, {} lost",
                            recovered.saturating_sub(recovered0),
                            lost.saturating_sub(lost0)
                        )
                    },
                    &mut events,
                );
            }
        }
        events
    }

    /// The status of every dongle at `now`, by id.
    pub fn status(&self, now: Timestamp) -> Vec<DongleStatus> {
        self.dongles.iter().map(|(name, d)| self.status_of(name, d, now)).collect()
    }

    /// The status of one dongle at `now`.
    pub fn dongle_status(&self, dongle: &str, now: Timestamp) -> Option<DongleStatus> {
        self.dongles.get_key_value(dongle).map(|(name, d)| self.status_of(name, d, now))
    }

    fn status_of(&self, name: &str, d: &Dongle, now: Timestamp) -> DongleStatus {
        let cfg = &self.config;
        let uploads_per_minute = {
            let n = d.samples.len().min(cfg.frequency_window);
            let first = d.samples.len().checked_sub(n).and_then(|i| d.samples.get(i));
            match (first, d.samples.back()) {
                (Some(first), Some(last)) if n >= 2 => {
                    let end = now.as_millisecond().max(last.at_ms);
                    let span_ms = i128::from(end) - i128::from(first.at_ms);
                    (span_ms > 0).then(|| (n - 1) as f64 * 60_000.0 / span_ms as f64)
                }
                _ => None,
            }
        };
        let mut latencies = d.latencies();
        DongleStatus {
            dongle: name.to_owned(),
            state: d.state_at(now, cfg),
            registered: d.registered,
            expected_interval: d.expected_interval,
            since: d.since,
            last_seen: d.last_seen,
            last_capture: d.last_capture,
            last_sequence: d.seq.highest(),
            uploads: d.uploads,
            crc_errors: d.crc_errors,
            crc_error_rate: d.crc_rate(cfg.crc_window),
            rejected: d.rejected,
            missing: d.seq.missing(),
            gaps: d.seq.detected,
            recovered: d.seq.recovered,
            lost: d.seq.lost,
            duplicates: d.seq.duplicates,
            sequence_restarts: d.seq.restarts,
            uploads_per_minute,
            latency_mean: mean_ns(&latencies),
            latency_p99: quantile_ns(&mut latencies, 99, 100),
            anomalies: d.anomalies,
            open_incidents: d.open.values().copied().collect(),
        }
    }

    /// The register: every open incident and the newest closed ones (up to `max_incidents`
    /// in all), in id order.
    pub fn incidents(&self) -> &[Incident] {
        &self.register.incidents
    }

    /// One incident by id.
    pub fn incident(&self, id: u64) -> Option<&Incident> {
        self.register.index(id).and_then(|i| self.register.incidents.get(i))
    }

    /// Adds a note to an incident, open or closed.
    pub fn add_note(
        &mut self,
        id: u64,
        now: Timestamp,
        text: &str,
    ) -> Result<(), SupervisionError> {
        if text.trim().is_empty() {
            return Err(SupervisionError::EmptyNote);
        }
        let incident = self.register.get_mut(id).ok_or(SupervisionError::UnknownIncident(id))?;
        incident.notes.push(Note { at: now, text: text.to_owned() });
        Ok(())
    }

    /// Closes an incident by hand (the only way a Security incident closes), with a note.
    /// If the condition persists, the next occurrence opens a new incident.
    pub fn close_incident(
        &mut self,
        id: u64,
        now: Timestamp,
        note: &str,
    ) -> Result<Incident, SupervisionError> {
        if note.trim().is_empty() {
            return Err(SupervisionError::EmptyNote);
        }
        let incident = self.register.get_mut(id).ok_or(SupervisionError::UnknownIncident(id))?;
        if incident.closed_at.is_some() {
            return Err(SupervisionError::AlreadyClosed(id));
        }
        let (dongle, kind) = (incident.dongle.clone(), incident.kind);
        let open = match dongle.as_deref().and_then(|name| self.dongles.get_mut(name)) {
            Some(d) => &mut d.open,
            None => &mut self.platform_open,
        };
        if open.get(&kind) == Some(&id) {
            open.remove(&kind);
        }
        self.register
            .close(id, now, Some(note.to_owned()))
            .ok_or(SupervisionError::AlreadyClosed(id))
    }
}
