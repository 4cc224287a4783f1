//! The lab API of `meterlab up`: a second small HTTP listener (`--lab-listen`, default
//! 127.0.0.1:8081) that the console talks to. Every route needs the platform's admin token as
//! bearer; the lab acts on the platform with it (and for a grid user with that user's token).
//!
//! - `GET  /api/lab/v1/snapshot`: a whole [`tui::Snapshot`]: rigs and slots (the booking
//!   ledger), live meters (the rig runner's taps), dongles, KPIs, incidents, SLA, access points
//!   with mandates and consents, the access register, scenario results;
//! - `POST /api/lab/v1/slots {rig, start, agreement, code?}`: books (without a code, as the
//!   lab operator for that agreement: number or holder name);
//! - `POST /api/lab/v1/slots/{id}/cancel {agreement, code} | {reason}`: cancels, for its
//!   holder (with the access code) or by the operator with a reason the audit log keeps;
//! - `POST /api/lab/v1/faults {dongle, fault}`: `wifi-loss`, `reset-needed`, `crc-noise`,
//!   `clear` (see [`live`] for what each does);
//! - `POST /api/lab/v1/consents/{id}/revoke`: the consent's grid user revokes it;
//! - `POST /api/lab/v1/market-scenarios {point, kind}`: effective now; CS, CCSS and MI bring
//!   a new grid user, SS and CCSS a new supplier;
//! - `POST /api/lab/v1/scenarios/run {tags}`: runs the embedded suites in the background.
//!
//! Answers are JSON: `{"message": …}` on success, a `wire::lab::v1::LabError` (`{"code",
//! "message"}`, the code a `LabCode`) on refusal.

// Handlers return ready `Response`s as errors, built once per refused request (as the
// platform's do).
#![allow(clippy::result_large_err)]

pub(crate) mod live;
pub(crate) mod provision;
pub(crate) mod runs;
pub(crate) mod snapshot;

use crate::labdb::LabDb;
use anyhow::{Context, Result};
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use booking::{AgreementId, BookingError, LeadTime, SlotId};
use clock::{Clock, SignedDuration, Timestamp};
use live::{FaultKind, MeterWatch};
use scenarios::access::AccessClient;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tui::Snapshot;
use tui::model::Sla;
use wire::api::v1 as w;
use wire::lab::v1 as lab;
use wire::lab::v1::LabCode;

/// Who the ledger's audit log names for bookings made through the lab API.
const OPERATOR: &str = "lab console";

/// Incidents in a snapshot: every open one, then the latest closed ones.
const INCIDENTS: usize = 200;

/// How often the SLA figures are recomputed (they read every sample of the last days).
const SLA_EVERY: std::time::Duration = std::time::Duration::from_secs(300);

/// The lab's state behind the API.
pub(crate) struct LabApi {
    api: String,
    token: String,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    db: tokio::sync::Mutex<LabDb>,
    meters: Vec<Arc<MeterWatch>>,
    access: tokio::sync::Mutex<AccessClient>,
    sla: Mutex<Option<Vec<Sla>>>,
    runs: runs::Runs,
}

/// A refusal: status, stable code, message.
type Refusal = (StatusCode, LabCode, String);

fn refusal(r: Refusal) -> Response {
    (r.0, Json(lab::LabError { code: r.1, message: r.2 })).into_response()
}

fn ok(status: StatusCode, message: String) -> Response {
    (status, Json(lab::Message { message })).into_response()
}

impl LabApi {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        api: &str,
        token: &str,
        clock: Arc<dyn Clock>,
        db: LabDb,
        meters: Vec<Arc<MeterWatch>>,
        access: AccessClient,
        runs: runs::Runs,
    ) -> Result<LabApi> {
        // Every call to the platform gives up after 10 s (a hung platform must not hang the
        // console); a client that cannot be built is an error, not one without the timeout.
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .context("an HTTP client for the lab API")?;
        Ok(LabApi {
            api: api.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            http,
            clock,
            db: tokio::sync::Mutex::new(db),
            meters,
            access: tokio::sync::Mutex::new(access),
            sla: Mutex::new(None),
            runs,
        })
    }

    /// The scenario runs (to stop one with the lab).
    pub(crate) fn runs(&self) -> &runs::Runs {
        &self.runs
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, String> {
        let r = self
            .http
            .get(format!("{}{path}", self.api))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        let status = r.status();
        if !status.is_success() {
            let body = r.text().await.unwrap_or_default();
            return Err(format!("GET {path}: {status} {body}"));
        }
        r.json().await.map_err(|e| format!("GET {path}: {e}"))
    }

    /// POSTs to the platform with the admin token: status and JSON body.
    async fn post(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<(u16, serde_json::Value), String> {
        let r = self
            .http
            .post(format!("{}{path}", self.api))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .map_err(|e| format!("POST {path}: {e}"))?;
        let status = r.status().as_u16();
        let body = r.json().await.unwrap_or(serde_json::Value::Null);
        Ok((status, body))
    }

    fn rig_of(&self, dongle: &str) -> Option<String> {
        self.meters.iter().find(|m| m.dongle == dongle).map(|m| m.rig.clone())
    }

    /// Recomputes the SLA figures per rig over the last two Brussels days and today.
    async fn refresh_sla(&self) {
        let now = self.clock.now();
        let from = clock::local_date(now - SignedDuration::from_hours(48));
        let to = clock::local_date(now + SignedDuration::from_hours(24));
        let path = format!("/api/admin/v1/sla?from={from}&to={to}");
        if let Ok(docs) = self.get::<Vec<w::DongleSla>>(&path).await {
            let figures = snapshot::sla(&docs, &|d| self.rig_of(d));
            *self.sla.lock().unwrap_or_else(|e| e.into_inner()) = Some(figures);
        }
    }

    /// Everything the console shows, now. A part that cannot be read is left empty and named
    /// in the status line.
    pub(crate) async fn snapshot(&self) -> Snapshot {
        let now = self.clock.now();
        let mut problems = Vec::new();
        let (rigs, slots) = {
            let mut db = self.db.lock().await;
            if let Err(e) = db.reload().await {
                problems.push(format!("booking ledger: {e:#}"));
            }
            if let Err(e) = db.tick(now).await {
                problems.push(format!("booking ledger: {e:#}"));
            }
            snapshot::rigs_and_slots(&db.ledger, now)
        };
        let hour_ago = now - SignedDuration::from_hours(1);
        let kpi_path = format!("/api/admin/v1/kpis?from={hour_ago}&to={now}");
        let (dongles, kpis, incidents, registers, access) = tokio::join!(
            self.get::<Vec<w::DongleStatus>>("/api/admin/v1/dongles"),
            self.get::<w::Kpis>(&kpi_path),
            self.get::<Vec<w::Incident>>("/api/admin/v1/incidents"),
            self.get::<w::RegistersView>("/api/admin/v1/registers"),
            self.get::<Vec<w::AccessEntry>>("/api/admin/v1/access-log"),
        );
        let dongles = take(dongles, &mut problems);
        let kpis = take(kpis, &mut problems);
        let incidents = take(incidents, &mut problems);
        let registers = take(registers, &mut problems);
        let access = take(access, &mut problems);
        let sla = self.sla.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Snapshot {
            at: now,
            api: self.api.clone(),
            rigs,
            slots,
            meters: snapshot::meters(&self.meters),
            dongles: snapshot::dongles(&dongles, &self.meters, now),
            kpis: snapshot::kpis(&kpis),
            incidents: snapshot::incidents(&incidents, INCIDENTS),
            sla: sla.unwrap_or_default(),
            points: snapshot::points(&registers, now),
            access_log: snapshot::access_log(&access, &registers),
            scenarios: self.runs.rows(),
            status_line: (!problems.is_empty()).then(|| problems.join("; ")),
        }
    }

    async fn book(&self, b: lab::Book) -> Result<String, Refusal> {
        let now = self.clock.now();
        let start = clock::parse_date_or_time(&b.start).map_err(|e| {
            (
                StatusCode::BAD_REQUEST,
                LabCode::BadTime,
                format!("start {}: {e}; use 2026-12-01T08:00 (Brussels) or RFC 3339", b.start),
            )
        })?;
        let mut db = self.db.lock().await;
        db.reload().await.map_err(store_down)?;
        let id = find_agreement(&db.ledger, &b.agreement, now)?;
        let code = b.code.clone().filter(|c| !c.trim().is_empty());
        let lead = if b.waive_lead_time { LeadTime::Waive } else { LeadTime::Enforce };
        let rig = b.rig.clone();
        let slot = db
            .transact(move |l| match code {
                Some(code) => l.book(now, id, &code, &rig, start),
                None => l.book_as_operator(now, OPERATOR, id, &rig, start, lead),
            })
            .await
            .map_err(store_down)?
            .map_err(booking_refusal)?;
        let holder = db.ledger.agreement(id).map(|a| a.holder.clone()).unwrap_or_default();
        Ok(format!(
            "slot {} booked on {} from {} to {} (Brussels) for {holder}",
            slot.id.0,
            slot.rig,
            clock::local_datetime(slot.start).strftime("%Y-%m-%d %H:%M"),
            clock::local_datetime(slot.end).strftime("%Y-%m-%d %H:%M"),
        ))
    }

    async fn cancel(&self, slot: &str, b: lab::Cancel) -> Result<String, Refusal> {
        let now = self.clock.now();
        let slot = slot.parse::<u64>().map(SlotId).map_err(|_| {
            (StatusCode::BAD_REQUEST, LabCode::BadSlot, format!("{slot} is not a slot number"))
        })?;
        let mut db = self.db.lock().await;
        db.reload().await.map_err(store_down)?;
        let holder = match (&b.agreement, b.code.clone().filter(|c| !c.trim().is_empty())) {
            (Some(a), Some(code)) => Some((find_agreement(&db.ledger, a, now)?, code)),
            _ => None,
        };
        let reason = b.reason.clone().unwrap_or_default();
        let s = db
            .transact(move |l| match holder {
                Some((id, code)) => l.cancel(now, slot, id, &code),
                None => l.cancel_as_operator(now, OPERATOR, slot, &reason),
            })
            .await
            .map_err(store_down)?
            .map_err(booking_refusal)?;
        Ok(format!("slot {} on {} cancelled; the time is free again", s.id.0, s.rig))
    }

    fn fault(&self, b: &lab::Fault) -> Result<String, Refusal> {
        let kind = FaultKind::parse(&b.fault).ok_or_else(|| {
            (
                StatusCode::BAD_REQUEST,
                LabCode::UnknownFault,
                format!("no fault {}: use wifi-loss, reset-needed, crc-noise or clear", b.fault),
            )
        })?;
        let named = |m: &MeterWatch| {
            [
                m.dongle.clone(),
                m.id.clone(),
                snapshot::short_dongle(&m.dongle),
                snapshot::short_meter(&m.id),
            ]
            .contains(&b.dongle)
        };
        let w = self.meters.iter().find(|m| named(m)).ok_or_else(|| {
            (
                StatusCode::NOT_FOUND,
                LabCode::UnknownDongle,
                format!("no dongle {} on the rigs (e.g. rig-a-01 or rig-a-meter-01)", b.dongle),
            )
        })?;
        Ok(w.inject(kind, self.clock.now()))
    }

    async fn revoke(&self, id: &str) -> Result<String, Refusal> {
        let reg: w::RegistersView = self.get("/api/admin/v1/registers").await.map_err(upstream)?;
        let Some(c) = reg.points.iter().flat_map(|p| &p.consents).find(|c| c.id == id) else {
            return Err((
                StatusCode::NOT_FOUND,
                LabCode::UnknownConsent,
                format!("no consent {id}"),
            ));
        };
        if c.revoked_at.is_some() {
            return Err((
                StatusCode::CONFLICT,
                LabCode::AlreadyRevoked,
                format!("consent {id} is already revoked"),
            ));
        }
        let answer = self
            .access
            .lock()
            .await
            .revoke_consent(&c.grid_user.0, id)
            .await
            .map_err(|e| upstream(format!("{e:#}")))?;
        if answer.status >= 300 {
            return Err(platform_refusal(answer.status, &answer.body));
        }
        let esp = reg.esps.iter().find(|e| e.kbo == c.esp).map_or(c.esp.as_str(), |e| &e.name);
        Ok(format!(
            "consent {id} revoked by its grid user {} ({esp}, service {})",
            c.grid_user, c.service
        ))
    }

    async fn market(&self, b: &lab::Market) -> Result<String, Refusal> {
        const KINDS: [&str; 8] = ["SS", "CS", "CCSS", "MI", "MO", "MOZA", "EOC", "DROP"];
        let kind = b.kind.trim().to_uppercase();
        if !KINDS.contains(&kind.as_str()) {
            return Err((
                StatusCode::BAD_REQUEST,
                LabCode::UnknownScenario,
                format!("no market scenario {}: use one of {}", b.kind, KINDS.join(", ")),
            ));
        }
        let reg: w::RegistersView = self.get("/api/admin/v1/registers").await.map_err(upstream)?;
        let Some(p) = reg.points.iter().find(|p| {
            p.access_point.ean.as_str() == b.point
                || p.access_point.data_service_points.iter().any(|d| d.as_str() == b.point)
        }) else {
            return Err((
                StatusCode::NOT_FOUND,
                LabCode::UnknownPoint,
                format!("no access point {}", b.point),
            ));
        };
        let (user, supplier) = snapshot::next_parties(&reg);
        let new_user = matches!(kind.as_str(), "CS" | "CCSS" | "MI").then_some(user);
        let new_supplier = matches!(kind.as_str(), "SS" | "CCSS").then_some(supplier);
        let now = self.clock.now();
        let (status, body) = self
            .post(
                "/api/admin/v1/market-scenarios",
                &w::NewScenario {
                    access_point: p.access_point.ean.to_string(),
                    kind: serde_json::from_value(serde_json::Value::String(kind.clone()))
                        .map_err(|e| upstream(format!("scenario {kind}: {e}")))?,
                    effective: now.to_string(),
                    new_grid_user: new_user.clone().map(domain::GridUserId),
                    new_supplier: new_supplier.clone().map(domain::SupplierId),
                },
            )
            .await
            .map_err(upstream)?;
        if status >= 300 {
            return Err(platform_refusal(status, &body));
        }
        let mut msg = format!("{kind} on {} effective now", p.access_point.ean);
        if let Some(u) = new_user {
            msg.push_str(&format!("; new grid user {u}"));
        }
        if let Some(s) = new_supplier {
            msg.push_str(&format!("; new supplier {s}"));
        }
        Ok(msg)
    }
}

/// The document, or the default with the problem noted.
fn take<T: Default>(r: Result<T, String>, problems: &mut Vec<String>) -> T {
    r.unwrap_or_else(|e| {
        problems.push(format!("platform: {e}"));
        T::default()
    })
}

/// The agreement a request names: its number, or the holder's name (the newest agreement of
/// that holder valid now).
fn find_agreement(
    ledger: &booking::Ledger,
    a: &lab::AgreementRef,
    now: Timestamp,
) -> Result<AgreementId, Refusal> {
    let text = match a {
        lab::AgreementRef::Id(n) => n.to_string(),
        lab::AgreementRef::Holder(s) => s.trim().to_owned(),
    };
    let found = match text.parse::<u64>() {
        Ok(n) => ledger.agreement(AgreementId(n)).map(|a| a.id),
        Err(_) => ledger
            .agreements()
            .iter()
            .rev()
            .find(|a| a.holder.eq_ignore_ascii_case(&text) && a.is_valid_at(now))
            .map(|a| a.id),
    };
    found.ok_or_else(|| {
        (
            StatusCode::NOT_FOUND,
            LabCode::UnknownAgreement,
            format!(
                "no usage agreement {text:?}: sign one with `meterlab book agree --holder NAME --email ADDRESS` on the lab's database, then give its number or holder"
            ),
        )
    })
}

fn booking_refusal(e: BookingError) -> Refusal {
    use BookingError as B;
    let (status, code) = match &e {
        B::UnknownAgreement { .. } => (StatusCode::NOT_FOUND, LabCode::UnknownAgreement),
        B::UnknownRig { .. } => (StatusCode::NOT_FOUND, LabCode::UnknownRig),
        B::UnknownSlot { .. } => (StatusCode::NOT_FOUND, LabCode::UnknownSlot),
        B::WrongAccessCode { .. } => (StatusCode::FORBIDDEN, LabCode::WrongAccessCode),
        B::NotYourSlot { .. } => (StatusCode::FORBIDDEN, LabCode::NotYourSlot),
        B::NotOnTheHour { .. } => (StatusCode::BAD_REQUEST, LabCode::NotOnTheHour),
        B::StartInPast { .. } => (StatusCode::BAD_REQUEST, LabCode::StartInPast),
        B::AgreementExpired { .. } => (StatusCode::CONFLICT, LabCode::AgreementExpired),
        B::AgreementEndsBeforeSlot { .. } => {
            (StatusCode::CONFLICT, LabCode::AgreementEndsBeforeSlot)
        }
        B::AgreementNotYetValid { .. } => (StatusCode::CONFLICT, LabCode::AgreementNotYetValid),
        B::TooShortNotice { .. } => (StatusCode::CONFLICT, LabCode::TooShortNotice),
        B::TooManyOpenSlots { .. } => (StatusCode::CONFLICT, LabCode::AgreementLimit),
        B::Overlap { .. } => (StatusCode::CONFLICT, LabCode::Overlap),
        B::AlreadyStarted { .. } => (StatusCode::CONFLICT, LabCode::AlreadyStarted),
        B::NotStarted { .. } => (StatusCode::CONFLICT, LabCode::NotStarted),
        B::AlreadyCancelled { .. } => (StatusCode::CONFLICT, LabCode::AlreadyCancelled),
        B::AlreadyEnded { .. } => (StatusCode::CONFLICT, LabCode::AlreadyEnded),
        B::NoActiveSlot { .. } => (StatusCode::CONFLICT, LabCode::NoActiveSlot),
        B::EmptyHolder => (StatusCode::CONFLICT, LabCode::EmptyHolder),
        B::ReasonRequired { .. } => (StatusCode::CONFLICT, LabCode::ReasonRequired),
        B::InvalidEmail { .. } => (StatusCode::CONFLICT, LabCode::InvalidEmail),
        B::DuplicateRig { .. } => (StatusCode::CONFLICT, LabCode::DuplicateRig),
        B::DuplicateVariant { .. } => (StatusCode::CONFLICT, LabCode::DuplicateVariant),
        B::InvalidPolicy { .. } => (StatusCode::CONFLICT, LabCode::InvalidPolicy),
    };
    // The lab's code for a ledger refusal is the ledger's own name for it.
    debug_assert_eq!(code.as_str(), e.code());
    (status, code, e.to_string())
}

/// The lab database failed: logged in full here, never passed to the client (it may carry
/// the database's own text).
fn store_down(e: anyhow::Error) -> Refusal {
    tracing::error!("lab database: {e:#}");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        LabCode::Store,
        "the lab database is unavailable; try again (the lab's log has the cause)".into(),
    )
}

fn upstream(e: String) -> Refusal {
    (StatusCode::BAD_GATEWAY, LabCode::Platform, format!("the platform did not answer: {e}"))
}

/// A refusal the platform gave, passed on.
fn platform_refusal(status: u16, body: &serde_json::Value) -> Refusal {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    let code = match serde_json::from_value::<wire::ApiError>(body.clone()).map(|e| e.code) {
        Ok(wire::Code::ForbiddenRole) => LabCode::ForbiddenRole,
        Ok(wire::Code::UnknownPoint) => LabCode::UnknownPoint,
        _ => LabCode::Refused,
    };
    let message = body["message"].as_str().map_or_else(|| body.to_string(), str::to_owned);
    (status, code, message)
}

type Lab = State<Arc<LabApi>>;

/// Every route needs the admin token.
fn authorized(lab: &LabApi, headers: &HeaderMap) -> Result<(), Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if token == Some(lab.token.as_str()) {
        return Ok(());
    }
    Err(refusal((
        StatusCode::UNAUTHORIZED,
        LabCode::Unauthorized,
        "send `Authorization: Bearer TOKEN` with the lab's admin token (`meterlab up` prints it; `meterlab console --token`)".to_owned(),
    )))
}

fn body<T>(b: Result<Json<T>, JsonRejection>, shape: &str) -> Result<T, Response> {
    b.map(|Json(b)| b).map_err(|e| {
        refusal((
            StatusCode::BAD_REQUEST,
            LabCode::Malformed,
            format!("{}; send {shape}", e.body_text()),
        ))
    })
}

fn answer(r: Result<String, Refusal>, status: StatusCode) -> Response {
    match r {
        Ok(m) => ok(status, m),
        Err(r) => refusal(r),
    }
}

async fn get_snapshot(State(lab): Lab, headers: HeaderMap) -> Response {
    if let Err(r) = authorized(&lab, &headers) {
        return r;
    }
    Json(lab.snapshot().await).into_response()
}

async fn post_slot(
    State(lab): Lab,
    headers: HeaderMap,
    b: Result<Json<lab::Book>, JsonRejection>,
) -> Response {
    if let Err(r) = authorized(&lab, &headers) {
        return r;
    }
    match body(b, r#"{"rig": "rig-a", "start": "2026-12-01T08:00", "agreement": 1, "code": "…"}"#)
    {
        Ok(b) => answer(lab.book(b).await, StatusCode::CREATED),
        Err(r) => r,
    }
}

async fn post_cancel(
    State(lab): Lab,
    headers: HeaderMap,
    Path(id): Path<String>,
    raw: Bytes,
) -> Response {
    if let Err(r) = authorized(&lab, &headers) {
        return r;
    }
    let b = if raw.iter().all(u8::is_ascii_whitespace) {
        lab::Cancel::default()
    } else {
        match serde_json::from_slice(&raw) {
            Ok(b) => b,
            Err(e) => {
                return refusal((
                    StatusCode::BAD_REQUEST,
                    LabCode::Malformed,
                    format!("{e}; send nothing, or {{\"agreement\": 1, \"code\": \"…\"}}"),
                ));
            }
        }
    };
    answer(lab.cancel(&id, b).await, StatusCode::OK)
}

async fn post_fault(
    State(lab): Lab,
    headers: HeaderMap,
    b: Result<Json<lab::Fault>, JsonRejection>,
) -> Response {
    if let Err(r) = authorized(&lab, &headers) {
        return r;
    }
    match body(b, r#"{"dongle": "rig-a-meter-01", "fault": "wifi-loss"}"#) {
        Ok(b) => answer(lab.fault(&b), StatusCode::OK),
        Err(r) => r,
    }
}

async fn post_revoke(State(lab): Lab, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(r) = authorized(&lab, &headers) {
        return r;
    }
    answer(lab.revoke(&id).await, StatusCode::OK)
}

async fn post_market(
    State(lab): Lab,
    headers: HeaderMap,
    b: Result<Json<lab::Market>, JsonRejection>,
) -> Response {
    if let Err(r) = authorized(&lab, &headers) {
        return r;
    }
    match body(b, r#"{"point": "541448900000000014", "kind": "CS"}"#) {
        Ok(b) => answer(lab.market(&b).await, StatusCode::OK),
        Err(r) => r,
    }
}

async fn post_run(State(lab): Lab, headers: HeaderMap, raw: Bytes) -> Response {
    if let Err(r) = authorized(&lab, &headers) {
        return r;
    }
    let b: lab::Run = if raw.iter().all(u8::is_ascii_whitespace) {
        lab::Run::default()
    } else {
        match serde_json::from_slice(&raw) {
            Ok(b) => b,
            Err(e) => {
                return refusal((
                    StatusCode::BAD_REQUEST,
                    LabCode::Malformed,
                    format!("{e}; send {{\"tags\": \"@R-LAB-2 and not @slow\"}}"),
                ));
            }
        }
    };
    match lab.runs.start(&b.tags) {
        Ok(m) => ok(StatusCode::ACCEPTED, m),
        Err((status, m)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            refusal((status, LabCode::CannotRun, m))
        }
    }
}

/// The lab API's routes.
pub(crate) fn router(lab: Arc<LabApi>) -> Router {
    Router::new()
        .route("/api/lab/v1/snapshot", get(get_snapshot))
        .route("/api/lab/v1/slots", post(post_slot))
        .route("/api/lab/v1/slots/{id}/cancel", post(post_cancel))
        .route("/api/lab/v1/faults", post(post_fault))
        .route("/api/lab/v1/consents/{id}/revoke", post(post_revoke))
        .route("/api/lab/v1/market-scenarios", post(post_market))
        .route("/api/lab/v1/scenarios/run", post(post_run))
        .with_state(lab)
}

/// Serves the lab API on `listen` (port 0 picks one), and keeps the SLA figures fresh.
/// Returns the address and the tasks to abort at stop.
pub(crate) async fn serve(
    lab: Arc<LabApi>,
    listen: SocketAddr,
) -> Result<(SocketAddr, Vec<tokio::task::JoinHandle<()>>)> {
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| {
        format!("the lab API cannot listen on {listen} (is another lab running? pick another --lab-listen)")
    })?;
    let addr = listener.local_addr()?;
    let app = router(lab.clone());
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("meterlab up: the lab API stopped: {e}");
        }
    });
    let sla = tokio::spawn(async move {
        loop {
            lab.refresh_sla().await;
            tokio::time::sleep(SLA_EVERY).await;
        }
    });
    Ok((addr, vec![server, sla]))
}
