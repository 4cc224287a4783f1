//! The ledger's tables, recorded in `ledger_migrations`. Databases made before the ledger had
//! a store of its own already hold these tables (the platform store's migrations 2 and 4 made
//! them), so every statement here is `IF NOT EXISTS` and the counter is seeded only when
//! missing.

use store::db::Migration;

const SQLITE_V1: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS agreements (id TEXT PRIMARY KEY, body TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS slots (
        id TEXT PRIMARY KEY,
        rig TEXT NOT NULL,
        agreement TEXT NOT NULL,
        start_ms BIGINT NOT NULL,
        end_ms BIGINT NOT NULL,
        cancelled BIGINT NOT NULL DEFAULT 0,
        body TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS slots_by_rig ON slots (rig, start_ms)",
    "CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at_ms BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS rigs (id TEXT PRIMARY KEY, body TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
    SEED_SLOT_COUNTER,
];

// PostgreSQL forbids overlapping slots itself: an exclusion constraint on (rig, [start, end)),
// so concurrent bookings from several lab processes cannot double-book.
const POSTGRES_V1: &[&str] = &[
    // In `public`, once per database; two processes migrating at once may race to create it.
    "DO $$ BEGIN CREATE EXTENSION IF NOT EXISTS btree_gist SCHEMA public; \
     EXCEPTION WHEN unique_violation OR duplicate_object THEN NULL; END $$",
    "CREATE TABLE IF NOT EXISTS agreements (id TEXT PRIMARY KEY, body TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS slots (
        id TEXT PRIMARY KEY,
        rig TEXT NOT NULL,
        agreement TEXT NOT NULL,
        start_ms BIGINT NOT NULL,
        end_ms BIGINT NOT NULL,
        cancelled BIGINT NOT NULL DEFAULT 0,
        body TEXT NOT NULL,
        CONSTRAINT slots_no_overlap EXCLUDE USING gist (rig WITH =, int8range(start_ms, end_ms) WITH &&) WHERE (cancelled = 0)
    )",
    "CREATE INDEX IF NOT EXISTS slots_by_rig ON slots (rig, start_ms)",
    "CREATE TABLE IF NOT EXISTS audit (id BIGSERIAL PRIMARY KEY, at_ms BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS rigs (id TEXT PRIMARY KEY, body TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
    SEED_SLOT_COUNTER,
];

/// Slot ids come from the database: one counter row, read and advanced under the ledger's
/// write lock, seeded with the highest id booked so far.
/// (An aggregate returns its one row even when a `WHERE` filters every input out, so the
/// existing counter is kept by the conflict clause, not by a filter; `WHERE true` is
/// SQLite's required separator between a SELECT and an upsert clause.)
const SEED_SLOT_COUNTER: &str = "INSERT INTO counters (name, value) \
    SELECT 'slot', COALESCE(MAX(CAST(id AS BIGINT)), 0) FROM slots WHERE true \
    ON CONFLICT (name) DO NOTHING";

/// The certificates `meterlab certify esp` issued, kept beside the ledger in the lab's database.
const V2: &[&str] =
    &["CREATE TABLE IF NOT EXISTS certificates (id TEXT PRIMARY KEY, body TEXT NOT NULL)"];

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "rigs, usage agreements, slots without overlap, audit log, slot counter",
        sqlite: SQLITE_V1,
        postgres: POSTGRES_V1,
    },
    Migration { version: 2, name: "certificates", sqlite: V2, postgres: V2 },
];
