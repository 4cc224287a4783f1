//! The data-access HTTP API: registers (grid users), the ESP API, and their admin side.
//! Every route is listed once in [`routes`]; the OpenAPI document is checked against it.
// Handlers return ready `Response`s as errors; they are built once per request, not hot.
#![allow(clippy::result_large_err)]

use crate::access::{Access, AccessError, Principal, basis_name, new_secret, party_name};
use crate::http::{Ctx, err, json_body};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use clock::{SignedDuration, Timestamp};
use domain::{Commodity, DataKind, Ean, Kbo};
use registers::{Command, Decision, Party, Scope};
use serde::Deserialize;
use std::str::FromStr;
use std::sync::Arc;

/// Every data-access route: method, path, handler. The OpenAPI document has one entry each.
pub(crate) fn routes() -> Vec<(&'static str, &'static str, MethodRouter<Ctx>)> {
    vec![
        ("POST", "/api/admin/v1/tokens", post(issue_token)),
        ("POST", "/api/admin/v1/esps", post(register_esp)),
        ("POST", "/api/admin/v1/esps/{kbo}/credentials", post(rotate_credentials)),
        ("POST", "/api/admin/v1/access-points", post(register_point)),
        ("POST", "/api/admin/v1/links", post(link_dongle)),
        ("POST", "/api/admin/v1/market-scenarios", post(market_scenario)),
        ("POST", "/api/admin/v1/outage", post(outage)),
        ("GET", "/api/admin/v1/access-log", get(admin_access_log)),
        ("GET", "/api/admin/v1/registers", get(admin_registers)),
        ("GET", "/api/admin/v1/deliveries", get(admin_deliveries)),
        ("POST", "/api/registers/v1/dienstverlener/{kbo}/stappenplan", post(request_mandate)),
        ("POST", "/api/registers/v1/mandates/{id}/approve", post(approve_mandate)),
        ("POST", "/api/registers/v1/mandates/{id}/reject", post(reject_mandate)),
        ("POST", "/api/registers/v1/mandates/{id}/end", post(end_mandate)),
        ("POST", "/api/registers/v1/terms", post(accept_terms)),
        ("POST", "/api/registers/v1/consents", post(grant_consent)),
        ("POST", "/api/registers/v1/consents/{id}/revoke", post(revoke_consent)),
        ("GET", "/api/registers/v1/points/{ean}", get(point_view)),
        ("GET", "/api/registers/v1/points/{ean}/access-log", get(point_access_log)),
        ("GET", "/api/registers/v1/points/{ean}/parties", get(point_parties)),
        ("GET", "/api/esp/v1/points/{ean}/energy", get(energy)),
        ("GET", "/api/esp/v1/points/{ean}/months", get(months)),
        ("GET", "/api/esp/v1/points/{ean}/stream", get(stream)),
        ("POST", "/api/esp/v1/mandates/status", post(mandate_status)),
        ("GET", "/api/esp/v1/mandates", get(esp_mandates)),
        ("GET", "/api/esp/v1/deliveries", get(esp_deliveries)),
    ]
}

/// The longest period one request may ask for, per granularity.
fn max_range(what: DataKind) -> SignedDuration {
    match what {
        DataKind::QuarterHour | DataKind::Hour => SignedDuration::from_hours(24 * 31),
        DataKind::Day => SignedDuration::from_hours(24 * 367),
        _ => SignedDuration::from_hours(24 * 366 * 3),
    }
}

// ---- plumbing ----

fn access(ctx: &Ctx) -> &Arc<Access> {
    &ctx.access
}

fn store_down(e: impl std::fmt::Display) -> Response {
    crate::http::unavailable(e)
}

/// Who calls: the bearer token's principal, within its rate limit, and (for data routes) not
/// during an unplanned outage.
fn caller(ctx: &Ctx, headers: &HeaderMap, data_route: bool) -> Result<Principal, Response> {
    let Some(p) = crate::http::bearer(headers).and_then(|t| access(ctx).principal(t)) else {
        return Err(err(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send `Authorization: Bearer TOKEN` with a token the platform issued",
        ));
    };
    // Rate limits protect the platform from its clients; the admin is exempt so an operator
    // can always act during a flood.
    if !matches!(p.party, Party::Admin)
        && let Err(wait) = access(ctx).take(&p.name())
    {
        let mut r = err(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests for {}: retry after {wait} s", p.name()),
        );
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return Err(r);
    }
    if data_route && let Some(reason) = access(ctx).outage() {
        // R-SLA-3: the API says it is (partly) unavailable, with a code, instead of serving
        // partial data as if it were complete.
        let mut r = err(
            StatusCode::SERVICE_UNAVAILABLE,
            "unplanned_outage",
            format!("unplanned outage: {reason}; the data will be delivered afterwards"),
        );
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        return Err(r);
    }
    Ok(p)
}

fn forbidden(p: &Principal, what: &str) -> Response {
    err(StatusCode::FORBIDDEN, "forbidden_role", format!("{} may not {what}", party_name(&p.party)))
}

fn need_admin(p: &Principal, what: &str) -> Result<(), Response> {
    if matches!(p.party, Party::Admin) { Ok(()) } else { Err(forbidden(p, what)) }
}

fn grid_user(p: &Principal, what: &str) -> Result<domain::GridUserId, Response> {
    match &p.party {
        Party::GridUser(g) => Ok(g.clone()),
        _ => Err(forbidden(p, what)),
    }
}

/// An EAN in a body or query: well formed but failing its check is a 422 (no pattern can
/// hold a check digit).
fn parse_ean(s: &str) -> Result<Ean, Response> {
    Ean::parse(s).map_err(|e| err(StatusCode::UNPROCESSABLE_ENTITY, e.code(), e.to_string()))
}

/// An EAN in the path: one that cannot be valid names no resource, 404.
fn path_ean(s: &str) -> Result<Ean, Response> {
    Ean::parse(s).map_err(|e| err(StatusCode::NOT_FOUND, e.code(), e.to_string()))
}

fn parse_kbo(s: &str) -> Result<Kbo, Response> {
    Kbo::parse(s).map_err(|e| err(StatusCode::UNPROCESSABLE_ENTITY, e.code(), e.to_string()))
}

/// A KBO number in the path: one that cannot be valid names no ESP, 404.
fn path_kbo(s: &str) -> Result<Kbo, Response> {
    Kbo::parse(s).map_err(|e| err(StatusCode::NOT_FOUND, e.code(), e.to_string()))
}

fn register_error(e: AccessError) -> Response {
    match e {
        AccessError::Store(e) => store_down(e),
        AccessError::Register(e) => {
            let status = match e.code() {
                "forbidden" | "not_grid_user" => StatusCode::FORBIDDEN,
                "period_reversed" => StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_esp" | "unknown_point" | "unknown_mandate" | "unknown_consent"
                | "unknown_service" => StatusCode::NOT_FOUND,
                "already_decided" | "duplicate" => StatusCode::CONFLICT,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            err(status, e.code(), e.to_string())
        }
    }
}

/// Executes a command for `who` and answers with the notifications addressed to them: a
/// grid user or ESP never learns whom else the registers told (another point's grid user).
async fn run(ctx: &Ctx, who: &Party, cmd: Command, created: bool) -> Response {
    match access(ctx).execute(cmd).await {
        Ok(notes) => {
            let status = if created { StatusCode::CREATED } else { StatusCode::OK };
            let mine: Vec<_> = notes.into_iter().filter(|n| addressed_to(n, who)).collect();
            (status, Json(serde_json::json!({ "notifications": mine }))).into_response()
        }
        Err(e) => register_error(e),
    }
}

/// Whether a notification is for `who` (staff see every one).
fn addressed_to(n: &registers::Notification, who: &Party) -> bool {
    match who {
        Party::Admin | Party::Operator => true,
        Party::GridUser(g) => n.grid_user.as_ref() == Some(g),
        Party::Esp(k) => n.esp.as_ref() == Some(k),
    }
}

// ---- admin ----

#[derive(Deserialize, schemars::JsonSchema)]
pub(crate) struct NewToken {
    party: Party,
    #[serde(default)]
    label: String,
}

async fn issue_token(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    body: Result<Json<NewToken>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if let Err(r) = caller(&ctx, &headers, false).and_then(|p| need_admin(&p, "issue tokens")) {
        return r;
    }
    let b = match json_body(body, r#"{"party": {"role": "grid_user", "id": "G1"}, "label": "…"}"#)
    {
        Ok(b) => b,
        Err(r) => return r,
    };
    match access(&ctx).issue_token(Principal { party: b.party.clone(), label: b.label }).await {
        Ok(token) => {
            (StatusCode::CREATED, Json(serde_json::json!({ "token": token, "party": b.party })))
                .into_response()
        }
        Err(e) => store_down(e),
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(crate) struct NewEsp {
    esp: domain::Esp,
}

/// Onboards an ESP (R-ACC-4 ends in a data-access contract): registers it, issues its API
/// token and its webhook signing secret, both shown once.
async fn register_esp(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    body: Result<Json<NewEsp>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if let Err(r) = caller(&ctx, &headers, false).and_then(|p| need_admin(&p, "onboard ESPs")) {
        return r;
    }
    let b = match json_body(body, r#"{"esp": {"kbo": "0123.456.749", "name": …}}"#) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let kbo = b.esp.kbo.clone();
    // Onboarding twice would mint a second token and secret behind the first ones' back.
    if access(&ctx).read(|r| r.esp(&kbo).is_some()).await {
        return err(
            StatusCode::CONFLICT,
            "esp_exists",
            format!(
                "ESP {kbo} is already onboarded; to issue a new token or webhook secret, POST /api/admin/v1/esps/{}/credentials",
                kbo.as_str()
            ),
        );
    }
    let principal = Principal { party: Party::Esp(kbo.clone()), label: b.esp.name.clone() };
    let (creds, writes) = match new_credentials(&kbo, &principal, Rotate::both()) {
        Ok(c) => c,
        Err(e) => return store_down(e),
    };
    // The registration, the token and the secret land in one transaction: all or nothing.
    let cmd = Command::RegisterEsp { esp: b.esp.clone() };
    if let Err(e) = access(&ctx).execute_with(cmd, writes).await {
        return register_error(e);
    }
    (
        StatusCode::CREATED,
        Json(serde_json::json!({
            "kbo": kbo.as_str().to_owned(),
            "token": creds.token,
            "webhook_secret": creds.webhook_secret,
            "step_plan": format!("/api/registers/v1{}", b.esp.step_plan_path()),
        })),
    )
        .into_response()
}

/// Which credentials of an ESP to issue anew.
#[derive(Debug, Clone, Copy, Deserialize, schemars::JsonSchema)]
pub(crate) struct Rotate {
    #[serde(default = "yes")]
    token: bool,
    #[serde(default = "yes")]
    webhook_secret: bool,
}

fn yes() -> bool {
    true
}

impl Rotate {
    fn both() -> Rotate {
        Rotate { token: true, webhook_secret: true }
    }
}

/// Credentials issued now, shown once.
#[derive(Debug, Default)]
struct Credentials {
    token: Option<String>,
    webhook_secret: Option<String>,
}

/// New credentials for an ESP and the rows that store them.
fn new_credentials(
    kbo: &domain::Kbo,
    principal: &Principal,
    which: Rotate,
) -> Result<(Credentials, Vec<store::Write>), store::StoreError> {
    let mut creds = Credentials::default();
    let mut writes = Vec::new();
    if which.webhook_secret {
        let secret = new_secret("whsec");
        writes.push(store::Write::PutRecord {
            kind: store::Record::EspSecrets,
            id: kbo.as_str().to_owned(),
            body: secret.clone(),
        });
        creds.webhook_secret = Some(secret);
    }
    if which.token {
        let (token, row) = crate::access::Access::mint_token(principal)?;
        writes.push(row);
        creds.token = Some(token);
    }
    Ok((creds, writes))
}

/// Issues an onboarded ESP a new API token (its old ones stop working at once) and/or a new
/// webhook secret, in one transaction; also repairs an ESP left without either.
async fn rotate_credentials(
    State(ctx): State<Ctx>,
    Path(kbo): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) =
        caller(&ctx, &headers, false).and_then(|p| need_admin(&p, "rotate ESP credentials"))
    {
        return r;
    }
    let kbo = match path_kbo(&kbo) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let which: Rotate = if body.iter().all(u8::is_ascii_whitespace) {
        Rotate::both()
    } else {
        match serde_json::from_slice(&body) {
            Ok(w) => w,
            Err(e) => {
                let (status, code) = crate::http::json_error(&e);
                return err(
                    status,
                    code,
                    format!("{e}; send {{\"token\": true, \"webhook_secret\": true}} or nothing"),
                );
            }
        }
    };
    if !which.token && !which.webhook_secret {
        return err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "nothing_to_rotate",
            "ask for token, webhook_secret or both",
        );
    }
    let Some(name) = access(&ctx).read(|r| r.esp(&kbo).map(|e| e.name.clone())).await else {
        return err(StatusCode::NOT_FOUND, "unknown_esp", format!("no ESP {kbo} is onboarded"));
    };
    let party = Party::Esp(kbo.clone());
    let principal = Principal { party: party.clone(), label: name };
    let (creds, mut writes) = match new_credentials(&kbo, &principal, which) {
        Ok(c) => c,
        Err(e) => return store_down(e),
    };
    let mut revoked = 0;
    if which.token {
        for hash in access(&ctx).tokens_of(&party) {
            writes.push(store::Write::DeleteRecord { kind: store::Record::Tokens, id: hash });
            revoked += 1;
        }
    }
    if let Err(e) = access(&ctx).commit(writes).await {
        return store_down(e);
    }
    let mut out = serde_json::json!({ "kbo": kbo.as_str().to_owned(), "revoked_tokens": revoked });
    if let Some(t) = creds.token {
        out["token"] = t.into();
    }
    if let Some(s) = creds.webhook_secret {
        out["webhook_secret"] = s.into();
    }
    (StatusCode::CREATED, Json(out)).into_response()
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(crate) struct NewPoint {
    access_point: domain::AccessPoint,
    data_service_points: Vec<domain::DataServicePoint>,
    #[serde(default)]
    grid_user: Option<domain::GridUserId>,
    #[serde(default)]
    supplier: Option<domain::SupplierId>,
    #[schemars(with = "domain::Rfc3339")]
    since: Timestamp,
}

async fn register_point(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    body: Result<Json<NewPoint>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if let Err(r) =
        caller(&ctx, &headers, false).and_then(|p| need_admin(&p, "register access points"))
    {
        return r;
    }
    let b = match json_body(body, "{access_point, data_service_points, grid_user, since}") {
        Ok(b) => b,
        Err(r) => return r,
    };
    let cmd = Command::RegisterAccessPoint {
        access_point: b.access_point,
        data_service_points: b.data_service_points,
        grid_user: b.grid_user,
        supplier: b.supplier,
        since: b.since,
    };
    run(&ctx, &Party::Admin, cmd, true).await
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(crate) struct NewLink {
    link: domain::DongleLink,
}

async fn link_dongle(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    body: Result<Json<NewLink>, axum::extract::rejection::JsonRejection>,
) -> Response {
    match caller(&ctx, &headers, false) {
        Ok(p) if matches!(p.party, Party::Admin | Party::Operator) => (),
        Ok(p) => return forbidden(&p, "link dongles"),
        Err(r) => return r,
    }
    let b = match json_body(body, "{link: {dongle, meter, data_service_point, since}}") {
        Ok(b) => b,
        Err(r) => return r,
    };
    run(&ctx, &Party::Admin, Command::LinkDongle { link: b.link }, true).await
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(crate) struct NewScenario {
    #[schemars(with = "domain::Ean")]
    access_point: String,
    kind: registers::ScenarioKind,
    #[schemars(with = "domain::LocalTime")]
    effective: String,
    #[serde(default)]
    new_grid_user: Option<domain::GridUserId>,
    #[serde(default)]
    new_supplier: Option<domain::SupplierId>,
}

/// A market scenario as the market messages would bring it (MIG): admin only.
async fn market_scenario(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    body: Result<Json<NewScenario>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if let Err(r) =
        caller(&ctx, &headers, false).and_then(|p| need_admin(&p, "apply market scenarios"))
    {
        return r;
    }
    let b = match json_body(body, r#"{"access_point", "kind": "CS", "effective": "2026-06-01"}"#) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let ap = match parse_ean(&b.access_point) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let effective = match parse_time(&b.effective) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let cmd = Command::MarketScenario {
        access_point: ap,
        kind: b.kind,
        effective,
        new_grid_user: b.new_grid_user,
        new_supplier: b.new_supplier,
    };
    run(&ctx, &Party::Admin, cmd, true).await
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(crate) struct Outage {
    active: bool,
    #[serde(default)]
    reason: String,
}

async fn outage(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    body: Result<Json<Outage>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if let Err(r) = caller(&ctx, &headers, false).and_then(|p| need_admin(&p, "declare outages")) {
        return r;
    }
    let b = match json_body(body, r#"{"active": true, "reason": "…"}"#) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let reason = if b.reason.is_empty() { "declared by an administrator".into() } else { b.reason };
    access(&ctx).set_outage(b.active.then_some(reason));
    Json(serde_json::json!({ "outage": access(&ctx).outage() })).into_response()
}

#[derive(Deserialize)]
struct LogFilter {
    #[serde(default)]
    point: Option<String>,
    #[serde(default)]
    party: Option<String>,
}

fn access_json(rows: &[store::AccessRow]) -> serde_json::Value {
    rows.iter()
        .map(|r| {
            serde_json::json!({
                "at": r.at, "party": r.party, "point": r.point, "what": r.what,
                "from": r.from, "to": r.to, "allowed": r.allowed, "basis": r.basis,
                "detail": r.detail,
            })
        })
        .collect()
}

async fn admin_access_log(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Query(f): Query<LogFilter>,
) -> Response {
    if let Err(r) =
        caller(&ctx, &headers, false).and_then(|p| need_admin(&p, "read the whole access register"))
    {
        return r;
    }
    if let Some(point) = &f.point
        && let Err(r) = parse_ean(point)
    {
        return r;
    }
    match access(&ctx).store.access_log(f.point.as_deref(), f.party.as_deref()).await {
        Ok(rows) => Json(access_json(&rows)).into_response(),
        Err(e) => store_down(e),
    }
}

async fn admin_registers(State(ctx): State<Ctx>, headers: HeaderMap) -> Response {
    if let Err(r) =
        caller(&ctx, &headers, false).and_then(|p| need_admin(&p, "read every register"))
    {
        return r;
    }
    let v = access(&ctx)
        .read(|r| {
            let points: Vec<serde_json::Value> =
                r.access_points().map(|ap| point_json(r, &ap.ean, None)).collect();
            serde_json::json!({
                "points": points,
                "esps": r.esps().collect::<Vec<_>>(),
                "links": r.dongle_links(),
            })
        })
        .await;
    Json(v).into_response()
}

async fn admin_deliveries(State(ctx): State<Ctx>, headers: HeaderMap) -> Response {
    if let Err(r) =
        caller(&ctx, &headers, false).and_then(|p| need_admin(&p, "read every delivery"))
    {
        return r;
    }
    match access(&ctx).hooks.log(None).await {
        Ok(d) => Json(d).into_response(),
        Err(e) => store_down(e),
    }
}

// ---- registers (grid users) ----

#[derive(Deserialize, schemars::JsonSchema)]
pub(crate) struct MandateRequest {
    #[schemars(with = "domain::Ean")]
    data_service_point: String,
    scope: Scope,
    #[schemars(with = "domain::LocalTime")]
    period_from: String,
    #[serde(default)]
    #[schemars(with = "Option<domain::LocalTime>")]
    period_to: Option<String>,
    #[serde(default)]
    history: bool,
    #[serde(default)]
    renews: Option<String>,
}

/// R-MAN-7: the customer grants through the ESP's step-plan link.
async fn request_mandate(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(kbo): Path<String>,
    body: Result<Json<MandateRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let p = match caller(&ctx, &headers, false) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let customer = match grid_user(&p, "grant mandates (only customers do)") {
        Ok(g) => g,
        Err(r) => return r,
    };
    let esp = match path_kbo(&kbo) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let b = match json_body(
        body,
        r#"{"data_service_point", "scope": "day_only|with_interval", "period_from", "period_to", "history"}"#,
    ) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let dsp = match parse_ean(&b.data_service_point) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let period_from = match parse_time(&b.period_from) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let period_to = match b.period_to.as_deref().map(parse_time).transpose() {
        Ok(x) => x,
        Err(r) => return r,
    };
    let cmd = Command::RequestMandate {
        esp,
        data_service_point: dsp,
        customer,
        scope: b.scope,
        period_from,
        period_to,
        history: b.history,
        renews: b.renews,
    };
    run(&ctx, &p.party, cmd, true).await
}

async fn mandate_decision(ctx: &Ctx, headers: &HeaderMap, id: String, how: &str) -> Response {
    let p = match caller(ctx, headers, false) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let cmd = match how {
        // Ending is for the customer or grid user (R-MAN-4); the registers decide, so an ESP
        // trying it gets the registers' own refusal, recorded the same way.
        "end" => Command::EndMandate { mandate: id, by: p.party.clone() },
        _ => {
            let by = match grid_user(&p, &format!("{how} mandates")) {
                Ok(g) => g,
                Err(r) => return r,
            };
            if how == "approve" {
                Command::ApproveMandate { mandate: id, by }
            } else {
                Command::RejectMandate { mandate: id, by }
            }
        }
    };
    run(ctx, &p.party, cmd, false).await
}

async fn approve_mandate(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    mandate_decision(&ctx, &headers, id, "approve").await
}

async fn reject_mandate(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    mandate_decision(&ctx, &headers, id, "reject").await
}

async fn end_mandate(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    mandate_decision(&ctx, &headers, id, "end").await
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(crate) struct Terms {
    #[schemars(with = "domain::Ean")]
    access_point: String,
}

async fn accept_terms(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    body: Result<Json<Terms>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let g = match caller(&ctx, &headers, false).and_then(|p| grid_user(&p, "accept terms")) {
        Ok(g) => g,
        Err(r) => return r,
    };
    let b = match json_body(body, r#"{"access_point": "EAN"}"#) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let ap = match parse_ean(&b.access_point) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let who = Party::GridUser(g.clone());
    run(&ctx, &who, Command::AcceptTerms { grid_user: g, access_point: ap }, false).await
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(crate) struct NewConsent {
    #[schemars(with = "domain::Ean")]
    data_service_point: String,
    #[schemars(with = "domain::Kbo")]
    esp: String,
    service: String,
}

async fn grant_consent(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    body: Result<Json<NewConsent>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let g = match caller(&ctx, &headers, false).and_then(|p| grid_user(&p, "grant consents")) {
        Ok(g) => g,
        Err(r) => return r,
    };
    let b = match json_body(body, r#"{"data_service_point", "esp", "service"}"#) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (dsp, esp) = match (parse_ean(&b.data_service_point), parse_kbo(&b.esp)) {
        (Ok(d), Ok(e)) => (d, e),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let who = Party::GridUser(g.clone());
    let cmd =
        Command::GrantConsent { grid_user: g, data_service_point: dsp, esp, service: b.service };
    run(&ctx, &who, cmd, true).await
}

async fn revoke_consent(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let g = match caller(&ctx, &headers, false).and_then(|p| grid_user(&p, "revoke consents")) {
        Ok(g) => g,
        Err(r) => return r,
    };
    let who = Party::GridUser(g.clone());
    run(&ctx, &who, Command::RevokeConsent { consent: id, by: g }, false).await
}

/// A point's registers as JSON; `only` limits mandates and consents to one grid user's.
fn point_json(
    r: &registers::Registers,
    ap: &Ean,
    only: Option<&domain::GridUserId>,
) -> serde_json::Value {
    let point = r.access_point(ap);
    let dsps: Vec<Ean> = point.map(|p| p.data_service_points.clone()).unwrap_or_default();
    let mine = |g: &domain::GridUserId| only.is_none_or(|o| o == g);
    let mandates: Vec<&registers::Mandate> = dsps
        .iter()
        .flat_map(|d| r.mandates_for_point(d))
        .filter(|m| mine(&m.customer) || mine(&m.grid_user))
        .collect();
    let consents: Vec<&registers::Consent> =
        dsps.iter().flat_map(|d| r.consents_for_point(d)).filter(|c| mine(&c.grid_user)).collect();
    let occupancy: Vec<&registers::Occupancy> =
        r.occupancy(ap).iter().filter(|o| only.is_none() || o.grid_user.as_ref() == only).collect();
    serde_json::json!({
        "access_point": point,
        "occupancy": occupancy,
        "mandates": mandates,
        "consents": consents,
    })
}

/// The access point of a point given as an access point or one of its data service points.
fn access_point_of(r: &registers::Registers, ean: &Ean) -> Option<Ean> {
    match r.access_point(ean) {
        Some(ap) => Some(ap.ean.clone()),
        None => Some(r.data_service_point(ean)?.access_point.clone()),
    }
}

/// That access point, if the grid user occupied it at some time.
fn occupant_of(r: &registers::Registers, ean: &Ean, g: &domain::GridUserId) -> Option<Ean> {
    let ap = access_point_of(r, ean)?;
    r.occupancy(&ap).iter().any(|o| o.grid_user.as_ref() == Some(g)).then_some(ap)
}

async fn point_view(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(ean): Path<String>,
) -> Response {
    let p = match caller(&ctx, &headers, false) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let ean = match path_ean(&ean) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let v = access(&ctx)
        .read(|r| match &p.party {
            Party::Admin => {
                let ap = access_point_of(r, &ean)?;
                Some(point_json(r, &ap, None))
            }
            Party::GridUser(g) => occupant_of(r, &ean, g).map(|ap| point_json(r, &ap, Some(g))),
            _ => None,
        })
        .await;
    match (v, &p.party) {
        (Some(v), _) => Json(v).into_response(),
        (None, Party::Admin) => {
            err(StatusCode::NOT_FOUND, "unknown_point", format!("no access point {ean}"))
        }
        // A grid user or ESP learns nothing about points that are not theirs, not even
        // whether they exist.
        (None, _) => forbidden(&p, &format!("read the registers of {ean}")),
    }
}

async fn point_access_log(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(ean): Path<String>,
) -> Response {
    let p = match caller(&ctx, &headers, false) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let ean = match path_ean(&ean) {
        Ok(x) => x,
        Err(r) => return r,
    };
    // The grid user sees the exchanges about his points during his own occupancy (R-ACC-5,
    // EU 2023/1162 Art. 5); an admin sees all.
    let (points, spans) = match access(&ctx)
        .read(|r| {
            let ap = match &p.party {
                Party::Admin => access_point_of(r, &ean),
                Party::GridUser(g) => occupant_of(r, &ean, g),
                _ => None,
            }?;
            let points: Vec<String> = r
                .access_point(&ap)
                .map(|a| a.data_service_points.iter().map(|d| d.to_string()).collect())
                .unwrap_or_default();
            let spans: Vec<(Timestamp, Option<Timestamp>)> = match &p.party {
                Party::GridUser(g) => r
                    .occupancy(&ap)
                    .iter()
                    .filter(|o| o.grid_user.as_ref() == Some(g))
                    .map(|o| (o.from, o.to))
                    .collect(),
                _ => vec![(Timestamp::MIN, None)],
            };
            Some((points, spans))
        })
        .await
    {
        Some(x) => x,
        None => return forbidden(&p, &format!("read the access register of {ean}")),
    };
    let mut rows = Vec::new();
    for point in &points {
        match access(&ctx).store.access_log(Some(point), None).await {
            Ok(r) => rows.extend(r),
            Err(e) => return store_down(e),
        }
    }
    rows.retain(|row| spans.iter().any(|(a, b)| row.at >= *a && b.is_none_or(|b| row.at < b)));
    rows.sort_by_key(|r| r.at);
    Json(access_json(&rows)).into_response()
}

async fn point_parties(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(ean): Path<String>,
) -> Response {
    let p = match caller(&ctx, &headers, false) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let ean = match path_ean(&ean) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let now = access(&ctx).clock.now();
    let v = access(&ctx)
        .read(|r| {
            let ap = match &p.party {
                Party::Admin => access_point_of(r, &ean),
                // Only the current grid user: third parties with access now are his business.
                Party::GridUser(g) => {
                    occupant_of(r, &ean, g).filter(|ap| r.grid_user_at(ap, now) == Some(g))
                }
                _ => None,
            }?;
            let dsps =
                r.access_point(&ap).map(|a| a.data_service_points.clone()).unwrap_or_default();
            let parties: Vec<serde_json::Value> = dsps
                .iter()
                .flat_map(|d| {
                    r.parties_with_access(d, now).into_iter().map(move |(k, b)| {
                        let name = r.esp(&k).map(|e| e.name.clone()).unwrap_or_default();
                        serde_json::json!({
                            "data_service_point": d, "esp": k.as_str().to_owned(), "name": name,
                            "basis": basis_name(&b),
                        })
                    })
                })
                .collect();
            Some(parties)
        })
        .await;
    match v {
        Some(v) => Json(v).into_response(),
        None => forbidden(&p, &format!("see who has access to {ean}")),
    }
}

// ---- the ESP API ----

#[derive(Deserialize)]
struct EnergyQuery {
    #[serde(default)]
    granularity: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    format: Option<String>,
}

fn parse_time(s: &str) -> Result<Timestamp, Response> {
    clock::parse_date_or_time(s).map_err(|e| {
        err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_time",
            format!("{s}: {e}; use 2026-06-01 (a Brussels day), 2026-06-01T10:00:00 or RFC 3339"),
        )
    })
}

/// `[from, to)` from a query, checked: present, ordered, not longer than `max`.
pub(crate) fn period(
    from: Option<&str>,
    to: Option<&str>,
    max: SignedDuration,
) -> Result<(Timestamp, Timestamp), Response> {
    let (Some(from), Some(to)) = (from, to) else {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "period_missing",
            "give `from` and `to`: a half-open period [from, to), e.g. from=2026-06-01&to=2026-06-02",
        ));
    };
    let (from, to) = (parse_time(from)?, parse_time(to)?);
    if to <= from {
        return Err(err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "period_reversed",
            format!("`to` ({to}) must be after `from` ({from}): periods are half-open [from, to)"),
        ));
    }
    if to.duration_since(from) > max {
        return Err(err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "period_too_long",
            format!(
                "at most {} days per request at this granularity; split the period",
                max.as_hours() / 24
            ),
        ));
    }
    Ok((from, to))
}

fn inside(windows: &[(Timestamp, Timestamp)], start: Timestamp, end: Timestamp) -> bool {
    windows.iter().any(|(a, b)| *a <= start && end <= *b)
}

/// Samples of the dongle linked to a data service point, with a margin for the boundaries.
async fn point_samples(
    ctx: &Ctx,
    dsp: &Ean,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<derive::Sample>, Response> {
    let dongle = access(ctx)
        .read(|r| {
            r.dongle_links()
                .iter()
                .filter(|l| &l.data_service_point == dsp)
                .map(|l| l.dongle.clone())
                .next_back()
        })
        .await;
    match dongle {
        Some(d) => crate::http::samples(ctx, &d, from, to).await,
        None => Ok(Vec::new()),
    }
}

fn refused(d: &Decision) -> Response {
    let code = d.refusal.as_ref().map(|r| r.code()).unwrap_or("forbidden");
    let why = d.refusal.as_ref().map(|r| r.to_string()).unwrap_or_else(|| "refused".into());
    let status =
        if code == "unknown_point" { StatusCode::NOT_FOUND } else { StatusCode::FORBIDDEN };
    err(status, code, format!("{why} (recorded in the access register)"))
}

/// Meter data of a data service point (R-DAT-1, R-MAN-2): the parts of the period the caller
/// may see, nothing else, with units and quality; JSON or CSV (R-DAT-5).
async fn energy(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(ean): Path<String>,
    Query(q): Query<EnergyQuery>,
) -> Response {
    let p = match caller(&ctx, &headers, true) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let ean = match path_ean(&ean) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let what = match DataKind::from_str(q.granularity.as_deref().unwrap_or("quarter-hour")) {
        Ok(k @ (DataKind::Day | DataKind::QuarterHour | DataKind::Hour)) => k,
        _ => {
            return err(
                StatusCode::BAD_REQUEST,
                "granularity_unknown",
                "granularity is one of day, quarter-hour (electricity), hour (gas)",
            );
        }
    };
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(f) => {
            return err(
                StatusCode::BAD_REQUEST,
                "format_unknown",
                format!("format {f}: use json or csv"),
            );
        }
    };
    let (from, to) = match period(q.from.as_deref(), q.to.as_deref(), max_range(what)) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let commodity = access(&ctx).read(|r| r.data_service_point(&ean).map(|d| d.commodity)).await;
    match (commodity, what) {
        (Some(Commodity::Gas), DataKind::QuarterHour)
        | (Some(Commodity::Electricity), DataKind::Hour) => {
            return err(
                StatusCode::UNPROCESSABLE_ENTITY,
                "granularity_not_for_commodity",
                "electricity comes per quarter hour and day, gas per hour and day",
            );
        }
        _ => (),
    }
    let endpoint = if csv { "GET energy.csv" } else { "GET energy" };
    let d = match access(&ctx).decide(&p, &ean, what, endpoint, from, to).await {
        Ok(d) => d,
        Err(e) => return store_down(e),
    };
    if !d.allowed {
        return refused(&d);
    }
    let samples = match point_samples(&ctx, &ean, from, to).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let opt = derive::Options::default();
    // Only whole intervals inside the windows are served: not one byte of a cut period; and
    // only intervals that have ended: the future is not "missing", it has not happened yet.
    let now = access(&ctx).clock.now();
    let clipped: Vec<(Timestamp, Timestamp)> =
        d.windows.iter().filter(|(a, _)| *a < now).map(|(a, b)| (*a, (*b).min(now))).collect();
    let w = &clipped;
    let rows: Vec<[String; 5]> = match (what, commodity) {
        (DataKind::QuarterHour, _) => derive::quarter_hours(&samples, from, to, &opt)
            .into_iter()
            .filter(|i| inside(w, i.start, i.end))
            .map(|i| row(i.start, i.end, i.offtake_kwh, i.injection_kwh, i.quality))
            .collect(),
        (DataKind::Hour, _) => derive::gas_hours(&samples, from, to, &opt)
            .into_iter()
            .filter(|i| inside(w, i.start, i.end))
            .map(|i| row(i.start, i.end, i.kwh, None, i.quality))
            .collect(),
        (_, Some(Commodity::Gas)) => {
            let (first, last) = days_of(from, to);
            derive::gas_days(&samples, first, last, &opt)
                .into_iter()
                .filter(|i| inside(w, i.start, i.end))
                .map(|i| row(i.start, i.end, i.kwh, None, i.quality))
                .collect()
        }
        _ => {
            let (first, last) = days_of(from, to);
            derive::days(&samples, first, last, &opt)
                .into_iter()
                .filter(|i| inside(w, i.start, i.end))
                .map(|i| row(i.start, i.end, i.offtake_kwh, i.injection_kwh, i.quality))
                .collect()
        }
    };
    let gas = commodity == Some(Commodity::Gas);
    if csv {
        let mut out = String::from(if gas {
            "start,end,offtake_kwh,unused,quality\n"
        } else {
            "start,end,offtake_kwh,injection_kwh,quality\n"
        });
        for r in &rows {
            out.push_str(&r.join(","));
            out.push('\n');
        }
        let name = format!("attachment; filename=\"{ean}-{}.csv\"", what.as_str());
        let mut resp = ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], out).into_response();
        if let Ok(v) = HeaderValue::from_str(&name) {
            resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
        return resp;
    }
    let values: Vec<serde_json::Value> = rows
        .iter()
        .map(|[s, e, a, b, q]| {
            let num = |x: &str| x.parse::<f64>().ok();
            if gas {
                serde_json::json!({ "start": s, "end": e, "kwh": num(a), "quality": q })
            } else {
                serde_json::json!({
                    "start": s, "end": e, "offtake_kwh": num(a), "injection_kwh": num(b),
                    "quality": q,
                })
            }
        })
        .collect();
    Json(serde_json::json!({
        "point": ean,
        "granularity": what.as_str(),
        "unit": "kWh",
        "from": from,
        "to": to,
        "served": d.windows.iter().map(|(a, b)| [a, b]).collect::<Vec<_>>(),
        "basis": d.basis.as_ref().map(basis_name),
        "values": values,
    }))
    .into_response()
}

fn days_of(from: Timestamp, to: Timestamp) -> (clock::civil::Date, clock::civil::Date) {
    (clock::local_date(from), clock::local_date(to - SignedDuration::from_secs(1)))
}

fn row(
    start: Timestamp,
    end: Timestamp,
    a: Option<f64>,
    b: Option<f64>,
    q: derive::Quality,
) -> [String; 5] {
    let n = |x: Option<f64>| x.map(|v| format!("{v:.3}")).unwrap_or_default();
    let q = serde_json::to_value(q)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    [start.to_string(), end.to_string(), n(a), n(b), q]
}

/// Monthly volumes and peaks (R-DAT-3) for whole months the caller may see.
async fn months(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(ean): Path<String>,
    Query(q): Query<EnergyQuery>,
) -> Response {
    let p = match caller(&ctx, &headers, true) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let ean = match path_ean(&ean) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (from, to) =
        match period(q.from.as_deref(), q.to.as_deref(), max_range(DataKind::MonthPeak)) {
            Ok(x) => x,
            Err(r) => return r,
        };
    let d = match access(&ctx).decide(&p, &ean, DataKind::MonthPeak, "GET months", from, to).await {
        Ok(d) => d,
        Err(e) => return store_down(e),
    };
    if !d.allowed {
        return refused(&d);
    }
    let (first, last) = days_of(from, to);
    let samples =
        match point_samples(&ctx, &ean, clock::day_start(first.first_of_month()), to).await {
            Ok(s) => s,
            Err(r) => return r,
        };
    let months: Vec<derive::MonthFigures> =
        derive::months(&samples, first, last, &derive::Options::default())
            .into_iter()
            .filter(|m| inside(&d.windows, m.start, m.end))
            .collect();
    Json(serde_json::json!({
        "point": ean,
        "from": from,
        "to": to,
        "basis": d.basis.as_ref().map(basis_name),
        "months": months,
    }))
    .into_response()
}

/// The near-real-time stream of a point for a consented service (R-NRT-5, R-NRT-6):
/// server-sent events, one per stored upload. Consent is checked for every event, so a
/// revocation ends the stream at once with a `revoked` event.
async fn stream(State(ctx): State<Ctx>, headers: HeaderMap, Path(ean): Path<String>) -> Response {
    let p = match caller(&ctx, &headers, true) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let ean = match path_ean(&ean) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let now = access(&ctx).clock.now();
    let horizon = now + SignedDuration::from_hours(24 * 366);
    let d = match access(&ctx).decide(&p, &ean, DataKind::Nrt, "GET stream", now, horizon).await {
        Ok(d) => d,
        Err(e) => return store_down(e),
    };
    if !d.allowed {
        return refused(&d);
    }
    let dongle = access(&ctx)
        .read(|r| {
            r.dongle_links()
                .iter()
                .filter(|l| l.data_service_point == ean)
                .map(|l| l.dongle.clone())
                .next_back()
        })
        .await
        .unwrap_or_default();
    let rx = ctx.ingest.live.subscribe();
    let state = (rx, ctx.clone(), p, ean, dongle, false);
    let events =
        futures_util::stream::unfold(state, |(mut rx, ctx, p, ean, dongle, done)| async move {
            if done {
                return None;
            }
            loop {
                let live = match rx.recv().await {
                    Ok(l) => l,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return None,
                };
                if live.dongle != dongle {
                    continue;
                }
                let now = access(&ctx).clock.now();
                let at = live.captured_at;
                let ok = access(&ctx)
                    .read(|r| {
                        let d = r.authorize(
                            &p.party,
                            &ean,
                            DataKind::Nrt,
                            at,
                            at + SignedDuration::from_secs(1),
                            now,
                        );
                        d.allowed && d.windows.iter().any(|(a, b)| *a <= at && at < *b)
                    })
                    .await;
                if !ok {
                    let d = Decision {
                        allowed: false,
                        windows: Vec::new(),
                        basis: None,
                        refusal: None,
                    };
                    let _ = access(&ctx)
                        .log(
                            &p,
                            &ean,
                            DataKind::Nrt,
                            "GET stream (ended)",
                            at,
                            now,
                            &d,
                            "consent ended: stream closed".into(),
                        )
                        .await;
                    let ev =
                        Event::default().event("revoked").data("consent revoked or access ended");
                    return Some((
                        Ok::<_, std::convert::Infallible>(ev),
                        (rx, ctx, p, ean, dongle, true),
                    ));
                }
                let ev = Event::default()
                    .event("sample")
                    .json_data(&live)
                    .unwrap_or_else(|_| Event::default().event("sample"));
                return Some((Ok(ev), (rx, ctx, p, ean, dongle, false)));
            }
        });
    Sse::new(events).keep_alive(KeepAlive::default()).into_response()
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(crate) struct StatusRequest {
    #[schemars(with = "Vec<domain::Ean>", length(max = 1000))]
    points: Vec<String>,
}

/// R-MAN-8: the mandate status of many data service points at once.
async fn mandate_status(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    body: Result<Json<StatusRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let p = match caller(&ctx, &headers, true) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Party::Esp(kbo) = &p.party else {
        return forbidden(&p, "ask mandate status (ESPs do)");
    };
    let b = match json_body(body, r#"{"points": ["EAN", …]}"#) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if b.points.len() > 1000 {
        return err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_many_points",
            "at most 1000 points per request",
        );
    }
    let mut out = Vec::new();
    let mut valid = Vec::new();
    for s in &b.points {
        match Ean::parse(s) {
            Ok(e) => valid.push(e),
            Err(e) => out.push(serde_json::json!({ "point": s, "error": e.code() })),
        }
    }
    let status = access(&ctx).read(|r| r.mandate_status(kbo, &valid)).await;
    for (ean, m) in status {
        out.push(serde_json::json!({ "point": ean, "mandate": m }));
    }
    Json(out).into_response()
}

async fn esp_mandates(State(ctx): State<Ctx>, headers: HeaderMap) -> Response {
    let p = match caller(&ctx, &headers, true) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Party::Esp(kbo) = &p.party else {
        return forbidden(&p, "list an ESP's mandates");
    };
    let v = access(&ctx).read(|r| serde_json::to_value(r.mandates_of_esp(kbo)).ok()).await;
    Json(v).into_response()
}

async fn esp_deliveries(State(ctx): State<Ctx>, headers: HeaderMap) -> Response {
    let p = match caller(&ctx, &headers, false) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Party::Esp(kbo) = &p.party else {
        return forbidden(&p, "read an ESP's webhook deliveries");
    };
    match access(&ctx).hooks.log(Some(kbo.as_str())).await {
        Ok(d) => Json(d).into_response(),
        Err(e) => store_down(e),
    }
}
