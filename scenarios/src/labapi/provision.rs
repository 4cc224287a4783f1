//! Demo registers for a fresh lab, so the console's Consents screen has something to show
//! and revoke: an access point per P1 meter with a grid user each (G1, G2, …), one ESP
//! ("Demo ESP", whose webhook endpoint is an in-process mock), and on the first few meters a
//! quarter-hour mandate and a consent to its live service. A lab restarted on the same
//! database keeps its registers: nothing is added when any access point exists. The grants go
//! through the platform's HTTP API with each party's own token, as those parties would make
//! them.

use super::live::MeterWatch;
use anyhow::{Context, Result};
use clock::{SignedDuration, Timestamp};
use scenarios::access::AccessClient;
use std::sync::Arc;

/// The ESP the demo registers.
pub(crate) const DEMO_ESP: &str = "Demo ESP";

/// Meters whose grid user grants the demo ESP a mandate and a consent.
const WITH_GRANTS: usize = 3;

/// What was provisioned, for the start-up lines.
pub(crate) struct Provisioned {
    pub(crate) points: usize,
    pub(crate) mandates: usize,
    pub(crate) consents: usize,
}

/// Provisions the demo registers when the platform has no access point yet; `None` when it
/// had some (a restarted lab).
pub(crate) async fn demo(
    access: &mut AccessClient,
    platform: &server::App,
    meters: &[Arc<MeterWatch>],
    now: Timestamp,
) -> Result<Option<Provisioned>> {
    if !platform.in_process().registers().await.points.is_empty() {
        return Ok(None);
    }
    let catalogue = meter::Catalogue::builtin();
    // The grid users have lived there for a year: a mandate may reach back.
    let since = now - SignedDuration::from_hours(24 * 365);
    for (i, m) in meters.iter().enumerate() {
        let equipment = catalogue.get(&m.variant)?.equipment_id.clone();
        let user = format!("G{}", i + 1);
        access
            .add_point(&m.id, i as u64 + 1, &m.dongle, &equipment, &user, since)
            .await
            .with_context(|| format!("registering the access point of {}", m.id))?;
    }
    access.add_esp(DEMO_ESP, 1, true).await.context("registering the demo ESP")?;
    let mut granted = 0;
    for (i, m) in meters.iter().enumerate().take(WITH_GRANTS) {
        let user = format!("G{}", i + 1);
        access
            .grant_mandate(&user, DEMO_ESP, &m.id, true, since, None)
            .await
            .with_context(|| format!("granting the demo mandate on {}", m.id))?;
        access
            .grant_consent(&user, DEMO_ESP, &m.id)
            .await
            .with_context(|| format!("granting the demo consent on {}", m.id))?;
        granted += 1;
    }
    Ok(Some(Provisioned { points: meters.len(), mandates: granted, consents: granted }))
}
