//! The platform's HTTP API beyond ingest: the admin side, supervision, the registers (grid
//! users) and the ESP API. Handlers take typed callers and bodies and answer
//! `Result<typed body, Failure>`: the bodies are `wire::api::v1`'s, the error codes
//! [`Code`]s, and the HTTP status is decided here, at the edge, once per refusal.
//! Every route is listed once in [`routes`]; the OpenAPI document is checked against it.

pub(crate) mod admin;
mod convert;
mod esp;
pub(crate) mod registers;
pub(crate) mod supervision;

use crate::access::{AccessError, Limited, Principal, party_name};
use crate::http::Ctx;
use ::registers::{Party, RegisterError};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, patch, post};
use clock::{SignedDuration, Timestamp};
use domain::{Ean, GridUserId, IdError, Kbo};
use wire::api::v1::{ApiError, Code};

/// Every route but health, metrics, the document and ingest: method, path, handler. The
/// OpenAPI document has one entry each.
pub(crate) fn routes() -> Vec<(&'static str, &'static str, MethodRouter<Ctx>)> {
    vec![
        ("POST", "/api/admin/v1/dongles", post(supervision::register)),
        ("GET", "/api/admin/v1/dongles", get(supervision::dongles)),
        ("GET", "/api/admin/v1/incidents", get(supervision::incidents)),
        ("POST", "/api/admin/v1/incidents/{id}/notes", post(supervision::note)),
        ("GET", "/api/admin/v1/kpis", get(supervision::kpis)),
        ("GET", "/api/admin/v1/sla", get(supervision::sla)),
        ("GET", "/api/admin/v1/dongles/{id}/quarter-hours", get(supervision::quarter_hours)),
        ("GET", "/api/admin/v1/dongles/{id}/days", get(supervision::days)),
        ("GET", "/api/admin/v1/dongles/{id}/months", get(supervision::months)),
        ("GET", "/api/admin/v1/dongles/{id}/uploads/{seq}", get(supervision::raw_upload)),
        ("POST", "/api/admin/v1/tokens", post(admin::issue_token)),
        ("POST", "/api/admin/v1/esps", post(admin::register_esp)),
        ("POST", "/api/admin/v1/esps/{kbo}/credentials", post(admin::rotate_credentials)),
        ("PATCH", "/api/admin/v1/esps/{kbo}", patch(admin::update_esp)),
        ("POST", "/api/admin/v1/esps/{kbo}/suspend", post(admin::suspend_esp)),
        ("POST", "/api/admin/v1/esps/{kbo}/reinstate", post(admin::reinstate_esp)),
        ("POST", "/api/admin/v1/access-points", post(admin::register_point)),
        ("POST", "/api/admin/v1/links", post(admin::link_dongle)),
        ("POST", "/api/admin/v1/market-scenarios", post(admin::market_scenario)),
        ("POST", "/api/admin/v1/outage", post(admin::outage)),
        ("GET", "/api/admin/v1/access-log", get(admin::access_log)),
        ("GET", "/api/admin/v1/registers", get(admin::registers)),
        ("GET", "/api/admin/v1/deliveries", get(admin::deliveries)),
        (
            "POST",
            "/api/registers/v1/dienstverlener/{kbo}/stappenplan",
            post(registers::request_mandate),
        ),
        ("POST", "/api/registers/v1/mandates/{id}/approve", post(registers::approve_mandate)),
        ("POST", "/api/registers/v1/mandates/{id}/reject", post(registers::reject_mandate)),
        ("POST", "/api/registers/v1/mandates/{id}/end", post(registers::end_mandate)),
        ("POST", "/api/registers/v1/terms", post(registers::accept_terms)),
        ("POST", "/api/registers/v1/consents", post(registers::grant_consent)),
        ("POST", "/api/registers/v1/consents/{id}/revoke", post(registers::revoke_consent)),
        ("GET", "/api/registers/v1/notifications", get(registers::notifications)),
        ("GET", "/api/registers/v1/points/{ean}", get(registers::point_view)),
        ("GET", "/api/registers/v1/points/{ean}/access-log", get(registers::point_access_log)),
        ("GET", "/api/registers/v1/points/{ean}/parties", get(registers::point_parties)),
        ("GET", "/api/esp/v1/points/{ean}/energy", get(esp::energy)),
        ("GET", "/api/esp/v1/points/{ean}/months", get(esp::months)),
        ("GET", "/api/esp/v1/points/{ean}/stream", get(esp::stream)),
        ("POST", "/api/esp/v1/mandates/status", post(esp::mandate_status)),
        ("GET", "/api/esp/v1/mandates", get(esp::esp_mandates)),
        ("GET", "/api/esp/v1/deliveries", get(esp::esp_deliveries)),
        ("PATCH", "/api/esp/v1/profile", patch(admin::update_own_profile)),
        ("POST", "/api/esp/v1/credentials", post(admin::rotate_own_credentials)),
    ]
}

// ---- refusals ----

/// A refusal: the status, the error body and, for 429 and 503, when to retry.
#[derive(Debug)]
pub(crate) struct Failure {
    status: StatusCode,
    body: ApiError,
    retry_after: Option<u64>,
}

/// What a handler answers.
pub(crate) type Answer<T> = Result<T, Failure>;

impl Failure {
    pub(crate) fn new(status: StatusCode, code: Code, message: impl Into<String>) -> Failure {
        Failure { status, body: ApiError::new(code, message), retry_after: None }
    }

    /// The status and the body, for a caller in process.
    pub(crate) fn into_parts(self) -> (StatusCode, ApiError) {
        (self.status, self.body)
    }

    pub(crate) fn retry_after(mut self, seconds: u64) -> Failure {
        self.retry_after = Some(seconds);
        self
    }

    /// The store (or the writer) failed: the cause is logged here and never sent to the
    /// client (database text is no business of a dongle or an ESP); the answer is a 503
    /// `unavailable` with the request id to quote (R-SLA-3: clients retry later).
    pub(crate) fn unavailable(e: impl std::fmt::Display) -> Failure {
        tracing::error!("storage unavailable: {e}");
        Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            Code::Unavailable,
            "the platform's store is unavailable; retry later (quote the request id when reporting it)",
        )
        .retry_after(5)
    }

    /// What an ingest failure answers: 503 when the store is down, 500 when the platform broke.
    pub(crate) fn ingest(e: crate::ingest::IngestError) -> Failure {
        match e {
            crate::ingest::IngestError::Unavailable(e) => Failure::unavailable(e),
            crate::ingest::IngestError::Broken(what) => Failure::internal(what),
        }
    }

    /// The platform broke one of its own rules (a lock poisoned by a panicking thread): a
    /// 500 with a code, logged here, counted by the edge.
    pub(crate) fn internal(what: &str) -> Failure {
        tracing::error!("internal failure: {what}");
        Failure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            Code::Internal,
            "the platform failed; quote the request id when reporting it",
        )
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut r = (self.status, Json(self.body)).into_response();
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    }
}

/// A registers refusal: its status by variant (the match is exhaustive, so a new refusal
/// cannot slip through with a guessed status).
pub(crate) fn register_error(e: AccessError) -> Failure {
    let e = match e {
        AccessError::Store(e) => return Failure::unavailable(e),
        AccessError::Register(e) => e,
    };
    use RegisterError as R;
    use StatusCode as S;
    let (status, code) = match &e {
        R::UnknownEsp { .. } => (S::NOT_FOUND, Code::UnknownEsp),
        R::UnknownPoint { .. } => (S::NOT_FOUND, Code::UnknownPoint),
        R::UnknownMandate { .. } => (S::NOT_FOUND, Code::UnknownMandate),
        R::UnknownConsent { .. } => (S::NOT_FOUND, Code::UnknownConsent),
        R::UnknownService { .. } => (S::NOT_FOUND, Code::UnknownService),
        R::Forbidden { .. } => (S::FORBIDDEN, Code::Forbidden),
        R::NotGridUser { .. } => (S::FORBIDDEN, Code::NotGridUser),
        R::AlreadyDecided { .. } => (S::CONFLICT, Code::AlreadyDecided),
        R::Duplicate { .. } => (S::CONFLICT, Code::Duplicate),
        R::EspNotActive { .. } => (S::UNPROCESSABLE_ENTITY, Code::EspNotActive),
        R::InvalidPoint { .. } => (S::UNPROCESSABLE_ENTITY, Code::InvalidPoint),
        R::PeriodReversed { .. } => (S::UNPROCESSABLE_ENTITY, Code::PeriodReversed),
        R::TermsNotAccepted { .. } => (S::UNPROCESSABLE_ENTITY, Code::TermsNotAccepted),
        R::BackdateTooFar { .. } => (S::UNPROCESSABLE_ENTITY, Code::BackdateTooFar),
        R::ScenarioIncomplete { .. } => (S::UNPROCESSABLE_ENTITY, Code::ScenarioIncomplete),
        R::EspState { .. } => (S::CONFLICT, Code::EspState),
    };
    Failure::new(status, code, e.to_string())
}

/// The code of an identifier that failed its checks.
pub(crate) fn id_code(e: &IdError) -> Code {
    match e {
        IdError::EanInvalidLength { .. } => Code::EanInvalidLength,
        IdError::EanNotDigits { .. } => Code::EanNotDigits,
        IdError::EanCheckDigit { .. } => Code::EanCheckDigit,
        IdError::KboInvalidLength { .. } => Code::KboInvalidLength,
        IdError::KboNotDigits { .. } => Code::KboNotDigits,
        IdError::KboCheck { .. } => Code::KboCheck,
        IdError::GlnInvalidLength { .. } => Code::GlnInvalidLength,
        IdError::GlnNotDigits { .. } => Code::GlnNotDigits,
        IdError::GlnCheckDigit { .. } => Code::GlnCheckDigit,
    }
}

/// An EAN in a body or query: well formed but failing its check is a 422 (no pattern can
/// hold a check digit).
pub(crate) fn parse_ean(s: &str) -> Answer<Ean> {
    Ean::parse(s)
        .map_err(|e| Failure::new(StatusCode::UNPROCESSABLE_ENTITY, id_code(&e), e.to_string()))
}

/// An EAN in the path: one that cannot be valid names no resource, 404.
pub(crate) fn path_ean(s: &str) -> Answer<Ean> {
    Ean::parse(s).map_err(|e| Failure::new(StatusCode::NOT_FOUND, id_code(&e), e.to_string()))
}

pub(crate) fn parse_kbo(s: &str) -> Answer<Kbo> {
    Kbo::parse(s)
        .map_err(|e| Failure::new(StatusCode::UNPROCESSABLE_ENTITY, id_code(&e), e.to_string()))
}

/// A KBO number in the path: one that cannot be valid names no ESP, 404.
pub(crate) fn path_kbo(s: &str) -> Answer<Kbo> {
    Kbo::parse(s).map_err(|e| Failure::new(StatusCode::NOT_FOUND, id_code(&e), e.to_string()))
}

pub(crate) fn parse_time(s: &str) -> Answer<Timestamp> {
    clock::parse_date_or_time(s).map_err(|e| {
        Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Code::BadTime,
            format!("{s}: {e}; use 2026-06-01 (a Brussels day), 2026-06-01T10:00:00 or RFC 3339"),
        )
    })
}

/// `[from, to)` from a query, checked: present, ordered, not longer than `max`.
pub(crate) fn period(
    from: Option<&str>,
    to: Option<&str>,
    max: SignedDuration,
) -> Answer<(Timestamp, Timestamp)> {
    let (Some(from), Some(to)) = (from, to) else {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            Code::PeriodMissing,
            "give `from` and `to`: a half-open period [from, to), e.g. from=2026-06-01&to=2026-06-02",
        ));
    };
    let (from, to) = (parse_time(from)?, parse_time(to)?);
    if to <= from {
        return Err(Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Code::PeriodReversed,
            format!("`to` ({to}) must be after `from` ({from}): periods are half-open [from, to)"),
        ));
    }
    if to.duration_since(from) > max {
        return Err(Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Code::PeriodTooLong,
            format!(
                "at most {} days per request at this granularity; split the period",
                max.as_hours() / 24
            ),
        ));
    }
    Ok((from, to))
}

// ---- who calls ----

fn unauthorized() -> Failure {
    Failure::new(
        StatusCode::UNAUTHORIZED,
        Code::Unauthorized,
        "send `Authorization: Bearer TOKEN` with a token the platform issued (`meterlab up` prints the admin's)",
    )
}

fn forbidden(p: &Principal, parts: &Parts, who_may: &str) -> Failure {
    Failure::new(
        StatusCode::FORBIDDEN,
        Code::ForbiddenRole,
        format!(
            "{} may not {} {}: {who_may} only",
            party_name(&p.party),
            parts.method,
            parts.uri.path()
        ),
    )
}

/// The bearer token's principal, within its rate limit. Rate limits protect the platform from
/// its clients; staff (admin and operator) are exempt so they can always act during a flood.
fn principal(ctx: &Ctx, parts: &Parts) -> Answer<Principal> {
    let p = crate::http::bearer(&parts.headers)
        .and_then(|t| ctx.access.principal(t))
        .ok_or_else(unauthorized)?;
    if !matches!(p.party, Party::Admin | Party::Operator) {
        match ctx.access.take(&p.name()) {
            Ok(()) => (),
            Err(Limited::Wait(wait)) => {
                return Err(Failure::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    Code::RateLimited,
                    format!("too many requests for {}: retry after {wait} s", p.name()),
                )
                .retry_after(wait));
            }
            Err(Limited::Broken) => {
                return Err(Failure::internal("the rate limiter's lock is poisoned"));
            }
        }
    }
    Ok(p)
}

/// Any party with a token.
pub(crate) struct Caller(pub(crate) Principal);

impl FromRequestParts<Ctx> for Caller {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, ctx: &Ctx) -> Answer<Caller> {
        principal(ctx, parts).map(Caller)
    }
}

/// Any party with a token, on a data route: refused during an unplanned outage (R-SLA-3:
/// the API says it is unavailable, with a code, instead of serving partial data as if it
/// were complete). Staff are exempt: they declared the outage and must see what it hides.
pub(crate) struct DataCaller(pub(crate) Principal);

impl FromRequestParts<Ctx> for DataCaller {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, ctx: &Ctx) -> Answer<DataCaller> {
        let p = principal(ctx, parts)?;
        let staff = matches!(p.party, Party::Admin | Party::Operator);
        if !staff && let Some((reason, retry)) = ctx.access.outage() {
            return Err(Failure::new(
                StatusCode::SERVICE_UNAVAILABLE,
                Code::UnplannedOutage,
                format!("unplanned outage: {reason}; the data will be delivered afterwards"),
            )
            .retry_after(retry));
        }
        Ok(DataCaller(p))
    }
}

/// The administrator.
pub(crate) struct Admin;

impl FromRequestParts<Ctx> for Admin {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, ctx: &Ctx) -> Answer<Admin> {
        let p = principal(ctx, parts)?;
        match p.party {
            Party::Admin => Ok(Admin),
            _ => Err(forbidden(&p, parts, "the administrator")),
        }
    }
}

/// Platform staff: the administrator or a lab operator (supervision, rigs, links).
pub(crate) struct Staff;

impl FromRequestParts<Ctx> for Staff {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, ctx: &Ctx) -> Answer<Staff> {
        let p = principal(ctx, parts)?;
        match p.party {
            Party::Admin | Party::Operator => Ok(Staff),
            _ => Err(forbidden(&p, parts, "the administrator or an operator")),
        }
    }
}

/// A grid user (or customer).
pub(crate) struct GridUser(pub(crate) GridUserId);

impl FromRequestParts<Ctx> for GridUser {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, ctx: &Ctx) -> Answer<GridUser> {
        let p = principal(ctx, parts)?;
        match p.party {
            Party::GridUser(g) => Ok(GridUser(g)),
            _ => Err(forbidden(&p, parts, "grid users")),
        }
    }
}

/// An ESP, on a data route (refused during an outage).
pub(crate) struct Esp(pub(crate) Kbo);

impl FromRequestParts<Ctx> for Esp {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, ctx: &Ctx) -> Answer<Esp> {
        let DataCaller(p) = DataCaller::from_request_parts(parts, ctx).await?;
        let Party::Esp(k) = &p.party else {
            return Err(forbidden(&p, parts, "ESPs"));
        };
        // A portal-only contract has no API: its own routes refuse it as its data reads do
        // (those are refused by the access decision, and recorded in the access register).
        let channel = ctx.access.read(|r| r.esp(k).map(|e| e.channel)).await;
        if channel == Some(domain::Channel::Portal) {
            return Err(Failure::new(
                StatusCode::FORBIDDEN,
                Code::WrongChannel,
                "your data-access contract names the portal as your channel, not the API",
            ));
        }
        Ok(Esp(k.clone()))
    }
}

/// A JSON body: unreadable JSON is a 400 `malformed`; JSON of the wrong shape or with values
/// that break a rule (a check digit, an unknown enum value) is a 422 `invalid_body`; no JSON
/// content type is a 415.
pub(crate) struct Body<T>(pub(crate) T);

impl<T: serde::de::DeserializeOwned + Send> FromRequest<Ctx> for Body<T> {
    type Rejection = Failure;

    async fn from_request(req: Request, ctx: &Ctx) -> Answer<Body<T>> {
        match Json::<T>::from_request(req, ctx).await {
            Ok(Json(b)) => Ok(Body(b)),
            Err(e) => Err(json_rejection(&e)),
        }
    }
}

pub(crate) fn json_rejection(e: &JsonRejection) -> Failure {
    use JsonRejection as J;
    let (status, code) = match e {
        J::JsonDataError(_) => (StatusCode::UNPROCESSABLE_ENTITY, Code::InvalidBody),
        J::MissingJsonContentType(_) => {
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, Code::UnsupportedMediaType)
        }
        _ => (StatusCode::BAD_REQUEST, Code::Malformed),
    };
    Failure::new(status, code, format!("{}; the body's schema is in /openapi.json", e.body_text()))
}

/// The status and code of a body serde_json could not read: not JSON at all (400
/// `malformed`), or JSON of the wrong shape (422 `invalid_body`).
pub(crate) fn json_error(e: &serde_json::Error) -> (StatusCode, Code) {
    match e.classify() {
        serde_json::error::Category::Data => (StatusCode::UNPROCESSABLE_ENTITY, Code::InvalidBody),
        _ => (StatusCode::BAD_REQUEST, Code::Malformed),
    }
}

/// A 201 with a body.
pub(crate) fn created<T: serde::Serialize>(body: T) -> (StatusCode, Json<T>) {
    (StatusCode::CREATED, Json(body))
}
