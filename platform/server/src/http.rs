//! The HTTP API: REST ingest, AMR batches, health, metrics and the admin endpoints.
// Handlers return ready `Response`s as errors; they are built once per request, not hot.
#![allow(clippy::result_large_err)]

use crate::access::Access;
use crate::ingest::Ingest;
use crate::serve::ConnStats;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use serde::Deserialize;
use std::sync::Arc;
use supervision::Rejection;
use wire::ApiError;
use wire::ingest::v1::{AmrBatch, Batch, MAX_BODY};

#[derive(Clone)]
pub(crate) struct Ctx {
    pub(crate) ingest: Arc<Ingest>,
    pub(crate) access: Arc<Access>,
    headend_token: Arc<str>,
    conns: Arc<ConnStats>,
}

/// The platform's own routes: health, ingest, supervision.
fn core_routes() -> Vec<(&'static str, &'static str, MethodRouter<Ctx>)> {
    vec![
        ("GET", "/health", get(health)),
        ("GET", "/metrics", get(metrics)),
        ("GET", "/openapi.json", get(openapi)),
        ("POST", "/api/ingest/v1/uploads", post(uploads)),
        ("POST", "/api/ingest/v1/amr/{meter}", post(amr)),
        ("POST", "/api/admin/v1/dongles", post(register)),
        ("GET", "/api/admin/v1/dongles", get(dongles)),
        ("GET", "/api/admin/v1/incidents", get(incidents)),
        ("POST", "/api/admin/v1/incidents/{id}/notes", post(note)),
        ("GET", "/api/admin/v1/kpis", get(kpis)),
        ("GET", "/api/admin/v1/sla", get(sla)),
        ("GET", "/api/admin/v1/dongles/{id}/quarter-hours", get(quarter_hours)),
        ("GET", "/api/admin/v1/dongles/{id}/days", get(days)),
        ("GET", "/api/admin/v1/dongles/{id}/months", get(months)),
        ("GET", "/api/admin/v1/dongles/{id}/uploads/{seq}", get(raw_upload)),
    ]
}

/// Every route of the platform: (method, path) pairs, for the OpenAPI check.
pub(crate) fn all_routes() -> Vec<(&'static str, &'static str, MethodRouter<Ctx>)> {
    let mut all = core_routes();
    all.extend(crate::api::routes());
    all
}

pub(crate) fn router(
    ingest: Arc<Ingest>,
    access: Arc<Access>,
    headend_token: String,
    conns: Arc<ConnStats>,
) -> Router {
    let ctx = Ctx { ingest, access: access.clone(), headend_token: headend_token.into(), conns };
    let mut r = Router::new();
    for (_, path, method) in all_routes() {
        // Two entries for one path (GET and POST) merge into one method router.
        r = r.route(path, method);
    }
    // Bodies beyond the limit become our own 413 below, not a connection error.
    r.layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(access, crate::edge::edge))
        .with_state(ctx)
}

async fn openapi() -> Response {
    Json(crate::openapi::document()).into_response()
}

/// The bearer token of a request, if it sent one.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// Supervision and rig endpoints are for platform staff: admin or lab operator tokens.
fn staff(ctx: &Ctx, headers: &HeaderMap) -> Result<(), Response> {
    match bearer(headers).and_then(|t| ctx.access.principal(t)) {
        Some(p) if matches!(p.party, registers::Party::Admin | registers::Party::Operator) => {
            Ok(())
        }
        Some(p) => Err(err(
            StatusCode::FORBIDDEN,
            "forbidden_role",
            format!("{} may not use the supervision endpoints", p.name()),
        )),
        None => Err(err(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send `Authorization: Bearer TOKEN` with an admin or operator token (`meterlab up` prints one)",
        )),
    }
}

/// A staff request's `from`/`to`: the token is checked before the query, so a stranger
/// learns nothing about the parameters.
fn staff_range(
    ctx: &Ctx,
    headers: &HeaderMap,
    q: Result<Query<Range>, QueryRejection>,
) -> Result<Range, Response> {
    staff(ctx, headers)?;
    q.map(|Query(r)| r).map_err(|e| {
        err(
            StatusCode::BAD_REQUEST,
            "period_missing",
            format!("{}; give from and to", e.body_text()),
        )
    })
}

/// A JSON body: unreadable JSON is a 400 `malformed`; JSON of the wrong shape or with values
/// that break a rule (a check digit, an unknown enum value) is a 422 `invalid_body`; no JSON
/// content type is a 415.
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(
    body: Result<Json<T>, axum::extract::rejection::JsonRejection>,
    expected: &str,
) -> Result<T, Response> {
    use axum::extract::rejection::JsonRejection as J;
    body.map(|Json(b)| b).map_err(|e| {
        let (status, code) = match &e {
            J::JsonDataError(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
            J::MissingJsonContentType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            _ => (StatusCode::BAD_REQUEST, "malformed"),
        };
        err(status, code, format!("{}; expected {expected}", e.body_text()))
    })
}

/// The status and code of a body serde_json could not read: not JSON at all (400
/// `malformed`), or JSON of the wrong shape (422 `invalid_body`).
pub(crate) fn json_error(e: &serde_json::Error) -> (StatusCode, &'static str) {
    match e.classify() {
        serde_json::error::Category::Data => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        _ => (StatusCode::BAD_REQUEST, "malformed"),
    }
}

pub(crate) fn err(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, Json(ApiError::new(code, message))).into_response()
}

fn body_error(ingest: &Ingest, e: BytesRejection) -> Response {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ingest.count_malformed(Rejection::TooLarge);
        return err(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the body is larger than {MAX_BODY} bytes: send smaller batches"),
        );
    }
    ingest.count_malformed(Rejection::Malformed);
    err(e.status(), "bad_body", e.body_text())
}

/// The store (or the writer) failed: the cause is logged here and never sent to the client
/// (database text is no business of a dongle or an ESP); the answer is a 503 with the code
/// `unavailable` and the request id to quote (R-SLA-3: clients retry later).
pub(crate) fn unavailable(e: impl std::fmt::Display) -> Response {
    tracing::error!("storage unavailable: {e}");
    let mut r = err(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the platform's store is unavailable; retry later (quote the request id when reporting it)",
    );
    r.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
    r
}

async fn health(State(ctx): State<Ctx>) -> Response {
    Json(serde_json::json!({
        "status": "ok",
        "store": ctx.ingest.store.backend(),
        "time": ctx.ingest.clock.now().to_string(),
    }))
    .into_response()
}

async fn metrics(State(ctx): State<Ctx>) -> Response {
    let c = &ctx.ingest.counters;
    let mut out = String::new();
    for (name, help, v) in [
        ("meterlab_ingest_received_total", "Uploads received (REST and MQTT).", &c.received),
        ("meterlab_ingest_stored_total", "Uploads durably stored.", &c.stored),
        ("meterlab_ingest_duplicates_total", "Uploads already stored (retries).", &c.duplicates),
        (
            "meterlab_ingest_rejected_total",
            "Uploads rejected (forged, unknown, replayed, malformed).",
            &c.rejected,
        ),
        (
            "meterlab_ingest_failed_total",
            "Uploads the store failed to take (answered 503, not acknowledged).",
            &c.failed,
        ),
        (
            "meterlab_ingest_malformed_requests_total",
            "Ingest requests refused before any upload was read (bad JSON, too large).",
            &c.malformed_requests,
        ),
        ("meterlab_mqtt_messages_total", "MQTT messages received.", &c.mqtt_messages),
        ("meterlab_store_commits_total", "Group commits to the store.", &c.commits),
        (
            "meterlab_http_server_errors_total",
            "Answers with a 5xx status.",
            &crate::edge::SERVER_ERRORS,
        ),
    ] {
        crate::serve::metric(&mut out, name, "counter", help, v);
    }
    out.push_str(&ctx.conns.prometheus());
    match ctx.ingest.supervisor.lock() {
        Ok(s) => out.push_str(&s.prometheus(ctx.ingest.clock.now())),
        Err(_) => return unavailable("the supervisor's lock is poisoned"),
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

async fn uploads(State(ctx): State<Ctx>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => return body_error(&ctx.ingest, e),
    };
    let batch: Batch = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            ctx.ingest.count_malformed(Rejection::Malformed);
            let (status, code) = json_error(&e);
            return err(
                status,
                code,
                format!("the body is not an ingest v1 batch ({{\"uploads\": [...]}}): {e}"),
            );
        }
    };
    // The submission runs to its end even if the client gives up (a timeout drops this
    // handler): what was stored is then also seen by supervision, never a false gap.
    let ingest = ctx.ingest.clone();
    // The spawned submission keeps the request's span, so its log lines carry the request id.
    let span = tracing::Span::current();
    let submitted = tokio::spawn(tracing::Instrument::instrument(
        async move { ingest.submit(batch).await },
        span,
    ))
    .await
    .unwrap_or_else(|e| Err(crate::ingest::IngestError::Unavailable(e.to_string())));
    match submitted {
        Ok(receipt) => {
            // The first refusal decides the status; the receipt still lists what was stored.
            let status = match receipt.rejected.first().map(|r| r.code.as_str()) {
                None => StatusCode::OK,
                Some("unknown_dongle" | "bad_signature") => StatusCode::UNAUTHORIZED,
                Some("malformed") => StatusCode::BAD_REQUEST,
                Some(_) => StatusCode::CONFLICT,
            };
            (status, Json(receipt)).into_response()
        }
        Err(e) => unavailable(e),
    }
}

async fn amr(
    State(ctx): State<Ctx>,
    Path(meter): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let token = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if token != Some(&format!("Bearer {}", ctx.headend_token)) {
        ctx.ingest.count_malformed(Rejection::BadSignature);
        return err(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the head-end token is missing or wrong",
        );
    }
    let body = match body {
        Ok(b) => b,
        Err(e) => return body_error(&ctx.ingest, e),
    };
    let batch: AmrBatch = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            ctx.ingest.count_malformed(Rejection::Malformed);
            let (status, code) = json_error(&e);
            return err(status, code, format!("not an AMR batch: {e}"));
        }
    };
    if batch.meter != meter {
        return err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "meter_mismatch",
            "the body's meter differs from the URL's",
        );
    }
    let rows: Vec<store::AmrRow> = batch
        .quarters
        .iter()
        .map(|q| store::AmrRow {
            start: q.start,
            active_import_wh: q.active_import_wh,
            active_export_wh: q.active_export_wh,
            reactive_import_varh: q.reactive_import_varh,
            reactive_export_varh: q.reactive_export_varh,
            production_wh: q.production_wh,
            auxiliary_wh: q.auxiliary_wh,
        })
        .collect();
    if let Some(q) = rows.iter().find(|q| q.start.as_second() % 900 != 0) {
        return err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_a_quarter",
            format!("{} is not a quarter-hour start", q.start),
        );
    }
    match ctx.ingest.store.insert_amr(&meter, &rows).await {
        Ok(new) => {
            Json(serde_json::json!({ "stored": new, "duplicates": rows.len() as u64 - new }))
                .into_response()
        }
        Err(e) => unavailable(e),
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(crate) struct NewDongle {
    #[schemars(length(min = 1))]
    id: String,
    #[schemars(regex(pattern = r"^([0-9a-fA-F]{2}){16,}$"))]
    key_hex: String,
    #[serde(default)]
    meter: Option<String>,
    /// Seconds between uploads (1 for BE/NL5 meters, 10 for DSMR 4 and Smarty).
    #[serde(default)]
    interval_s: Option<u32>,
}

async fn register(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    body: Result<Json<NewDongle>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if let Err(r) = staff(&ctx, &headers) {
        return r;
    }

    let d = match json_body(body, "{\"id\", \"key_hex\", \"meter\", \"interval_s\"}") {
        Ok(d) => d,
        Err(r) => return r,
    };
    if d.id.trim().is_empty() {
        return err(StatusCode::UNPROCESSABLE_ENTITY, "bad_dongle_id", "the dongle id is empty");
    }
    let Some(key) = wire::unhex(&d.key_hex).filter(|k| k.len() >= 16) else {
        return err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_key",
            "key_hex must be at least 16 bytes of hex",
        );
    };
    let every = clock::SignedDuration::from_secs(i64::from(d.interval_s.unwrap_or(1).max(1)));
    match ctx.ingest.register_dongle_every(&d.id, &key, d.meter.as_deref(), every).await {
        Ok(()) => (StatusCode::CREATED, Json(serde_json::json!({ "id": d.id }))).into_response(),
        Err(e) => unavailable(e),
    }
}

async fn dongles(State(ctx): State<Ctx>, headers: HeaderMap) -> Response {
    if let Err(r) = staff(&ctx, &headers) {
        return r;
    }

    let now = ctx.ingest.clock.now();
    match ctx.ingest.supervisor.lock() {
        Ok(s) => Json(s.status(now)).into_response(),
        Err(_) => unavailable("the supervisor's lock is poisoned"),
    }
}

async fn incidents(State(ctx): State<Ctx>, headers: HeaderMap) -> Response {
    if let Err(r) = staff(&ctx, &headers) {
        return r;
    }

    match ctx.ingest.supervisor.lock() {
        Ok(s) => Json(s.incidents().to_vec()).into_response(),
        Err(_) => unavailable("the supervisor's lock is poisoned"),
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(crate) struct Note {
    text: String,
}

async fn note(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<u64>,
    body: Result<Json<Note>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if let Err(r) = staff(&ctx, &headers) {
        return r;
    }
    let n = match json_body(body, "{\"text\": \"…\"}") {
        Ok(n) => n,
        Err(r) => return r,
    };
    let now = ctx.ingest.clock.now();
    match ctx.ingest.supervisor.lock() {
        Ok(mut s) => match s.add_note(id, now, &n.text) {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(e) => err(StatusCode::NOT_FOUND, "no_incident", e.to_string()),
        },
        Err(_) => unavailable("the supervisor's lock is poisoned"),
    }
}

#[derive(Deserialize)]
struct Range {
    from: String,
    to: String,
}

/// Days a staff request may span: deriving costs time per quarter hour asked, so a period of
/// centuries would hold a worker for minutes.
const MAX_DAYS: i64 = 3700;

/// A staff request's `[from, to)`, checked like every period of the API (one rule set:
/// `api::period`), at most `days` long.
fn parse_range(r: &Range, days: i64) -> Result<(clock::Timestamp, clock::Timestamp), Response> {
    crate::api::period(Some(&r.from), Some(&r.to), clock::SignedDuration::from_hours(24 * days))
}

async fn kpis(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    q: Result<Query<Range>, QueryRejection>,
) -> Response {
    let r = match staff_range(&ctx, &headers, q) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let (from, to) = match parse_range(&r, MAX_DAYS) {
        Ok(x) => x,
        Err(e) => return e,
    };
    let now = ctx.ingest.clock.now();
    match ctx.ingest.supervisor.lock() {
        Ok(s) => Json(s.kpis(now, (from, to))).into_response(),
        Err(_) => unavailable("the supervisor's lock is poisoned"),
    }
}

pub(crate) async fn samples(
    ctx: &Ctx,
    id: &str,
    from: clock::Timestamp,
    to: clock::Timestamp,
) -> Result<Vec<derive::Sample>, Response> {
    // Boundary registers need the samples around the range too.
    let margin = clock::SignedDuration::from_hours(1);
    let rows =
        ctx.ingest.store.samples(id, from - margin, to + margin).await.map_err(unavailable)?;
    Ok(rows
        .iter()
        .map(|r| {
            let s = derive::Sample::new(
                // The meter's own clock stamps the registers; the dongle's capture time is
                // the fallback when the telegram had none.
                r.values.meter_time.unwrap_or(r.captured_at),
                r.values.import_wh.max(0) as u64,
                r.values.export_wh.max(0) as u64,
            );
            match r.values.gas {
                Some((dm3, at)) => s.with_gas(at, dm3.max(0) as u64),
                None => s,
            }
        })
        .collect())
}

async fn quarter_hours(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
    q: Result<Query<Range>, QueryRejection>,
) -> Response {
    let r = match staff_range(&ctx, &headers, q) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let (from, to) = match parse_range(&r, 31) {
        Ok(x) => x,
        Err(e) => return e,
    };
    match samples(&ctx, &id, from, to).await {
        Ok(s) => {
            Json(derive::quarter_hours(&s, from, to, &derive::Options::default())).into_response()
        }
        Err(e) => e,
    }
}

/// Whole Brussels days covering `[from, to)` with the samples they need, derived by `f`.
async fn by_days<T: serde::Serialize>(
    ctx: &Ctx,
    id: &str,
    r: &Range,
    f: impl Fn(&[derive::Sample], clock::civil::Date, clock::civil::Date, &derive::Options) -> T,
) -> Response {
    let (from, to) = match parse_range(r, MAX_DAYS) {
        Ok(x) => x,
        Err(e) => return e,
    };
    let (first, last) =
        (clock::local_date(from), clock::local_date(to - clock::SignedDuration::from_secs(1)));
    match samples(ctx, id, clock::day_start(first), clock::day_bounds(last).1).await {
        Ok(s) => Json(f(&s, first, last, &derive::Options::default())).into_response(),
        Err(e) => e,
    }
}

async fn days(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
    q: Result<Query<Range>, QueryRejection>,
) -> Response {
    let r = match staff_range(&ctx, &headers, q) {
        Ok(r) => r,
        Err(e) => return e,
    };
    by_days(&ctx, &id, &r, derive::days).await
}

async fn months(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
    q: Result<Query<Range>, QueryRejection>,
) -> Response {
    let r = match staff_range(&ctx, &headers, q) {
        Ok(r) => r,
        Err(e) => return e,
    };
    by_days(&ctx, &id, &r, derive::months).await
}

async fn raw_upload(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path((id, seq)): Path<(String, u64)>,
) -> Response {
    if let Err(r) = staff(&ctx, &headers) {
        return r;
    }

    match ctx.ingest.store.upload(&id, seq).await {
        Ok(Some(u)) => Json(serde_json::json!({
            "dongle": u.upload.dongle,
            "seq": u.upload.seq,
            "captured_at": u.upload.captured_at.to_string(),
            "received_at": u.upload.received_at.to_string(),
            "crc_ok": u.upload.crc_ok,
            "telegram": u.upload.raw,
        }))
        .into_response(),
        Ok(None) => err(StatusCode::NOT_FOUND, "not_found", format!("no upload {seq} of {id}")),
        Err(e) => unavailable(e),
    }
}

#[derive(Deserialize)]
struct SlaQuery {
    from: String,
    to: String,
    #[serde(default)]
    dongle: Option<String>,
    #[serde(default)]
    count: supervision::sla::DayCount,
}

/// R-SLA-1/2 per dongle over the Brussels days `from..to` (half-open), from the receive times
/// the store kept.
async fn sla(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    q: Result<Query<SlaQuery>, QueryRejection>,
) -> Response {
    if let Err(r) = staff(&ctx, &headers) {
        return r;
    }
    let q = match q {
        Ok(Query(q)) => q,
        Err(e) => {
            return err(
                StatusCode::BAD_REQUEST,
                "period_missing",
                format!("{}; give from and to (dates), count=calendar|working", e.body_text()),
            );
        }
    };
    let (from, to) = match parse_range(&Range { from: q.from.clone(), to: q.to.clone() }, 400) {
        Ok(x) => x,
        Err(e) => return e,
    };
    let dongles: Vec<String> = match &q.dongle {
        Some(d) => vec![d.clone()],
        None => match ctx.ingest.store.dongles().await {
            Ok(d) => d.into_iter().map(|d| d.id).collect(),
            Err(e) => return unavailable(e),
        },
    };
    let (first, last) =
        (clock::local_date(from), clock::local_date(to - clock::SignedDuration::from_secs(1)));
    let now = ctx.ingest.clock.now();
    let gap = derive::Options::default().max_gap;
    let margin = gap + clock::SignedDuration::from_secs(1);
    let mut out = Vec::new();
    for id in dongles {
        let rows = match ctx
            .ingest
            .store
            .samples(&id, clock::day_start(first) - margin, clock::day_bounds(last).1 + margin)
            .await
        {
            Ok(r) => r,
            Err(e) => return unavailable(e),
        };
        let pairs: Vec<_> = rows.iter().map(|r| (r.captured_at, r.received_at)).collect();
        let days = supervision::sla::day_deliveries(&pairs, first, last, gap);
        let months = supervision::sla::month_deliveries(&days);
        out.push(serde_json::json!({
            "dongle": id,
            "daily": supervision::sla::daily(&days, 5, q.count, now),
            "monthly": supervision::sla::monthly(&months, 15, q.count, now),
        }));
    }
    Json(out).into_response()
}
