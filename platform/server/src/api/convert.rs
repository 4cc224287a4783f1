//! Model values into the API's bodies. The models keep their own shapes; what goes over the
//! wire is decided by `wire::api::v1` alone, and every field is mapped here by name, so a
//! model change that would change the API fails to compile instead.

use registers::Refusal;
use wire::api::v1 as w;
use wire::api::v1::Code;

pub(crate) fn party_in(p: w::Party) -> registers::Party {
    match p {
        w::Party::Admin => registers::Party::Admin,
        w::Party::Operator => registers::Party::Operator,
        w::Party::GridUser(g) => registers::Party::GridUser(g),
        w::Party::Esp(k) => registers::Party::Esp(k),
    }
}

pub(crate) fn scope_in(s: w::Scope) -> registers::Scope {
    match s {
        w::Scope::DayOnly => registers::Scope::DayOnly,
        w::Scope::WithInterval => registers::Scope::WithInterval,
    }
}

fn scope(s: registers::Scope) -> w::Scope {
    match s {
        registers::Scope::DayOnly => w::Scope::DayOnly,
        registers::Scope::WithInterval => w::Scope::WithInterval,
    }
}

pub(crate) fn scenario_in(k: w::ScenarioKind) -> registers::ScenarioKind {
    use registers::ScenarioKind as M;
    match k {
        w::ScenarioKind::SupplierSwitch => M::SupplierSwitch,
        w::ScenarioKind::CustomerSwitch => M::CustomerSwitch,
        w::ScenarioKind::CombinedSwitch => M::CombinedSwitch,
        w::ScenarioKind::MoveIn => M::MoveIn,
        w::ScenarioKind::MoveOut => M::MoveOut,
        w::ScenarioKind::Moza => M::Moza,
        w::ScenarioKind::EndOfContract => M::EndOfContract,
        w::ScenarioKind::Drop => M::Drop,
    }
}

fn mandate_state(s: registers::MandateState) -> w::MandateState {
    use registers::{EndReason as E, MandateState as M};
    match s {
        M::Requested => w::MandateState::Requested,
        M::Approved => w::MandateState::Approved,
        M::Rejected => w::MandateState::Rejected,
        M::Expired => w::MandateState::Expired,
        M::Finished { reason } => w::MandateState::Finished {
            reason: match reason {
                E::Customer => w::EndReason::Customer,
                E::GridUser => w::EndReason::GridUser,
                E::Renewed => w::EndReason::Renewed,
            },
        },
    }
}

pub(crate) fn mandate(m: &registers::Mandate) -> w::Mandate {
    w::Mandate {
        id: m.id.clone(),
        esp: m.esp.clone(),
        data_service_point: m.data_service_point.clone(),
        access_point: m.access_point.clone(),
        customer: m.customer.clone(),
        grid_user: m.grid_user.clone(),
        needs_co_consent: m.needs_co_consent,
        customer_approved: m.customer_approved,
        grid_user_approved: m.grid_user_approved,
        scope: scope(m.scope),
        period_from: m.period_from,
        period_to: m.period_to,
        history: m.history,
        requested_at: m.requested_at,
        approved_at: m.approved_at,
        valid_until: m.valid_until,
        state: mandate_state(m.state),
        renews: m.renews.clone(),
        renewal_signalled: m.renewal_signalled,
        ended_at: m.ended_at,
    }
}

pub(crate) fn mandate_view(m: &registers::MandateView) -> w::MandateView {
    w::MandateView {
        id: m.id.clone(),
        state: mandate_state(m.state),
        scope: scope(m.scope),
        period_from: m.period_from,
        period_to: m.period_to,
        history: m.history,
        needs_co_consent: m.needs_co_consent,
        approved_at: m.approved_at,
        valid_until: m.valid_until,
    }
}

pub(crate) fn consent(c: &registers::Consent) -> w::Consent {
    w::Consent {
        id: c.id.clone(),
        grid_user: c.grid_user.clone(),
        data_service_point: c.data_service_point.clone(),
        esp: c.esp.clone(),
        service: c.service.clone(),
        granted_at: c.granted_at,
        revoked_at: c.revoked_at,
        revoke_reason: c.revoke_reason.map(|r| match r {
            registers::RevokeReason::GridUser => w::RevokeReason::GridUser,
            registers::RevokeReason::MarketScenario => w::RevokeReason::MarketScenario,
        }),
    }
}

pub(crate) fn occupancy(o: &registers::Occupancy) -> w::Occupancy {
    w::Occupancy {
        grid_user: o.grid_user.clone(),
        supplier: o.supplier.clone(),
        from: o.from,
        to: o.to,
    }
}

pub(crate) fn notification(n: &registers::Notification) -> w::Notification {
    use registers::NotificationKind as K;
    w::Notification {
        at: n.at,
        esp: n.esp.clone(),
        grid_user: n.grid_user.clone(),
        kind: match n.kind {
            K::MandateRequested => w::NotificationKind::MandateRequested,
            K::MandateApproved => w::NotificationKind::MandateApproved,
            K::MandateRejected => w::NotificationKind::MandateRejected,
            K::RenewalDue => w::NotificationKind::RenewalDue,
            K::MandateExpired => w::NotificationKind::MandateExpired,
            K::MandateEnded => w::NotificationKind::MandateEnded,
            K::PeriodTruncated => w::NotificationKind::PeriodTruncated,
            K::ConsentGranted => w::NotificationKind::ConsentGranted,
            K::ConsentRevoked => w::NotificationKind::ConsentRevoked,
            K::EspSuspended => w::NotificationKind::EspSuspended,
            K::EspReinstated => w::NotificationKind::EspReinstated,
        },
        mandate: n.mandate.clone(),
        consent: n.consent.clone(),
        point: n.point.clone(),
        detail: n.detail.clone(),
    }
}

pub(crate) fn access_entry(r: &store::AccessRow) -> w::AccessEntry {
    w::AccessEntry {
        at: r.at,
        party: r.party.clone(),
        point: r.point.clone(),
        what: r.what.clone(),
        from: r.from,
        to: r.to,
        allowed: r.allowed,
        basis: r.basis.clone(),
        detail: r.detail.clone(),
    }
}

pub(crate) fn delivery(d: &crate::webhooks::Delivery) -> w::Delivery {
    w::Delivery {
        id: d.id.clone(),
        esp: d.esp.clone(),
        event: d.event.clone(),
        url: d.url.clone(),
        body: d.body.clone(),
        created: d.created,
        state: d.state.clone(),
        attempts: d
            .attempts
            .iter()
            .map(|a| w::Attempt { at: a.at, status: a.status, error: a.error.clone() })
            .collect(),
    }
}

/// The code of an access refusal.
pub(crate) fn refusal(r: Refusal) -> Code {
    match r {
        Refusal::UnknownPoint => Code::UnknownPoint,
        Refusal::NoMandate => Code::NoMandate,
        Refusal::MandateNotApproved => Code::MandateNotApproved,
        Refusal::MandateExpired => Code::MandateExpired,
        Refusal::ScopeExcludesGranularity => Code::ScopeExcludesGranularity,
        Refusal::NoConsent => Code::NoConsent,
        Refusal::OutsideOccupancy => Code::OutsideOccupancy,
        Refusal::OutsidePeriod => Code::OutsidePeriod,
        Refusal::EspNotActive => Code::EspNotActive,
        Refusal::WrongChannel => Code::WrongChannel,
        Refusal::NotNeeded => Code::NotNeeded,
        Refusal::ForbiddenRole => Code::ForbiddenRole,
    }
}

// ---- supervision ----

fn state(s: supervision::ConnectionState) -> w::ConnectionState {
    use supervision::ConnectionState as S;
    match s {
        S::NeverSeen => w::ConnectionState::NeverSeen,
        S::Online => w::ConnectionState::Online,
        S::Stale => w::ConnectionState::Stale,
        S::Offline => w::ConnectionState::Offline,
    }
}

pub(crate) fn dongle_status(d: &supervision::DongleStatus) -> w::DongleStatus {
    let a = &d.anomalies;
    w::DongleStatus {
        dongle: d.dongle.clone(),
        state: state(d.state),
        registered: d.registered,
        expected_interval: d.expected_interval,
        since: d.since,
        last_seen: d.last_seen,
        last_capture: d.last_capture,
        last_sequence: d.last_sequence,
        uploads: d.uploads,
        crc_errors: d.crc_errors,
        crc_error_rate: d.crc_error_rate,
        rejected: d.rejected,
        missing: d.missing,
        gaps: d.gaps,
        recovered: d.recovered,
        lost: d.lost,
        duplicates: d.duplicates,
        sequence_restarts: d.sequence_restarts,
        uploads_per_minute: d.uploads_per_minute,
        latency_mean: d.latency_mean,
        latency_p99: d.latency_p99,
        anomalies: w::AnomalyCounts {
            sequence_gaps: a.sequence_gaps,
            register_backwards: a.register_backwards,
            time_jumps: a.time_jumps,
            impossible_power: a.impossible_power,
            security: a.security,
        },
        open_incidents: d.open_incidents.clone(),
    }
}

pub(crate) fn incident(i: &supervision::Incident) -> w::Incident {
    use supervision::IncidentKind as K;
    w::Incident {
        id: i.id,
        dongle: i.dongle.clone(),
        kind: match i.kind {
            K::Offline => w::IncidentKind::Offline,
            K::SequenceGap => w::IncidentKind::SequenceGap,
            K::CrcErrors => w::IncidentKind::CrcErrors,
            K::RegisterBackwards => w::IncidentKind::RegisterBackwards,
            K::TimeJump => w::IncidentKind::TimeJump,
            K::ImpossiblePower => w::IncidentKind::ImpossiblePower,
            K::Security => w::IncidentKind::Security,
        },
        opened_at: i.opened_at,
        closed_at: i.closed_at,
        detail: i.detail.clone(),
        occurrences: i.occurrences,
        last_occurrence: i.last_occurrence,
        notes: i.notes.iter().map(|n| w::Note { at: n.at, text: n.text.clone() }).collect(),
    }
}

fn figures(f: &supervision::KpiFigures) -> w::KpiFigures {
    w::KpiFigures {
        expected: f.expected,
        received: f.received,
        availability: f.availability,
        accepted: f.accepted,
        crc_errors: f.crc_errors,
        rejected: f.rejected,
        success_rate: f.success_rate,
        latency_mean: f.latency_mean,
        latency_p99: f.latency_p99,
        intervals: f.intervals,
        regular_intervals: f.regular_intervals,
        regularity: f.regularity,
    }
}

pub(crate) fn kpis(k: &supervision::Kpis) -> w::Kpis {
    w::Kpis {
        from: k.from,
        to: k.to,
        overall: figures(&k.overall),
        dongles: k
            .dongles
            .iter()
            .map(|d| w::DongleKpis { dongle: d.dongle.clone(), figures: figures(&d.figures) })
            .collect(),
    }
}

pub(crate) fn sla_figure(f: supervision::sla::SlaFigure) -> w::SlaFigure {
    w::SlaFigure {
        requirement: f.requirement,
        due: f.due,
        on_time: f.on_time,
        late: f.late,
        missing: f.missing,
        pct: f.pct,
        target_pct: f.target_pct,
        pass: f.pass,
    }
}

// ---- derived data ----

pub(crate) fn quality(q: derive::Quality) -> w::Quality {
    match q {
        derive::Quality::Measured => w::Quality::Measured,
        derive::Quality::Estimated => w::Quality::Estimated,
        derive::Quality::Missing => w::Quality::Missing,
    }
}

fn missing(m: Option<derive::MissingCause>) -> Option<w::MissingCause> {
    m.map(|m| match m {
        derive::MissingCause::NoData => w::MissingCause::NoData,
        derive::MissingCause::RegisterDecrease => w::MissingCause::RegisterDecrease,
    })
}

pub(crate) fn interval(i: &derive::Interval) -> w::Interval {
    w::Interval {
        start: i.start,
        end: i.end,
        offtake_wh: i.offtake,
        injection_wh: i.injection,
        quality: quality(i.quality),
        missing: missing(i.missing),
    }
}

pub(crate) fn day(d: &derive::DayVolume) -> w::DayVolume {
    w::DayVolume {
        date: d.date,
        start: d.start,
        end: d.end,
        quarters: d.quarters,
        offtake_wh: d.offtake,
        injection_wh: d.injection,
        quality: quality(d.quality),
        missing: missing(d.missing),
    }
}

fn peak(p: &derive::Peak) -> w::Peak {
    w::Peak { start: p.start, power_w: p.power, quality: quality(p.quality) }
}

pub(crate) fn month(m: &derive::MonthFigures) -> w::MonthFigures {
    let (e, g) = (&m.electricity, &m.gas);
    w::MonthFigures {
        month: m.month,
        start: m.start,
        end: m.end,
        days: m.days,
        electricity: w::ElectricityMonth {
            offtake_wh: e.offtake,
            injection_wh: e.injection,
            quality: quality(e.quality),
            complete_days: e.complete_days,
            missing_days: e.missing_days,
            offtake_peak: e.offtake_peak.as_ref().map(peak),
            injection_peak: e.injection_peak.as_ref().map(peak),
            missing_quarters: e.missing_quarters,
        },
        gas: w::GasMonth {
            volume_dm3: g.volume,
            energy_wh: g.energy,
            quality: quality(g.quality),
            complete_days: g.complete_days,
            missing_days: g.missing_days,
            peak: g.peak.as_ref().map(|p| w::GasPeak {
                start: p.start,
                volume_dm3: p.volume,
                power_w: p.power,
                quality: quality(p.quality),
            }),
            missing_hours: g.missing_hours,
        },
    }
}
