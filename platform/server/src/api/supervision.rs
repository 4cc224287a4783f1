//! Supervision and rig endpoints, for platform staff: dongle registration and states,
//! incidents and notes, KPIs (R-NRT-9), service levels (R-SLA-1/2), derived data per dongle
//! and raw uploads.

use super::{Answer, Body, Failure, Staff, convert, created};
use crate::http::Ctx;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use clock::{SignedDuration, Timestamp};
use serde::Deserialize;
use wire::api::v1::{self as w, Code};

pub(crate) async fn register(
    State(ctx): State<Ctx>,
    _: Staff,
    Body(d): Body<w::NewDongle>,
) -> Answer<(StatusCode, Json<w::DongleRegistered>)> {
    if d.id.trim().is_empty() {
        return Err(Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Code::BadDongleId,
            "the dongle id is empty",
        ));
    }
    let Some(key) = wire::unhex(&d.key_hex).filter(|k| k.len() >= 16) else {
        return Err(Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Code::BadKey,
            "key_hex must be at least 16 bytes of hex",
        ));
    };
    if d.interval_s == Some(0) {
        return Err(Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Code::InvalidBody,
            "interval_s is at least 1 (seconds between uploads)",
        ));
    }
    let every = SignedDuration::from_secs(i64::from(d.interval_s.unwrap_or(1)));
    ctx.ingest
        .register_dongle_every(&d.id, &key, d.meter.as_deref(), every)
        .await
        .map_err(Failure::ingest)?;
    Ok(created(w::DongleRegistered { id: d.id }))
}

fn supervisor(ctx: &Ctx) -> Answer<std::sync::MutexGuard<'_, supervision::Supervisor>> {
    ctx.ingest.supervisor.lock().map_err(|_| Failure::internal("the supervisor's lock is poisoned"))
}

pub(crate) async fn dongles(
    State(ctx): State<Ctx>,
    _: Staff,
) -> Answer<Json<Vec<w::DongleStatus>>> {
    dongle_states(&ctx).map(Json)
}

/// Every dongle's state now.
pub(crate) fn dongle_states(ctx: &Ctx) -> Answer<Vec<w::DongleStatus>> {
    let now = ctx.ingest.clock.now();
    Ok(supervisor(ctx)?.status(now).iter().map(convert::dongle_status).collect())
}

pub(crate) async fn incidents(State(ctx): State<Ctx>, _: Staff) -> Answer<Json<Vec<w::Incident>>> {
    incident_list(&ctx).map(Json)
}

/// Every incident, open and closed.
pub(crate) fn incident_list(ctx: &Ctx) -> Answer<Vec<w::Incident>> {
    Ok(supervisor(ctx)?.incidents().iter().map(convert::incident).collect())
}

pub(crate) async fn note(
    State(ctx): State<Ctx>,
    _: Staff,
    Path(id): Path<u64>,
    Body(n): Body<w::NewNote>,
) -> Answer<StatusCode> {
    let now = ctx.ingest.clock.now();
    supervisor(&ctx)?
        .add_note(id, now, &n.text)
        .map_err(|e| Failure::new(StatusCode::NOT_FOUND, Code::NoIncident, e.to_string()))?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub(crate) struct Range {
    from: String,
    to: String,
}

/// Days a staff request may span: deriving costs time per quarter hour asked, so a period of
/// centuries would hold a worker for minutes.
const MAX_DAYS: i64 = 3700;

/// A staff request's `[from, to)`, checked like every period of the API (one rule set:
/// [`super::period`]), at most `days` long.
fn range(q: Result<Query<Range>, QueryRejection>, days: i64) -> Answer<(Timestamp, Timestamp)> {
    let Query(r) = q.map_err(|e| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            Code::PeriodMissing,
            format!("{}; give from and to", e.body_text()),
        )
    })?;
    super::period(Some(&r.from), Some(&r.to), SignedDuration::from_hours(24 * days))
}

pub(crate) async fn kpis(
    State(ctx): State<Ctx>,
    _: Staff,
    q: Result<Query<Range>, QueryRejection>,
) -> Answer<Json<w::Kpis>> {
    let (from, to) = range(q, MAX_DAYS)?;
    kpi_figures(&ctx, from, to).map(Json)
}

/// The KPIs over `[from, to)`.
pub(crate) fn kpi_figures(ctx: &Ctx, from: Timestamp, to: Timestamp) -> Answer<w::Kpis> {
    let now = ctx.ingest.clock.now();
    Ok(convert::kpis(&supervisor(ctx)?.kpis(now, (from, to))))
}

pub(crate) async fn quarter_hours(
    State(ctx): State<Ctx>,
    _: Staff,
    Path(id): Path<String>,
    q: Result<Query<Range>, QueryRejection>,
) -> Answer<Json<Vec<w::Interval>>> {
    let (from, to) = range(q, 31)?;
    let s = ctx.read.samples(&id, from, to).await.map_err(Failure::unavailable)?;
    let qh = derive::quarter_hours(&s, from, to, &derive::Options::default());
    Ok(Json(qh.iter().map(convert::interval).collect()))
}

/// The samples of whole Brussels days covering `[from, to)`, and those days.
async fn day_samples(
    ctx: &Ctx,
    id: &str,
    q: Result<Query<Range>, QueryRejection>,
) -> Answer<(Vec<derive::Sample>, clock::civil::Date, clock::civil::Date)> {
    let (from, to) = range(q, MAX_DAYS)?;
    let (first, last) =
        (clock::local_date(from), clock::local_date(to - SignedDuration::from_secs(1)));
    let (start, end) = (clock::day_start(first), clock::day_bounds(last).1);
    let s = ctx.read.samples(id, start, end).await.map_err(Failure::unavailable)?;
    Ok((s, first, last))
}

pub(crate) async fn days(
    State(ctx): State<Ctx>,
    _: Staff,
    Path(id): Path<String>,
    q: Result<Query<Range>, QueryRejection>,
) -> Answer<Json<Vec<w::DayVolume>>> {
    let (s, first, last) = day_samples(&ctx, &id, q).await?;
    let days = derive::days(&s, first, last, &derive::Options::default());
    Ok(Json(days.iter().map(convert::day).collect()))
}

pub(crate) async fn months(
    State(ctx): State<Ctx>,
    _: Staff,
    Path(id): Path<String>,
    q: Result<Query<Range>, QueryRejection>,
) -> Answer<Json<Vec<w::MonthFigures>>> {
    let (s, first, last) = day_samples(&ctx, &id, q).await?;
    let months = derive::months(&s, first, last, &derive::Options::default());
    Ok(Json(months.iter().map(convert::month).collect()))
}

pub(crate) async fn raw_upload(
    State(ctx): State<Ctx>,
    _: Staff,
    Path((id, seq)): Path<(String, u64)>,
) -> Answer<Json<w::StoredUpload>> {
    let u = ctx.read.upload(&id, seq).await.map_err(Failure::unavailable)?.ok_or_else(|| {
        Failure::new(StatusCode::NOT_FOUND, Code::NoUpload, format!("no upload {seq} of {id}"))
    })?;
    let u = u.upload;
    Ok(Json(w::StoredUpload {
        dongle: u.dongle,
        seq: u.seq,
        captured_at: u.captured_at,
        received_at: u.received_at,
        crc_ok: u.crc_ok,
        telegram: u.raw,
    }))
}

#[derive(Deserialize)]
pub(crate) struct SlaQuery {
    from: String,
    to: String,
    #[serde(default)]
    dongle: Option<String>,
    #[serde(default)]
    count: supervision::sla::DayCount,
}

/// R-SLA-1/2 per dongle over the Brussels days `from..to` (half-open), from the receive times
/// the store kept.
pub(crate) async fn sla(
    State(ctx): State<Ctx>,
    _: Staff,
    q: Result<Query<SlaQuery>, QueryRejection>,
) -> Answer<Json<Vec<w::DongleSla>>> {
    let Query(q) = q.map_err(|e| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            Code::PeriodMissing,
            format!("{}; give from and to (dates), count=calendar|working", e.body_text()),
        )
    })?;
    let (from, to) =
        super::period(Some(&q.from), Some(&q.to), SignedDuration::from_hours(24 * 400))?;
    service_levels(&ctx, from, to, q.dongle, q.count).await.map(Json)
}

/// R-SLA-1/2 of one dongle or every one over the Brussels days of `[from, to)`.
pub(crate) async fn service_levels(
    ctx: &Ctx,
    from: Timestamp,
    to: Timestamp,
    dongle: Option<String>,
    count: supervision::sla::DayCount,
) -> Answer<Vec<w::DongleSla>> {
    let dongles: Vec<String> = match dongle {
        Some(d) => vec![d],
        None => ctx.read.dongles().await.map_err(Failure::unavailable)?,
    };
    let (first, last) =
        (clock::local_date(from), clock::local_date(to - SignedDuration::from_secs(1)));
    let now = ctx.ingest.clock.now();
    let gap = derive::Options::default().max_gap;
    let margin = gap + SignedDuration::from_secs(1);
    let mut out = Vec::new();
    for id in dongles {
        let (start, end) = (clock::day_start(first) - margin, clock::day_bounds(last).1 + margin);
        let rows = ctx.read.rows(&id, start, end).await.map_err(Failure::unavailable)?;
        let pairs: Vec<_> = rows.iter().map(|r| (r.captured_at, r.received_at)).collect();
        let days = supervision::sla::day_deliveries(&pairs, first, last, gap);
        let months = supervision::sla::month_deliveries(&days);
        out.push(w::DongleSla {
            dongle: id,
            daily: convert::sla_figure(supervision::sla::daily(&days, 5, count, now)),
            monthly: convert::sla_figure(supervision::sla::monthly(&months, 15, count, now)),
        });
    }
    Ok(out)
}
