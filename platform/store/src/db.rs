//! Opening a database by URL and migrating it, shared by the platform's [`SqlStore`] and the
//! lab's booking-ledger store (each with its own migrations table), so both run on the same
//! SQLite settings and the same one-migrator-at-a-time rule.
//!
//! [`SqlStore`]: crate::SqlStore

use crate::StoreError;
use calendar::Timestamp;
use sqlx::any::AnyPoolOptions;
use sqlx::{Any, AnyPool, Executor, Row, Transaction};
use std::time::Duration;

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite: a file in WAL mode, or a private in-memory database.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Backend {
    /// `sqlite` or `postgres`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A migration: version, what it does, SQLite DDL, PostgreSQL DDL.
#[derive(Debug)]
pub struct Migration {
    /// Applied in order, once each.
    pub version: i64,
    /// What it does, kept in the migrations table.
    pub name: &'static str,
    /// Its statements on SQLite.
    pub sqlite: &'static [&'static str],
    /// Its statements on PostgreSQL.
    pub postgres: &'static [&'static str],
}

/// Connects: `sqlite:PATH` creates the file if needed and runs it in WAL mode;
/// `sqlite::memory:` is a private in-memory database; `postgres://…` a server, with up to
/// eight connections (a platform serving requests).
pub async fn connect(url: &str) -> Result<(AnyPool, Backend), StoreError> {
    connect_with(url, 8).await
}

/// Connects with at most two connections to a PostgreSQL server: for stores a process uses
/// now and then (the booking ledger of a `meterlab book` command or of `meterlab up`). Fifty
/// such commands started together must not exhaust the server's `max_connections` (100 by
/// default), or they would fail waiting for a connection instead of queueing on the lock.
pub async fn connect_small(url: &str) -> Result<(AnyPool, Backend), StoreError> {
    connect_with(url, 2).await
}

async fn connect_with(url: &str, pg_max: u32) -> Result<(AnyPool, Backend), StoreError> {
    sqlx::any::install_default_drivers();
    let (kind, url, max) = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        (Backend::Postgres, url.to_owned(), pg_max)
    } else if url == "sqlite::memory:" {
        // Each connection to `:memory:` is its own database: keep exactly one.
        (Backend::Sqlite, url.to_owned(), 1)
    } else if let Some(path) = url.strip_prefix("sqlite:") {
        let path = path.trim_start_matches("//");
        let sep = if path.contains('?') { '&' } else { '?' };
        (Backend::Sqlite, format!("sqlite:{path}{sep}mode=rwc"), 4)
    } else {
        return Err(StoreError::Url(url.to_owned()));
    };
    let pool = AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if kind == Backend::Sqlite {
                    // WAL: readers never block the writer. synchronous=NORMAL is durable
                    // against a killed process (the WAL is in the OS before COMMIT
                    // returns), not against power loss; FULL would fsync every commit.
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                }
                Ok(())
            })
        })
        .connect(&url)
        .await?;
    Ok((pool, kind))
}

/// A transaction that holds the database's write lock from its first statement: SQLite
/// `BEGIN IMMEDIATE` (a deferred transaction that reads, then writes, fails with SQLITE_BUSY
/// when another writer got in between; IMMEDIATE waits for the lock up front), PostgreSQL a
/// transaction-scoped advisory lock named `lock`.
pub async fn begin_locked(
    pool: &AnyPool,
    kind: Backend,
    lock: &str,
) -> Result<Transaction<'static, Any>, StoreError> {
    match kind {
        Backend::Sqlite => Ok(pool.begin_with("BEGIN IMMEDIATE").await?),
        Backend::Postgres => {
            let mut tx = pool.begin().await?;
            let _: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM (SELECT pg_advisory_xact_lock(hashtext($1))) AS l",
            )
            .bind(lock)
            .fetch_one(&mut *tx)
            .await?;
            Ok(tx)
        }
    }
}

/// Applies the `migrations` not yet recorded in `table`, one migrator at a time: processes
/// starting together on one database queue here instead of racing to create the same tables.
pub async fn migrate(
    pool: &AnyPool,
    kind: Backend,
    table: &'static str,
    migrations: &[Migration],
) -> Result<(), StoreError> {
    let create = format!(
        "CREATE TABLE IF NOT EXISTS {table} (version BIGINT PRIMARY KEY, name TEXT NOT NULL)"
    );
    pool.execute(sqlx::AssertSqlSafe(create)).await?;
    for m in migrations {
        let mut tx = begin_locked(pool, kind, "meterlab.migrate").await?;
        let done: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT version FROM {table} WHERE version = $1"
        )))
        .bind(m.version)
        .fetch_optional(&mut *tx)
        .await?;
        if done.is_some() {
            continue;
        }
        let steps = if kind == Backend::Sqlite { m.sqlite } else { m.postgres };
        for step in steps {
            tx.execute(*step).await?;
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {table} (version, name) VALUES ($1, $2)"
        )))
        .bind(m.version)
        .bind(m.name)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Puts a JSON record (`id`, `body`) into `table` (an `id, body` table), replacing the one
/// with the same id; on a pool or inside a transaction.
pub async fn put_record<'e, E: Executor<'e, Database = Any>>(
    e: E,
    table: &str,
    id: &str,
    body: &str,
) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO {table} (id, body) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET body = excluded.body"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).bind(body).execute(e).await?;
    Ok(())
}

/// Every JSON record of `table` (id, body), by id.
pub async fn records<'e, E: Executor<'e, Database = Any>>(
    e: E,
    table: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    let sql = format!("SELECT id, body FROM {table} ORDER BY id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(e).await?;
    Ok(rows
        .iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("body")?)))
        .collect::<Result<_, sqlx::Error>>()?)
}

/// An instant as the schema keeps it: Unix milliseconds.
pub fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

/// An instant from Unix milliseconds; out of range is a corrupt row.
pub fn from_ms(v: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}
