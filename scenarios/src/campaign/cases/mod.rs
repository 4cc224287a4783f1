//! The cases: what the kit does for each, and how it judges. Each case works on points of
//! its own, so one case's events never colour another's evidence; the calendar cases jump
//! the clock and run last, and the cases judged over the whole campaign after them.

use super::evidence::{after, entry_line, repeated};
use super::{Judged, Kit};
use anyhow::Result;
use certify::Verdict;
use clock::Timestamp;
use wire::api::v1 as w;

mod access;
mod hooks;
mod mandates;
mod market;
mod nrt;
mod sla;

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
    "ESP-MAN-11",
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
    "ESP-API-01",
    "ESP-ONB-02",
];

pub(super) fn judged(verdict: Verdict, evidence: Vec<String>) -> Result<Judged> {
    Ok(Judged { verdict, evidence })
}

pub(super) fn lines<'a>(
    head: String,
    entries: impl IntoIterator<Item = &'a w::AccessEntry>,
) -> Vec<String> {
    let mut out = vec![head];
    out.extend(entries.into_iter().take(20).map(entry_line));
    out
}

/// The ESP never read what a case needs it to read: the kit cannot judge. The evidence shows
/// what it did ask for on the point, if anything.
pub(super) async fn idle(
    what: &str,
    kit: &Kit,
    dsp: &domain::Ean,
    since: Timestamp,
) -> Result<Judged> {
    let entries = kit.entries(dsp).await?;
    let head = format!(
        "the ESP read no {what} of {dsp} within {:?} after {since} (is it running, and does it read what its mandates allow?)",
        kit.patience
    );
    let n = entries.len();
    judged(Verdict::Inconclusive, lines(head, entries.iter().skip(n.saturating_sub(5))))
}

/// After `t` plus the reaction time the ESP reads nothing of the point: nothing served, and a
/// refusal not asked again (one request may go out on a stale view, e.g. the moment the kit
/// jumps the clock; the refusal tells the ESP).
pub(super) async fn stopped_after(
    kit: &Kit,
    dsp: &domain::Ean,
    t: Timestamp,
    head: String,
) -> Result<Judged> {
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

/// Runs one case.
pub(crate) async fn run(kit: &mut Kit, id: &str) -> Result<Judged> {
    match id {
        "ESP-ONB-01" => access::onb01(kit).await,
        "ESP-ONB-02" => access::onb02(kit).await,
        "ESP-MAN-01" => mandates::man01(kit).await,
        "ESP-MAN-02" => mandates::man02(kit).await,
        "ESP-MAN-03" => mandates::man03(kit).await,
        "ESP-MAN-04" => mandates::man04(kit).await,
        "ESP-MAN-05" => mandates::man05(kit).await,
        "ESP-MAN-06" => mandates::man06(kit).await,
        "ESP-MAN-07" => mandates::man07(kit).await,
        "ESP-MAN-08" => mandates::man08(kit).await,
        "ESP-MAN-09" => mandates::man09(kit).await,
        "ESP-MAN-10" => mandates::man10(kit).await,
        "ESP-MAN-11" => mandates::man11(kit).await,
        "ESP-API-01" => access::api01(kit).await,
        "ESP-MKT-01" => market::mkt01(kit).await,
        "ESP-MKT-02" => market::cut(kit, &[w::ScenarioKind::CustomerSwitch], 0).await,
        "ESP-MKT-03" => market::cut(kit, &[w::ScenarioKind::CombinedSwitch], 0).await,
        "ESP-MKT-04" => {
            market::cut(kit, &[w::ScenarioKind::MoveOut, w::ScenarioKind::Moza], 0).await
        }
        "ESP-MKT-05" => market::cut(kit, &[w::ScenarioKind::CustomerSwitch], 2).await,
        "ESP-NRT-01" => nrt::nrt01(kit).await,
        "ESP-NRT-02" => nrt::nrt_ends(kit, false).await,
        "ESP-NRT-03" => nrt::nrt03(kit).await,
        "ESP-NRT-04" => nrt::nrt_ends(kit, true).await,
        "ESP-ACC-01" => access::acc01(kit).await,
        "ESP-ACC-02" => access::acc02(kit).await,
        "ESP-HOOK-01" => hooks::hook01(kit).await,
        "ESP-HOOK-02" => hooks::hook02(kit).await,
        "ESP-HOOK-03" => hooks::hook03(kit).await,
        "ESP-SLA-01" => sla::sla01(kit).await,
        "ESP-SLA-02" => sla::sla02(kit).await,
        "ESP-SLA-03" => sla::sla03(kit).await,
        other => anyhow::bail!("the kit has no procedure for {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::sla::honoured;
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
