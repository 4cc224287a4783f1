//! ESP-ONB and ESP-ACC: the ESP's credentials, the points it was given, its suspension
//! (R-ACC-1, R-ACC-2, R-ACC-4).

use super::super::evidence::{entry_line, exchange_line};
use super::super::{Judged, Kit};
use super::{idle, judged, lines};
use anyhow::Result;
use certify::Verdict;
use clock::{SignedDuration, Timestamp};
use wire::api::v1 as w;

pub(super) async fn onb01(kit: &mut Kit) -> Result<Judged> {
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

pub(super) async fn onb02(kit: &mut Kit) -> Result<Judged> {
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

pub(super) async fn acc01(kit: &mut Kit) -> Result<Judged> {
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

pub(super) async fn acc02(kit: &mut Kit) -> Result<Judged> {
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

pub(super) async fn api01(kit: &mut Kit) -> Result<Judged> {
    let t0: Timestamp = super::super::START.parse()?;
    let all = kit.journal.since(t0);
    let malformed: Vec<_> =
        all.iter().filter(|x| matches!(x.status, 400 | 413 | 415 | 422)).collect();
    let limited = kit.limited;
    let flooding: Vec<_> = all
        .iter()
        .filter(|x| x.status == 429 && !limited.is_some_and(|(a, b)| a <= x.at && x.at <= b))
        .collect();
    let head = format!("{} requests", all.len());
    if malformed.len() <= 3 && flooding.is_empty() {
        return judged(
            Verdict::Passed,
            vec![format!(
                "{head}: {} malformed, none rate limited outside ESP-SLA-02",
                malformed.len()
            )],
        );
    }
    let mut ev = vec![format!(
        "{head}: {} malformed (400, 413, 415, 422), {} rate limited (429) outside ESP-SLA-02",
        malformed.len(),
        flooding.len()
    )];
    ev.extend(malformed.iter().chain(flooding.iter()).take(20).map(|x| exchange_line(x)));
    judged(Verdict::Failed, ev)
}
