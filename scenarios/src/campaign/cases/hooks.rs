//! ESP-HOOK: forged, replayed and all webhooks (R-NRT-6).

use super::super::evidence::entry_line;
use super::super::{Judged, Kit};
use super::{idle, judged};
use anyhow::{Context, Result};
use certify::Verdict;
use clock::SignedDuration;
use wire::api::v1 as w;

pub(super) fn webhook_url(kit: &Kit) -> Result<String> {
    kit.statement.webhook_url.clone().context("the statement gives no webhook URL")
}

/// Posts a webhook to the ESP as the platform would; the answer's status, or why none came.
pub(super) async fn post_hook(
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

pub(super) async fn hook01(kit: &mut Kit) -> Result<Judged> {
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

pub(super) async fn hook02(kit: &mut Kit) -> Result<Judged> {
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

pub(super) async fn hook03(kit: &mut Kit) -> Result<Judged> {
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
