//! The HTTP API: REST ingest, AMR batches, health, metrics and the admin endpoints.
// Handlers return ready `Response`s as errors; they are built once per request, not hot.
#![allow(clippy::result_large_err)]

use crate::access::Access;
use crate::api::{Failure, json_error};
use crate::ingest::Ingest;
use crate::serve::ConnStats;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use std::sync::Arc;
use supervision::Rejection;
use wire::api::v1::{AmrStored, Code, Health};
use wire::ingest::v1::{AmrBatch, Batch, MAX_BODY, RejectCode};

#[derive(Clone)]
pub(crate) struct Ctx {
    pub(crate) ingest: Arc<Ingest>,
    pub(crate) access: Arc<Access>,
    /// The platform's queries (the ingest pipeline's store handle is for writing).
    pub(crate) read: Arc<crate::read::Reader>,
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
    ]
}

/// Every route of the platform: (method, path) pairs, for the OpenAPI check.
pub(crate) fn all_routes() -> Vec<(&'static str, &'static str, MethodRouter<Ctx>)> {
    let mut all = core_routes();
    all.extend(crate::api::routes());
    all
}

impl Ctx {
    pub(crate) fn new(
        ingest: Arc<Ingest>,
        access: Arc<Access>,
        read: Arc<crate::read::Reader>,
        headend_token: String,
        conns: Arc<ConnStats>,
    ) -> Ctx {
        Ctx { ingest, access, read, headend_token: headend_token.into(), conns }
    }
}

pub(crate) fn router(ctx: Ctx) -> Router {
    let access = ctx.access.clone();
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

pub(crate) fn err(status: StatusCode, code: Code, message: impl Into<String>) -> Response {
    Failure::new(status, code, message).into_response()
}

fn body_error(ingest: &Ingest, e: BytesRejection) -> Response {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ingest.count_malformed(Rejection::TooLarge);
        return err(
            StatusCode::PAYLOAD_TOO_LARGE,
            Code::TooLarge,
            format!("the body is larger than {MAX_BODY} bytes: send smaller batches"),
        );
    }
    ingest.count_malformed(Rejection::Malformed);
    err(e.status(), Code::BadRequest, e.body_text())
}

/// The store failed: see [`Failure::unavailable`].
pub(crate) fn unavailable(e: impl std::fmt::Display) -> Response {
    Failure::unavailable(e).into_response()
}

async fn health(State(ctx): State<Ctx>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        store: ctx.read.backend().to_owned(),
        time: ctx.ingest.clock.now(),
    })
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
        (
            "meterlab_mqtt_receipts_total",
            "Receipts published on dongles' MQTT receipt topics.",
            &c.mqtt_receipts,
        ),
        (
            "meterlab_mqtt_receipt_errors_total",
            "Receipts that could not be published (the dongle times out and resends).",
            &c.mqtt_receipt_errors,
        ),
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
        Err(_) => return Failure::internal("the supervisor's lock is poisoned").into_response(),
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
            let status = match receipt.rejected.first().map(|r| r.code) {
                None => StatusCode::OK,
                Some(RejectCode::UnknownDongle | RejectCode::BadSignature) => {
                    StatusCode::UNAUTHORIZED
                }
                Some(RejectCode::Malformed) => StatusCode::BAD_REQUEST,
                Some(RejectCode::Replay) => StatusCode::CONFLICT,
            };
            (status, Json(receipt)).into_response()
        }
        Err(e) => Failure::ingest(e).into_response(),
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
            Code::Unauthorized,
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
            Code::MeterMismatch,
            "the body's meter differs from the URL's",
        );
    }
    let rows = batch.quarters;
    if let Some(q) = rows.iter().find(|q| q.start.as_second() % 900 != 0) {
        return err(
            StatusCode::UNPROCESSABLE_ENTITY,
            Code::NotAQuarter,
            format!("{} is not a quarter-hour start", q.start),
        );
    }
    match ctx.ingest.store.insert_amr(&meter, &rows).await {
        Ok(new) => {
            Json(AmrStored { stored: new, duplicates: rows.len() as u64 - new }).into_response()
        }
        Err(e) => unavailable(e),
    }
}
