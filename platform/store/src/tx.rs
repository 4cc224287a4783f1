//! Multi-row changes that must land together: the booking ledger's transaction and
//! [`Store::commit`](crate::Store::commit).

use crate::sql::{Kind, slot_of};
use crate::{LedgerFn, LedgerRows, Record, SlotRow, SqlStore, StoreError, Write, ms};
use sqlx::{Any, Row, Transaction};

/// Every ledger transaction takes this PostgreSQL advisory lock first, so two processes
/// booking at once queue instead of deciding on the same rows (SQLite's `BEGIN IMMEDIATE`
/// does the same there).
const LEDGER_LOCK: &str = "meterlab.booking-ledger";

impl SqlStore {
    /// A transaction that holds the database's write lock from its first statement.
    async fn begin_locked(&self) -> Result<Transaction<'static, Any>, StoreError> {
        match self.kind {
            // A deferred SQLite transaction that reads, then writes, fails with SQLITE_BUSY
            // when another writer got in between; IMMEDIATE waits for the lock up front
            // (busy_timeout) and then nothing can come between the read and the write.
            Kind::Sqlite => Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?),
            Kind::Postgres => {
                let mut tx = self.pool.begin().await?;
                let _: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM (SELECT pg_advisory_xact_lock(hashtext($1))) AS l",
                )
                .bind(LEDGER_LOCK)
                .fetch_one(&mut *tx)
                .await?;
                Ok(tx)
            }
        }
    }

    pub(crate) async fn ledger_transaction_impl(
        &self,
        decide: LedgerFn<'_>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_locked().await?;
        let records = |t: &'static str| format!("SELECT id, body FROM {t} ORDER BY id");
        let mut rows = LedgerRows::default();
        for (kind, out) in
            [(Record::Rigs, &mut rows.rigs), (Record::Agreements, &mut rows.agreements)]
        {
            for r in
                sqlx::query(sqlx::AssertSqlSafe(records(kind.table()))).fetch_all(&mut *tx).await?
            {
                out.push((r.try_get("id")?, r.try_get("body")?));
            }
        }
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
            put_record(&mut tx, *kind, id, body).await?;
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

    pub(crate) async fn commit_impl(&self, writes: &[Write]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for w in writes {
            match w {
                Write::Event { seq, at, body } => {
                    let res = sqlx::query(
                        "INSERT INTO register_events (seq, at_ms, body) VALUES ($1, $2, $3) ON CONFLICT (seq) DO NOTHING",
                    )
                    .bind(*seq as i64)
                    .bind(ms(*at))
                    .bind(body.as_str())
                    .execute(&mut *tx)
                    .await?;
                    if res.rows_affected() == 0 {
                        return Err(StoreError::Exists(format!("register event {seq}")));
                    }
                }
                Write::PutRecord { kind, id, body } => put_record(&mut tx, *kind, id, body).await?,
                Write::DeleteRecord { kind, id } => {
                    let sql = format!("DELETE FROM {} WHERE id = $1", kind.table());
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(id.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

async fn put_record(
    tx: &mut Transaction<'static, Any>,
    kind: Record,
    id: &str,
    body: &str,
) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO {t} (id, body) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET body = excluded.body",
        t = kind.table()
    );
    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).bind(body).execute(&mut **tx).await?;
    Ok(())
}

/// Inserts a slot; an overlap with a live slot on the same rig is [`StoreError::Overlap`],
/// whoever decided it (SQLite: checked here under the write lock; PostgreSQL: the
/// exclusion constraint).
async fn insert_slot(
    tx: &mut Transaction<'static, Any>,
    kind: Kind,
    slot: &SlotRow,
) -> Result<(), StoreError> {
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
            return Err(StoreError::Overlap { slot: other.id, start: other.start, end: other.end });
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
            if kind == Kind::Postgres && e.code().as_deref() == Some("23P01") =>
        {
            Err(StoreError::Overlap { slot: "?".into(), start: slot.start, end: slot.end })
        }
        Err(e) => Err(e.into()),
    }
}
