//! The incident register, and how incidents are raised (or folded into the open one of their
//! kind), resolved, and counted as anomalies.

use crate::dongle::Dongle;
use crate::{Event, Incident, IncidentKind, Note};
use calendar::Timestamp;
use std::collections::BTreeMap;

/// The incident register: incidents in id order.
#[derive(Clone, Debug)]
pub(crate) struct Register {
    pub(crate) incidents: Vec<Incident>,
    pub(crate) next_id: u64,
    pub(crate) max: usize,
    pub(crate) opened: BTreeMap<IncidentKind, u64>,
}

impl Register {
    pub(crate) fn open(
        &mut self,
        dongle: Option<&str>,
        kind: IncidentKind,
        opened_at: Timestamp,
        now: Timestamp,
        detail: String,
    ) -> Incident {
        let incident = Incident {
            id: self.next_id,
            dongle: dongle.map(str::to_owned),
            kind,
            opened_at,
            closed_at: None,
            detail,
            occurrences: 1,
            last_occurrence: now.max(opened_at),
            notes: Vec::new(),
        };
        self.next_id += 1;
        *self.opened.entry(kind).or_default() += 1;
        self.incidents.push(incident.clone());
        self.compact();
        incident
    }

    pub(crate) fn index(&self, id: u64) -> Option<usize> {
        self.incidents.binary_search_by_key(&id, |i| i.id).ok()
    }

    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut Incident> {
        let index = self.index(id)?;
        self.incidents.get_mut(index)
    }

    pub(crate) fn touch(&mut self, id: u64, now: Timestamp) {
        if let Some(incident) = self.get_mut(id) {
            incident.occurrences = incident.occurrences.saturating_add(1);
            incident.last_occurrence = incident.last_occurrence.max(now);
        }
    }

    pub(crate) fn close(
        &mut self,
        id: u64,
        now: Timestamp,
        note: Option<String>,
    ) -> Option<Incident> {
        let incident = self.get_mut(id)?;
        if incident.closed_at.is_some() {
            return None;
        }
        incident.closed_at = Some(now.max(incident.opened_at));
        if let Some(text) = note {
            incident.notes.push(Note { at: now, text });
        }
        Some(incident.clone())
    }

    /// Drops the oldest closed incidents once there are more than `max`, down to 7/8 of it
    /// (so that the work is amortised).
    pub(crate) fn compact(&mut self) {
        if self.incidents.len() <= self.max {
            return;
        }
        let target = self.max - self.max / 8;
        let mut excess = self.incidents.len().saturating_sub(target);
        self.incidents.retain(|i| {
            if excess > 0 && i.closed_at.is_some() {
                excess -= 1;
                false
            } else {
                true
            }
        });
    }
}

/// Opens an incident of `kind` in `open` unless one is open already, in which case the
/// occurrence is folded into it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn raise(
    open: &mut BTreeMap<IncidentKind, u64>,
    register: &mut Register,
    dongle: Option<&str>,
    kind: IncidentKind,
    opened_at: Timestamp,
    now: Timestamp,
    detail: impl FnOnce() -> String,
    events: &mut Vec<Event>,
) {
    if let Some(&id) = open.get(&kind) {
        register.touch(id, now);
        return;
    }
    let incident = register.open(dongle, kind, opened_at, now, detail());
    open.insert(kind, incident.id);
    events.push(Event::IncidentOpened(incident));
}

/// Closes the open incident of `kind` in `open`, if any.
pub(crate) fn resolve(
    open: &mut BTreeMap<IncidentKind, u64>,
    register: &mut Register,
    kind: IncidentKind,
    now: Timestamp,
    note: impl FnOnce() -> String,
    events: &mut Vec<Event>,
) {
    if let Some(id) = open.remove(&kind)
        && let Some(incident) = register.close(id, now, Some(note()))
    {
        events.push(Event::IncidentClosed(incident));
    }
}

/// Records an anomalous observation of `kind` and raises its incident.
pub(crate) fn anomaly(
    d: &mut Dongle,
    register: &mut Register,
    name: &str,
    kind: IncidentKind,
    now: Timestamp,
    detail: impl FnOnce() -> String,
    events: &mut Vec<Event>,
) {
    let count = match kind {
        IncidentKind::RegisterBackwards => &mut d.anomalies.register_backwards,
        IncidentKind::TimeJump => &mut d.anomalies.time_jumps,
        IncidentKind::ImpossiblePower => &mut d.anomalies.impossible_power,
        IncidentKind::SequenceGap => &mut d.anomalies.sequence_gaps,
        IncidentKind::Security => &mut d.anomalies.security,
        IncidentKind::Offline | IncidentKind::CrcErrors => {
            raise(&mut d.open, register, Some(name), kind, now, now, detail, events);
            return;
        }
    };
    *count = count.saturating_add(1);
    d.last_anomaly.insert(kind, now);
    raise(&mut d.open, register, Some(name), kind, now, now, detail, events);
}

/// An id as shown in incident details: debug-quoted, at most 64 characters (ids in rejected
/// uploads are whatever the sender made up).
pub(crate) fn shown(id: &str) -> String {
    const MAX: usize = 64;
    if id.chars().count() <= MAX {
        format!("{id:?}")
    } else {
        let head: String = id.chars().take(MAX).collect();
        format!("{head:?}…")
    }
}
