//! The console's [`Snapshot`], assembled from the booking ledger, the meters' watches and the
//! platform's admin API answers (`wire::api::v1`). Everything here is pure: the documents
//! come in already fetched.

use super::live::MeterWatch;
use booking::{Ledger, SlotState};
use clock::{SignedDuration, Timestamp};
use std::collections::BTreeMap;
use tui::model::{
    AccessRow, ConsentRow, DongleLive, Incident, Kpis, MandateRow, MeterLive, PointView, Rig, Sla,
    Slot,
};
use wire::api::v1 as w;

/// The console's name of a rig meter: `rig-a/01` for `rig-a/meter-01` (its id columns are
/// 8 characters wide).
pub(crate) fn short_meter(id: &str) -> String {
    id.replace("/meter-", "/")
}

/// The console's name of a dongle: `rig-a-01` for the platform's `rig-a-meter-01`.
pub(crate) fn short_dongle(id: &str) -> String {
    id.replace("-meter-", "-")
}

/// A variant id in the console's 14 columns: without the maker (the telegram's header names
/// it) and then without `dsmr-` when it is longer (`fluvius-s211-1.7.1` → `s211-1.7.1`,
/// `iskra-am550-dsmr-5.0.2` → `am550-5.0.2`).
pub(crate) fn short_variant(id: &str) -> String {
    const WIDTH: usize = 14;
    if id.len() <= WIDTH {
        return id.to_owned();
    }
    let model = id.split_once('-').map_or(id, |(_, rest)| rest);
    if model.len() <= WIDTH {
        return model.to_owned();
    }
    model.replace("dsmr-", "")
}

/// At most this many access-log rows per point (the newest).
pub(crate) const ACCESS_ROWS_PER_POINT: usize = 50;

/// Slots ended longer ago than this are left out of the calendar.
const SLOT_HISTORY: SignedDuration = SignedDuration::from_hours(24 * 14);

/// Rigs and slots from the ledger, slots by start.
pub(crate) fn rigs_and_slots(ledger: &Ledger, now: Timestamp) -> (Vec<Rig>, Vec<Slot>) {
    let rigs = ledger
        .rigs()
        .iter()
        .map(|r| Rig {
            id: r.id.clone(),
            variants: r.variants.iter().map(|v| v.variant_id.clone()).collect(),
        })
        .collect();
    let mut slots: Vec<Slot> = ledger
        .all_slots()
        .iter()
        .filter(|s| s.closed_at.unwrap_or(s.end) + SLOT_HISTORY >= now)
        .map(|s| Slot {
            id: s.id.0.to_string(),
            rig: s.rig.clone(),
            holder: ledger
                .agreement(s.agreement)
                .map_or_else(|| format!("agreement {}", s.agreement.0), |a| a.holder.clone()),
            start: s.start,
            end: s.end,
            state: slot_state(s, now).to_owned(),
        })
        .collect();
    slots.sort_by(|a, b| (a.start, &a.rig).cmp(&(b.start, &b.rig)));
    (rigs, slots)
}

/// The console's name for a slot's state at `now` (the ledger's tick may not have run yet).
fn slot_state(s: &booking::Slot, now: Timestamp) -> &'static str {
    match s.state {
        SlotState::Cancelled => "cancelled",
        SlotState::Ended if s.closed_at.is_some_and(|c| c < s.end) => "stopped",
        SlotState::Ended => "done",
        _ if s.end <= now => "done",
        SlotState::Active => "running",
        SlotState::Booked if s.start <= now => "running",
        SlotState::Booked => "booked",
    }
}

/// Live values of every watched meter.
pub(crate) fn meters(watches: &[std::sync::Arc<MeterWatch>]) -> Vec<MeterLive> {
    watches
        .iter()
        .map(|w| {
            let (latest, power_history, voltage_history) = w.latest();
            MeterLive {
                id: short_meter(&w.id),
                rig: w.rig.clone(),
                variant: short_variant(&w.variant),
                tariff: latest.tariff,
                import_w: latest.import_w,
                export_w: latest.export_w,
                voltage_dv: latest.voltage_dv,
                month_peak_w: latest.month_peak_w,
                power_history,
                voltage_history,
                last_telegram: latest.lines,
            }
        })
        .collect()
}

/// The platform's name for a connection state → the console's.
fn dongle_state(s: w::ConnectionState) -> &'static str {
    match s {
        w::ConnectionState::Stale => "late",
        w::ConnectionState::NeverSeen => "never",
        other => other.as_str(),
    }
}

/// The platform's view of each dongle joined with the lab's (buffer depth, injected fault).
pub(crate) fn dongles(
    docs: &[w::DongleStatus],
    watches: &[std::sync::Arc<MeterWatch>],
    now: Timestamp,
) -> Vec<DongleLive> {
    let by_id: BTreeMap<&str, &MeterWatch> =
        watches.iter().map(|w| (w.dongle.as_str(), w.as_ref())).collect();
    let mut out: Vec<DongleLive> = docs
        .iter()
        .map(|d| {
            let w = by_id.get(d.dongle.as_str());
            let stats = w.and_then(|w| w.dongle_stats());
            let interval_s = match d.uploads_per_minute {
                Some(upm) if upm > 0.0 => 60.0 / upm,
                _ => d.expected_interval.as_secs_f64(),
            };
            DongleLive {
                id: short_dongle(&d.dongle),
                meter: w.map(|w| short_meter(&w.id)).unwrap_or_default(),
                state: dongle_state(d.state).to_owned(),
                buffered: stats.map_or(0, |s| s.buffered + s.in_flight),
                interval_s,
                received: d.uploads,
                crc_errors: d.crc_errors,
                last_seen: d.last_seen,
                fault: w.and_then(|w| w.fault(now)),
            }
        })
        .collect();
    // A watched dongle the platform has not registered (yet): shown as never seen.
    for w in watches {
        if !docs.iter().any(|d| d.dongle == w.dongle) {
            let stats = w.dongle_stats();
            out.push(DongleLive {
                id: short_dongle(&w.dongle),
                meter: short_meter(&w.id),
                state: "never".to_owned(),
                buffered: stats.map_or(0, |s| s.buffered + s.in_flight),
                fault: w.fault(now),
                ..DongleLive::default()
            });
        }
    }
    out
}

/// The overall KPIs in percent and milliseconds (0 where the platform has no figure yet).
pub(crate) fn kpis(doc: &w::Kpis) -> Kpis {
    let pct = |v: Option<f64>| v.map_or(0.0, |v| v * 100.0);
    Kpis {
        availability_pct: pct(doc.overall.availability),
        mean_latency_ms: doc.overall.latency_mean.map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        success_rate_pct: pct(doc.overall.success_rate),
        regularity_pct: pct(doc.overall.regularity),
    }
}

/// Open incidents, then the most recent closed ones (at most `keep` in all), newest first.
pub(crate) fn incidents(docs: &[w::Incident], keep: usize) -> Vec<Incident> {
    let mut rows: Vec<&w::Incident> = docs.iter().collect();
    rows.sort_by_key(|i| (i.closed_at.is_some(), std::cmp::Reverse(i.opened_at), i.id));
    rows.into_iter()
        .take(keep)
        .map(|i| Incident {
            id: i.id,
            dongle: i.dongle.as_deref().map_or_else(|| "platform".to_owned(), short_dongle),
            kind: i.kind.as_str().to_owned(),
            opened: i.opened_at,
            closed: i.closed_at,
            detail: i.detail.clone(),
        })
        .collect()
}

/// SLA figures per rig: each rig's dongles' periods on time over those due (100 % when
/// nothing is due yet); the target is more than 95 % for both (R-SLA-1, R-SLA-2).
pub(crate) fn sla(docs: &[w::DongleSla], rig_of: &dyn Fn(&str) -> Option<String>) -> Vec<Sla> {
    let mut per_rig: BTreeMap<String, [u32; 4]> = BTreeMap::new();
    for d in docs {
        let Some(rig) = rig_of(&d.dongle) else { continue };
        let c = per_rig.entry(rig).or_default();
        c[0] += d.daily.on_time;
        c[1] += d.daily.due;
        c[2] += d.monthly.on_time;
        c[3] += d.monthly.due;
    }
    let pct = |on: u32, due: u32| {
        if due == 0 { 100.0 } else { 100.0 * f64::from(on) / f64::from(due) }
    };
    per_rig
        .into_iter()
        .map(|(rig, [d_on, d_due, m_on, m_due])| {
            let (daily, monthly) = (pct(d_on, d_due), pct(m_on, m_due));
            Sla {
                rig,
                daily_within_5d_pct: daily,
                monthly_within_15d_pct: monthly,
                pass: daily > 95.0 && monthly > 95.0,
            }
        })
        .collect()
}

/// The console's name for a mandate's state at `now`.
fn mandate_state(m: &w::Mandate, now: Timestamp) -> &'static str {
    match m.state {
        w::MandateState::Approved if m.valid_until.is_some_and(|v| v <= now) => "expired",
        w::MandateState::Approved => "active",
        w::MandateState::Requested => "pending",
        w::MandateState::Rejected => "rejected",
        w::MandateState::Finished { .. } => "ended",
        w::MandateState::Expired => "expired",
    }
}

/// Access points with their grid user at `now`, mandates and consents (ESPs by name).
pub(crate) fn points(reg: &w::RegistersView, now: Timestamp) -> Vec<PointView> {
    let esp = |kbo: &domain::Kbo| {
        reg.esps
            .iter()
            .find(|e| &e.kbo == kbo)
            .map_or_else(|| kbo.as_str().to_owned(), |e| e.name.clone())
    };
    reg.points
        .iter()
        .map(|p| PointView {
            ean: p.access_point.ean.to_string(),
            grid_user: current_grid_user(p, now),
            mandates: p
                .mandates
                .iter()
                .map(|m| MandateRow {
                    id: m.id.clone(),
                    esp: esp(&m.esp),
                    scope: m.scope.as_str().replace('_', " "),
                    period_from: m.period_from,
                    period_to: m.period_to,
                    state: mandate_state(m, now).to_owned(),
                    valid_until: m.valid_until,
                })
                .collect(),
            consents: p
                .consents
                .iter()
                .map(|c| ConsentRow {
                    id: c.id.clone(),
                    esp: esp(&c.esp),
                    service: c.service.clone(),
                    granted_at: c.granted_at,
                    revoked_at: c.revoked_at,
                })
                .collect(),
        })
        .collect()
}

/// The grid user on a point at `now` (`None` while nobody is).
pub(crate) fn current_grid_user(p: &w::PointRegisters, now: Timestamp) -> Option<String> {
    p.occupancy
        .iter()
        .find(|o| o.from <= now && o.to.is_none_or(|t| now < t))
        .and_then(|o| o.grid_user.as_ref().map(|g| g.0.clone()))
}

/// Access-log rows under their access point (the log names the data service point asked
/// for), the newest [`ACCESS_ROWS_PER_POINT`] of each point, newest first.
pub(crate) fn access_log(rows: &[w::AccessEntry], reg: &w::RegistersView) -> Vec<AccessRow> {
    let mut ap_of: BTreeMap<&str, &str> = BTreeMap::new();
    for p in &reg.points {
        ap_of.insert(p.access_point.ean.as_str(), p.access_point.ean.as_str());
        for d in &p.access_point.data_service_points {
            ap_of.insert(d.as_str(), p.access_point.ean.as_str());
        }
    }
    let mut sorted: Vec<&w::AccessEntry> = rows.iter().collect();
    sorted.sort_by_key(|r| std::cmp::Reverse(r.at));
    let mut per_point: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for r in sorted {
        let point = ap_of.get(r.point.as_str()).copied().unwrap_or(r.point.as_str());
        let n = per_point.entry(point).or_default();
        if *n >= ACCESS_ROWS_PER_POINT {
            continue;
        }
        *n += 1;
        out.push(AccessRow {
            at: r.at,
            party: r.party.clone(),
            point: point.to_owned(),
            what: r.what.clone(),
            from: r.from,
            to: r.to,
            allowed: r.allowed,
            basis: r.basis.clone(),
        });
    }
    out
}

/// The next free grid user id `G<n>` and supplier id `supplier-<n>` for a market scenario
/// that brings new ones.
pub(crate) fn next_parties(reg: &w::RegistersView) -> (String, String) {
    let mut g = 0u64;
    let mut s = 0u64;
    let num = |x: &str, prefix: &str| x.strip_prefix(prefix).and_then(|n| n.parse::<u64>().ok());
    for p in &reg.points {
        for o in &p.occupancy {
            g = g.max(o.grid_user.as_ref().and_then(|x| num(&x.0, "G")).unwrap_or(0));
            s = s.max(o.supplier.as_ref().and_then(|x| num(&x.0, "supplier-")).unwrap_or(0));
        }
        for c in &p.consents {
            g = g.max(num(&c.grid_user.0, "G").unwrap_or(0));
        }
    }
    (format!("G{}", g + 1), format!("supplier-{}", s + 1))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const NOW: Timestamp = Timestamp::constant(1_795_426_200, 0);

    fn registers() -> w::RegistersView {
        serde_json::from_value(serde_json::json!({
            "points": [{
                "access_point": { "ean": "541448900000000014", "commodity": "electricity",
                                  "address": "Lab rig, rig-a/meter-01",
                                  "data_service_points": ["541448900000000021"] },
                "occupancy": [
                    { "grid_user": "G1", "supplier": "supplier-1", "from": "2025-11-23T09:30:00Z", "to": "2026-11-01T00:00:00Z" },
                    { "grid_user": "G7", "supplier": "supplier-2", "from": "2026-11-01T00:00:00Z", "to": null }
                ],
                "mandates": [
                    mandate("M1", "0123456749", "with_interval", None, Some("2028-11-23T09:30:00Z"),
                            serde_json::json!({ "status": "approved" })),
                    mandate("M2", "0999999922", "day_only", Some("2026-11-01T00:00:00Z"), None,
                            serde_json::json!({ "status": "finished", "reason": "customer" }))
                ],
                "consents": [
                    { "id": "C1", "grid_user": "G1", "esp": "0123456749", "service": "live",
                      "data_service_point": "541448900000000021",
                      "granted_at": "2026-11-20T10:00:00Z", "revoked_at": null, "revoke_reason": null }
                ]
            }],
            "esps": [{ "kbo": "0123456749", "gln": null, "name": "Demo ESP", "channel": "api",
                       "status": "active", "webhook_url": null, "services": [] }],
            "links": []
        }))
        .unwrap()
    }

    /// A mandate as the platform writes it (every field: the contract defaults none).
    fn mandate(
        id: &str,
        esp: &str,
        scope: &str,
        period_to: Option<&str>,
        valid_until: Option<&str>,
        state: serde_json::Value,
    ) -> serde_json::Value {
        serde_json::json!({
            "id": id, "esp": esp, "data_service_point": "541448900000000021",
            "access_point": "541448900000000014", "customer": "G1", "grid_user": "G1",
            "needs_co_consent": false, "customer_approved": true, "grid_user_approved": false,
            "scope": scope, "period_from": "2025-11-23T09:30:00Z", "period_to": period_to,
            "history": false, "requested_at": "2025-11-23T09:30:00Z", "approved_at": null,
            "valid_until": valid_until, "state": state, "renews": null,
            "renewal_signalled": false, "ended_at": null,
        })
    }

    #[test]
    fn points_show_the_current_grid_user_esp_names_and_states() {
        let p = points(&registers(), NOW);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].ean, "541448900000000014");
        assert_eq!(p[0].grid_user.as_deref(), Some("G7"), "the occupant now, after the switch");
        assert_eq!(p[0].mandates[0].esp, "Demo ESP");
        assert_eq!(p[0].mandates[0].scope, "with interval");
        assert_eq!(p[0].mandates[0].state, "active");
        assert_eq!(p[0].mandates[1].esp, "0999999922", "an unknown ESP by its KBO");
        assert_eq!(p[0].mandates[1].state, "ended");
        assert_eq!(p[0].consents[0].id, "C1");
        assert_eq!(p[0].consents[0].revoked_at, None);
        assert_eq!(next_parties(&registers()), ("G8".to_owned(), "supplier-3".to_owned()));
    }

    #[test]
    fn access_rows_go_under_their_access_point_newest_first_and_bounded() {
        let reg = registers();
        let row = |s: i64, point: &str| w::AccessEntry {
            at: NOW + SignedDuration::from_secs(s),
            party: "esp:0123456749".into(),
            point: point.into(),
            what: "quarter-hour".into(),
            from: NOW,
            to: NOW,
            allowed: true,
            basis: "M1".into(),
            detail: String::new(),
        };
        let mut rows: Vec<w::AccessEntry> = (0..80).map(|s| row(s, "541448900000000021")).collect();
        rows.push(row(5, "541448900000000099"));
        let out = access_log(&rows, &reg);
        let ap: Vec<&AccessRow> = out.iter().filter(|r| r.point == "541448900000000014").collect();
        assert_eq!(ap.len(), ACCESS_ROWS_PER_POINT);
        assert_eq!(ap[0].at, NOW + SignedDuration::from_secs(79), "newest first");
        assert_eq!(out.iter().filter(|r| r.point == "541448900000000099").count(), 1);
    }

    #[test]
    fn platform_documents_become_kpis_incidents_and_sla_per_rig() {
        let k: w::Kpis = serde_json::from_value(serde_json::json!({
            "from": "2026-11-23T08:30:00Z", "to": "2026-11-23T09:30:00Z",
            "overall": { "expected": 100.0, "received": 99, "availability": 0.99,
                         "accepted": 99, "crc_errors": 0, "rejected": 0,
                         "success_rate": 0.5, "latency_mean": "PT0.25S", "latency_p99": null,
                         "intervals": 0, "regular_intervals": 0, "regularity": null },
            "dongles": []
        }))
        .unwrap();
        let k = kpis(&k);
        assert!((k.availability_pct - 99.0).abs() < 1e-9);
        assert!((k.mean_latency_ms - 250.0).abs() < 1e-9);
        assert_eq!(k.regularity_pct, 0.0);

        let docs: Vec<w::Incident> = serde_json::from_value(serde_json::json!([
            { "id": 1, "dongle": "rig-a-meter-01", "kind": "offline", "opened_at": "2026-11-23T08:00:00Z",
              "closed_at": "2026-11-23T08:10:00Z", "detail": "no upload", "occurrences": 1,
              "last_occurrence": "2026-11-23T08:00:00Z", "notes": [] },
            { "id": 2, "dongle": null, "kind": "security", "opened_at": "2026-11-23T07:00:00Z",
              "closed_at": null, "detail": "unknown dongle", "occurrences": 3,
              "last_occurrence": "2026-11-23T07:00:00Z", "notes": [] },
            { "id": 3, "dongle": "rig-b-meter-02", "kind": "crc_errors", "opened_at": "2026-11-23T09:00:00Z",
              "closed_at": null, "detail": "CRC", "occurrences": 1,
              "last_occurrence": "2026-11-23T09:00:00Z", "notes": [] }
        ]))
        .unwrap();
        let inc = incidents(&docs, 2);
        assert_eq!(
            inc.iter().map(|i| i.id).collect::<Vec<_>>(),
            [3, 2],
            "open first, newest first"
        );
        assert_eq!(inc[1].dongle, "platform");
        assert_eq!(inc[0].dongle, "rig-b-02");

        let fig = |due: u32, on_time: u32| {
            serde_json::json!({ "requirement": "R-SLA-1", "due": due, "on_time": on_time, "late": 0,
                                "missing": due - on_time, "pct": 100.0, "target_pct": 95.0, "pass": true })
        };
        let sla_docs: Vec<w::DongleSla> = serde_json::from_value(serde_json::json!([
            { "dongle": "rig-a-meter-01", "daily": fig(10, 10), "monthly": fig(0, 0) },
            { "dongle": "rig-a-meter-02", "daily": fig(10, 8), "monthly": fig(1, 1) },
            { "dongle": "rig-b-meter-01", "daily": fig(0, 0), "monthly": fig(0, 0) },
            { "dongle": "elsewhere", "daily": fig(5, 0), "monthly": fig(0, 0) }
        ]))
        .unwrap();
        let rig_of = |d: &str| d.get(..5).filter(|r| r.starts_with("rig-")).map(str::to_owned);
        let s = sla(&sla_docs, &rig_of);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].rig, "rig-a");
        assert!((s[0].daily_within_5d_pct - 90.0).abs() < 1e-9);
        assert!(!s[0].pass, "90 % is not above 95 %");
        assert_eq!(
            (s[1].rig.as_str(), s[1].daily_within_5d_pct, s[1].pass),
            ("rig-b", 100.0, true)
        );
    }

    #[test]
    fn dongles_join_the_platforms_view_with_the_labs() {
        let v = meter::Catalogue::builtin().get("fluvius-t211-1.7.1").unwrap().clone();
        let w = std::sync::Arc::new(MeterWatch::new("rig-a", "meter-02", &v));
        let other = std::sync::Arc::new(MeterWatch::new("rig-b", "meter-01", &v));
        w.inject(super::super::live::FaultKind::CrcNoise, NOW);
        let status = |dongle: &str,
                      state: &str,
                      every: &str,
                      seen: Option<&str>,
                      uploads: u64,
                      crc: u64,
                      upm: Option<f64>| {
            serde_json::json!({
                "dongle": dongle, "state": state, "registered": true, "expected_interval": every,
                "since": "2026-11-23T09:00:00Z", "last_seen": seen, "last_capture": seen,
                "last_sequence": null, "uploads": uploads, "crc_errors": crc, "crc_error_rate": null,
                "rejected": 0, "missing": 0, "gaps": 0, "recovered": 0, "lost": 0, "duplicates": 0,
                "sequence_restarts": 0, "uploads_per_minute": upm, "latency_mean": null,
                "latency_p99": null,
                "anomalies": { "sequence_gaps": 0, "register_backwards": 0, "time_jumps": 0,
                               "impossible_power": 0, "security": 0 },
                "open_incidents": [],
            })
        };
        let docs: Vec<w::DongleStatus> = serde_json::from_value(serde_json::json!([
            status(
                "rig-a-meter-02",
                "stale",
                "PT1S",
                Some("2026-11-23T09:29:00Z"),
                1200,
                4,
                Some(30.0)
            ),
            status("old-dongle", "never_seen", "PT10S", None, 0, 0, None),
        ]))
        .unwrap();
        let d = dongles(&docs, &[w, other], NOW);
        assert_eq!(d.len(), 3);
        assert_eq!((d[0].id.as_str(), d[0].meter.as_str()), ("rig-a-02", "rig-a/02"));
        assert_eq!(d[0].state, "late");
        assert_eq!(d[0].interval_s, 2.0, "measured: 30 uploads a minute");
        assert_eq!((d[0].received, d[0].crc_errors), (1200, 4));
        assert_eq!(d[0].fault.as_deref(), Some("crc-noise"));
        assert_eq!(
            (d[1].state.as_str(), d[1].interval_s, d[1].meter.as_str()),
            ("never", 10.0, "")
        );
        assert_eq!((d[2].id.as_str(), d[2].state.as_str()), ("rig-b-01", "never"));
    }

    #[test]
    fn ids_fit_the_consoles_columns_and_stay_unique() {
        let catalogue = meter::Catalogue::builtin();
        let short: Vec<String> = catalogue.all().iter().map(|v| short_variant(&v.id)).collect();
        assert!(short.iter().all(|s| s.len() <= 14), "{short:?}");
        let mut unique = short.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), short.len(), "{short:?}");
        assert_eq!(short_variant("fluvius-s211-1.7.1"), "s211-1.7.1");
        assert_eq!(short_variant("iskra-am550-dsmr-5.0.2"), "am550-5.0.2");
        assert_eq!(short_variant("kaifa-dsmr-4.2"), "kaifa-dsmr-4.2");
        assert_eq!(short_meter("rig-b/meter-07"), "rig-b/07");
        assert_eq!(short_dongle("rig-b-meter-07"), "rig-b-07");
    }

    #[test]
    fn slots_carry_holders_and_states_at_now() {
        let catalogue = meter::Catalogue::builtin();
        let variants: Vec<(&str, &str)> =
            catalogue.all().iter().map(|v| (v.id.as_str(), v.firmware.as_str())).collect();
        let mut ledger =
            Ledger::new(booking::Policy::default(), booking::default_rigs(&variants)).unwrap();
        let (a, _) = ledger.sign_agreement(NOW, "ACME", "dev@acme.example", [1; 16]).unwrap();
        let day = SignedDuration::from_hours(24);
        let start = Timestamp::from_second((NOW + day * 8).as_second() / 3600 * 3600).unwrap();
        let s1 = ledger
            .book_as_operator(NOW, "console", a.id, "rig-a", start, booking::LeadTime::Enforce)
            .unwrap();
        let s2 = ledger
            .book_as_operator(NOW, "console", a.id, "rig-b", start, booking::LeadTime::Enforce)
            .unwrap();
        ledger.cancel_as_operator(NOW, "console", s2.id, "rig maintenance").unwrap();
        let err = ledger.cancel_as_operator(NOW, "console", s2.id, "rig maintenance").unwrap_err();
        assert_eq!(err.code(), "already_cancelled");
        let (rigs, slots) = rigs_and_slots(&ledger, NOW);
        assert_eq!(rigs.len(), 2);
        assert_eq!(rigs[0].variants.len(), 8);
        assert_eq!(slots.len(), 2);
        assert_eq!((slots[0].id.as_str(), slots[0].holder.as_str()), ("1", "ACME"));
        assert_eq!(slots[0].state, "booked");
        assert_eq!(slots[1].state, "cancelled");
        // At its start, before the ledger's tick: running; past its end: done.
        let (_, at_start) = rigs_and_slots(&ledger, s1.start);
        assert_eq!(at_start[0].state, "running");
        let (_, after) = rigs_and_slots(&ledger, s1.end);
        assert_eq!(after[0].state, "done");
    }
}
