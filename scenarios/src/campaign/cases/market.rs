//! ESP-MKT: market scenarios that leave the period alone or cut it (R-MAN-5, R-NRT-7).

use super::super::evidence::{entry_line, kind, refused, repeated};
use super::super::{Judged, Kit};
use super::{idle, judged, lines};
use anyhow::Result;
use certify::Verdict;
use clock::SignedDuration;
use wire::api::v1 as w;

pub(super) async fn mkt01(kit: &mut Kit) -> Result<Judged> {
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
pub(super) async fn cut(
    kit: &mut Kit,
    kinds: &[w::ScenarioKind],
    backdated: i64,
) -> Result<Judged> {
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
