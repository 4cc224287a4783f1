//! The SQL implementation over sqlx's `Any` driver (the same statements on both backends).

use crate::schema::MIGRATIONS;
use crate::{AuditRow, Fut, LedgerError, LedgerFn, LedgerRows, LedgerStore, Record, SlotRow};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Row, Transaction};
use store::db::{Backend, begin_locked, from_ms, ms, put_record, records};

/// Every ledger transaction takes this PostgreSQL advisory lock first, so two processes
/// booking at once queue instead of deciding on the same rows (SQLite's `BEGIN IMMEDIATE`
/// does the same there).
const LEDGER_LOCK: &str = "meterlab.booking-ledger";

/// The ledger on SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SqlLedger {
    pool: AnyPool,
    kind: Backend,
}

impl SqlLedger {
    /// Connects (as `store::open` does) and brings the ledger's tables up to date.
    pub async fn open(url: &str) -> Result<SqlLedger, LedgerError> {
        let (pool, kind) = store::db::connect_small(url).await?;
        store::db::migrate(&pool, kind, "ledger_migrations", MIGRATIONS).await?;
        Ok(SqlLedger { pool, kind })
    }

    async fn transaction_impl(&self, decide: LedgerFn<'_>) -> Result<(), LedgerError> {
        let mut tx = begin_locked(&self.pool, self.kind, LEDGER_LOCK).await?;
        let mut rows = LedgerRows {
            rigs: records(&mut *tx, Record::Rigs.table()).await?,
            agreements: records(&mut *tx, Record::Agreements.table()).await?,
            ..LedgerRows::default()
        };
        for r in
            sqlx::query("SELECT * FROM slots ORDER BY start_ms, id").fetch_all(&mut *tx).await?
        {
            rows.slots.push(slot_of(&r)?);
        }
        let last: i64 = sqlx::query_scalar("SELECT value FROM counters WHERE name = 'slot'")
            .fetch_one(&mut *tx)
            .await?;
        rows.next_slot = u64::try_from(last).unwrap_or(0) + 1;
        let writes = decide(rows)?;
        for (kind, id, body) in &writes.records {
            put_record(&mut *tx, kind.table(), id, body).await?;
        }
        let mut highest = last;
        for s in &writes.new_slots {
            insert_slot(&mut tx, self.kind, s).await?;
            if let Ok(n) = s.id.parse::<i64>() {
                highest = highest.max(n);
            }
        }
        if highest != last {
            sqlx::query("UPDATE counters SET value = $1 WHERE name = 'slot'")
                .bind(highest)
                .execute(&mut *tx)
                .await?;
        }
        for s in &writes.changed_slots {
            sqlx::query("UPDATE slots SET cancelled = $2, body = $3 WHERE id = $1")
                .bind(s.id.as_str())
                .bind(i64::from(s.cancelled))
                .bind(s.body.as_str())
                .execute(&mut *tx)
                .await?;
        }
        // The audit entries go in last, in the same transaction: the log never tells of a
        // booking that did not happen.
        for e in &writes.audit {
            sqlx::query("INSERT INTO audit (at_ms, actor, action, detail) VALUES ($1, $2, $3, $4)")
                .bind(ms(e.at))
                .bind(e.actor.as_str())
                .bind(e.action.as_str())
                .bind(e.detail.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

fn slot_of(row: &AnyRow) -> Result<SlotRow, LedgerError> {
    Ok(SlotRow {
        id: row.try_get("id")?,
        rig: row.try_get("rig")?,
        agreement: row.try_get("agreement")?,
        start: from_ms(row.try_get("start_ms")?)?,
        end: from_ms(row.try_get("end_ms")?)?,
        cancelled: row.try_get::<i64, _>("cancelled")? != 0,
        body: row.try_get("body")?,
    })
}

/// Inserts a slot; an overlap with a live slot on the same rig is [`LedgerError::Overlap`],
/// whoever decided it (SQLite: checked here under the write lock; PostgreSQL: the
/// exclusion constraint).
async fn insert_slot(
    tx: &mut Transaction<'static, Any>,
    kind: Backend,
    slot: &SlotRow,
) -> Result<(), LedgerError> {
    let overlap = "SELECT * FROM slots WHERE rig = $1 AND cancelled = 0 AND start_ms < $3 AND end_ms > $2 ORDER BY start_ms LIMIT 1";
    if !slot.cancelled {
        let clash = sqlx::query(overlap)
            .bind(slot.rig.as_str())
            .bind(ms(slot.start))
            .bind(ms(slot.end))
            .fetch_optional(&mut **tx)
            .await?;
        if let Some(row) = clash {
            let other = slot_of(&row)?;
            return Err(LedgerError::Overlap {
                slot: other.id,
                start: other.start,
                end: other.end,
            });
        }
    }
    let res = sqlx::query(
        "INSERT INTO slots (id, rig, agreement, start_ms, end_ms, cancelled, body) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(slot.id.as_str())
    .bind(slot.rig.as_str())
    .bind(slot.agreement.as_str())
    .bind(ms(slot.start))
    .bind(ms(slot.end))
    .bind(i64::from(slot.cancelled))
    .bind(slot.body.as_str())
    .execute(&mut **tx)
    .await;
    match res {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(e))
            if kind == Backend::Postgres && e.code().as_deref() == Some("23P01") =>
        {
            Err(LedgerError::Overlap { slot: "?".into(), start: slot.start, end: slot.end })
        }
        Err(e) => Err(e.into()),
    }
}

impl LedgerStore for SqlLedger {
    fn backend(&self) -> &'static str {
        self.kind.name()
    }

    fn records(&self, kind: Record) -> Fut<'_, Vec<(String, String)>> {
        Box::pin(async move { Ok(records(&self.pool, kind.table()).await?) })
    }

    fn put_record<'a>(&'a self, kind: Record, id: &'a str, body: &'a str) -> Fut<'a, ()> {
        Box::pin(async move { Ok(put_record(&self.pool, kind.table(), id, body).await?) })
    }

    fn slots<'a>(&'a self, rig: Option<&'a str>) -> Fut<'a, Vec<SlotRow>> {
        Box::pin(async move {
            let rows = match rig {
                Some(r) => {
                    sqlx::query("SELECT * FROM slots WHERE rig = $1 ORDER BY start_ms, id")
                        .bind(r)
                        .fetch_all(&self.pool)
                        .await?
                }
                None => {
                    sqlx::query("SELECT * FROM slots ORDER BY start_ms, id")
                        .fetch_all(&self.pool)
                        .await?
                }
            };
            rows.iter().map(slot_of).collect()
        })
    }

    fn audit(&self) -> Fut<'_, Vec<AuditRow>> {
        Box::pin(async move {
            let rows = sqlx::query("SELECT at_ms, actor, action, detail FROM audit ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(AuditRow {
                        at: from_ms(r.try_get("at_ms")?)?,
                        actor: r.try_get("actor")?,
                        action: r.try_get("action")?,
                        detail: r.try_get("detail")?,
                    })
                })
                .collect()
        })
    }

    fn transaction<'a>(&'a self, decide: LedgerFn<'a>) -> Fut<'a, ()> {
        Box::pin(self.transaction_impl(decide))
    }
}
