//! Migrations: numbered steps, applied once each, recorded in `schema_migrations`.

/// A migration: version, what it does, SQLite DDL, PostgreSQL DDL.
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) name: &'static str,
    pub(crate) sqlite: &'static [&'static str],
    pub(crate) postgres: &'static [&'static str],
}

const COMMON_V1: &[&str] = &[
    "CREATE TABLE dongles (id TEXT PRIMARY KEY, key_hex TEXT NOT NULL, meter TEXT)",
    "CREATE TABLE uploads (
        dongle TEXT NOT NULL,
        seq BIGINT NOT NULL,
        captured_at BIGINT NOT NULL,
        received_at BIGINT NOT NULL,
        crc_ok BIGINT NOT NULL,
        sig TEXT NOT NULL,
        raw TEXT NOT NULL,
        decoded BIGINT NOT NULL,
        import_wh BIGINT,
        export_wh BIGINT,
        power_import_w BIGINT,
        power_export_w BIGINT,
        gas_dm3 BIGINT,
        gas_at BIGINT,
        meter_time BIGINT,
        PRIMARY KEY (dongle, seq)
    )",
    "CREATE INDEX uploads_by_time ON uploads (dongle, captured_at)",
    "CREATE TABLE amr_quarters (
        meter TEXT NOT NULL,
        start_ms BIGINT NOT NULL,
        active_import_wh DOUBLE PRECISION NOT NULL,
        active_export_wh DOUBLE PRECISION NOT NULL,
        reactive_import_varh DOUBLE PRECISION NOT NULL,
        reactive_export_varh DOUBLE PRECISION NOT NULL,
        production_wh DOUBLE PRECISION NOT NULL,
        auxiliary_wh DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (meter, start_ms)
    )",
];

const SQLITE_V2: &[&str] = &[
    "CREATE TABLE agreements (id TEXT PRIMARY KEY, body TEXT NOT NULL)",
    "CREATE TABLE slots (
        id TEXT PRIMARY KEY,
        rig TEXT NOT NULL,
        agreement TEXT NOT NULL,
        start_ms BIGINT NOT NULL,
        end_ms BIGINT NOT NULL,
        cancelled BIGINT NOT NULL DEFAULT 0,
        body TEXT NOT NULL
    )",
    "CREATE INDEX slots_by_rig ON slots (rig, start_ms)",
    "CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at_ms BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL)",
    "CREATE TABLE rigs (id TEXT PRIMARY KEY, body TEXT NOT NULL)",
];

// PostgreSQL forbids overlapping slots itself: an exclusion constraint on (rig, [start, end)),
// so concurrent bookings from several lab processes cannot double-book.
const POSTGRES_V2: &[&str] = &[
    // In `public`, once per database; two processes migrating at once may race to create it.
    "DO $$ BEGIN CREATE EXTENSION IF NOT EXISTS btree_gist SCHEMA public; \
     EXCEPTION WHEN unique_violation OR duplicate_object THEN NULL; END $$",
    "CREATE TABLE agreements (id TEXT PRIMARY KEY, body TEXT NOT NULL)",
    "CREATE TABLE slots (
        id TEXT PRIMARY KEY,
        rig TEXT NOT NULL,
        agreement TEXT NOT NULL,
        start_ms BIGINT NOT NULL,
        end_ms BIGINT NOT NULL,
        cancelled BIGINT NOT NULL DEFAULT 0,
        body TEXT NOT NULL,
        CONSTRAINT slots_no_overlap EXCLUDE USING gist (rig WITH =, int8range(start_ms, end_ms) WITH &&) WHERE (cancelled = 0)
    )",
    "CREATE INDEX slots_by_rig ON slots (rig, start_ms)",
    "CREATE TABLE audit (id BIGSERIAL PRIMARY KEY, at_ms BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL)",
    "CREATE TABLE rigs (id TEXT PRIMARY KEY, body TEXT NOT NULL)",
];

// Data access (R-ACC-1, R-MAN-*, R-NRT-4..8): the registers are event-sourced (commands with
// the instant they were accepted, replayed at start), the access register is append-only.
const SQLITE_V3: &[&str] = &[
    "CREATE TABLE register_events (seq BIGINT PRIMARY KEY, at_ms BIGINT NOT NULL, body TEXT NOT NULL)",
    "CREATE TABLE access_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at_ms BIGINT NOT NULL,
        party TEXT NOT NULL,
        point TEXT NOT NULL,
        what TEXT NOT NULL,
        from_ms BIGINT NOT NULL,
        to_ms BIGINT NOT NULL,
        allowed BIGINT NOT NULL,
        basis TEXT NOT NULL,
        detail TEXT NOT NULL
    )",
    "CREATE INDEX access_by_point ON access_log (point, at_ms)",
    "CREATE TABLE tokens (id TEXT PRIMARY KEY, body TEXT NOT NULL)",
    "CREATE TABLE deliveries (id TEXT PRIMARY KEY, body TEXT NOT NULL)",
    "CREATE TABLE esp_secrets (id TEXT PRIMARY KEY, body TEXT NOT NULL)",
];

const POSTGRES_V3: &[&str] = &[
    "CREATE TABLE register_events (seq BIGINT PRIMARY KEY, at_ms BIGINT NOT NULL, body TEXT NOT NULL)",
    "CREATE TABLE access_log (
        id BIGSERIAL PRIMARY KEY,
        at_ms BIGINT NOT NULL,
        party TEXT NOT NULL,
        point TEXT NOT NULL,
        what TEXT NOT NULL,
        from_ms BIGINT NOT NULL,
        to_ms BIGINT NOT NULL,
        allowed BIGINT NOT NULL,
        basis TEXT NOT NULL,
        detail TEXT NOT NULL
    )",
    "CREATE INDEX access_by_point ON access_log (point, at_ms)",
    "CREATE TABLE tokens (id TEXT PRIMARY KEY, body TEXT NOT NULL)",
    "CREATE TABLE deliveries (id TEXT PRIMARY KEY, body TEXT NOT NULL)",
    "CREATE TABLE esp_secrets (id TEXT PRIMARY KEY, body TEXT NOT NULL)",
];

// Slot ids come from the database: one counter row, read and advanced under the ledger's
// write lock, seeded with the highest id booked so far.
const COMMON_V4: &[&str] = &[
    "CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
    "INSERT INTO counters (name, value) SELECT 'slot', COALESCE(MAX(CAST(id AS BIGINT)), 0) FROM slots",
];

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "dongles, uploads with decoded registers, AMR quarter hours",
        sqlite: COMMON_V1,
        postgres: COMMON_V1,
    },
    Migration {
        version: 2,
        name: "rigs, usage agreements, slots without overlap, audit log",
        sqlite: SQLITE_V2,
        postgres: POSTGRES_V2,
    },
    Migration {
        version: 3,
        name: "register events, access register, tokens, webhook deliveries",
        sqlite: SQLITE_V3,
        postgres: POSTGRES_V3,
    },
    Migration {
        version: 4,
        name: "counters (slot ids from the database)",
        sqlite: COMMON_V4,
        postgres: COMMON_V4,
    },
];
