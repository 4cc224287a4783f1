//! The data routes: meter data of a point (R-DAT-1, R-MAN-2), monthly figures (R-DAT-3), the
//! NRT stream (R-NRT-5/6), and the ESP's own mandates, their status (R-MAN-8) and webhook
//! deliveries. Every request is decided and recorded in the access register (R-ACC-1).

use super::{Answer, Body, DataCaller, Esp, Failure, convert, path_ean, period};
use crate::access::basis_name;
use crate::http::Ctx;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use clock::{SignedDuration, Timestamp};
use domain::{Commodity, DataKind, Ean};
use registers::Decision;
use serde::Deserialize;
use std::str::FromStr;
use wire::api::v1::{self as w, Code};

/// The longest period one request may ask for, per granularity.
fn max_range(what: DataKind) -> SignedDuration {
    match what {
        DataKind::QuarterHour | DataKind::Hour => SignedDuration::from_hours(24 * 31),
        DataKind::Day => SignedDuration::from_hours(24 * 367),
        _ => SignedDuration::from_hours(24 * 366 * 3),
    }
}

#[derive(Deserialize)]
pub(crate) struct EnergyQuery {
    #[serde(default)]
    granularity: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    format: Option<String>,
}

fn inside(windows: &[(Timestamp, Timestamp)], start: Timestamp, end: Timestamp) -> bool {
    windows.iter().any(|(a, b)| *a <= start && end <= *b)
}

/// A refused decision, recorded already: 404 for a point that is unknown (or not the
/// caller's, which reads the same), 403 otherwise.
fn refused(d: &Decision) -> Failure {
    let code = d.refusal.map(convert::refusal).unwrap_or(Code::Forbidden);
    let why = d.refusal.as_ref().map(|r| r.to_string()).unwrap_or_else(|| "refused".into());
    let status =
        if code == Code::UnknownPoint { StatusCode::NOT_FOUND } else { StatusCode::FORBIDDEN };
    Failure::new(status, code, format!("{why} (recorded in the access register)"))
}

/// Decides `who`'s request and records it; a refusal is the answer.
async fn decide(
    ctx: &Ctx,
    who: &crate::access::Principal,
    ean: &Ean,
    what: DataKind,
    endpoint: &str,
    (from, to): (Timestamp, Timestamp),
) -> Answer<Decision> {
    let d = ctx
        .access
        .decide(who, ean, what, endpoint, from, to)
        .await
        .map_err(Failure::unavailable)?;
    if d.allowed { Ok(d) } else { Err(refused(&d)) }
}

/// Meter data of a data service point (R-DAT-1, R-MAN-2): the parts of the period the caller
/// may see, nothing else, with units and quality; JSON or CSV (R-DAT-5).
pub(crate) async fn energy(
    State(ctx): State<Ctx>,
    DataCaller(p): DataCaller,
    Path(ean): Path<String>,
    Query(q): Query<EnergyQuery>,
) -> Answer<Response> {
    let ean = path_ean(&ean)?;
    let what = match DataKind::from_str(q.granularity.as_deref().unwrap_or("quarter-hour")) {
        Ok(k @ (DataKind::Day | DataKind::QuarterHour | DataKind::Hour)) => k,
        _ => {
            return Err(Failure::new(
                StatusCode::BAD_REQUEST,
                Code::GranularityUnknown,
                "granularity is one of day, quarter-hour (electricity), hour (gas)",
            ));
        }
    };
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(f) => {
            return Err(Failure::new(
                StatusCode::BAD_REQUEST,
                Code::FormatUnknown,
                format!("format {f}: use json or csv"),
            ));
        }
    };
    let (from, to) = period(q.from.as_deref(), q.to.as_deref(), max_range(what))?;
    let commodity = ctx.access.read(|r| r.data_service_point(&ean).map(|d| d.commodity)).await;
    if let (Some(Commodity::Gas), DataKind::QuarterHour)
    | (Some(Commodity::Electricity), DataKind::Hour) = (commodity, what)
    {
        return Err(Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Code::GranularityNotForCommodity,
            "electricity comes per quarter hour and day, gas per hour and day",
        ));
    }
    let endpoint = if csv { "GET energy.csv" } else { "GET energy" };
    let d = decide(&ctx, &p, &ean, what, endpoint, (from, to)).await?;
    let samples = ctx.read.point_samples(&ean, from, to).await.map_err(Failure::unavailable)?;
    let opt = derive::Options::default();
    // Only whole intervals inside the windows are served: not one byte of a cut period; and
    // only intervals that have ended: the future is not "missing", it has not happened yet.
    let now = ctx.access.clock.now();
    let clipped: Vec<(Timestamp, Timestamp)> =
        d.windows.iter().filter(|(a, _)| *a < now).map(|(a, b)| (*a, (*b).min(now))).collect();
    let w = &clipped;
    let gas = commodity == Some(Commodity::Gas);
    let elec = |i: derive::Interval| {
        w::EnergyValue::Electricity(w::ElectricityValue {
            start: i.start,
            end: i.end,
            offtake_wh: i.offtake,
            injection_wh: i.injection,
            quality: convert::quality(i.quality),
        })
    };
    let elec_day = |d: derive::DayVolume| {
        elec(derive::Interval {
            start: d.start,
            end: d.end,
            offtake: d.offtake,
            injection: d.injection,
            quality: d.quality,
            missing: d.missing,
        })
    };
    let gas_value = |g: derive::GasInterval| {
        w::EnergyValue::Gas(w::GasValue {
            start: g.start,
            end: g.end,
            volume_dm3: g.volume,
            energy_wh: g.energy,
            quality: convert::quality(g.quality),
        })
    };
    let values: Vec<w::EnergyValue> = match (what, gas) {
        (DataKind::QuarterHour, _) => derive::quarter_hours(&samples, from, to, &opt)
            .into_iter()
            .filter(|i| inside(w, i.start, i.end))
            .map(elec)
            .collect(),
        (DataKind::Hour, _) => derive::gas_hours(&samples, from, to, &opt)
            .into_iter()
            .filter(|i| inside(w, i.start, i.end))
            .map(gas_value)
            .collect(),
        (_, true) => {
            let (first, last) = days_of(from, to);
            derive::gas_days(&samples, first, last, &opt)
                .into_iter()
                .filter(|i| inside(w, i.start, i.end))
                .map(gas_value)
                .collect()
        }
        _ => {
            let (first, last) = days_of(from, to);
            derive::days(&samples, first, last, &opt)
                .into_iter()
                .filter(|i| inside(w, i.start, i.end))
                .map(elec_day)
                .collect()
        }
    };
    if csv {
        return Ok(csv_answer(&ean, what, gas, &values));
    }
    Ok(Json(w::Energy {
        point: ean,
        granularity: what.as_str().to_owned(),
        unit: "Wh".into(),
        from,
        to,
        served: d.windows.iter().map(|(a, b)| [*a, *b]).collect(),
        basis: d.basis.as_ref().map(basis_name),
        values,
    })
    .into_response())
}

/// The same values as CSV (R-DAT-5), one row per interval, kWh with three decimals (the
/// whole Wh, written exactly).
fn csv_answer(ean: &Ean, what: DataKind, gas: bool, values: &[w::EnergyValue]) -> Response {
    let n = |x: Option<domain::Energy>| x.map(domain::Energy::kwh_text).unwrap_or_default();
    let q = |q: w::Quality| match q {
        w::Quality::Measured => "measured",
        w::Quality::Estimated => "estimated",
        w::Quality::Missing => "missing",
    };
    let mut out = String::from(if gas {
        "start,end,offtake_kwh,unused,quality\n"
    } else {
        "start,end,offtake_kwh,injection_kwh,quality\n"
    });
    for v in values {
        let line = match v {
            w::EnergyValue::Electricity(e) => {
                format!(
                    "{},{},{},{},{}\n",
                    e.start,
                    e.end,
                    n(e.offtake_wh),
                    n(e.injection_wh),
                    q(e.quality)
                )
            }
            w::EnergyValue::Gas(g) => {
                format!("{},{},{},,{}\n", g.start, g.end, n(g.energy_wh), q(g.quality))
            }
        };
        out.push_str(&line);
    }
    let name = format!("attachment; filename=\"{ean}-{}.csv\"", what.as_str());
    let mut resp = ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], out).into_response();
    if let Ok(v) = HeaderValue::from_str(&name) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

fn days_of(from: Timestamp, to: Timestamp) -> (clock::civil::Date, clock::civil::Date) {
    (clock::local_date(from), clock::local_date(to - SignedDuration::from_secs(1)))
}

/// Monthly volumes and peaks (R-DAT-3) for whole months the caller may see.
pub(crate) async fn months(
    State(ctx): State<Ctx>,
    DataCaller(p): DataCaller,
    Path(ean): Path<String>,
    Query(q): Query<EnergyQuery>,
) -> Answer<Json<w::Months>> {
    let ean = path_ean(&ean)?;
    let (from, to) = period(q.from.as_deref(), q.to.as_deref(), max_range(DataKind::MonthPeak))?;
    let d = decide(&ctx, &p, &ean, DataKind::MonthPeak, "GET months", (from, to)).await?;
    let (first, last) = days_of(from, to);
    let from = clock::day_start(first.first_of_month());
    let samples = ctx.read.point_samples(&ean, from, to).await.map_err(Failure::unavailable)?;
    let months = derive::months(&samples, first, last, &derive::Options::default())
        .iter()
        .filter(|m| inside(&d.windows, m.start, m.end))
        .map(convert::month)
        .collect();
    Ok(Json(w::Months { point: ean, from, to, basis: d.basis.as_ref().map(basis_name), months }))
}

/// The near-real-time stream of a point for a consented service (R-NRT-5, R-NRT-6):
/// server-sent events, one `sample` ([`w::LiveSample`]) per stored upload. Consent is checked
/// for every event, so a revocation ends the stream at once with a `revoked` event.
pub(crate) async fn stream(
    State(ctx): State<Ctx>,
    DataCaller(p): DataCaller,
    Path(ean): Path<String>,
) -> Answer<Response> {
    let ean = path_ean(&ean)?;
    let now = ctx.access.clock.now();
    let horizon = now + SignedDuration::from_hours(24 * 366);
    decide(&ctx, &p, &ean, DataKind::Nrt, "GET stream", (now, horizon)).await?;
    let dongle = ctx.read.dongle_of(&ean).await.unwrap_or_default();
    let rx = ctx.ingest.live.subscribe();
    let mut changes = ctx.access.changes.subscribe();
    changes.mark_unchanged();
    let state = Streaming { rx, changes, ctx: ctx.clone(), p, ean, dongle, done: false };
    let events = futures_util::stream::unfold(state, |mut s| async move {
        if s.done {
            return None;
        }
        loop {
            // A sample, or a change of the registers (a revocation, a market scenario, a
            // suspension): either way the consent is checked again before anything is sent.
            let (at, live) = tokio::select! {
                l = s.rx.recv() => match l {
                    Ok(l) if l.dongle == s.dongle => (l.captured_at, Some(l)),
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return None,
                },
                c = s.changes.changed() => match c {
                    Ok(()) => (s.ctx.access.clock.now(), None),
                    Err(_) => return None,
                },
            };
            if !s.allowed(at).await {
                s.ended(at).await;
                let ev = Event::default().event("revoked").data("consent revoked or access ended");
                s.done = true;
                return Some((Ok::<_, std::convert::Infallible>(ev), s));
            }
            let Some(live) = live else { continue };
            let sample = w::LiveSample {
                dongle: live.dongle.clone(),
                captured_at: live.captured_at,
                import_wh: live.import,
                export_wh: live.export,
                power_import_w: live.power_import,
                power_export_w: live.power_export,
            };
            match Event::default().event("sample").json_data(&sample) {
                Ok(ev) => return Some((Ok(ev), s)),
                Err(e) => tracing::error!("a stream sample could not be written: {e}"),
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()).into_response())
}

/// An open NRT stream's state between events.
struct Streaming {
    rx: tokio::sync::broadcast::Receiver<crate::ingest::Live>,
    changes: tokio::sync::watch::Receiver<u64>,
    ctx: Ctx,
    p: crate::access::Principal,
    ean: Ean,
    dongle: String,
    done: bool,
}

impl Streaming {
    /// Whether the caller may still see the point's near-real-time data at `at`.
    async fn allowed(&self, at: Timestamp) -> bool {
        let now = self.ctx.access.clock.now();
        self.ctx
            .access
            .read(|r| {
                let d = r.authorize(
                    &self.p.party,
                    &self.ean,
                    DataKind::Nrt,
                    at,
                    at + SignedDuration::from_secs(1),
                    now,
                );
                d.allowed && d.windows.iter().any(|(a, b)| *a <= at && at < *b)
            })
            .await
    }

    /// Records the stream's end in the access register.
    async fn ended(&self, at: Timestamp) {
        let now = self.ctx.access.clock.now();
        let d = Decision { allowed: false, windows: Vec::new(), basis: None, refusal: None };
        let note = "consent ended: stream closed".to_owned();
        let logged = self
            .ctx
            .access
            .log(&self.p, &self.ean, DataKind::Nrt, "GET stream (ended)", at, now, &d, note)
            .await;
        if let Err(e) = logged {
            tracing::error!("the access register did not take the end of a stream: {e}");
        }
    }
}

/// R-MAN-8: the mandate status of many data service points at once.
pub(crate) async fn mandate_status(
    State(ctx): State<Ctx>,
    Esp(kbo): Esp,
    Body(b): Body<w::StatusRequest>,
) -> Answer<Json<Vec<w::PointStatus>>> {
    if b.points.len() > 1000 {
        return Err(Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Code::TooManyPoints,
            "at most 1000 points per request",
        ));
    }
    let mut out = Vec::new();
    let mut valid = Vec::new();
    for s in b.points {
        match Ean::parse(&s) {
            Ok(e) => valid.push(e),
            Err(e) => out.push(w::PointStatus::Invalid { point: s, error: super::id_code(&e) }),
        }
    }
    let status = ctx.access.read(|r| r.mandate_status(&kbo, &valid)).await;
    out.extend(status.into_iter().map(|(point, m)| w::PointStatus::Known {
        point,
        mandate: m.as_ref().map(convert::mandate_view),
    }));
    Ok(Json(out))
}

pub(crate) async fn esp_mandates(
    State(ctx): State<Ctx>,
    Esp(kbo): Esp,
) -> Answer<Json<Vec<w::Mandate>>> {
    let v = ctx
        .access
        .read(|r| r.mandates_of_esp(&kbo).into_iter().map(convert::mandate).collect())
        .await;
    Ok(Json(v))
}

pub(crate) async fn esp_deliveries(
    State(ctx): State<Ctx>,
    super::Caller(p): super::Caller,
) -> Answer<Json<Vec<w::Delivery>>> {
    let registers::Party::Esp(kbo) = &p.party else {
        return Err(Failure::new(
            StatusCode::FORBIDDEN,
            Code::ForbiddenRole,
            format!("{} may not read an ESP's webhook deliveries", p.name()),
        ));
    };
    let d = ctx.access.hooks.log(Some(kbo.as_str())).await.map_err(Failure::unavailable)?;
    Ok(Json(d.iter().map(convert::delivery).collect()))
}
