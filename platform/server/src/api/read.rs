//! Reading meter data for the API: register samples of a dongle, or of the dongle linked to a
//! data service point, with the margin derivation needs at the boundaries.

use super::{Answer, Failure};
use crate::http::Ctx;
use clock::{SignedDuration, Timestamp};
use domain::Ean;

/// The samples of dongle `id` around `[from, to)`.
pub(crate) async fn samples(
    ctx: &Ctx,
    id: &str,
    from: Timestamp,
    to: Timestamp,
) -> Answer<Vec<derive::Sample>> {
    // Boundary registers need the samples around the range too.
    let margin = SignedDuration::from_hours(1);
    let rows = ctx
        .ingest
        .store
        .samples(id, from - margin, to + margin)
        .await
        .map_err(Failure::unavailable)?;
    Ok(rows
        .iter()
        .map(|r| {
            let s = derive::Sample::new(
                // The meter's own clock stamps the registers; the dongle's capture time is
                // the fallback when the telegram had none.
                r.values.meter_time.unwrap_or(r.captured_at),
                r.values.import_wh.max(0) as u64,
                r.values.export_wh.max(0) as u64,
            );
            match r.values.gas {
                Some((dm3, at)) => s.with_gas(at, dm3.max(0) as u64),
                None => s,
            }
        })
        .collect())
}

/// The dongle linked to a data service point last.
pub(crate) async fn dongle_of(ctx: &Ctx, dsp: &Ean) -> Option<String> {
    ctx.access
        .read(|r| {
            r.dongle_links()
                .iter()
                .filter(|l| &l.data_service_point == dsp)
                .map(|l| l.dongle.clone())
                .next_back()
        })
        .await
}

/// Samples of the dongle linked to a data service point (none if no dongle is).
pub(crate) async fn point_samples(
    ctx: &Ctx,
    dsp: &Ean,
    from: Timestamp,
    to: Timestamp,
) -> Answer<Vec<derive::Sample>> {
    match dongle_of(ctx, dsp).await {
        Some(d) => samples(ctx, &d, from, to).await,
        None => Ok(Vec::new()),
    }
}
