//! Migrations: numbered steps, applied once each, recorded in `schema_migrations`.
//!
//! Versions 2 and 4 once created the lab's booking tables (rigs, agreements, slots, audit,
//! counters); those belong to the lab's own ledger store now (`rig/ledgerdb`, its own
//! `ledger_migrations`), which creates them if they are missing. The versions stay, empty,
//! so databases made before keep their history and their tables.

use crate::db::Migration;

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

// Version 5: AMR energies as whole Wh and varh (they were floats); rows written before are
// rounded once, here, half up on both backends (PostgreSQL's ROUND of a double rounds half to
// even, SQLite's half away from zero; the energies are never negative).
const SQLITE_V5: &[&str] = &[
    "CREATE TABLE amr_quarters_v5 (
        meter TEXT NOT NULL,
        start_ms BIGINT NOT NULL,
        active_import_wh BIGINT NOT NULL,
        active_export_wh BIGINT NOT NULL,
        reactive_import_varh BIGINT NOT NULL,
        reactive_export_varh BIGINT NOT NULL,
        production_wh BIGINT NOT NULL,
        auxiliary_wh BIGINT NOT NULL,
        PRIMARY KEY (meter, start_ms)
    )",
    "INSERT INTO amr_quarters_v5 SELECT meter, start_ms,
        CAST(ROUND(active_import_wh) AS INTEGER), CAST(ROUND(active_export_wh) AS INTEGER),
        CAST(ROUND(reactive_import_varh) AS INTEGER), CAST(ROUND(reactive_export_varh) AS INTEGER),
        CAST(ROUND(production_wh) AS INTEGER), CAST(ROUND(auxiliary_wh) AS INTEGER)
        FROM amr_quarters",
    "DROP TABLE amr_quarters",
    "ALTER TABLE amr_quarters_v5 RENAME TO amr_quarters",
];

const POSTGRES_V5: &[&str] = &["ALTER TABLE amr_quarters
    ALTER COLUMN active_import_wh TYPE BIGINT USING FLOOR(active_import_wh + 0.5)::BIGINT,
    ALTER COLUMN active_export_wh TYPE BIGINT USING FLOOR(active_export_wh + 0.5)::BIGINT,
    ALTER COLUMN reactive_import_varh TYPE BIGINT USING FLOOR(reactive_import_varh + 0.5)::BIGINT,
    ALTER COLUMN reactive_export_varh TYPE BIGINT USING FLOOR(reactive_export_varh + 0.5)::BIGINT,
    ALTER COLUMN production_wh TYPE BIGINT USING FLOOR(production_wh + 0.5)::BIGINT,
    ALTER COLUMN auxiliary_wh TYPE BIGINT USING FLOOR(auxiliary_wh + 0.5)::BIGINT"];

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "dongles, uploads with decoded registers, AMR quarter hours",
        sqlite: COMMON_V1,
        postgres: COMMON_V1,
    },
    Migration {
        version: 2,
        name: "rigs, usage agreements, slots without overlap, audit log (now the ledger store's)",
        sqlite: &[],
        postgres: &[],
    },
    Migration {
        version: 3,
        name: "register events, access register, tokens, webhook deliveries",
        sqlite: SQLITE_V3,
        postgres: POSTGRES_V3,
    },
    Migration {
        version: 4,
        name: "counters (slot ids; now the ledger store's)",
        sqlite: &[],
        postgres: &[],
    },
    Migration {
        version: 5,
        name: "AMR quarter hours in whole Wh and varh",
        sqlite: SQLITE_V5,
        postgres: POSTGRES_V5,
    },
];
