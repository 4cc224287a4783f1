//! The lab API of `meterlab up`: a second small HTTP listener (`--lab-listen`, default
//! 127.0.0.1:8081) that the console talks to. Every route needs the platform's admin token as
//! bearer. The platform runs in the same process: the lab reads it and acts on it through
//! `server::InProcess` (a consent is revoked as its grid user), so this module only translates
//! HTTP to the lab's operations and back.
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
//! - `POST /api/lab/v1/scenarios/run {tags}`: runs the embedded suites in the background;
//! - `POST /api/lab/v1/clock {advance} | {to}`: moves a simulated clock forward
//!   (`meterlab up --clock sim`; refused with `not_simulated` on the system clock).
//!
//! Answers are JSON: `{"message": …}` on success, a `wire::lab::v1::LabError` (`{"code",
//! "message"}`, the code a `LabCode`) on refusal.

pub(crate) mod live;
pub(crate) mod provision;
pub(crate) mod runs;
pub(crate) mod snapshot;

use crate::labdb::LabDb;
use anyhow::{Context, Result};
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use booking::{AgreementId, BookingError, LeadTime, SlotId};
use clock::{Clock, SignedDuration, SimClock, Timestamp};
use live::{FaultKind, MeterWatch};
use server::{InProcess, Refused};
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

/// The lab's state behind the API. The platform runs in this process: the lab reads and
/// acts on it through [`InProcess`], not over its HTTP listener.
pub(crate) struct LabApi {
    /// The platform's base URL, shown in the console's header.
    api: String,
    token: String,
    platform: InProcess,
    clock: Arc<dyn Clock>,
    /// The handle that moves the clock, when it is simulated (`meterlab up --clock sim`).
    sim: Option<SimClock>,
    db: tokio::sync::Mutex<LabDb>,
    meters: Vec<Arc<MeterWatch>>,
    sla: Mutex<Option<Vec<Sla>>>,
    runs: runs::Runs,
}

/// A refusal: status, stable code, message.
type Refusal = (StatusCode, LabCode, String);

fn refusal(r: Refusal) -> Response {
    (r.0, Json(lab::LabError { code: r.1, message: r.2 })).into_response()
}

impl LabApi {
    pub(crate) fn new(
        app: &server::App,
        token: &str,
        clock: Arc<dyn Clock>,
        sim: Option<SimClock>,
        db: LabDb,
        meters: Vec<Arc<MeterWatch>>,
        runs: runs::Runs,
    ) -> LabApi {
        LabApi {
            api: app.url(),
            token: token.to_owned(),
            platform: app.in_process(),
            clock,
            sim,
            db: tokio::sync::Mutex::new(db),
            meters,
            sla: Mutex::new(None),
            runs,
        }
    }

    /// The scenario runs (to stop one with the lab).
    pub(crate) fn runs(&self) -> &runs::Runs {
        &self.runs
    }

    fn rig_of(&self, dongle: &str) -> Option<String> {
        self.meters.iter().find(|m| m.dongle == dongle).map(|m| m.rig.clone())
    }

    /// Recomputes the SLA figures per rig over the last two Brussels days and today.
    async fn refresh_sla(&self) {
        let now = self.clock.now();
        let from = clock::day_start(clock::local_date(now - SignedDuration::from_hours(48)));
        let to = clock::day_start(clock::local_date(now + SignedDuration::from_hours(24)));
        match self.platform.sla(from, to).await {
            Ok(docs) => {
                let figures = snapshot::sla(&docs, &|d| self.rig_of(d));
                *self.sla.lock().unwrap_or_else(|e| e.into_inner()) = Some(figures);
            }
            // The figures shown stay the last ones computed; the cause goes to the log.
            Err(e) => tracing::warn!("service levels: {e}"),
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
        let p = &self.platform;
        let dongles = take(p.dongles(), &mut problems);
        let kpis = take(p.kpis(now - SignedDuration::from_hours(1), now), &mut problems);
        let incidents = take(p.incidents(), &mut problems);
        let registers = p.registers().await;
        let access = take(p.access_log().await, &mut problems);
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
        let reg = self.platform.registers().await;
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
        self.platform.revoke_consent(c.grid_user.clone(), id).await.map_err(platform_refusal)?;
        let esp = reg.esps.iter().find(|e| e.kbo == c.esp).map_or(c.esp.as_str(), |e| &e.name);
        Ok(format!(
            "consent {id} revoked by its grid user {} ({esp}, service {})",
            c.grid_user, c.service
        ))
    }

    /// Moves the simulated clock forward: every sleeper now due wakes (the meters catch up,
    /// the platform's renewals, expiries and webhook retries come due), and the ledger's slots
    /// start and end as their times pass.
    async fn move_clock(&self, b: &lab::ClockMove) -> Result<String, Refusal> {
        let Some(sim) = &self.sim else {
            return Err((
                StatusCode::CONFLICT,
                LabCode::NotSimulated,
                "the lab runs on the system clock: start it with `meterlab up --clock sim` (or sim:60) to move time".into(),
            ));
        };
        let now = sim.now();
        let bad = |what: &str, e: String| {
            (StatusCode::BAD_REQUEST, LabCode::BadTime, format!("{what}: {e}"))
        };
        let to = match (&b.advance, &b.to) {
            (Some(d), None) => {
                let by = clock::parse_duration(d)
                    .map_err(|e| bad(d, format!("{e}; use 90m, 1d or 3y")))?;
                if !by.is_positive() {
                    return Err(bad(d, "the clock only moves forward".into()));
                }
                now.checked_add(by).map_err(|e| bad(d, e.to_string()))?
            }
            (None, Some(t)) => clock::parse_date_or_time(t).map_err(|e| {
                bad(t, format!("{e}; use 2029-06-01, 2029-06-01T08:00 (Brussels) or RFC 3339"))
            })?,
            _ => {
                return Err((
                    StatusCode::BAD_REQUEST,
                    LabCode::Malformed,
                    "give advance (a duration, e.g. 3y) or to (a time), one of them".into(),
                ));
            }
        };
        sim.set(to).map_err(|e| (StatusCode::CONFLICT, LabCode::ClockBackwards, e.to_string()))?;
        let mut db = self.db.lock().await;
        if let Err(e) = db.tick(to).await {
            tracing::error!("booking ledger after the clock moved: {e:#}");
        }
        Ok(format!(
            "the lab clock reads {} (Brussels), {} later",
            clock::local_datetime(to).strftime("%Y-%m-%d %H:%M"),
            span(to.as_second() - now.as_second())
        ))
    }

    async fn market(&self, b: &lab::Market) -> Result<String, Refusal> {
        let name = b.kind.trim().to_uppercase();
        // The scenario's name is its wire name (`SS`, `CCSS`, …).
        let kind: w::ScenarioKind = serde_json::from_value(serde_json::Value::String(name.clone()))
            .map_err(|_| {
                (
                    StatusCode::BAD_REQUEST,
                    LabCode::UnknownScenario,
                    format!(
                        "no market scenario {}: use one of SS, CS, CCSS, MI, MO, MOZA, EOC, DROP",
                        b.kind
                    ),
                )
            })?;
        let reg = self.platform.registers().await;
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
        use w::ScenarioKind as K;
        let new_user =
            matches!(kind, K::CustomerSwitch | K::CombinedSwitch | K::MoveIn).then_some(user);
        let new_supplier =
            matches!(kind, K::SupplierSwitch | K::CombinedSwitch).then_some(supplier);
        let now = self.clock.now();
        self.platform
            .market_scenario(w::NewScenario {
                access_point: p.access_point.ean.to_string(),
                kind,
                effective: now.to_string(),
                new_grid_user: new_user.clone().map(domain::GridUserId),
                new_supplier: new_supplier.clone().map(domain::SupplierId),
            })
            .await
            .map_err(platform_refusal)?;
        let mut msg = format!("{name} on {} effective now", p.access_point.ean);
        if let Some(u) = new_user {
            msg.push_str(&format!("; new grid user {u}"));
        }
        if let Some(s) = new_supplier {
            msg.push_str(&format!("; new supplier {s}"));
        }
        Ok(msg)
    }
}

/// A span of seconds as a person reads it: `1095 d 2 h`, `3 h 5 min`, `40 s`.
fn span(secs: i64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{secs} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// The document, or the default with the problem noted.
fn take<T: Default>(r: Result<T, Refused>, problems: &mut Vec<String>) -> T {
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

/// A refusal the platform gave, passed on: its status, its message, and its code where the
/// lab has one of its own for it.
fn platform_refusal(r: Refused) -> Refusal {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let code = match r.error.code {
        wire::Code::ForbiddenRole => LabCode::ForbiddenRole,
        wire::Code::UnknownPoint => LabCode::UnknownPoint,
        _ if status.is_server_error() => LabCode::Platform,
        _ => LabCode::Refused,
    };
    (status, code, r.error.message)
}

type Lab = State<Arc<LabApi>>;

/// A refusal as the edge answers it: the `LabError` body with its status.
struct Rejected(Refusal);

impl From<Refusal> for Rejected {
    fn from(r: Refusal) -> Rejected {
        Rejected(r)
    }
}

impl IntoResponse for Rejected {
    fn into_response(self) -> Response {
        refusal(self.0)
    }
}

/// What an action answers: a status and a message, or a refusal.
type Done = Result<(StatusCode, Json<lab::Message>), Rejected>;

fn done(r: Result<String, Refusal>, status: StatusCode) -> Done {
    Ok((status, Json(lab::Message { message: r? })))
}

/// A caller that sent the lab's admin token (every route needs it).
struct Operator;

impl FromRequestParts<Arc<LabApi>> for Operator {
    type Rejection = Rejected;

    async fn from_request_parts(parts: &mut Parts, lab: &Arc<LabApi>) -> Result<Self, Rejected> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if token == Some(lab.token.as_str()) {
            return Ok(Operator);
        }
        Err(Rejected((
            StatusCode::UNAUTHORIZED,
            LabCode::Unauthorized,
            "send `Authorization: Bearer TOKEN` with the lab's admin token (`meterlab up` prints it; `meterlab console --token`)".to_owned(),
        )))
    }
}

/// A body of the lab API: what to send when it is malformed, and whether none is allowed.
trait LabBody: serde::de::DeserializeOwned {
    /// An example, for the refusal of a malformed body.
    const SHAPE: &'static str;
    /// The body an empty request means, when it may be empty.
    fn empty() -> Option<Self> {
        None
    }
}

impl LabBody for lab::Book {
    const SHAPE: &'static str =
        r#"{"rig": "rig-a", "start": "2026-12-01T08:00", "agreement": 1, "code": "…"}"#;
}

impl LabBody for lab::Cancel {
    const SHAPE: &'static str = r#"nothing, or {"agreement": 1, "code": "…"}"#;
    fn empty() -> Option<Self> {
        Some(lab::Cancel::default())
    }
}

impl LabBody for lab::Fault {
    const SHAPE: &'static str = r#"{"dongle": "rig-a-meter-01", "fault": "wifi-loss"}"#;
}

impl LabBody for lab::Market {
    const SHAPE: &'static str = r#"{"point": "541448900000000014", "kind": "CS"}"#;
}

impl LabBody for lab::ClockMove {
    const SHAPE: &'static str = r#"{"advance": "3y"} or {"to": "2029-06-01T08:00"}"#;
}

impl LabBody for lab::Run {
    const SHAPE: &'static str = r#"{"tags": "@R-LAB-2 and not @slow"}"#;
    fn empty() -> Option<Self> {
        Some(lab::Run::default())
    }
}

/// A JSON body, refused with `malformed` and an example of what to send.
struct Body<T>(T);

impl<T: LabBody> FromRequest<Arc<LabApi>> for Body<T> {
    type Rejection = Rejected;

    async fn from_request(req: Request, lab: &Arc<LabApi>) -> Result<Self, Rejected> {
        let malformed = |e: String| {
            Rejected((
                StatusCode::BAD_REQUEST,
                LabCode::Malformed,
                format!("{e}; send {}", T::SHAPE),
            ))
        };
        let raw = Bytes::from_request(req, lab).await.map_err(|e| malformed(e.body_text()))?;
        if raw.iter().all(u8::is_ascii_whitespace)
            && let Some(b) = T::empty()
        {
            return Ok(Body(b));
        }
        serde_json::from_slice(&raw).map(Body).map_err(|e| malformed(e.to_string()))
    }
}

async fn get_snapshot(State(lab): Lab, _: Operator) -> Json<Snapshot> {
    Json(lab.snapshot().await)
}

async fn post_slot(State(lab): Lab, _: Operator, Body(b): Body<lab::Book>) -> Done {
    done(lab.book(b).await, StatusCode::CREATED)
}

async fn post_cancel(
    State(lab): Lab,
    _: Operator,
    Path(id): Path<String>,
    Body(b): Body<lab::Cancel>,
) -> Done {
    done(lab.cancel(&id, b).await, StatusCode::OK)
}

async fn post_fault(State(lab): Lab, _: Operator, Body(b): Body<lab::Fault>) -> Done {
    done(lab.fault(&b), StatusCode::OK)
}

async fn post_revoke(State(lab): Lab, _: Operator, Path(id): Path<String>) -> Done {
    done(lab.revoke(&id).await, StatusCode::OK)
}

async fn post_market(State(lab): Lab, _: Operator, Body(b): Body<lab::Market>) -> Done {
    done(lab.market(&b).await, StatusCode::OK)
}

async fn post_clock(State(lab): Lab, _: Operator, Body(b): Body<lab::ClockMove>) -> Done {
    done(lab.move_clock(&b).await, StatusCode::OK)
}

async fn post_run(State(lab): Lab, _: Operator, Body(b): Body<lab::Run>) -> Done {
    let started = lab.runs.start(&b.tags).map_err(|(status, m)| {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
        (status, LabCode::CannotRun, m)
    });
    done(started, StatusCode::ACCEPTED)
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
        .route("/api/lab/v1/clock", post(post_clock))
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

#[cfg(test)]
mod tests;
