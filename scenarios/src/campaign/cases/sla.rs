//! ESP-SLA: Retry-After of an outage and of the rate limit, and the fetch after an outage
//! (R-SLA-3, R-SLA-4).

use super::super::evidence::{entry_line, exchange_line, kind};
use super::super::{Judged, Kit};
use super::{idle, judged};
use anyhow::Result;
use certify::Verdict;
use clock::{SignedDuration, Timestamp};
use std::time::Duration;
use wire::api::v1 as w;

/// After the first answer with `status` (and its Retry-After), no request of the ESP until the
/// wait has passed (one in flight at that moment excepted).
pub(super) fn honoured(
    xs: &[server::Exchange],
    status: u16,
) -> Option<Result<String, Vec<String>>> {
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

/// The verdict on the ESP's requests since `t`: did it wait out the first `status`?
fn waited(kit: &Kit, t: Timestamp, status: u16, what: &str) -> Result<Judged> {
    match honoured(&kit.journal.since(t), status) {
        Some(Ok(line)) => judged(
            Verdict::Passed,
            vec![format!("{what} from {t}: {line}; nothing before its Retry-After")],
        ),
        Some(Err(ev)) => judged(Verdict::Failed, ev),
        None => {
            judged(Verdict::Inconclusive, vec![format!("no {status} among the ESP's requests")])
        }
    }
}

pub(super) async fn sla01(kit: &mut Kit) -> Result<Judged> {
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
    waited(kit, t, 503, "unplanned outage")
}

pub(super) async fn sla03(kit: &mut Kit) -> Result<Judged> {
    let Some((dsp, from, to)) = kit.outage.clone() else {
        return judged(
            Verdict::Inconclusive,
            vec!["ESP-SLA-01 declared no outage to recover from".into()],
        );
    };
    let head = format!("outage on [{from}, {to})");
    let covering = kit
        .until(kit.patience, || async {
            let entries = kit.entries(&dsp).await?;
            Ok(entries.into_iter().find(|e| {
                e.at > to && e.allowed && kind(e) == "day" && e.from <= from && e.to >= to
            }))
        })
        .await?;
    match covering {
        Some(e) => judged(
            Verdict::Passed,
            vec![format!("{head}: read again after it: {}", entry_line(&e))],
        ),
        None => judged(
            Verdict::Failed,
            vec![format!("{head}: no read covering it within {:?} after it ended", kit.patience)],
        ),
    }
}

pub(super) async fn sla02(kit: &mut Kit) -> Result<Judged> {
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
    kit.limited = Some((t, kit.now()));
    if limited.is_none() {
        return judged(
            Verdict::Inconclusive,
            vec![format!("the ESP sent no request within {:?}", kit.patience)],
        );
    }
    waited(kit, t, 429, "rate limited")
}
