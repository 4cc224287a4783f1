//! The ledger's store, one suite on every backend: SQLite in memory, SQLite on disk (WAL),
//! and PostgreSQL from `MLAB_PG_URL` (which `.ci/run` provides). Without the URL the
//! PostgreSQL run says loudly that it was skipped.
#![allow(clippy::unwrap_used)]

use calendar::Timestamp;
use ledgerdb::{
    AuditRow, LedgerError, LedgerRows, LedgerStore, LedgerWrites, Record, SlotRow, SqlLedger,
};

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_780_000_000 + s).unwrap()
}

/// A fresh database per test, as a URL: on PostgreSQL a private schema in the shared database.
async fn urls(name: &str) -> Vec<String> {
    let mut out = vec!["sqlite::memory:".to_owned()];
    let dir = std::env::temp_dir().join(format!("meterlab-ledger-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("lab.db");
    let _ = std::fs::remove_file(&file);
    out.push(format!("sqlite:{}", file.display()));
    match std::env::var("MLAB_PG_URL") {
        Ok(url) => {
            let schema = format!("ledger_{}_{}", name, std::process::id());
            let admin = store::SqlStore::open(&url).await.unwrap();
            admin.exec(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await.unwrap();
            admin.exec(&format!("CREATE SCHEMA {schema}")).await.unwrap();
            let sep = if url.contains('?') { '&' } else { '?' };
            out.push(format!("{url}{sep}options=-csearch_path%3D{schema}"));
        }
        Err(_) => eprintln!(
            "\n*** SKIPPED on PostgreSQL: MLAB_PG_URL is not set (run `. ci/services.sh` first) ***\n"
        ),
    }
    out
}

async fn backends(name: &str) -> Vec<SqlLedger> {
    let mut out = Vec::new();
    for url in urls(name).await {
        out.push(SqlLedger::open(&url).await.unwrap());
    }
    out
}

fn slot(id: &str, rig: &str, start: i64, hours: i64) -> SlotRow {
    SlotRow {
        id: id.into(),
        rig: rig.into(),
        agreement: "A1".into(),
        start: t(start * 3600),
        end: t((start + hours) * 3600),
        cancelled: false,
        body: format!("{{\"id\":\"{id}\"}}"),
    }
}

/// Books `row` in a ledger transaction the way a lab process does: decide on the rows read
/// under the lock (refuse an overlap, take the database's next id), then write the slot and
/// its audit entry. `Ok(None)` is a refusal.
async fn book(s: &SqlLedger, rig: &str, start: i64) -> Result<Option<String>, LedgerError> {
    let mut booked = None;
    let decide = |rows: LedgerRows| {
        let mut w = LedgerWrites::default();
        let mut row = slot(&rows.next_slot.to_string(), rig, start, 22);
        let clash = rows
            .slots
            .iter()
            .any(|o| !o.cancelled && o.rig == row.rig && o.start < row.end && o.end > row.start);
        if !clash {
            row.body = format!("{{\"id\":{}}}", rows.next_slot);
            booked = Some(row.id.clone());
            w.audit.push(AuditRow {
                at: t(0),
                actor: "A1".into(),
                action: "book".into(),
                detail: row.id.clone(),
            });
            w.new_slots.push(row);
        }
        Ok(w)
    };
    s.transaction(Box::new(decide)).await?;
    Ok(booked)
}

#[tokio::test]
async fn ledger_transactions_forbid_overlaps_and_take_ids_from_the_database_under_50_concurrent_bookings()
 {
    for s in backends("slots").await {
        let b = s.backend();
        assert_eq!(book(&s, "rig-a", 0).await.unwrap().as_deref(), Some("1"), "{b}");
        // Back to back is fine (half-open), the other rig is independent.
        assert_eq!(book(&s, "rig-a", 22).await.unwrap().as_deref(), Some("2"), "{b}");
        assert_eq!(book(&s, "rig-b", 10).await.unwrap().as_deref(), Some("3"), "{b}");
        assert_eq!(book(&s, "rig-a", 21).await.unwrap(), None, "{b}: overlap refused");
        // The store has the last word: a decision that writes an overlapping slot fails
        // whole, its audit entry included.
        let audit_before = s.audit().await.unwrap().len();
        let forced = s
            .transaction(Box::new(|_| {
                let mut w = LedgerWrites::default();
                w.new_slots.push(slot("99", "rig-a", 21, 22));
                w.audit.push(AuditRow {
                    at: t(0),
                    actor: "A1".into(),
                    action: "book".into(),
                    detail: "99".into(),
                });
                Ok(w)
            }))
            .await;
        assert!(matches!(forced, Err(LedgerError::Overlap { .. })), "{b}: {forced:?}");
        assert_eq!(
            s.audit().await.unwrap().len(),
            audit_before,
            "{b}: no audit of a failed booking"
        );
        // A cancelled slot frees its time.
        let mut two =
            s.slots(Some("rig-a")).await.unwrap().into_iter().find(|r| r.id == "2").unwrap();
        two.cancelled = true;
        s.transaction(Box::new(move |_| {
            Ok(LedgerWrites { changed_slots: vec![two], ..Default::default() })
        }))
        .await
        .unwrap();
        assert!(book(&s, "rig-a", 30).await.unwrap().is_some(), "{b}");

        // 50 concurrent bookings at overlapping times on a fresh rig: exactly one wins; 50 at
        // different times on another: all win, each with its own id.
        let s = std::sync::Arc::new(s);
        let race = |rig: &'static str, spread: i64| {
            (0..50)
                .map(|i| {
                    let s = s.clone();
                    tokio::spawn(async move { book(&s, rig, 100 + (i % spread) * 22).await })
                })
                .collect::<Vec<_>>()
        };
        let (clashing, apart) = (race("rig-c", 1), race("rig-d", 50));
        let mut ids = std::collections::BTreeSet::new();
        let mut wins = 0;
        for t in clashing {
            if let Some(id) = t.await.unwrap().unwrap() {
                wins += 1;
                ids.insert(id);
            }
        }
        assert_eq!(wins, 1, "{b}");
        for t in apart {
            let id = t.await.unwrap().unwrap();
            assert!(ids.insert(id.expect("no overlap on rig-d")), "{b}: ids are unique");
        }
        assert_eq!(s.slots(Some("rig-c")).await.unwrap().len(), 1, "{b}");
        assert_eq!(s.slots(Some("rig-d")).await.unwrap().len(), 50, "{b}");
        let audit = s.audit().await.unwrap();
        assert_eq!(audit.len(), s.slots(None).await.unwrap().len(), "{b}: one entry per slot");
    }
}

#[tokio::test]
async fn records_round_trip_and_replace() {
    for s in backends("records").await {
        let b = s.backend();
        s.put_record(Record::Rigs, "rig-a", "{\"v\":1}").await.unwrap();
        s.put_record(Record::Rigs, "rig-a", "{\"v\":2}").await.unwrap();
        s.put_record(Record::Agreements, "1", "{}").await.unwrap();
        assert_eq!(
            s.records(Record::Rigs).await.unwrap(),
            [("rig-a".into(), "{\"v\":2}".into())],
            "{b}"
        );
        assert_eq!(s.records(Record::Agreements).await.unwrap().len(), 1, "{b}");
    }
}

/// A database the platform store made before the ledger had a store of its own (its
/// migrations 2 and 4 created these tables) keeps its slots, and new ids continue after them.
#[tokio::test]
async fn a_database_from_before_keeps_its_slots_and_ids() {
    let dir = std::env::temp_dir().join(format!("meterlab-ledger-old-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("old.db");
    let _ = std::fs::remove_file(&file);
    let url = format!("sqlite:{}", file.display());
    let old = store::SqlStore::open(&url).await.unwrap();
    for sql in [
        "CREATE TABLE slots (id TEXT PRIMARY KEY, rig TEXT NOT NULL, agreement TEXT NOT NULL, start_ms BIGINT NOT NULL, end_ms BIGINT NOT NULL, cancelled BIGINT NOT NULL DEFAULT 0, body TEXT NOT NULL)",
        "CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
        "INSERT INTO slots VALUES ('7', 'rig-a', 'A1', 0, 1000, 0, '{}')",
        "INSERT INTO counters VALUES ('slot', 7)",
    ] {
        old.exec(sql).await.unwrap();
    }
    let s = SqlLedger::open(&url).await.unwrap();
    assert_eq!(s.slots(None).await.unwrap().len(), 1);
    assert_eq!(book(&s, "rig-b", 0).await.unwrap().as_deref(), Some("8"));
    // Opening again migrates nothing twice.
    let again = SqlLedger::open(&url).await.unwrap();
    assert_eq!(again.slots(None).await.unwrap().len(), 2);
}
