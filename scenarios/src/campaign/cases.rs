//! The cases: what the kit does for each, and how it judges. Each case works on points of
//! its own, so one case's events never colour another's evidence; the calendar cases jump
//! the clock and run last, and the cases judged over the whole campaign after them.

use super::evidence::{after, entry_line, exchange_line, kind, refused, repeated};
use super::{ESP, Judged, Kit};
use anyhow::{Context, Result};
use certify::Verdict;
use clock::{SignedDuration, Timestamp};
use std::time::Duration;
use wire::api::v1 as w;

/// The order cases run in: those that jump the clock after those that need it to stand, the
/// campaign-wide ones after all the others, the token's revocation last (it ends the ESP's
/// access for good).
pub(crate) const ORDER: &[&str] = &[
    "ESP-ONB-01",
    "ESP-MAN-01",
    "ESP-MAN-02",
    "ESP-MAN-03",
    "ESP-MAN-04",
    "ESP-MAN-05",
    "ESP-MAN-06",
    "ESP-MAN-07",
    "ESP-MKT-01",
    "ESP-MKT-02",
    "ESP-MKT-03",
    "ESP-MKT-04",
    "ESP-MKT-05",
    "ESP-NRT-01",
    "ESP-NRT-02",
    "ESP-NRT-04",
    "ESP-ACC-02",
    "ESP-HOOK-01",
    "ESP-HOOK-02",
    "ESP-SLA-01",
    "ESP-SLA-03",
    "ESP-SLA-02",
    "ESP-MAN-08",
    "ESP-MAN-09",
    "ESP-MAN-10",
    "ESP-NRT-03",
    "ESP-ACC-01",
    "ESP-HOOK-03",
    "ESP-ONB-02",
];

fn judged(verdict: Verdict, evidence: Vec<String>) -> Result<Judged> {
    Ok(Judged { verdict, evidence })
}

fn lines<'a>(head: String, entries: impl IntoIterator<Item = &'a w::AccessEntry>) -> Vec<String> {
    let mut out = vec![head];
    out.extend(entries.into_iter().take(20).map(entry_line));
    out
}

/// The ESP never read what a case needs it to read: the kit cannot judge. The evidence shows
/// what it did ask for on the point, if anything.
async fn idle(what: &str, kit: &Kit, dsp: &domain::Ean, since: Timestamp) -> Result<Judged> {
    let entries = kit.entries(dsp).await?;
    let head = format!(
        "the ESP read no {what} of {dsp} within {:?} after {since} (is it running, and does it read what its mandates allow?)",
        kit.patience
    );
    let n = entries.len();
    judged(Verdict::Inconclusive, lines(head, entries.iter().skip(n.saturating_sub(5))))
}

/// Runs one case.
pub(crate) async fn run(kit: &mut Kit, id: &str) -> Result<Judged> {
    match id {
        "ESP-ONB-01" => onb01(kit).await,
        "ESP-ONB-02" => onb02(kit).await,
        "ESP-MAN-01" => man01(kit).await,
        "ESP-MAN-02" => man02(kit).await,
        "ESP-MAN-03" => man03(kit).await,
        "ESP-MAN-04" => man04(kit).await,
        "ESP-MAN-05" => man05(kit).await,
        "ESP-MAN-06" => man06(kit).await,
        "ESP-MAN-07" => man07(kit).await,
        "ESP-MAN-08" => man08(kit).await,
        "ESP-MAN-09" => man09(kit).await,
        "ESP-MAN-10" => man10(kit).await,
        "ESP-MKT-01" => mkt01(kit).await,
        "ESP-MKT-02" => cut(kit, &[w::ScenarioKind::CustomerSwitch], 0).await,
        "ESP-MKT-03" => cut(kit, &[w::ScenarioKind::CombinedSwitch], 0).await,
        "ESP-MKT-04" => cut(kit, &[w::ScenarioKind::MoveOut, w::ScenarioKind::Moza], 0).await,
        "ESP-MKT-05" => cut(kit, &[w::ScenarioKind::CustomerSwitch], 2).await,
        "ESP-NRT-01" => nrt01(kit).await,
        "ESP-NRT-02" => nrt_ends(kit, false).await,
        "ESP-NRT-03" => nrt03(kit).await,
        "ESP-NRT-04" => nrt_ends(kit, true).await,
        "ESP-ACC-01" => acc01(kit).await,
        "ESP-ACC-02" => acc02(kit).await,
        "ESP-HOOK-01" => hook01(kit).await,
        "ESP-HOOK-02" => hook02(kit).await,
        "ESP-HOOK-03" => hook03(kit).await,
        "ESP-SLA-01" => sla01(kit).await,
        "ESP-SLA-02" => sla02(kit).await,
        "ESP-SLA-03" => sla03(kit).await,
        other => anyhow::bail!("the kit has no procedure for {other}"),
    }
}

async fn onb01(kit: &mut Kit) -> Result<Judged> {
    let t0 = kit.now() - SignedDuration::from_hours(1);
    let first = kit.exchange(t0, kit.esp_timeout, |_| true).await;
    match first {
        None => judged(
            Verdict::Inconclusive,
            vec![format!(
                "no request with the ESP's token within {:?}: is it running against {} with the token it was issued?",
                kit.esp_timeout, kit.onboarding.platform
            )],
        ),
        Some(x) if x.status == 401 => judged(
            Verdict::Failed,
            vec![format!("its first request was refused: {}", exchange_line(&x))],
        ),
        Some(x) => judged(Verdict::Passed, vec![format!("first request: {}", exchange_line(&x))]),
    }
}

async fn man01(kit: &mut Kit) -> Result<Judged> {
    let (p, id) = kit.mandated(w::Scope::DayOnly, true).await?;
    let t = kit.now();
    let Some(read) = kit.served(&p.dsp, "day", t).await? else {
        return idle("day data", kit, &p.dsp, t).await;
    };
    kit.settle().await;
    let entries = kit.entries(&p.dsp).await?;
    let day_refusals: Vec<_> =
        refused(&entries, &[]).into_iter().filter(|e| kind(e) == "day").collect();
    let head = format!("mandate {id} (day data) on {}: first read {}", p.dsp, entry_line(&read));
    if day_refusals.is_empty() {
        judged(Verdict::Passed, vec![head])
    } else {
        let mut ev = lines(format!("{head}; day reads outside the mandate:"), day_refusals);
        ev.truncate(21);
        judged(Verdict::Failed, ev)
    }
}

/// Judges "refused once, never asked again" for `codes` on a point whose mandate the ESP
/// reads (`what` proves it is active).
async fn no_repeat(
    kit: &mut Kit,
    p: &super::CasePoint,
    what: &str,
    codes: &[&str],
    head: String,
) -> Result<Judged> {
    let t = kit.now() - SignedDuration::from_secs(1);
    if kit.served(&p.dsp, what, t).await?.is_none() {
        return idle(what, kit, &p.dsp, t).await;
    }
    kit.settle().await;
    let entries = kit.entries(&p.dsp).await?;
    let r = refused(&entries, codes);
    let again = repeated(&r);
    if again.is_empty() {
        let note = if r.is_empty() { "never asked" } else { "asked once, refused, not again" };
        judged(Verdict::Passed, vec![format!("{head}: {note}")])
    } else {
        judged(
            Verdict::Failed,
            lines(format!("{head}: asked again after the refusal ({} times)", again.len()), again),
        )
    }
}

async fn man02(kit: &mut Kit) -> Result<Judged> {
    let (p, id) = kit.mandated(w::Scope::DayOnly, true).await?;
    let head = format!("day-only mandate {id} on {}: quarter-hour reads", p.dsp);
    no_repeat(kit, &p, "day", &["scope_excludes_granularity"], head).await
}

async fn man03(kit: &mut Kit) -> Result<Judged> {
    let (p, id) = kit.mandated(w::Scope::WithInterval, true).await?;
    let t = kit.now();
    match kit.served(&p.dsp, "quarter-hour", t).await? {
        Some(e) => {
            judged(Verdict::Passed, vec![format!("interval mandate {id}: {}", entry_line(&e))])
        }
        None => idle("quarter-hour data", kit, &p.dsp, t).await,
    }
}

async fn man04(kit: &mut Kit) -> Result<Judged> {
    let p = kit.point().await?;
    let customer = format!("{}-customer", p.grid_user);
    let from = kit.now() - SignedDuration::from_hours(24 * 30);
    let id = kit
        .api
        .request_mandate(&customer, ESP, &p.name, w::Scope::DayOnly, true, from, None)
        .await?;
    let a = kit.api.approve(&customer, &id).await?;
    anyhow::ensure!(a.status == 200, "the customer approving {id}: {} {}", a.status, a.body);
    kit.held.insert(p.dsp.to_string());
    kit.settle().await;
    let before = kit.entries(&p.dsp).await?;
    let a = kit.api.approve(&p.grid_user, &id).await?;
    anyhow::ensure!(a.status == 200, "the grid user's co-consent to {id}: {} {}", a.status, a.body);
    let consented = kit.now();
    let head = format!(
        "mandate {id} by customer {customer}, co-consent by grid user {} at {consented}",
        p.grid_user
    );
    let r = refused(&before, &[]);
    if r.len() > 1 {
        return judged(
            Verdict::Failed,
            lines(format!("{head}: asked {} times before the co-consent", r.len()), r),
        );
    }
    match kit.served(&p.dsp, "day", consented).await? {
        Some(e) => {
            judged(Verdict::Passed, vec![format!("{head}: read after it: {}", entry_line(&e))])
        }
        None => judged(
            Verdict::Failed,
            vec![format!("{head}: no read within {:?} after the co-consent", kit.patience)],
        ),
    }
}

async fn man05(kit: &mut Kit) -> Result<Judged> {
    let (p, id) = kit.mandated(w::Scope::DayOnly, false).await?;
    let head = format!("mandate {id} without history on {}: reads from before its approval", p.dsp);
    no_repeat(kit, &p, "day", &["outside_period"], head).await
}

async fn man06(kit: &mut Kit) -> Result<Judged> {
    let p = kit.point().await?;
    let from = kit.now() - SignedDuration::from_hours(24 * 30);
    let id = kit
        .api
        .request_mandate(&p.grid_user, ESP, &p.name, w::Scope::DayOnly, true, from, None)
        .await?;
    let a = kit.api.reject(&p.grid_user, &id).await?;
    anyhow::ensure!(a.status == 200, "rejecting {id}: {} {}", a.status, a.body);
    let t = kit.now();
    kit.settle().await;
    let entries = kit.entries(&p.dsp).await?;
    let head = format!("mandate {id} on {} rejected at {t}", p.dsp);
    if !entries.is_empty() {
        return judged(
            Verdict::Failed,
            lines(format!("{head}; the ESP read the point anyway:"), &entries),
        );
    }
    if kit.journal.since(t).is_empty() {
        return judged(
            Verdict::Inconclusive,
            vec![format!("{head}; the ESP sent nothing at all meanwhile")],
        );
    }
    judged(Verdict::Passed, vec![format!("{head}: no read of the point")])
}

/// After `t` plus the reaction time the ESP reads nothing of the point: nothing served, and a
/// refusal not asked again (one request may go out on a stale view, e.g. the moment the kit
/// jumps the clock; the refusal tells the ESP).
async fn stopped_after(kit: &Kit, dsp: &domain::Ean, t: Timestamp, head: String) -> Result<Judged> {
    kit.settle().await;
    kit.settle().await;
    let entries = kit.entries(dsp).await?;
    let late = after(&entries, t + kit.reaction_span());
    let served: Vec<_> = late.iter().filter(|e| e.allowed).copied().collect();
    let refusals: Vec<_> = late.iter().filter(|e| !e.allowed).copied().collect();
    let again = repeated(&refusals);
    if served.is_empty() && again.is_empty() {
        let note = if refusals.is_empty() {
            "no read after it".to_owned()
        } else {
            format!("{} read refused, not asked again", refusals.len())
        };
        judged(Verdict::Passed, vec![format!("{head}: {note}")])
    } else {
        let bad: Vec<_> = served.into_iter().chain(again).collect();
        judged(
            Verdict::Failed,
            lines(format!("{head}: {} reads after the reaction time", late.len()), bad),
        )
    }
}

async fn man07(kit: &mut Kit) -> Result<Judged> {
    let (p, id) = kit.mandated(w::Scope::DayOnly, true).await?;
    let t = kit.now();
    if kit.served(&p.dsp, "day", t).await?.is_none() {
        return idle("day data", kit, &p.dsp, t).await;
    }
    let a = kit.api.end_mandate(&p.grid_user, &id).await?;
    anyhow::ensure!(a.status == 200, "ending {id}: {} {}", a.status, a.body);
    let ended = kit.now();
    stopped_after(
        kit,
        &p.dsp,
        ended,
        format!("mandate {id} on {} ended by the customer at {ended}", p.dsp),
    )
    .await
}

async fn valid_until(kit: &Kit, id: &str) -> Result<Timestamp> {
    let regs = kit.app.in_process().registers().await;
    regs.points
        .iter()
        .flat_map(|p| &p.mandates)
        .find(|m| m.id == id)
        .and_then(|m| m.valid_until)
        .with_context(|| format!("mandate {id} has no valid_until"))
}

async fn man08(kit: &mut Kit) -> Result<Judged> {
    let (p, id) = kit.mandated(w::Scope::DayOnly, true).await?;
    let until = valid_until(kit, &id).await?;
    // Just past the renewal notice (60 days before the three years, R-MAN-1).
    let due = until - SignedDuration::from_hours(24 * 60) + SignedDuration::from_mins(1);
    kit.jump_to(due)?;
    let t = kit.now();
    let asked = kit
        .exchange(t, kit.patience, |x| {
            x.method == "POST" && x.path == "/api/esp/v1/mandates/status"
        })
        .await;
    let head = format!("mandate {id} on {}: renewal due at {due} (valid until {until})", p.dsp);
    match asked {
        Some(x) if x.status == 200 => judged(
            Verdict::Passed,
            vec![format!("{head}; the ESP looked it up: {}", exchange_line(&x))],
        ),
        Some(x) => judged(
            Verdict::Failed,
            vec![format!("{head}; its status request failed: {}", exchange_line(&x))],
        ),
        None => judged(
            Verdict::Failed,
            vec![format!(
                "{head}; the ESP did not look up the mandate within {:?} of the signal",
                kit.patience
            )],
        ),
    }
}

async fn man09(kit: &mut Kit) -> Result<Judged> {
    let (p, id) = kit.mandated(w::Scope::DayOnly, true).await?;
    let t = kit.now();
    if kit.served(&p.dsp, "day", t).await?.is_none() {
        return idle("day data", kit, &p.dsp, t).await;
    }
    let until = valid_until(kit, &id).await?;
    kit.jump_to(until + SignedDuration::from_mins(1))?;
    // The platform ticks expiries once a second.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let expired = until + SignedDuration::from_secs(1);
    stopped_after(kit, &p.dsp, expired, format!("mandate {id} on {} expired at {until}", p.dsp))
        .await
}

async fn man10(kit: &mut Kit) -> Result<Judged> {
    let t0: Timestamp = super::START.parse()?;
    let status: Vec<_> = kit
        .journal
        .since(t0)
        .into_iter()
        .filter(|x| x.path == "/api/esp/v1/mandates/status")
        .collect();
    let bad: Vec<_> =
        status.iter().filter(|x| x.status != 200 && x.status != 429 && x.status != 503).collect();
    if status.is_empty() {
        return judged(
            Verdict::Inconclusive,
            vec!["the ESP never asked for its mandates' status".into()],
        );
    }
    let head = format!("{} status requests", status.len());
    if bad.is_empty() {
        judged(
            Verdict::Passed,
            vec![format!("{head}, each answered 200: {}", exchange_line(&status[0]))],
        )
    } else {
        let mut ev = vec![format!("{head}; refused:")];
        ev.extend(bad.iter().take(20).map(|x| exchange_line(x)));
        judged(Verdict::Failed, ev)
    }
}

async fn mkt01(kit: &mut Kit) -> Result<Judged> {
    let (p, id) = kit.mandated(w::Scope::DayOnly, true).await?;
    let t = kit.now();
    if kit.served(&p.dsp, "day", t).await?.is_none() {
        return idle("day data", kit, &p.dsp, t).await;
    }
    let now = kit.now();
    let a = kit.api.market_scenario(&p.name, "SS", now, None, Some("supplier-2")).await?;
    anyhow::ensure!(a.status < 300, "supplier switch: {} {}", a.status, a.body);
    let head = format!("supplier switch on {} at {now} (mandate {id})", p.dsp);
    let Some(read) = kit.served(&p.dsp, "day", now).await? else {
        return judged(Verdict::Failed, vec![format!("{head}: the ESP stopped reading")]);
    };
    let entries = kit.entries(&p.dsp).await?;
    let r: Vec<_> = refused(&entries, &[]).into_iter().filter(|e| kind(e) == "day").collect();
    if r.is_empty() {
        judged(Verdict::Passed, vec![format!("{head}: read on: {}", entry_line(&read))])
    } else {
        judged(Verdict::Failed, lines(format!("{head}: day reads refused"), r))
    }
}

/// A market scenario (or two, on two points) cuts the mandates' periods at `effective`,
/// `backdated` days ago; then two days pass. Past the cut the point is no longer the ESP's:
/// a refusal is allowed once, no more.
async fn cut(kit: &mut Kit, kinds: &[w::ScenarioKind], backdated: i64) -> Result<Judged> {
    let mut points = Vec::new();
    for kind in kinds {
        let (p, id) = kit.mandated(w::Scope::DayOnly, true).await?;
        let t = kit.now();
        if kit.served(&p.dsp, "day", t).await?.is_none() {
            return idle("day data", kit, &p.dsp, t).await;
        }
        points.push((p, id, *kind));
    }
    let mut heads = Vec::new();
    for (p, id, kind) in &points {
        let effective = kit.now() - SignedDuration::from_hours(24 * backdated);
        let code = serde_json::to_value(kind)?.as_str().unwrap_or("?").to_owned();
        let (new_user, new_supplier) = match kind {
            w::ScenarioKind::Moza => (None, None),
            w::ScenarioKind::MoveOut => (Some(format!("{}-next", p.grid_user)), None),
            w::ScenarioKind::CombinedSwitch => {
                (Some(format!("{}-next", p.grid_user)), Some("supplier-2"))
            }
            _ => (Some(format!("{}-next", p.grid_user)), None),
        };
        let a = kit
            .api
            .market_scenario(&p.name, &code, effective, new_user.as_deref(), new_supplier)
            .await?;
        anyhow::ensure!(a.status < 300, "{code} on {}: {} {}", p.name, a.status, a.body);
        heads.push(format!("{code} on {} effective {effective} (mandate {id})", p.dsp));
    }
    // Two days pass: what the ESP reads of the last day now lies past the cut.
    kit.jump_to(kit.now() + SignedDuration::from_hours(48))?;
    kit.settle().await;
    kit.settle().await;
    let mut again = Vec::new();
    for (p, ..) in &points {
        let entries = kit.entries(&p.dsp).await?;
        let r = refused(&entries, &["outside_period", "outside_occupancy", "no_mandate"]);
        again.extend(repeated(&r).into_iter().cloned());
    }
    let head = heads.join("; ");
    if again.is_empty() {
        judged(Verdict::Passed, vec![format!("{head}: nothing past the cut asked twice")])
    } else {
        judged(
            Verdict::Failed,
            lines(format!("{head}: reads past the cut asked again ({})", again.len()), &again),
        )
    }
}

/// The statement's service that needs the NRT stream.
fn nrt_service(kit: &Kit) -> Result<String> {
    kit.statement
        .services
        .iter()
        .find(|s| s.needs.contains(&domain::DataKind::Nrt))
        .map(|s| s.id.clone())
        .context("the statement claims the NRT stream but lists no service that needs nrt")
}

/// A point whose grid user consents to the ESP's NRT service; the consent id, once the ESP
/// holds the stream open (None: it never opened it).
async fn streaming(
    kit: &mut Kit,
) -> Result<(super::CasePoint, String, Result<w::AccessEntry, Timestamp>)> {
    let service = nrt_service(kit)?;
    let p = kit.point().await?;
    let id = kit.api.grant_consent_to(&p.grid_user, ESP, &p.name, &service).await?;
    kit.held.insert(p.dsp.to_string());
    let t = kit.now() - SignedDuration::from_secs(1);
    let open = kit.served(&p.dsp, "nrt", t).await?.ok_or(t);
    Ok((p, id, open))
}

async fn nrt01(kit: &mut Kit) -> Result<Judged> {
    let (p, id, open) = streaming(kit).await?;
    match open {
        Ok(e) => judged(
            Verdict::Passed,
            vec![format!("consent {id} on {}: stream opened {}", p.dsp, entry_line(&e))],
        ),
        Err(t) => idle("stream", kit, &p.dsp, t).await,
    }
}

async fn nrt_ends(kit: &mut Kit, by_market: bool) -> Result<Judged> {
    let (p, id, open) = streaming(kit).await?;
    if let Err(t) = open {
        return idle("stream", kit, &p.dsp, t).await;
    }
    let t = kit.now();
    let head = if by_market {
        let a = kit
            .api
            .market_scenario(&p.name, "CS", t, Some(&format!("{}-next", p.grid_user)), None)
            .await?;
        anyhow::ensure!(a.status < 300, "CS on {}: {} {}", p.name, a.status, a.body);
        format!("customer switch on {} at {t} (consent {id} revoked)", p.dsp)
    } else {
        let a = kit.api.revoke_consent(&p.grid_user, &id).await?;
        anyhow::ensure!(a.status == 200, "revoking {id}: {} {}", a.status, a.body);
        format!("consent {id} on {} revoked by the grid user at {t}", p.dsp)
    };
    stopped_after(kit, &p.dsp, t, head).await
}

async fn nrt03(kit: &mut Kit) -> Result<Judged> {
    let entries = kit.all_entries().await?;
    let r = refused(&entries, &["not_needed"]);
    let again = repeated(&r);
    if again.is_empty() {
        let note = if r.is_empty() {
            "never asked for data no service needs".to_owned()
        } else {
            format!("{} reads refused not_needed, none asked again", r.len())
        };
        judged(Verdict::Passed, vec![note])
    } else {
        judged(
            Verdict::Failed,
            lines(
                format!(
                    "reads of data no service of the catalogue needs, asked again ({})",
                    again.len()
                ),
                again,
            ),
        )
    }
}

async fn acc01(kit: &mut Kit) -> Result<Judged> {
    let entries = kit.all_entries().await?;
    let foreign: Vec<_> = entries.iter().filter(|e| !kit.held.contains(&e.point)).collect();
    match foreign.len() {
        0 => judged(
            Verdict::Passed,
            vec![format!("{} reads, all of points the ESP was given", entries.len())],
        ),
        1 => judged(
            Verdict::Passed,
            vec![format!(
                "one read of a point it was never given, refused, not asked again: {}",
                entry_line(foreign[0])
            )],
        ),
        n => judged(
            Verdict::Failed,
            lines(
                format!("{n} reads of points the ESP was never given a mandate or consent on"),
                foreign,
            ),
        ),
    }
}

async fn acc02(kit: &mut Kit) -> Result<Judged> {
    let (p, _) = kit.mandated(w::Scope::DayOnly, true).await?;
    let t = kit.now();
    if kit.served(&p.dsp, "day", t).await?.is_none() {
        return idle("day data", kit, &p.dsp, t).await;
    }
    let path = format!("/api/admin/v1/esps/{}/suspend", kit.onboarding.kbo);
    let a = kit
        .api
        .admin(
            reqwest::Method::POST,
            &path,
            &serde_json::json!({ "reason": "certification case ESP-ACC-02" }),
        )
        .await?;
    anyhow::ensure!(a.status == 200, "suspending: {} {}", a.status, a.body);
    let suspended = kit.now();
    kit.settle().await;
    kit.settle().await;
    let path = format!("/api/admin/v1/esps/{}/reinstate", kit.onboarding.kbo);
    let a = kit.api.admin(reqwest::Method::POST, &path, &serde_json::json!({})).await?;
    anyhow::ensure!(a.status == 200, "reinstating: {} {}", a.status, a.body);
    let reinstated = kit.now();
    let all = kit.all_entries().await?;
    let during: Vec<_> = all.iter().filter(|e| e.at > suspended && e.at <= reinstated).collect();
    let refusals: Vec<_> = during.iter().filter(|e| !e.allowed).copied().collect();
    let head = format!("suspended at {suspended}, reinstated at {reinstated}");
    // One refusal tells the ESP; a second may be in flight within its reaction time.
    let late: Vec<_> = refusals
        .iter()
        .skip(1)
        .filter(|e| e.at > suspended + kit.reaction_span())
        .copied()
        .collect();
    if !late.is_empty() {
        return judged(
            Verdict::Failed,
            lines(
                format!("{head}: {} reads while suspended after the first refusal", late.len()),
                late,
            ),
        );
    }
    match kit.served(&p.dsp, "day", reinstated).await? {
        Some(e) => judged(
            Verdict::Passed,
            vec![format!(
                "{head}: {} refused reads while suspended; reads resumed: {}",
                refusals.len(),
                entry_line(&e)
            )],
        ),
        None => judged(
            Verdict::Failed,
            vec![format!("{head}: reads did not resume within {:?}", kit.patience)],
        ),
    }
}

fn webhook_url(kit: &Kit) -> Result<String> {
    kit.statement.webhook_url.clone().context("the statement gives no webhook URL")
}

/// Posts a webhook to the ESP as the platform would; the answer's status, or why none came.
async fn post_hook(
    kit: &Kit,
    body: &str,
    delivery: &str,
    event: &str,
    signature: &str,
) -> Result<u16, String> {
    let url = webhook_url(kit).map_err(|e| e.to_string())?;
    kit.hooks
        .post(&url)
        .header("content-type", "application/json")
        .header("x-meterlab-event", event)
        .header("x-meterlab-delivery", delivery)
        .header("x-meterlab-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())
}

async fn hook01(kit: &mut Kit) -> Result<Judged> {
    let (p, id) = kit.mandated(w::Scope::DayOnly, true).await?;
    let t = kit.now();
    if kit.served(&p.dsp, "day", t).await?.is_none() {
        return idle("day data", kit, &p.dsp, t).await;
    }
    let body = serde_json::json!({
        "delivery": "D-forged-1", "event": "mandate_ended", "at": kit.now(),
        "esp": kit.onboarding.kbo, "mandate": id, "consent": null, "point": p.dsp,
        "detail": "forged by the certification kit",
    })
    .to_string();
    let forged = server::signature("not-the-esps-secret", body.as_bytes());
    let answer = post_hook(kit, &body, "D-forged-1", "mandate_ended", &forged).await;
    let sent = kit.now();
    let head =
        format!("a mandate_ended webhook for {id} signed with another secret, sent at {sent}");
    match answer {
        Ok(s) if (400..500).contains(&s) => {}
        Ok(s) => return judged(Verdict::Failed, vec![format!("{head}: answered {s}, not 4xx")]),
        Err(e) => return judged(Verdict::Failed, vec![format!("{head}: no answer ({e})")]),
    }
    kit.settle().await;
    match kit.served(&p.dsp, "day", sent + kit.reaction_span()).await? {
        Some(e) => judged(
            Verdict::Passed,
            vec![format!("{head}: refused, and the ESP read on: {}", entry_line(&e))],
        ),
        None => judged(
            Verdict::Failed,
            vec![format!("{head}: refused, yet the ESP stopped reading the point")],
        ),
    }
}

async fn hook02(kit: &mut Kit) -> Result<Judged> {
    let deliveries: Vec<w::Delivery> = {
        let a = kit.api.admin_get("/api/admin/v1/deliveries").await?;
        serde_json::from_value(a.body).context("the delivery log")?
    };
    let Some(d) = deliveries.iter().rev().find(|d| d.state == "delivered") else {
        return judged(
            Verdict::Inconclusive,
            vec!["no webhook was delivered to the ESP to replay".into()],
        );
    };
    let sig = server::signature(&kit.onboarding.webhook_secret, d.body.as_bytes());
    let mut statuses = Vec::new();
    for _ in 0..2 {
        statuses.push(post_hook(kit, &d.body, &d.id, &d.event, &sig).await);
    }
    let head = format!("delivery {} ({}) sent twice more", d.id, d.event);
    let shown: Vec<String> = statuses
        .iter()
        .map(|s| match s {
            Ok(c) => c.to_string(),
            Err(e) => format!("no answer ({e})"),
        })
        .collect();
    if statuses.iter().all(|s| matches!(s, Ok(c) if (200..300).contains(c))) {
        judged(Verdict::Passed, vec![format!("{head}: answered {}", shown.join(", "))])
    } else {
        judged(Verdict::Failed, vec![format!("{head}: answered {}, not 2xx", shown.join(", "))])
    }
}

async fn hook03(kit: &mut Kit) -> Result<Judged> {
    let a = kit.api.admin_get("/api/admin/v1/deliveries").await?;
    let deliveries: Vec<w::Delivery> =
        serde_json::from_value(a.body).context("the delivery log")?;
    if deliveries.is_empty() {
        return judged(Verdict::Inconclusive, vec!["no webhook was sent to the ESP".into()]);
    }
    let mut late = Vec::new();
    for d in &deliveries {
        let first = d.attempts.first();
        // The kit's own jumps of the clock are no time the ESP took.
        let took = |a: &w::Attempt| a.at.duration_since(d.created) - kit.jumped(d.created, a.at);
        let ok = first.is_some_and(|a| {
            a.status.is_some_and(|s| (200..300).contains(&s))
                && took(a) <= kit.reaction_span() + SignedDuration::from_secs(1)
        });
        // A delivery not tried yet is not judged; one whose first try failed is.
        if !ok && first.is_some() {
            late.push(format!(
                "{} {} created {}: attempts {:?}",
                d.id,
                d.event,
                d.created,
                d.attempts
                    .iter()
                    .map(|a| (a.at.to_string(), a.status, a.error.clone()))
                    .collect::<Vec<_>>()
            ));
        }
    }
    if late.is_empty() {
        judged(
            Verdict::Passed,
            vec![format!(
                "{} webhooks, each answered 2xx at the first attempt within the reaction time",
                deliveries.len()
            )],
        )
    } else {
        let mut ev = vec![format!(
            "{} of {} webhooks not answered 2xx at once:",
            late.len(),
            deliveries.len()
        )];
        ev.extend(late.into_iter().take(20));
        judged(Verdict::Failed, ev)
    }
}

/// After the first answer with `status` (and its Retry-After), no request of the ESP until the
/// wait has passed (one in flight at that moment excepted).
fn honoured(xs: &[server::Exchange], status: u16) -> Option<Result<String, Vec<String>>> {
    let first = xs.iter().position(|x| x.status == status)?;
    let x = &xs[first];
    let wait = SignedDuration::from_secs(x.retry_after.unwrap_or(1) as i64);
    let grace = SignedDuration::from_millis(250);
    let early: Vec<_> =
        xs[first + 1..].iter().filter(|y| y.at < x.at + wait && y.at > x.at + grace).collect();
    if early.is_empty() {
        Some(Ok(exchange_line(x)))
    } else {
        let mut ev =
            vec![format!("first {status}: {}; then, before its Retry-After:", exchange_line(x))];
        ev.extend(early.into_iter().take(20).map(exchange_line));
        Some(Err(ev))
    }
}

async fn sla01(kit: &mut Kit) -> Result<Judged> {
    let (p, _) = kit.mandated(w::Scope::DayOnly, true).await?;
    let t = kit.now();
    if kit.served(&p.dsp, "day", t).await?.is_none() {
        return idle("day data", kit, &p.dsp, t).await;
    }
    let on = serde_json::json!({ "active": true, "reason": "certification case ESP-SLA-01", "retry_after_s": 3 });
    let a = kit.api.admin(reqwest::Method::POST, "/api/admin/v1/outage", &on).await?;
    anyhow::ensure!(a.status == 200, "declaring the outage: {} {}", a.status, a.body);
    let t = kit.now();
    let refused = kit.exchange(t, kit.patience, |x| x.status == 503).await;
    // Past the Retry-After, then the outage ends.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let off = serde_json::json!({ "active": false });
    let a = kit.api.admin(reqwest::Method::POST, "/api/admin/v1/outage", &off).await?;
    anyhow::ensure!(a.status == 200, "ending the outage: {} {}", a.status, a.body);
    kit.outage = Some((p.dsp.clone(), t, kit.now()));
    if refused.is_none() {
        return judged(
            Verdict::Inconclusive,
            vec![format!("the ESP sent no request during the outage within {:?}", kit.patience)],
        );
    }
    match honoured(&kit.journal.since(t), 503) {
        Some(Ok(line)) => judged(
            Verdict::Passed,
            vec![format!("unplanned outage from {t}: {line}; nothing before its Retry-After")],
        ),
        Some(Err(ev)) => judged(Verdict::Failed, ev),
        None => judged(Verdict::Inconclusive, vec!["no 503 among the ESP's requests".into()]),
    }
}

async fn sla03(kit: &mut Kit) -> Result<Judged> {
    let Some((dsp, from, to)) = kit.outage.clone() else {
        return judged(
            Verdict::Inconclusive,
            vec!["ESP-SLA-01 declared no outage to recover from".into()],
        );
    };
    let head = format!("outage on [{from}, {to})");
    let watch = clock::Stopwatch::start();
    loop {
        let entries = kit.entries(&dsp).await?;
        let covering = entries
            .iter()
            .find(|e| e.at > to && e.allowed && kind(e) == "day" && e.from <= from && e.to >= to);
        if let Some(e) = covering {
            return judged(
                Verdict::Passed,
                vec![format!("{head}: read again after it: {}", entry_line(e))],
            );
        }
        if watch.passed(kit.patience) {
            return judged(
                Verdict::Failed,
                vec![format!(
                    "{head}: no read covering it within {:?} after it ended",
                    kit.patience
                )],
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn sla02(kit: &mut Kit) -> Result<Judged> {
    // Give the ESP an active point, so it keeps calling.
    let (p, _) = kit.mandated(w::Scope::DayOnly, true).await?;
    let t = kit.now();
    if kit.served(&p.dsp, "day", t).await?.is_none() {
        return idle("day data", kit, &p.dsp, t).await;
    }
    let t = kit.now();
    kit.app.access.exhaust(&kit.party(), 3);
    let limited = kit.exchange(t, kit.patience, |x| x.status == 429).await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    if limited.is_none() {
        return judged(
            Verdict::Inconclusive,
            vec![format!("the ESP sent no request within {:?}", kit.patience)],
        );
    }
    match honoured(&kit.journal.since(t), 429) {
        Some(Ok(line)) => judged(
            Verdict::Passed,
            vec![format!("rate limited at {t}: {line}; nothing before its Retry-After")],
        ),
        Some(Err(ev)) => judged(Verdict::Failed, ev),
        None => judged(Verdict::Inconclusive, vec!["no 429 among the ESP's requests".into()]),
    }
}

async fn onb02(kit: &mut Kit) -> Result<Judged> {
    let path = format!("/api/admin/v1/esps/{}/credentials", kit.onboarding.kbo);
    let a = kit
        .api
        .admin(
            reqwest::Method::POST,
            &path,
            &serde_json::json!({ "token": true, "webhook_secret": false }),
        )
        .await?;
    anyhow::ensure!(
        a.status == 200 || a.status == 201,
        "revoking the token: {} {}",
        a.status,
        a.body
    );
    let t = kit.now();
    let Some(first) = kit.exchange(t, kit.patience, |x| x.status == 401).await else {
        return judged(
            Verdict::Inconclusive,
            vec![format!(
                "the ESP sent no request within {:?} after its token was revoked",
                kit.patience
            )],
        );
    };
    kit.settle().await;
    kit.settle().await;
    let after: Vec<_> = kit.journal.since(first.at).into_iter().skip(1).collect();
    let head = format!("token revoked at {t}; first 401: {}", exchange_line(&first));
    // A few in flight at the moment are no hammering; a loop is.
    if after.len() <= 3 {
        judged(Verdict::Passed, vec![format!("{head}; {} requests after it", after.len())])
    } else {
        let mut ev =
            vec![format!("{head}; {} requests with the revoked token after it:", after.len())];
        ev.extend(after.iter().take(20).map(exchange_line));
        judged(Verdict::Failed, ev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_of_the_catalogue_runs_once() {
        let mut ids: Vec<&str> = certify::catalogue().iter().map(|c| c.id).collect();
        let mut order = ORDER.to_vec();
        ids.sort_unstable();
        order.sort_unstable();
        assert_eq!(ids, order);
    }

    fn x(at: &str, status: u16, retry: Option<u64>) -> server::Exchange {
        server::Exchange {
            at: at.parse().unwrap(),
            request_id: "r".into(),
            method: "GET".into(),
            path: "/api/esp/v1/mandates".into(),
            query: None,
            party: Some("esp:0123456749".into()),
            token: Some("abc".into()),
            status,
            retry_after: retry,
        }
    }

    #[test]
    fn retry_after_is_honoured_only_when_nothing_comes_before_it() {
        let good =
            [x("2026-03-02T08:00:00Z", 503, Some(3)), x("2026-03-02T08:00:03.1Z", 200, None)];
        assert!(matches!(honoured(&good, 503), Some(Ok(_))));
        let in_flight =
            [x("2026-03-02T08:00:00Z", 503, Some(3)), x("2026-03-02T08:00:00.1Z", 503, Some(3))];
        assert!(matches!(honoured(&in_flight, 503), Some(Ok(_))));
        let bad =
            [x("2026-03-02T08:00:00Z", 429, Some(3)), x("2026-03-02T08:00:01Z", 429, Some(2))];
        assert!(matches!(honoured(&bad, 429), Some(Err(ev)) if ev.len() == 2));
        assert!(honoured(&bad, 503).is_none());
    }
}
