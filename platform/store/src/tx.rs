//! Multi-row changes that must land together: [`Store::commit`](crate::Store::commit).

use crate::db::ms;
use crate::{SqlStore, StoreError, Write};

impl SqlStore {
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
                Write::PutRecord { kind, id, body } => {
                    crate::db::put_record(&mut *tx, kind.table(), id, body).await?
                }
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
