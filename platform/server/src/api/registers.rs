//! The registers, for grid users and customers: mandates through an ESP's step plan
//! (R-MAN-7) and their decisions, NRT terms and consents (R-NRT-5), and what a grid user may
//! see of his points: their registers, the access register (R-ACC-5) and who has access now.

use super::admin::run;
use super::{
    Answer, Body, Caller, Failure, GridUser, convert, parse_ean, parse_kbo, parse_time, path_ean,
    path_kbo,
};
use crate::access::{basis_name, party_name};
use crate::http::Ctx;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use clock::Timestamp;
use domain::{Ean, GridUserId};
use registers::{Command, Party, Registers};
use wire::api::v1::{self as w, Code};

/// R-MAN-7: the customer grants through the ESP's step-plan link.
pub(crate) async fn request_mandate(
    State(ctx): State<Ctx>,
    GridUser(customer): GridUser,
    Path(kbo): Path<String>,
    Body(b): Body<w::MandateRequest>,
) -> Answer<(StatusCode, Json<w::Notifications>)> {
    let esp = path_kbo(&kbo)?;
    let cmd = Command::RequestMandate {
        esp,
        data_service_point: parse_ean(&b.data_service_point)?,
        customer: customer.clone(),
        scope: convert::scope_in(b.scope),
        period_from: parse_time(&b.period_from)?,
        period_to: b.period_to.as_deref().map(parse_time).transpose()?,
        history: b.history,
        renews: b.renews,
    };
    Ok((StatusCode::CREATED, run(&ctx, &Party::GridUser(customer), cmd).await?))
}

pub(crate) async fn approve_mandate(
    State(ctx): State<Ctx>,
    GridUser(by): GridUser,
    Path(id): Path<String>,
) -> Answer<Json<w::Notifications>> {
    run(&ctx, &Party::GridUser(by.clone()), Command::ApproveMandate { mandate: id, by }).await
}

pub(crate) async fn reject_mandate(
    State(ctx): State<Ctx>,
    GridUser(by): GridUser,
    Path(id): Path<String>,
) -> Answer<Json<w::Notifications>> {
    run(&ctx, &Party::GridUser(by.clone()), Command::RejectMandate { mandate: id, by }).await
}

/// Ending is for the customer or grid user (R-MAN-4); the registers decide, so an ESP trying
/// it gets the registers' own refusal.
pub(crate) async fn end_mandate(
    State(ctx): State<Ctx>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Answer<Json<w::Notifications>> {
    run(&ctx, &p.party, Command::EndMandate { mandate: id, by: p.party.clone() }).await
}

pub(crate) async fn accept_terms(
    State(ctx): State<Ctx>,
    GridUser(g): GridUser,
    Body(b): Body<w::Terms>,
) -> Answer<Json<w::Notifications>> {
    let ap = parse_ean(&b.access_point)?;
    run(&ctx, &Party::GridUser(g.clone()), Command::AcceptTerms { grid_user: g, access_point: ap })
        .await
}

pub(crate) async fn grant_consent(
    State(ctx): State<Ctx>,
    GridUser(g): GridUser,
    Body(b): Body<w::NewConsent>,
) -> Answer<(StatusCode, Json<w::Notifications>)> {
    let cmd = Command::GrantConsent {
        grid_user: g.clone(),
        data_service_point: parse_ean(&b.data_service_point)?,
        esp: parse_kbo(&b.esp)?,
        service: b.service,
    };
    Ok((StatusCode::CREATED, run(&ctx, &Party::GridUser(g), cmd).await?))
}

pub(crate) async fn revoke_consent(
    State(ctx): State<Ctx>,
    GridUser(g): GridUser,
    Path(id): Path<String>,
) -> Answer<Json<w::Notifications>> {
    run(&ctx, &Party::GridUser(g.clone()), Command::RevokeConsent { consent: id, by: g }).await
}

/// What the registers told the grid user (R-MAN-3's co-consent request among them), oldest
/// first.
pub(crate) async fn notifications(
    State(ctx): State<Ctx>,
    GridUser(g): GridUser,
) -> Answer<Json<w::Notifications>> {
    let notes = ctx.access.inbox(&g).await;
    Ok(Json(w::Notifications { notifications: notes.iter().map(convert::notification).collect() }))
}

/// A point's registers; `only` limits occupancy, mandates and consents to one grid user's.
pub(crate) fn point(
    r: &Registers,
    ap: &Ean,
    only: Option<&GridUserId>,
) -> Option<w::PointRegisters> {
    let point = r.access_point(ap)?;
    let dsps = &point.data_service_points;
    let mine = |g: &GridUserId| only.is_none_or(|o| o == g);
    Some(w::PointRegisters {
        access_point: point.clone(),
        occupancy: r
            .occupancy(ap)
            .iter()
            .filter(|o| only.is_none() || o.grid_user.as_ref() == only)
            .map(convert::occupancy)
            .collect(),
        mandates: dsps
            .iter()
            .flat_map(|d| r.mandates_for_point(d))
            .filter(|m| mine(&m.customer) || mine(&m.grid_user))
            .map(convert::mandate)
            .collect(),
        consents: dsps
            .iter()
            .flat_map(|d| r.consents_for_point(d))
            .filter(|c| mine(&c.grid_user))
            .map(convert::consent)
            .collect(),
    })
}

/// The access point of a point given as an access point or one of its data service points.
fn access_point_of(r: &Registers, ean: &Ean) -> Option<Ean> {
    match r.access_point(ean) {
        Some(ap) => Some(ap.ean.clone()),
        None => Some(r.data_service_point(ean)?.access_point.clone()),
    }
}

/// That access point, if the grid user occupied it at some time.
fn occupant_of(r: &Registers, ean: &Ean, g: &GridUserId) -> Option<Ean> {
    let ap = access_point_of(r, ean)?;
    r.occupancy(&ap).iter().any(|o| o.grid_user.as_ref() == Some(g)).then_some(ap)
}

/// The access point `party` may look at through `ean`: any for the admin, his own for a grid
/// user, none for anyone else.
fn visible(r: &Registers, party: &Party, ean: &Ean) -> Option<Ean> {
    match party {
        Party::Admin => access_point_of(r, ean),
        Party::GridUser(g) => occupant_of(r, ean, g),
        _ => None,
    }
}

/// What an admin asking for a point nobody has, or anyone else asking for a point that is not
/// theirs, is told: a grid user or ESP learns nothing about points that are not theirs, not
/// even whether they exist.
fn not_visible(party: &Party, ean: &Ean, what: &str) -> Failure {
    match party {
        Party::Admin => Failure::new(
            StatusCode::NOT_FOUND,
            Code::UnknownPoint,
            format!("no access point {ean}"),
        ),
        p => Failure::new(
            StatusCode::FORBIDDEN,
            Code::ForbiddenRole,
            format!("{} may not {what} {ean}", party_name(p)),
        ),
    }
}

pub(crate) async fn point_view(
    State(ctx): State<Ctx>,
    Caller(p): Caller,
    Path(ean): Path<String>,
) -> Answer<Json<w::PointRegisters>> {
    let ean = path_ean(&ean)?;
    let only = match &p.party {
        Party::GridUser(g) => Some(g.clone()),
        _ => None,
    };
    ctx.access
        .read(|r| visible(r, &p.party, &ean).and_then(|ap| point(r, &ap, only.as_ref())))
        .await
        .map(Json)
        .ok_or_else(|| not_visible(&p.party, &ean, "read the registers of"))
}

pub(crate) async fn point_access_log(
    State(ctx): State<Ctx>,
    Caller(p): Caller,
    Path(ean): Path<String>,
) -> Answer<Json<Vec<w::AccessEntry>>> {
    let ean = path_ean(&ean)?;
    // The grid user sees the exchanges about his points during his own occupancy (R-ACC-5,
    // EU 2023/1162 Art. 5); an admin sees all.
    let (points, spans) = ctx
        .access
        .read(|r| {
            let ap = visible(r, &p.party, &ean)?;
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
        .ok_or_else(|| not_visible(&p.party, &ean, "read the access register of"))?;
    let mut rows = Vec::new();
    for point in &points {
        rows.extend(
            ctx.access.store.access_log(Some(point), None).await.map_err(Failure::unavailable)?,
        );
    }
    rows.retain(|row| spans.iter().any(|(a, b)| row.at >= *a && b.is_none_or(|b| row.at < b)));
    rows.sort_by_key(|r| r.at);
    Ok(Json(rows.iter().map(convert::access_entry).collect()))
}

pub(crate) async fn point_parties(
    State(ctx): State<Ctx>,
    Caller(p): Caller,
    Path(ean): Path<String>,
) -> Answer<Json<Vec<w::PartyWithAccess>>> {
    let ean = path_ean(&ean)?;
    let now = ctx.access.clock.now();
    ctx.access
        .read(|r| {
            // Only the current grid user: third parties with access now are his business.
            let ap = visible(r, &p.party, &ean).filter(|ap| match &p.party {
                Party::GridUser(g) => r.grid_user_at(ap, now) == Some(g),
                _ => true,
            })?;
            let dsps =
                r.access_point(&ap).map(|a| a.data_service_points.clone()).unwrap_or_default();
            Some(
                dsps.iter()
                    .flat_map(|d| {
                        r.parties_with_access(d, now).into_iter().map(move |(k, b)| {
                            w::PartyWithAccess {
                                data_service_point: d.clone(),
                                name: r.esp(&k).map(|e| e.name.clone()).unwrap_or_default(),
                                esp: k,
                                basis: basis_name(&b),
                            }
                        })
                    })
                    .collect(),
            )
        })
        .await
        .map(Json)
        .ok_or_else(|| not_visible(&p.party, &ean, "see who has access to"))
}
