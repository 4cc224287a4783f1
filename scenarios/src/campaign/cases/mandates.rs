//! ESP-MAN: mandates granted, refused, co-consented, ended, renewed and expired (R-MAN-1..8).

use super::super::evidence::{entry_line, exchange_line, kind, refused, repeated};
use super::super::{ESP, Judged, Kit};
use super::{idle, judged, lines, stopped_after};
use anyhow::{Context, Result};
use certify::Verdict;
use clock::{SignedDuration, Timestamp};
use std::time::Duration;
use wire::api::v1 as w;

pub(super) async fn man01(kit: &mut Kit) -> Result<Judged> {
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
pub(super) async fn no_repeat(
    kit: &mut Kit,
    p: &super::super::CasePoint,
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

pub(super) async fn man02(kit: &mut Kit) -> Result<Judged> {
    let (p, id) = kit.mandated(w::Scope::DayOnly, true).await?;
    let head = format!("day-only mandate {id} on {}: quarter-hour reads", p.dsp);
    no_repeat(kit, &p, "day", &["scope_excludes_granularity"], head).await
}

pub(super) async fn man03(kit: &mut Kit) -> Result<Judged> {
    let (p, id) = kit.mandated(w::Scope::WithInterval, true).await?;
    let t = kit.now();
    match kit.served(&p.dsp, "quarter-hour", t).await? {
        Some(e) => {
            judged(Verdict::Passed, vec![format!("interval mandate {id}: {}", entry_line(&e))])
        }
        None => idle("quarter-hour data", kit, &p.dsp, t).await,
    }
}

pub(super) async fn man04(kit: &mut Kit) -> Result<Judged> {
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

pub(super) async fn man05(kit: &mut Kit) -> Result<Judged> {
    let (p, id) = kit.mandated(w::Scope::DayOnly, false).await?;
    let head = format!("mandate {id} without history on {}: reads from before its approval", p.dsp);
    no_repeat(kit, &p, "day", &["outside_period"], head).await
}

pub(super) async fn man06(kit: &mut Kit) -> Result<Judged> {
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

pub(super) async fn man07(kit: &mut Kit) -> Result<Judged> {
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

pub(super) async fn valid_until(kit: &Kit, id: &str) -> Result<Timestamp> {
    let regs = kit.app.in_process().registers().await;
    regs.points
        .iter()
        .flat_map(|p| &p.mandates)
        .find(|m| m.id == id)
        .and_then(|m| m.valid_until)
        .with_context(|| format!("mandate {id} has no valid_until"))
}

pub(super) async fn man08(kit: &mut Kit) -> Result<Judged> {
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

pub(super) async fn man09(kit: &mut Kit) -> Result<Judged> {
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

pub(super) async fn man10(kit: &mut Kit) -> Result<Judged> {
    let t0: Timestamp = super::super::START.parse()?;
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

pub(super) async fn man11(kit: &mut Kit) -> Result<Judged> {
    let p = kit.point().await?;
    let from = kit.now() - SignedDuration::from_hours(24 * 40);
    let to = kit.now() - SignedDuration::from_hours(24 * 10);
    let request = w::MandateRequest {
        data_service_point: String::new(),
        scope: w::Scope::DayOnly,
        period_from: from.to_string(),
        period_to: Some(to.to_string()),
        history: true,
        renews: None,
    };
    let id = kit.api.step_plan(&p.grid_user, ESP, &p.name, request).await?;
    let a = kit.api.approve(&p.grid_user, &id).await?;
    anyhow::ensure!(a.status == 200, "approving {id}: {} {}", a.status, a.body);
    kit.held.insert(p.dsp.to_string());
    let head = format!("mandate {id} on {} for [{from}, {to}): reads past its end", p.dsp);
    no_repeat(kit, &p, "day", &["outside_period"], head).await
}
