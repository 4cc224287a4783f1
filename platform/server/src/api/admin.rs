//! The administrator's side: tokens, onboarding ESPs and rotating their credentials, access
//! points, dongle links, market scenarios, outages, and the whole registers.

use super::{
    Admin, Answer, Body, Esp, Failure, Staff, convert, created, parse_ean, parse_time, path_kbo,
    register_error,
};
use crate::access::{Principal, new_secret};
use crate::http::Ctx;
use crate::webhooks::Secrets;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use clock::Timestamp;
use registers::{Command, Party};
use serde::Deserialize;
use wire::api::v1::{self as w, Code};

/// Executes a command for `who` and answers with the notifications addressed to them: a
/// grid user or ESP never learns whom else the registers told (another point's grid user).
pub(crate) async fn run(ctx: &Ctx, who: &Party, cmd: Command) -> Answer<Json<w::Notifications>> {
    let notes = ctx.access.execute(cmd).await.map_err(register_error)?;
    let notifications =
        notes.iter().filter(|n| addressed_to(n, who)).map(convert::notification).collect();
    Ok(Json(w::Notifications { notifications }))
}

/// Whether a notification is for `who` (staff see every one).
fn addressed_to(n: &registers::Notification, who: &Party) -> bool {
    match who {
        Party::Admin | Party::Operator => true,
        Party::GridUser(g) => n.grid_user.as_ref() == Some(g),
        Party::Esp(k) => n.esp.as_ref() == Some(k),
    }
}

pub(crate) async fn issue_token(
    State(ctx): State<Ctx>,
    _: Admin,
    Body(b): Body<w::NewToken>,
) -> Answer<(StatusCode, Json<w::TokenIssued>)> {
    let principal = Principal { party: convert::party_in(b.party.clone()), label: b.label };
    let token = ctx.access.issue_token(principal).await.map_err(Failure::unavailable)?;
    Ok(created(w::TokenIssued { token, party: b.party }))
}

/// Onboards an ESP (R-ACC-4 ends in a data-access contract): registers it, issues its API
/// token and its webhook signing secret, both shown once.
pub(crate) async fn register_esp(
    State(ctx): State<Ctx>,
    _: Admin,
    Body(b): Body<w::NewEsp>,
) -> Answer<(StatusCode, Json<w::EspOnboarded>)> {
    let kbo = b.esp.kbo.clone();
    // Onboarding twice would mint a second token and secret behind the first ones' back.
    if ctx.access.read(|r| r.esp(&kbo).is_some()).await {
        return Err(Failure::new(
            StatusCode::CONFLICT,
            Code::EspExists,
            format!(
                "ESP {kbo} is already onboarded; to issue a new token or webhook secret, POST /api/admin/v1/esps/{}/credentials",
                kbo.as_str()
            ),
        ));
    }
    let principal = Principal { party: Party::Esp(kbo.clone()), label: b.esp.name.clone() };
    let now = ctx.access.clock.now();
    let (creds, writes) = new_credentials(&kbo, &principal, w::Rotate::BOTH, None, now)
        .map_err(Failure::unavailable)?;
    // Checked before anything is written: an onboarding must show both credentials once.
    let (Some(token), Some(webhook_secret)) = (creds.token, creds.webhook_secret) else {
        return Err(Failure::internal("new_credentials made fewer credentials than asked"));
    };
    let step_plan = format!("/api/registers/v1{}", b.esp.step_plan_path());
    // The registration, the token and the secret land in one transaction: all or nothing.
    ctx.access
        .execute_with(Command::RegisterEsp { esp: b.esp }, writes)
        .await
        .map_err(register_error)?;
    Ok(created(w::EspOnboarded { kbo, token, webhook_secret, step_plan }))
}

/// Credentials issued now, shown once.
#[derive(Debug, Default)]
struct Credentials {
    token: Option<String>,
    webhook_secret: Option<String>,
}

/// New credentials for an ESP and the rows that store them; a new webhook secret keeps the
/// one `before` it signing for [`crate::webhooks::SECRET_OVERLAP`].
fn new_credentials(
    kbo: &domain::Kbo,
    principal: &Principal,
    which: w::Rotate,
    before: Option<&Secrets>,
    now: Timestamp,
) -> Result<(Credentials, Vec<store::Write>), store::StoreError> {
    let mut creds = Credentials::default();
    let mut writes = Vec::new();
    if which.webhook_secret {
        let secret = new_secret("whsec");
        let secrets = Secrets::rotated(before, secret.clone(), now);
        let body = serde_json::to_string(&secrets)
            .map_err(|e| store::StoreError::Corrupt(format!("webhook secrets: {e}")))?;
        writes.push(store::Write::PutRecord {
            kind: store::Record::EspSecrets,
            id: kbo.as_str().to_owned(),
            body,
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
/// webhook secret (the old one signs along for a day), in one transaction; also repairs an
/// ESP left without either. The body is optional (none: both), so it is read by hand.
pub(crate) async fn rotate_credentials(
    State(ctx): State<Ctx>,
    _: Admin,
    Path(kbo): Path<String>,
    body: Bytes,
) -> Answer<(StatusCode, Json<w::CredentialsIssued>)> {
    let kbo = path_kbo(&kbo)?;
    Ok(created(rotate(&ctx, kbo, &body).await?))
}

/// The same for the ESP itself, with its own token (`POST /api/esp/v1/credentials`).
pub(crate) async fn rotate_own_credentials(
    State(ctx): State<Ctx>,
    Esp(kbo): Esp,
    body: Bytes,
) -> Answer<(StatusCode, Json<w::CredentialsIssued>)> {
    Ok(created(rotate(&ctx, kbo, &body).await?))
}

async fn rotate(ctx: &Ctx, kbo: domain::Kbo, body: &[u8]) -> Answer<w::CredentialsIssued> {
    let which: w::Rotate = if body.iter().all(u8::is_ascii_whitespace) {
        w::Rotate::BOTH
    } else {
        serde_json::from_slice(body).map_err(|e| {
            let (status, code) = super::json_error(&e);
            Failure::new(
                status,
                code,
                format!("{e}; send {{\"token\": true, \"webhook_secret\": true}} or nothing"),
            )
        })?
    };
    if !which.token && !which.webhook_secret {
        return Err(Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Code::NothingToRotate,
            "ask for token, webhook_secret or both",
        ));
    }
    let Some(name) = ctx.access.read(|r| r.esp(&kbo).map(|e| e.name.clone())).await else {
        return Err(Failure::new(
            StatusCode::NOT_FOUND,
            Code::UnknownEsp,
            format!("no ESP {kbo} is onboarded"),
        ));
    };
    let party = Party::Esp(kbo.clone());
    let principal = Principal { party: party.clone(), label: name };
    let before = match ctx.access.hooks.secrets(kbo.as_str()).await {
        Ok(s) => Some(s),
        Err(store::StoreError::NotFound(_)) => None,
        Err(e) => return Err(Failure::unavailable(e)),
    };
    let now = ctx.access.clock.now();
    let (creds, mut writes) = new_credentials(&kbo, &principal, which, before.as_ref(), now)
        .map_err(Failure::unavailable)?;
    let mut revoked_tokens = 0;
    if which.token {
        for hash in ctx.access.tokens_of(&party) {
            writes.push(store::Write::DeleteRecord { kind: store::Record::Tokens, id: hash });
            revoked_tokens += 1;
        }
    }
    ctx.access.commit(writes).await.map_err(Failure::unavailable)?;
    Ok(w::CredentialsIssued {
        kbo,
        revoked_tokens,
        token: creds.token,
        webhook_secret: creds.webhook_secret,
        previous_secret_valid_until: before
            .filter(|_| which.webhook_secret)
            .map(|_| now + crate::webhooks::SECRET_OVERLAP),
    })
}

/// Suspends an ESP's data-access contract: its access ends at once on every point (R-ACC-2);
/// the ESP and its grid users are told.
pub(crate) async fn suspend_esp(
    State(ctx): State<Ctx>,
    _: Admin,
    Path(kbo): Path<String>,
    Body(b): Body<w::Suspension>,
) -> Answer<Json<w::Notifications>> {
    let esp = path_kbo(&kbo)?;
    if b.reason.trim().is_empty() {
        return Err(Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Code::InvalidBody,
            "give the reason the ESP and its grid users are told",
        ));
    }
    run(&ctx, &Party::Admin, Command::SuspendEsp { esp, reason: b.reason }).await
}

/// Reinstates a suspended ESP.
pub(crate) async fn reinstate_esp(
    State(ctx): State<Ctx>,
    _: Admin,
    Path(kbo): Path<String>,
) -> Answer<Json<w::Notifications>> {
    let esp = path_kbo(&kbo)?;
    run(&ctx, &Party::Admin, Command::ReinstateEsp { esp }).await
}

/// The admin changes an ESP's webhook URL.
pub(crate) async fn update_esp(
    State(ctx): State<Ctx>,
    _: Admin,
    Path(kbo): Path<String>,
    Body(b): Body<w::EspUpdate>,
) -> Answer<Json<domain::Esp>> {
    let esp = path_kbo(&kbo)?;
    set_webhook(&ctx, esp, b).await
}

/// The ESP changes its own webhook URL (`PATCH /api/esp/v1/profile`).
pub(crate) async fn update_own_profile(
    State(ctx): State<Ctx>,
    Esp(kbo): Esp,
    Body(b): Body<w::EspUpdate>,
) -> Answer<Json<domain::Esp>> {
    set_webhook(&ctx, kbo, b).await
}

async fn set_webhook(ctx: &Ctx, esp: domain::Kbo, b: w::EspUpdate) -> Answer<Json<domain::Esp>> {
    if let Some(url) = &b.webhook_url {
        check_webhook_url(url)?;
    }
    // Setting a URL tells nobody anything: no notifications to pass on.
    let cmd = Command::SetWebhook { esp: esp.clone(), url: b.webhook_url };
    ctx.access.execute(cmd).await.map_err(register_error)?;
    let view = ctx.access.read(|r| r.esp(&esp).cloned()).await;
    view.map(Json).ok_or_else(|| Failure::internal("an ESP vanished after its update"))
}

/// A webhook URL the platform can post to: absolute http(s) with a host.
fn check_webhook_url(url: &str) -> Answer<()> {
    let ok = reqwest::Url::parse(url)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
    if ok {
        Ok(())
    } else {
        Err(Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Code::InvalidBody,
            format!("webhook_url {url:?} is not an absolute http(s) URL"),
        ))
    }
}

pub(crate) async fn register_point(
    State(ctx): State<Ctx>,
    _: Admin,
    Body(b): Body<w::NewPoint>,
) -> Answer<(StatusCode, Json<w::Notifications>)> {
    let cmd = Command::RegisterAccessPoint {
        access_point: b.access_point,
        data_service_points: b.data_service_points,
        grid_user: b.grid_user,
        supplier: b.supplier,
        since: b.since,
    };
    Ok((StatusCode::CREATED, run(&ctx, &Party::Admin, cmd).await?))
}

pub(crate) async fn link_dongle(
    State(ctx): State<Ctx>,
    _: Staff,
    Body(b): Body<w::NewLink>,
) -> Answer<(StatusCode, Json<w::Notifications>)> {
    Ok((StatusCode::CREATED, run(&ctx, &Party::Admin, Command::LinkDongle { link: b.link }).await?))
}

/// A market scenario as the market messages would bring it (MIG): admin only.
pub(crate) async fn market_scenario(
    State(ctx): State<Ctx>,
    _: Admin,
    Body(b): Body<w::NewScenario>,
) -> Answer<(StatusCode, Json<w::Notifications>)> {
    Ok((StatusCode::CREATED, scenario(&ctx, b).await?))
}

/// Runs a market scenario as the administrator.
pub(crate) async fn scenario(ctx: &Ctx, b: w::NewScenario) -> Answer<Json<w::Notifications>> {
    let cmd = Command::MarketScenario {
        access_point: parse_ean(&b.access_point)?,
        kind: convert::scenario_in(b.kind),
        effective: parse_time(&b.effective)?,
        new_grid_user: b.new_grid_user,
        new_supplier: b.new_supplier,
    };
    run(ctx, &Party::Admin, cmd).await
}

pub(crate) async fn outage(
    State(ctx): State<Ctx>,
    _: Admin,
    Body(b): Body<w::Outage>,
) -> Answer<Json<w::OutageState>> {
    let reason = if b.reason.is_empty() { "declared by an administrator".into() } else { b.reason };
    let retry = match b.retry_after_s {
        None => 60,
        Some(s @ 1..=3600) => u64::from(s),
        Some(s) => {
            return Err(Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                Code::InvalidBody,
                format!("retry_after_s {s}: give 1 to 3600 seconds"),
            ));
        }
    };
    ctx.access.set_outage(b.active.then_some((reason, retry)));
    Ok(Json(w::OutageState { outage: ctx.access.outage().map(|(r, _)| r) }))
}

#[derive(Deserialize)]
pub(crate) struct LogFilter {
    #[serde(default)]
    point: Option<String>,
    #[serde(default)]
    party: Option<String>,
}

pub(crate) async fn access_log(
    State(ctx): State<Ctx>,
    _: Admin,
    Query(f): Query<LogFilter>,
) -> Answer<Json<Vec<w::AccessEntry>>> {
    entries(&ctx, f.point.as_deref(), f.party.as_deref()).await.map(Json)
}

/// The access register, of one point or party or whole.
pub(crate) async fn entries(
    ctx: &Ctx,
    point: Option<&str>,
    party: Option<&str>,
) -> Answer<Vec<w::AccessEntry>> {
    if let Some(point) = point {
        parse_ean(point)?;
    }
    let rows = ctx.access.store.access_log(point, party).await.map_err(Failure::unavailable)?;
    Ok(rows.iter().map(convert::access_entry).collect())
}

pub(crate) async fn registers(State(ctx): State<Ctx>, _: Admin) -> Answer<Json<w::RegistersView>> {
    Ok(Json(view(&ctx).await))
}

/// The whole registers.
pub(crate) async fn view(ctx: &Ctx) -> w::RegistersView {
    ctx.access
        .read(|r| w::RegistersView {
            points: r
                .access_points()
                .filter_map(|ap| super::registers::point(r, &ap.ean, None))
                .collect(),
            esps: r.esps().cloned().collect(),
            links: r.dongle_links().to_vec(),
        })
        .await
}

pub(crate) async fn deliveries(State(ctx): State<Ctx>, _: Admin) -> Answer<Json<Vec<w::Delivery>>> {
    let d = ctx.access.hooks.log(None).await.map_err(Failure::unavailable)?;
    Ok(Json(d.iter().map(convert::delivery).collect()))
}
