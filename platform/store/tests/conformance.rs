//! One suite, every backend: SQLite in memory, SQLite on disk (WAL), and PostgreSQL from
//! `MLAB_PG_URL` (which `.ci/run` provides). Without the URL the PostgreSQL run says loudly
//! that it was skipped.
#![allow(clippy::unwrap_used)]

use calendar::Timestamp;
use domain::{Energy, Power, ReactiveEnergy, Volume};
use store::{AmrQuarter, DongleRow, NewUpload, Outcome, SqlStore, Store, Values};

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_780_000_000 + s).unwrap()
}

fn upload(dongle: &str, seq: u64, sig: &str) -> NewUpload {
    NewUpload {
        dongle: dongle.into(),
        seq,
        captured_at: t(seq as i64),
        received_at: t(seq as i64 + 1),
        raw: format!("/FLU5\\x\r\n\r\n1-0:1.8.1({seq:010}*kWh)\r\n!0000\r\n"),
        crc_ok: seq % 10 != 7,
        sig: sig.into(),
        values: (seq % 10 != 7).then_some(Values {
            import: Energy::wh(1_000 + seq * 3),
            export: Energy::wh(5),
            power_import: Power::w(400),
            power_export: Power::ZERO,
            gas: Some((Volume::dm3(12_345), t(0))),
            meter_time: Some(t(seq as i64)),
        }),
    }
}

/// Each test gets a fresh schema: on PostgreSQL a private schema in the shared database.
async fn backends(name: &str) -> Vec<SqlStore> {
    let mut out = vec![SqlStore::open("sqlite::memory:").await.unwrap()];
    let dir = std::env::temp_dir().join(format!("meterlab-store-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("lab.db");
    let _ = std::fs::remove_file(&file);
    out.push(SqlStore::open(&format!("sqlite:{}", file.display())).await.unwrap());
    match std::env::var("MLAB_PG_URL") {
        Ok(url) => {
            let schema = format!("conf_{}_{}", name, std::process::id());
            let admin = SqlStore::open(&url).await.unwrap();
            admin.exec(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await.unwrap();
            admin.exec(&format!("CREATE SCHEMA {schema}")).await.unwrap();
            let sep = if url.contains('?') { '&' } else { '?' };
            let scoped = format!("{url}{sep}options=-csearch_path%3D{schema}");
            out.push(SqlStore::open(&scoped).await.unwrap());
        }
        Err(_) => eprintln!(
            "\n*** SKIPPED on PostgreSQL: MLAB_PG_URL is not set (run `. ci/services.sh` first) ***\n"
        ),
    }
    out
}

#[tokio::test]
async fn uploads_are_stored_once_and_retries_are_duplicates_not_copies() {
    for s in backends("once").await {
        let b = s.backend();
        let batch: Vec<_> = (1..=500).map(|i| upload("D1", i, "sig")).collect();
        let res = s.insert_uploads(&batch).await.unwrap();
        assert!(res.iter().all(|o| *o == Outcome::Stored), "{b}");
        // A retry of part of it, plus new ones, plus a replay with other content.
        let mut again: Vec<_> = (490..=510).map(|i| upload("D1", i, "sig")).collect();
        again.push(upload("D1", 3, "forged"));
        again.push(upload("D1", 600, "sig"));
        again.push(upload("D1", 600, "sig"));
        again.push(upload("D1", 601, "a"));
        again.push(upload("D1", 601, "b"));
        let res = s.insert_uploads(&again).await.unwrap();
        assert!(res[..11].iter().all(|o| *o == Outcome::Duplicate), "{b}: {res:?}");
        assert!(res[11..21].iter().all(|o| *o == Outcome::Stored), "{b}");
        assert_eq!(res[21], Outcome::Conflict, "{b}");
        assert_eq!(
            &res[22..],
            [Outcome::Stored, Outcome::Duplicate, Outcome::Stored, Outcome::Conflict],
            "{b}"
        );
        let seqs = s.sequences("D1").await.unwrap();
        assert_eq!(seqs.len(), 512, "{b}");
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{b}: unique and sorted");
        let stored = s.upload("D1", 3).await.unwrap().unwrap().upload;
        assert_eq!(stored, upload("D1", 3, "sig"), "{b}: the original survives the replay");
    }
}

#[tokio::test]
async fn samples_come_back_by_capture_time_with_their_values() {
    for s in backends("samples").await {
        let b = s.backend();
        let mut batch: Vec<_> = (1..=100).rev().map(|i| upload("D2", i, "s")).collect();
        batch.push(upload("D3", 1, "s"));
        s.insert_uploads(&batch).await.unwrap();
        let got = s.samples("D2", t(10), t(30)).await.unwrap();
        // 10..29 minus the CRC-corrupt 17 and 27 (no decoded values).
        assert_eq!(got.len(), 18, "{b}");
        assert!(got.windows(2).all(|w| w[0].captured_at < w[1].captured_at), "{b}");
        assert_eq!(got[0].values.import, Energy::wh(1_030), "{b}");
        assert_eq!(got[0].values.gas, Some((Volume::dm3(12_345), t(0))), "{b}");
        let counts = s.counts().await.unwrap();
        assert_eq!(counts.len(), 2, "{b}");
        assert_eq!(
            (counts[0].uploads, counts[0].crc_errors, counts[0].seq_range),
            (100, 10, Some((1, 100))),
            "{b}"
        );
    }
}

#[tokio::test]
async fn dongles_and_amr_quarters_round_trip() {
    for s in backends("dongles").await {
        let b = s.backend();
        let d = DongleRow {
            id: "D9".into(),
            key: vec![0, 1, 254, 255],
            meter: Some("1SAG3100042002".into()),
        };
        s.put_dongle(&d).await.unwrap();
        s.put_dongle(&DongleRow { meter: None, ..d.clone() }).await.unwrap();
        assert_eq!(s.dongles().await.unwrap(), vec![DongleRow { meter: None, ..d }], "{b}");
        let rows: Vec<AmrQuarter> = (0..96)
            .map(|q| AmrQuarter {
                start: t(q * 900),
                active_import_wh: Energy::wh(1500 + q as u64),
                active_export_wh: Energy::ZERO,
                reactive_import_varh: ReactiveEnergy::varh(700),
                reactive_export_varh: ReactiveEnergy::varh(1),
                production_wh: Energy::ZERO,
                auxiliary_wh: Energy::wh(4),
            })
            .collect();
        assert_eq!(s.insert_amr("AMR1", &rows).await.unwrap(), 96, "{b}");
        assert_eq!(s.insert_amr("AMR1", &rows[..10]).await.unwrap(), 0, "{b}: idempotent");
        let got = s.amr("AMR1", t(0), t(900 * 4)).await.unwrap();
        assert_eq!(got, rows[..4].to_vec(), "{b}");
    }
}

#[tokio::test]
async fn a_reopened_file_store_keeps_everything_and_migrates_once() {
    let dir = std::env::temp_dir().join(format!("meterlab-store-reopen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite:{}", dir.join("lab.db").display());
    let _ = std::fs::remove_file(dir.join("lab.db"));
    {
        let s = SqlStore::open(&url).await.unwrap();
        s.insert_uploads(&[upload("D1", 1, "s")]).await.unwrap();
    }
    let s = SqlStore::open(&url).await.unwrap();
    assert_eq!(s.sequences("D1").await.unwrap(), vec![1]);
    assert!(matches!(SqlStore::open("mysql://x").await, Err(store::StoreError::Url(_))));
}

/// Version 5 turns the AMR energies from floats into whole Wh and varh: rows written before
/// come back rounded, and new ones are exact.
#[tokio::test]
async fn amr_rows_written_as_floats_are_migrated_to_whole_wh() {
    let dir = std::env::temp_dir().join(format!("meterlab-store-v5-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let _ = std::fs::remove_file(dir.join("lab.db"));
    let mut urls = vec![format!("sqlite:{}", dir.join("lab.db").display())];
    match std::env::var("MLAB_PG_URL") {
        Ok(url) => {
            let schema = format!("conf_v5_{}", std::process::id());
            let admin = SqlStore::open(&url).await.unwrap();
            admin.exec(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await.unwrap();
            admin.exec(&format!("CREATE SCHEMA {schema}")).await.unwrap();
            let sep = if url.contains('?') { '&' } else { '?' };
            urls.push(format!("{url}{sep}options=-csearch_path%3D{schema}"));
        }
        Err(_) => eprintln!("\n*** SKIPPED on PostgreSQL: MLAB_PG_URL is not set ***\n"),
    }
    for url in urls {
        let s = SqlStore::open(&url).await.unwrap();
        // The table as version 1 made it, with a row as the head-end wrote it then.
        s.exec("DROP TABLE amr_quarters").await.unwrap();
        s.exec(
            "CREATE TABLE amr_quarters (meter TEXT NOT NULL, start_ms BIGINT NOT NULL,
             active_import_wh DOUBLE PRECISION NOT NULL, active_export_wh DOUBLE PRECISION NOT NULL,
             reactive_import_varh DOUBLE PRECISION NOT NULL, reactive_export_varh DOUBLE PRECISION NOT NULL,
             production_wh DOUBLE PRECISION NOT NULL, auxiliary_wh DOUBLE PRECISION NOT NULL,
             PRIMARY KEY (meter, start_ms))",
        )
        .await
        .unwrap();
        s.exec(&format!(
            "INSERT INTO amr_quarters VALUES ('AMR1', {}, 1500.5, 0.0, 700.25, 1.0, 0.0, 3.75)",
            store::ms(t(0))
        ))
        .await
        .unwrap();
        s.exec("DELETE FROM schema_migrations WHERE version = 5").await.unwrap();
        drop(s);
        let s = SqlStore::open(&url).await.unwrap();
        let got = s.amr("AMR1", t(0), t(900)).await.unwrap();
        let want = AmrQuarter {
            start: t(0),
            active_import_wh: Energy::wh(1501),
            active_export_wh: Energy::ZERO,
            reactive_import_varh: ReactiveEnergy::varh(700),
            reactive_export_varh: ReactiveEnergy::varh(1),
            production_wh: Energy::ZERO,
            auxiliary_wh: Energy::wh(4),
        };
        assert_eq!(got, vec![want], "{url}");
        let next = AmrQuarter { start: t(900), active_import_wh: Energy::wh(u64::MAX), ..want };
        assert!(s.insert_amr("AMR1", &[next]).await.is_err(), "{url}: beyond a BIGINT is refused");
        let next = AmrQuarter { active_import_wh: Energy::wh(1 << 60), ..next };
        s.insert_amr("AMR1", &[next]).await.unwrap();
        assert_eq!(s.amr("AMR1", t(900), t(1800)).await.unwrap(), vec![next], "{url}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_commit_is_all_or_nothing() {
    for s in backends("commit").await {
        let b = s.backend();
        s.append_event(1, t(10), "{}").await.unwrap();
        let put = |id: &str| store::Write::PutRecord {
            kind: store::Record::Tokens,
            id: id.into(),
            body: "{}".into(),
        };
        // The event's step is taken: the token before it must not stay behind.
        let clash = [put("h1"), store::Write::Event { seq: 1, at: t(20), body: "{}".into() }];
        assert!(matches!(s.commit(&clash).await, Err(store::StoreError::Exists(_))), "{b}");
        assert!(s.records(store::Record::Tokens).await.unwrap().is_empty(), "{b}");
        let ok = [put("h2"), store::Write::Event { seq: 2, at: t(20), body: "{}".into() }];
        s.commit(&ok).await.unwrap();
        assert_eq!(s.records(store::Record::Tokens).await.unwrap().len(), 1, "{b}");
        s.commit(&[store::Write::DeleteRecord { kind: store::Record::Tokens, id: "h2".into() }])
            .await
            .unwrap();
        assert!(s.records(store::Record::Tokens).await.unwrap().is_empty(), "{b}");
    }
}

#[tokio::test]
async fn register_events_append_once_per_step_and_replay_in_order() {
    for s in backends("events").await {
        s.append_event(1, t(10), r#"{"type":"tick"}"#).await.unwrap();
        s.append_event(2, t(20), r#"{"type":"accept_terms"}"#).await.unwrap();
        // A second writer appending the same step loses; nothing is overwritten.
        let again = s.append_event(2, t(30), "{}").await;
        assert!(matches!(again, Err(store::StoreError::Exists(_))), "{}: {again:?}", s.backend());
        let ev = s.events().await.unwrap();
        assert_eq!(ev.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2], "{}", s.backend());
        assert_eq!(ev[1].at, t(20));
        assert_eq!(ev[1].body, r#"{"type":"accept_terms"}"#);
    }
}

#[tokio::test]
async fn the_access_register_keeps_every_exchange_and_filters_by_point_and_party() {
    for s in backends("access").await {
        let row = |party: &str, point: &str, allowed: bool| store::AccessRow {
            at: t(100),
            party: party.into(),
            point: point.into(),
            what: "quarter-hour GET /api/esp/v1/points/{ean}/energy".into(),
            from: t(0),
            to: t(900),
            allowed,
            basis: if allowed { "mandate:M1".into() } else { "no_mandate".into() },
            detail: String::new(),
        };
        s.append_access(&[row("esp:A", "P1", true), row("esp:B", "P1", false)]).await.unwrap();
        s.append_access(&[row("esp:A", "P2", true)]).await.unwrap();
        assert_eq!(s.access_log(None, None).await.unwrap().len(), 3, "{}", s.backend());
        let p1 = s.access_log(Some("P1"), None).await.unwrap();
        assert_eq!(p1.len(), 2);
        assert_eq!(p1[1], row("esp:B", "P1", false));
        let a = s.access_log(None, Some("esp:A")).await.unwrap();
        assert_eq!(a.iter().map(|r| r.point.as_str()).collect::<Vec<_>>(), ["P1", "P2"]);
        assert_eq!(s.access_log(Some("P2"), Some("esp:B")).await.unwrap(), []);
    }
}

#[tokio::test]
async fn tokens_deliveries_and_secrets_are_records() {
    for s in backends("records3").await {
        for kind in [store::Record::Tokens, store::Record::Deliveries, store::Record::EspSecrets] {
            s.put_record(kind, "a", "1").await.unwrap();
            s.put_record(kind, "a", "2").await.unwrap();
            assert_eq!(s.records(kind).await.unwrap(), [("a".to_owned(), "2".to_owned())]);
        }
    }
}
