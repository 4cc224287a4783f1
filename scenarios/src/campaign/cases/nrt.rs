//! ESP-NRT: the near-real-time stream under consents, its end, and only the data a service
//! needs (R-NRT-5..8).

use super::super::evidence::{entry_line, refused, repeated};
use super::super::{ESP, Judged, Kit};
use super::{idle, judged, lines, stopped_after};
use anyhow::{Context, Result};
use certify::Verdict;
use clock::{SignedDuration, Timestamp};
use wire::api::v1 as w;

/// The statement's service that needs the NRT stream.
pub(super) fn nrt_service(kit: &Kit) -> Result<String> {
    kit.statement
        .services
        .iter()
        .find(|s| s.needs.contains(&domain::DataKind::Nrt))
        .map(|s| s.id.clone())
        .context("the statement claims the NRT stream but lists no service that needs nrt")
}

/// A point whose grid user consents to the ESP's NRT service; the consent id, once the ESP
/// holds the stream open (None: it never opened it).
pub(super) async fn streaming(
    kit: &mut Kit,
) -> Result<(super::super::CasePoint, String, Result<w::AccessEntry, Timestamp>)> {
    let service = nrt_service(kit)?;
    let p = kit.point().await?;
    let id = kit.api.grant_consent_to(&p.grid_user, ESP, &p.name, &service).await?;
    kit.held.insert(p.dsp.to_string());
    let t = kit.now() - SignedDuration::from_secs(1);
    let open = kit.served(&p.dsp, "nrt", t).await?.ok_or(t);
    Ok((p, id, open))
}

pub(super) async fn nrt01(kit: &mut Kit) -> Result<Judged> {
    let (p, id, open) = streaming(kit).await?;
    match open {
        Ok(e) => judged(
            Verdict::Passed,
            vec![format!("consent {id} on {}: stream opened {}", p.dsp, entry_line(&e))],
        ),
        Err(t) => idle("stream", kit, &p.dsp, t).await,
    }
}

pub(super) async fn nrt_ends(kit: &mut Kit, by_market: bool) -> Result<Judged> {
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

pub(super) async fn nrt03(kit: &mut Kit) -> Result<Judged> {
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
