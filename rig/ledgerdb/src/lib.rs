//! The booking ledger's storage: rigs, usage agreements, slots and the audit log, behind one
//! trait, [`LedgerStore`], with one SQL implementation, [`SqlLedger`], on SQLite and
//! PostgreSQL. It is the lab's, not the platform's: the platform's `store` knows nothing of
//! rigs or slots. Both open databases the same way (`store::db`) and may share one database,
//! each with its own migrations table (`ledger_migrations` here).
//!
//! Invariant: [`LedgerStore::transaction`] is the only write path of slots and the audit log.
//! Under the ledger's write lock (SQLite `BEGIN IMMEDIATE`, a PostgreSQL advisory lock) it
//! reads the rows, lets the caller decide, and writes records, new and changed slots and then
//! the audit entries together; two live slots on one rig never overlap (PostgreSQL's exclusion
//! constraint has the last word). Slot ids come from the `counters` table, never reused.
#![deny(missing_docs)]

mod schema;
mod sql;

pub use sql::SqlLedger;

use calendar::Timestamp;
use std::future::Future;
use std::pin::Pin;

/// A boxed future, so [`LedgerStore`] can be used as `Arc<dyn LedgerStore>`.
pub type Fut<'a, T> = Pin<Box<dyn Future<Output = Result<T, LedgerError>> + Send + 'a>>;

/// A failure of the ledger's storage.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The database (or the URL) failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The slot overlaps another on the same rig (enforced by the database).
    #[error("the rig is already booked from {start} to {end} (slot {slot})")]
    Overlap {
        /// The slot in the way.
        slot: String,
        /// Its start.
        start: Timestamp,
        /// Its end.
        end: Timestamp,
    },
    /// The caller's decision refused or failed (its message).
    #[error("{0}")]
    Decision(String),
}

impl From<sqlx::Error> for LedgerError {
    fn from(e: sqlx::Error) -> LedgerError {
        LedgerError::Store(store::StoreError::Db(e))
    }
}

/// Kinds of JSON records the ledger keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// Rigs and their variants.
    Rigs,
    /// Usage agreements.
    Agreements,
    /// Certificates the ESP certification kit issued (one per campaign, by campaign id).
    Certificates,
}

impl Record {
    pub(crate) fn table(self) -> &'static str {
        match self {
            Record::Rigs => "rigs",
            Record::Agreements => "agreements",
            Record::Certificates => "certificates",
        }
    }
}

/// A booked slot as the store keeps it: the columns the database needs to forbid overlaps,
/// plus the booking crate's full record as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotRow {
    /// Slot id.
    pub id: String,
    /// The rig.
    pub rig: String,
    /// The usage agreement.
    pub agreement: String,
    /// Start (inclusive).
    pub start: Timestamp,
    /// End (exclusive).
    pub end: Timestamp,
    /// Cancelled slots free their time.
    pub cancelled: bool,
    /// The full record (JSON).
    pub body: String,
}

/// One audit entry (append-only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// When.
    pub at: Timestamp,
    /// Who (agreement id, `operator`, `system`).
    pub actor: String,
    /// What (`book`, `refuse`, `cancel`, `activate`, `end`, …).
    pub action: String,
    /// Details.
    pub detail: String,
}

/// The ledger's rows as read inside [`LedgerStore::transaction`].
#[derive(Debug, Clone, Default)]
pub struct LedgerRows {
    /// Rig records (id, JSON).
    pub rigs: Vec<(String, String)>,
    /// Agreement records (id, JSON).
    pub agreements: Vec<(String, String)>,
    /// Every slot, cancelled ones included.
    pub slots: Vec<SlotRow>,
    /// The id the next new slot takes (the database's sequence: never reused).
    pub next_slot: u64,
}

/// What one ledger transaction writes.
#[derive(Debug, Clone, Default)]
pub struct LedgerWrites {
    /// Records to put (kind, id, JSON), replacing.
    pub records: Vec<(Record, String, String)>,
    /// Slots to insert.
    pub new_slots: Vec<SlotRow>,
    /// Slots whose state changed (cancelled, body).
    pub changed_slots: Vec<SlotRow>,
    /// Audit entries to append, after the slots.
    pub audit: Vec<AuditRow>,
}

/// The decision of a ledger transaction, from the rows to the writes (runs under the lock).
pub type LedgerFn<'a> =
    Box<dyn FnOnce(LedgerRows) -> Result<LedgerWrites, LedgerError> + Send + 'a>;

/// The booking ledger's storage.
pub trait LedgerStore: Send + Sync {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Every record of a kind (id, JSON), by id.
    fn records(&self, kind: Record) -> Fut<'_, Vec<(String, String)>>;
    /// Stores a record, replacing it (rigs at first start; everything else goes through
    /// [`LedgerStore::transaction`]).
    fn put_record<'a>(&'a self, kind: Record, id: &'a str, body: &'a str) -> Fut<'a, ()>;
    /// Slots, optionally of one rig, by start.
    fn slots<'a>(&'a self, rig: Option<&'a str>) -> Fut<'a, Vec<SlotRow>>;
    /// The audit log, oldest first.
    fn audit(&self) -> Fut<'_, Vec<AuditRow>>;
    /// One change of the ledger, all or nothing: takes the ledger's write lock (one writer at
    /// a time across processes), reads its rows, lets `decide` compute the writes from them,
    /// and commits those in order: records, new slots, changed slots, then the audit entries.
    /// A slot that overlaps another on its rig fails the whole transaction with
    /// [`LedgerError::Overlap`].
    fn transaction<'a>(&'a self, decide: LedgerFn<'a>) -> Fut<'a, ()>;
}

/// Opens the ledger's storage by URL (as `store::open` takes it) and brings its tables up to
/// date.
pub async fn open(url: &str) -> Result<SqlLedger, LedgerError> {
    SqlLedger::open(url).await
}
