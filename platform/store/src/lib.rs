//! The platform's storage behind one trait, [`Store`], with one SQL implementation,
//! [`SqlStore`], that runs on SQLite (WAL; the embedded default) and PostgreSQL (for scale).
//!
//! Both backends share every statement through sqlx's `Any` driver (`$1` placeholders work on
//! both); only the DDL differs where the dialects do. Timestamps are stored as Unix
//! milliseconds (`BIGINT`), booleans as small integers, so the schema means the same on both.
//! `tests/conformance.rs` runs the same suite against SQLite and, when `MLAB_PG_URL` is set,
//! PostgreSQL.
//!
//! Invariants: an upload is acknowledged only after its transaction commits; `(dongle, seq)`
//! is unique, so a retried upload is stored once.

pub mod db;
mod schema;
mod sql;
mod tx;

pub use db::{from_ms, ms};
pub use sql::SqlStore;

use calendar::Timestamp;
pub use domain::AmrQuarter;
use domain::{Energy, Power, Volume};
use std::future::Future;
use std::pin::Pin;

/// A boxed future, so [`Store`] can be used as `Arc<dyn Store>`.
pub type Fut<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no backend we have.
    #[error(
        "unsupported database URL `{0}`: use sqlite:PATH, sqlite::memory: or postgres://USER:PASS@HOST/DB"
    )]
    Url(String),
    /// The database refused or failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// Stored data does not make sense (a timestamp out of range).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// No such row.
    #[error("no {0}")]
    NotFound(String),
    /// The row exists already (another writer appended that step first).
    #[error("{0} exists already")]
    Exists(String),
}

/// A dongle the platform knows, with its key and the meter it reads (R-NRT-10: the platform
/// keeps the dongle ↔ meter link; there is no shared id in the field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DongleRow {
    /// The dongle id.
    pub id: String,
    /// Its HMAC key.
    pub key: Vec<u8>,
    /// The meter (equipment id) it is attached to, when known.
    pub meter: Option<String>,
}

/// Decoded register values of one telegram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Values {
    /// Import registers summed over tariffs.
    pub import: Energy,
    /// Export registers summed over tariffs.
    pub export: Energy,
    /// Net import power.
    pub power_import: Power,
    /// Net export power.
    pub power_export: Power,
    /// Gas register and its capture time.
    pub gas: Option<(Volume, Timestamp)>,
    /// The meter's own timestamp of the telegram.
    pub meter_time: Option<Timestamp>,
}

/// An upload to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUpload {
    /// The dongle.
    pub dongle: String,
    /// Its sequence number.
    pub seq: u64,
    /// When the dongle read it.
    pub captured_at: Timestamp,
    /// When the platform received it.
    pub received_at: Timestamp,
    /// The raw telegram.
    pub raw: String,
    /// CRC status.
    pub crc_ok: bool,
    /// The dongle's signature (hex): a second upload with the same `(dongle, seq)` and the
    /// same signature is a retry; with another signature it is a replay attempt.
    pub sig: String,
    /// Decoded values; `None` when the telegram did not decode.
    pub values: Option<Values>,
}

/// What became of one upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Stored now.
    Stored,
    /// Already stored with the same content.
    Duplicate,
    /// `(dongle, seq)` is taken by different content.
    Conflict,
}

/// One stored upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUpload {
    /// The upload as stored.
    pub upload: NewUpload,
}

/// A register sample, for derived data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleRow {
    /// The sequence number.
    pub seq: u64,
    /// Capture time.
    pub captured_at: Timestamp,
    /// Receive time.
    pub received_at: Timestamp,
    /// The values.
    pub values: Values,
}

/// Counts per dongle, for supervision and SLA figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DongleCounts {
    /// The dongle.
    pub dongle: String,
    /// Uploads stored.
    pub uploads: u64,
    /// Of which with a CRC error.
    pub crc_errors: u64,
    /// Lowest and highest sequence numbers stored.
    pub seq_range: Option<(u64, u64)>,
}

/// The platform's storage.
pub trait Store: Send + Sync {
    /// Which backend (`sqlite` or `postgres`), for logs and metrics.
    fn backend(&self) -> &'static str;
    /// Adds or replaces a dongle.
    fn put_dongle<'a>(&'a self, d: &'a DongleRow) -> Fut<'a, ()>;
    /// Every dongle, by id.
    fn dongles(&self) -> Fut<'_, Vec<DongleRow>>;
    /// Stores uploads in one transaction; the outcome of each, in order. When this returns
    /// `Ok`, every `Stored` upload is durable.
    fn insert_uploads<'a>(&'a self, batch: &'a [NewUpload]) -> Fut<'a, Vec<Outcome>>;
    /// One stored upload.
    fn upload<'a>(&'a self, dongle: &'a str, seq: u64) -> Fut<'a, Option<StoredUpload>>;
    /// Decoded samples of a dongle with capture time in `[from, to)`, by capture time.
    fn samples<'a>(
        &'a self,
        dongle: &'a str,
        from: Timestamp,
        to: Timestamp,
    ) -> Fut<'a, Vec<SampleRow>>;
    /// Upload counts per dongle.
    fn counts(&self) -> Fut<'_, Vec<DongleCounts>>;
    /// Every stored sequence number of a dongle, ascending (gap and duplicate checks).
    fn sequences<'a>(&'a self, dongle: &'a str) -> Fut<'a, Vec<u64>>;
    /// Stores AMR quarter hours (idempotent per meter and quarter); how many were new.
    fn insert_amr<'a>(&'a self, meter: &'a str, rows: &'a [AmrQuarter]) -> Fut<'a, u64>;
    /// AMR quarter hours of a meter in `[from, to)`.
    fn amr<'a>(
        &'a self,
        meter: &'a str,
        from: Timestamp,
        to: Timestamp,
    ) -> Fut<'a, Vec<AmrQuarter>>;
    /// Stores a record by kind (`rigs`, `agreements`) and id, replacing it.
    fn put_record<'a>(&'a self, kind: Record, id: &'a str, body: &'a str) -> Fut<'a, ()>;
    /// Every record of a kind, by id.
    fn records(&self, kind: Record) -> Fut<'_, Vec<(String, String)>>;
    /// Appends an accepted register command; [`StoreError::Exists`] when `seq` exists,
    /// so two writers cannot both append the same step.
    fn append_event<'a>(&'a self, seq: u64, at: Timestamp, body: &'a str) -> Fut<'a, ()>;
    /// Every register command, by sequence number.
    fn events(&self) -> Fut<'_, Vec<EventRow>>;
    /// Applies writes in one transaction: all of them, or none (a killed process leaves
    /// nothing half done, e.g. an ESP without its token).
    fn commit<'a>(&'a self, writes: &'a [Write]) -> Fut<'a, ()>;
    /// Appends to the access register.
    fn append_access<'a>(&'a self, rows: &'a [AccessRow]) -> Fut<'a, ()>;
    /// The access register, oldest first, optionally of one data service point and/or party.
    fn access_log<'a>(
        &'a self,
        point: Option<&'a str>,
        party: Option<&'a str>,
    ) -> Fut<'a, Vec<AccessRow>>;
}

/// One write of [`Store::commit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Appends a register command; [`StoreError::Exists`] when `seq` is taken.
    Event {
        /// Its place in the log.
        seq: u64,
        /// When it was accepted.
        at: Timestamp,
        /// The command, as JSON.
        body: String,
    },
    /// Stores or replaces a record.
    PutRecord {
        /// The kind.
        kind: Record,
        /// Its id.
        id: String,
        /// Its body.
        body: String,
    },
    /// Deletes a record (absent is fine).
    DeleteRecord {
        /// The kind.
        kind: Record,
        /// Its id.
        id: String,
    },
}

/// One accepted register command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    /// Its place in the log, from 1.
    pub seq: u64,
    /// When it was accepted (platform clock).
    pub at: Timestamp,
    /// The command, as JSON.
    pub body: String,
}

/// One exchange of data, allowed or refused (R-ACC-1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRow {
    /// When it happened.
    pub at: Timestamp,
    /// Who asked (`esp:0123456749`, `grid-user:…`, `admin:…`).
    pub party: String,
    /// The data service point.
    pub point: String,
    /// What was asked (`quarter-hour`, `day`, `nrt`, …) and through which endpoint.
    pub what: String,
    /// The period asked for, half-open.
    pub from: Timestamp,
    /// End of the period asked for.
    pub to: Timestamp,
    /// Whether any data was served.
    pub allowed: bool,
    /// The mandate, consent or role it rested on, or the refusal code.
    pub basis: String,
    /// The windows served, or why it was refused.
    pub detail: String,
}

/// Kinds of JSON records the platform keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// API tokens, by the SHA-256 of the token.
    Tokens,
    /// Webhook deliveries and their attempts.
    Deliveries,
    /// Webhook signing secrets, by ESP.
    EspSecrets,
}

impl Record {
    pub(crate) fn table(self) -> &'static str {
        match self {
            Record::Tokens => "tokens",
            Record::Deliveries => "deliveries",
            Record::EspSecrets => "esp_secrets",
        }
    }
}

/// Opens a store by URL and brings its schema up to date.
pub async fn open(url: &str) -> Result<SqlStore, StoreError> {
    SqlStore::open(url).await
}
