//! The platform's reads: the one owner of a store handle for queries. The API reads register
//! samples (of a dongle, or of the dongle linked to a data service point), stored uploads,
//! the dongles and their receive times through it, never through the ingest pipeline, whose
//! store handle is for writing.

use crate::access::Access;
use clock::{SignedDuration, Timestamp};
use domain::Ean;
use std::sync::Arc;
use store::{SampleRow, Store, StoreError, StoredUpload};

/// Queries over the store and the registers' dongle links.
pub(crate) struct Reader {
    store: Arc<dyn Store>,
    access: Arc<Access>,
}

/// How far around a range the samples reach: a boundary's register needs the samples on
/// both sides of it.
const MARGIN: SignedDuration = SignedDuration::from_hours(1);

impl Reader {
    pub(crate) fn new(store: Arc<dyn Store>, access: Arc<Access>) -> Reader {
        Reader { store, access }
    }

    /// Which store answers (`sqlite` or `postgres`).
    pub(crate) fn backend(&self) -> &'static str {
        self.store.backend()
    }

    /// The register samples of dongle `id` around `[from, to)`, for derivation.
    pub(crate) async fn samples(
        &self,
        id: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<derive::Sample>, StoreError> {
        let rows = self.store.samples(id, from - MARGIN, to + MARGIN).await?;
        Ok(rows.iter().map(sample).collect())
    }

    /// The stored rows of dongle `id` with capture times in `[from, to)` as they are
    /// (receive times included, for service levels).
    pub(crate) async fn rows(
        &self,
        id: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<SampleRow>, StoreError> {
        self.store.samples(id, from, to).await
    }

    /// The dongle linked to a data service point last, if any.
    pub(crate) async fn dongle_of(&self, dsp: &Ean) -> Option<String> {
        self.access
            .read(|r| {
                r.dongle_links()
                    .iter()
                    .filter(|l| &l.data_service_point == dsp)
                    .map(|l| l.dongle.clone())
                    .next_back()
            })
            .await
    }

    /// The samples of the dongle linked to a data service point (none when no dongle is).
    pub(crate) async fn point_samples(
        &self,
        dsp: &Ean,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<derive::Sample>, StoreError> {
        match self.dongle_of(dsp).await {
            Some(d) => self.samples(&d, from, to).await,
            None => Ok(Vec::new()),
        }
    }

    /// One stored upload.
    pub(crate) async fn upload(
        &self,
        dongle: &str,
        seq: u64,
    ) -> Result<Option<StoredUpload>, StoreError> {
        self.store.upload(dongle, seq).await
    }

    /// Every registered dongle's id.
    pub(crate) async fn dongles(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.store.dongles().await?.into_iter().map(|d| d.id).collect())
    }
}

/// A stored row as derivation reads it: the meter's own clock stamps the registers, and the
/// dongle's capture time is the fallback when the telegram had none.
fn sample(r: &SampleRow) -> derive::Sample {
    let s = derive::Sample::new(
        r.values.meter_time.unwrap_or(r.captured_at),
        r.values.import,
        r.values.export,
    );
    match r.values.gas {
        Some((volume, at)) => s.with_gas(at, volume),
        None => s,
    }
}
