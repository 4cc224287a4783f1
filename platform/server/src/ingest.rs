//! The ingest pipeline: verify, decode, group-commit, supervise. REST and MQTT both end here.

use clock::{Clock, Timestamp};
use domain::{Energy, Power, Volume};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use store::{DongleRow, NewUpload, Outcome, Store, Values};
use supervision::{Observed, Rejection, Supervisor};
use tokio::sync::{mpsc, oneshot};
use wire::ingest::v1::{Batch, Receipt, RejectCode, Rejected, Upload};

/// The pipeline could not take the uploads (nothing was acknowledged).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The store failed or the writer is gone: the service is (partly) unavailable.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The platform broke one of its own rules (a lock poisoned by a panic): nothing was
    /// acknowledged; a 500, not a retryable 503.
    #[error("internal failure: {0}")]
    Broken(&'static str),
}

struct Job {
    uploads: Vec<NewUpload>,
    /// Per upload: its outcome, or `None` when the store could not take it.
    reply: oneshot::Sender<Vec<Option<Outcome>>>,
}

/// Counters since start, for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) received: AtomicU64,
    pub(crate) stored: AtomicU64,
    pub(crate) duplicates: AtomicU64,
    pub(crate) rejected: AtomicU64,
    /// Uploads the store failed to take (never acknowledged): with the three above, every
    /// upload received is counted once.
    pub(crate) failed: AtomicU64,
    /// Requests refused before any upload was read (bad JSON, too large).
    pub(crate) malformed_requests: AtomicU64,
    pub(crate) mqtt_messages: AtomicU64,
    /// Receipts published on dongles' receipt topics, and those that could not be.
    pub(crate) mqtt_receipts: AtomicU64,
    pub(crate) mqtt_receipt_errors: AtomicU64,
    pub(crate) mqtt_subscribed: std::sync::atomic::AtomicBool,
    pub(crate) commits: AtomicU64,
}

/// The ingest pipeline, shared by the HTTP handlers and the MQTT subscriber.
pub struct Ingest {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    keys: RwLock<BTreeMap<String, Vec<u8>>>,
    pub(crate) supervisor: Mutex<Supervisor>,
    writer: mpsc::Sender<Job>,
    pub(crate) counters: Counters,
    /// Every stored upload's registers, for near-real-time streams (R-NRT-1); nothing is
    /// built when nobody listens.
    pub(crate) live: tokio::sync::broadcast::Sender<Live>,
}

/// A stored upload's registers, as the NRT stream sends them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Live {
    /// The dongle.
    pub dongle: String,
    /// Capture time.
    pub captured_at: Timestamp,
    /// Offtake register.
    pub import: Energy,
    /// Injection register.
    pub export: Energy,
    /// Instantaneous offtake.
    pub power_import: Power,
    /// Instantaneous injection.
    pub power_export: Power,
}

/// Uploads per transaction at most: large enough to amortise the commit, small enough to keep
/// latency low.
const MAX_GROUP: usize = 4000;

impl Ingest {
    /// Loads the dongle registry and starts the group-commit writer.
    pub async fn start(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        config: supervision::Config,
    ) -> Result<Arc<Ingest>, store::StoreError> {
        let now = clock.now();
        let mut supervisor = Supervisor::new(config);
        let mut keys = BTreeMap::new();
        for d in store.dongles().await? {
            supervisor.register_dongle(&d.id, clock::SignedDuration::from_secs(1), now);
            keys.insert(d.id, d.key);
        }
        let (tx, rx) = mpsc::channel::<Job>(1024);
        let ingest = Arc::new(Ingest {
            store: store.clone(),
            clock,
            keys: RwLock::new(keys),
            supervisor: Mutex::new(supervisor),
            writer: tx,
            counters: Counters::default(),
            live: tokio::sync::broadcast::channel(4096).0,
        });
        tokio::spawn(writer(store, rx, ingest.clone()));
        Ok(ingest)
    }

    /// Registers (or re-keys) a dongle and links it to a meter (R-NRT-10).
    pub async fn register_dongle(
        &self,
        id: &str,
        key: &[u8],
        meter: Option<&str>,
    ) -> Result<(), IngestError> {
        self.register_dongle_every(id, key, meter, clock::SignedDuration::from_secs(1)).await
    }

    /// Registers a dongle that uploads every `interval` (supervision judges it by that).
    pub async fn register_dongle_every(
        &self,
        id: &str,
        key: &[u8],
        meter: Option<&str>,
        interval: clock::SignedDuration,
    ) -> Result<(), IngestError> {
        self.store
            .put_dongle(&DongleRow {
                id: id.into(),
                key: key.to_vec(),
                meter: meter.map(Into::into),
            })
            .await
            .map_err(|e| IngestError::Unavailable(e.to_string()))?;
        // A poisoned lock is an error, not a skipped step: the key is stored, and a dongle
        // the registry silently lacked would be "unknown" until a restart.
        self.keys
            .write()
            .map_err(|_| IngestError::Broken("the key registry's lock is poisoned"))?
            .insert(id.into(), key.to_vec());
        self.supervisor
            .lock()
            .map_err(|_| IngestError::Broken("the supervisor's lock is poisoned"))?
            .register_dongle(id, interval, self.clock.now());
        Ok(())
    }

    /// Verifies, decodes and stores a batch; returns what became of each upload once the
    /// stored ones are durable.
    pub async fn submit(&self, batch: Batch) -> Result<Receipt, IngestError> {
        let now = self.clock.now();
        self.counters.received.fetch_add(batch.uploads.len() as u64, Ordering::Relaxed);
        let mut receipt = Receipt::default();
        let mut accepted = Vec::with_capacity(batch.uploads.len());
        {
            let keys = self
                .keys
                .read()
                .map_err(|_| IngestError::Broken("the key registry's lock is poisoned"))?;
            for u in batch.uploads {
                if let Some(why) = unstorable(&u) {
                    receipt.rejected.push(self.malformed(now, &u, why));
                    continue;
                }
                match keys.get(&u.dongle) {
                    None => receipt.rejected.push(self.reject(now, &u, Rejection::UnknownDongle)),
                    Some(key) if !u.verify(key) => {
                        receipt.rejected.push(self.reject(now, &u, Rejection::BadSignature))
                    }
                    Some(_) => accepted.push(to_new(u, now)),
                }
            }
        }
        if accepted.is_empty() {
            return Ok(receipt);
        }
        // What supervision needs is kept aside; the uploads themselves move to the writer.
        let observed: Vec<Observed> = accepted.iter().map(observed).collect();
        let (reply, wait) = oneshot::channel();
        self.writer
            .send(Job { uploads: accepted, reply })
            .await
            .map_err(|_| IngestError::Unavailable("the writer stopped".into()))?;
        let outcomes =
            wait.await.map_err(|_| IngestError::Unavailable("the writer stopped".into()))?;
        let failed = outcomes.iter().filter(|o| o.is_none()).count() as u64;
        if failed > 0 {
            self.counters.failed.fetch_add(failed, Ordering::Relaxed);
        }
        let mut sup = self
            .supervisor
            .lock()
            .map_err(|_| IngestError::Broken("the supervisor's lock is poisoned"))?;
        // Supervision sees one request's stored uploads in sequence order: a batch sent
        // newest first (R-NRT-2) is not a gap followed by its own backfill.
        let mut stored: Vec<&Observed> = observed
            .iter()
            .zip(&outcomes)
            .filter(|(_, o)| **o == Some(Outcome::Stored))
            .map(|(u, _)| u)
            .collect();
        stored
            .sort_by(|a, b| (a.dongle.as_str(), a.sequence).cmp(&(b.dongle.as_str(), b.sequence)));
        for u in stored {
            sup.on_upload(now, u);
        }
        for (u, o) in observed.iter().zip(outcomes) {
            match o {
                None => {}
                Some(Outcome::Stored) => {
                    receipt.stored.push(u.sequence);
                    if u.crc_ok
                        && let Some(r) = &u.registers
                        && self.live.receiver_count() > 0
                    {
                        // A lagging listener loses old samples, never blocks ingest.
                        let _ = self.live.send(Live {
                            dongle: u.dongle.clone(),
                            captured_at: u.captured_at,
                            import: r.import,
                            export: r.export,
                            power_import: r.power_import,
                            power_export: r.power_export,
                        });
                    }
                }
                Some(Outcome::Duplicate) => receipt.duplicates.push(u.sequence),
                Some(Outcome::Conflict) => {
                    tracing::warn!(dongle = %u.dongle, seq = u.sequence, code = "replay", "upload rejected: sequence number stored with other content");
                    sup.on_rejected(now, Some(&u.dongle), Rejection::Replay);
                    receipt.rejected.push(Rejected {
                        seq: u.sequence,
                        code: RejectCode::Replay,
                        message: format!(
                            "sequence number {} of {} is already stored with other content: a replayed or reused sequence number",
                            u.sequence, u.dongle
                        ),
                    });
                }
            }
        }
        self.counters.stored.fetch_add(receipt.stored.len() as u64, Ordering::Relaxed);
        self.counters.duplicates.fetch_add(receipt.duplicates.len() as u64, Ordering::Relaxed);
        self.counters.rejected.fetch_add(
            receipt.rejected.iter().filter(|r| r.code == RejectCode::Replay).count() as u64,
            Ordering::Relaxed,
        );
        if failed > 0 {
            // Nothing of this request is acknowledged: what was stored comes back as a
            // duplicate when the client sends the batch again.
            return Err(IngestError::Unavailable(format!(
                "{failed} upload(s) of the batch could not be stored"
            )));
        }
        Ok(receipt)
    }

    fn reject(&self, now: Timestamp, u: &Upload, why: Rejection) -> Rejected {
        self.counters.rejected.fetch_add(1, Ordering::Relaxed);
        let known = matches!(why, Rejection::BadSignature);
        if let Ok(mut s) = self.supervisor.lock() {
            s.on_rejected(now, known.then_some(u.dongle.as_str()), why);
        }
        let (code, message) = match why {
            Rejection::UnknownDongle => (
                RejectCode::UnknownDongle,
                format!("dongle {} is not registered: register it with its key first", u.dongle),
            ),
            _ => (
                RejectCode::BadSignature,
                format!(
                    "the HMAC of upload {} does not match dongle {}'s key: forged, damaged, or signed with another key",
                    u.seq, u.dongle
                ),
            ),
        };
        tracing::warn!(dongle = %u.dongle, seq = u.seq, code = code.as_str(), "upload rejected");
        Rejected { seq: u.seq, code, message }
    }

    /// An upload no store could keep (a NUL character in its text): refused alone, 400
    /// `malformed`, so it neither fails the uploads it came with nor is retried forever.
    fn malformed(&self, now: Timestamp, u: &Upload, why: &str) -> Rejected {
        self.counters.rejected.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut s) = self.supervisor.lock() {
            s.on_rejected(now, None, Rejection::Malformed);
        }
        tracing::warn!(dongle = ?u.dongle, seq = u.seq, code = "malformed", "upload rejected: {why}");
        Rejected {
            seq: u.seq,
            code: RejectCode::Malformed,
            message: format!("upload {}: {why}", u.seq),
        }
    }

    /// An upload that came on another dongle's MQTT topic: refused, 400 `malformed` (a
    /// dongle publishes on its own topic only; this is a misconfigured or hostile client).
    pub(crate) fn foreign(&self, u: &Upload, topic_dongle: &str) -> Rejected {
        let why = format!("it names dongle {:?} but came on the topic of {topic_dongle}", u.dongle);
        // Received like any upload, so that received = stored + duplicates + rejected + failed.
        self.counters.received.fetch_add(1, Ordering::Relaxed);
        self.malformed(self.clock.now(), u, &why)
    }

    /// Counts a request that never became uploads (bad JSON, too large) in supervision.
    pub(crate) fn count_malformed(&self, why: Rejection) {
        self.counters.malformed_requests.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut s) = self.supervisor.lock() {
            s.on_rejected(self.clock.now(), None, why);
        }
    }

    /// Every stored sequence number of a dongle: for checks.
    pub async fn stored_sequences(&self, dongle: &str) -> Result<Vec<u64>, store::StoreError> {
        self.store.sequences(dongle).await
    }

    /// The store's backend name.
    pub fn store_backend(&self) -> &'static str {
        self.store.backend()
    }

    /// Whether the MQTT subscription is in place (the broker acknowledged it).
    pub fn mqtt_subscribed(&self) -> bool {
        self.counters.mqtt_subscribed.load(Ordering::Relaxed)
    }

    /// Supervision's view of one dongle.
    pub fn supervision_status(
        &self,
        dongle: &str,
        now: Timestamp,
    ) -> Option<supervision::DongleStatus> {
        self.supervisor.lock().ok()?.dongle_status(dongle, now)
    }

    /// Time passes for supervision (dongles go stale and offline).
    pub fn tick(&self) {
        if let Ok(mut s) = self.supervisor.lock() {
            s.tick(self.clock.now());
        }
    }
}

/// Why an upload cannot be stored as text (PostgreSQL refuses NUL in `text`), if it cannot.
fn unstorable(u: &Upload) -> Option<&'static str> {
    if u.dongle.contains('\0') {
        Some("the dongle id holds a NUL character")
    } else if u.telegram.contains('\0') {
        Some("the telegram holds a NUL character: send the bytes the meter sent, as text")
    } else if u.sig.contains('\0') {
        Some("the signature holds a NUL character")
    } else {
        None
    }
}

/// The platform's own check of the telegram decides what is stored as decoded: the dongle's
/// `crc_ok` is only its opinion.
fn to_new(u: Upload, now: Timestamp) -> NewUpload {
    let (crc_ok, values) = match p1::Telegram::decode(u.telegram.as_bytes()) {
        Ok(t) => (true, Some(values_of(&p1::Reading::from_telegram(&t)))),
        Err(_) => (false, None),
    };
    NewUpload {
        dongle: u.dongle,
        seq: u.seq,
        captured_at: u.captured_at,
        received_at: now,
        raw: u.telegram,
        crc_ok,
        sig: u.sig,
        values,
    }
}

fn ts(unix: Option<i64>) -> Option<Timestamp> {
    unix.and_then(|s| Timestamp::from_second(s).ok())
}

fn values_of(r: &p1::Reading) -> Values {
    let gas = r
        .mbus
        .iter()
        .find(|m| m.medium == p1::Medium::Gas)
        .and_then(|m| Some((Volume::dm3(m.litres), ts(m.captured.to_unix())?)));
    // The telegram's integers as they were written: Wh, W and dm³, summed over tariffs.
    Values {
        import: Energy::wh(r.import_wh[0].saturating_add(r.import_wh[1])),
        export: Energy::wh(r.export_wh[0].saturating_add(r.export_wh[1])),
        power_import: Power::w(u64::from(r.power_import_w)),
        power_export: Power::w(u64::from(r.power_export_w)),
        gas,
        meter_time: ts(r.time.to_unix()),
    }
}

fn observed(u: &NewUpload) -> Observed {
    Observed {
        dongle: u.dongle.clone(),
        sequence: u.seq,
        captured_at: u.captured_at,
        received_at: u.received_at,
        crc_ok: u.crc_ok,
        registers: u.values.map(|v| supervision::Registers {
            import: v.import,
            export: v.export,
            power_import: v.power_import,
            power_export: v.power_export,
        }),
    }
}

/// Group commit: everything queued goes into one transaction; each job learns its outcomes.
async fn writer(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Job>, ingest: Arc<Ingest>) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        let mut n = jobs[0].uploads.len();
        while n < MAX_GROUP {
            match rx.try_recv() {
                Ok(j) => {
                    n += j.uploads.len();
                    jobs.push(j);
                }
                Err(_) => break,
            }
        }
        let sizes: Vec<usize> = jobs.iter().map(|j| j.uploads.len()).collect();
        let mut all: Vec<NewUpload> = Vec::with_capacity(n);
        for j in &mut jobs {
            all.append(&mut j.uploads);
        }
        let res = store.insert_uploads(&all).await;
        ingest.counters.commits.fetch_add(1, Ordering::Relaxed);
        let outcomes: Vec<Option<Outcome>> = match res {
            Ok(outcomes) => outcomes.into_iter().map(Some).collect(),
            Err(e) => {
                // One upload the database refuses must not fail the others: each is tried
                // alone, and only what fails alone is reported failed.
                tracing::error!(
                    uploads = all.len(),
                    "group commit failed, storing one by one: {e}"
                );
                let mut each = Vec::with_capacity(all.len());
                for u in &all {
                    ingest.counters.commits.fetch_add(1, Ordering::Relaxed);
                    match store.insert_uploads(std::slice::from_ref(u)).await {
                        Ok(o) => each.push(o.first().copied()),
                        Err(e) => {
                            tracing::error!(dongle = %u.dongle, seq = u.seq, "storing an upload failed: {e}");
                            each.push(None);
                        }
                    }
                }
                each
            }
        };
        let mut rest = outcomes.as_slice();
        for (j, size) in jobs.into_iter().zip(sizes) {
            let (mine, tail) = rest.split_at(size.min(rest.len()));
            rest = tail;
            // A job whose request went away (client timeout) has nobody to tell.
            let _ = j.reply.send(mine.to_vec());
        }
    }
}

/// Ticks supervision once a second on the platform's clock.
pub(crate) fn spawn_ticker(ingest: Arc<Ingest>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let next = ingest.clock.now() + clock::SignedDuration::from_secs(1);
            ingest.clock.sleep_until(next).await;
            ingest.tick();
        }
    })
}
