//! Crash safety: kill -9 the platform while dongles upload; after a restart every acknowledged
//! upload is stored, none twice, and the dongles' retries fill in the rest.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use wire::ingest::v1::{Batch, Receipt, Upload};

const KEY_HEX: &str = "00112233445566778899aabbccddeeff0011";

fn platform(db: &str) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_meterlab"))
        .args(["platform", "--listen", "127.0.0.1:0", "--mqtt", "none", "--database", db])
        .args(["--dongle", &format!("D1:{KEY_HEX}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("api: ").unwrap().to_owned();
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in out.lines() {});
    (child, url)
}

fn upload(seq: u64) -> Upload {
    let telegram = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/p1/fluvius-emucs-1.7.1-3phase.txt"
    ))
    .unwrap();
    let mut u = Upload {
        dongle: "D1".into(),
        seq,
        captured_at: clock::Timestamp::from_second(1_780_000_000 + seq as i64).unwrap(),
        telegram,
        crc_ok: true,
        sig: String::new(),
    };
    u.sign(&wire::unhex(KEY_HEX).unwrap());
    u
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_upload_and_duplicates_none() {
    let dir = std::env::temp_dir().join(format!("meterlab-crash-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite:{}", dir.join("lab.db").display());
    let _ = std::fs::remove_file(dir.join("lab.db"));

    let (mut child, url) = platform(&db);
    let acked = Arc::new(Mutex::new(Vec::<u64>::new()));
    let http = reqwest::Client::new();
    // Four dongle connections upload disjoint sequence ranges in batches of 25.
    let mut tasks = Vec::new();
    for d in 0..4u64 {
        let (http, url, acked) = (http.clone(), url.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            for b in 0..400u64 {
                let seqs = (0..25).map(|i| d * 1_000_000 + b * 25 + i);
                let batch = Batch { uploads: seqs.map(upload).collect() };
                let Ok(r) =
                    http.post(format!("{url}/api/ingest/v1/uploads")).json(&batch).send().await
                else {
                    return;
                };
                let Ok(receipt) = r.json::<Receipt>().await else { return };
                let mut a = acked.lock().unwrap();
                a.extend(receipt.stored);
                a.extend(receipt.duplicates);
            }
        }));
    }
    // Kill once a good number of uploads has been acknowledged, mid-stream.
    loop {
        tokio::task::yield_now().await;
        if acked.lock().unwrap().len() >= 2_000 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let acked: Vec<u64> = acked.lock().unwrap().clone();

    // Restart on the same file: every acknowledged upload is there, each once.
    let (mut child, url) = platform(&db);
    let stored = store::SqlStore::open(&db).await.unwrap();
    use store::Store;
    let seqs = stored.sequences("D1").await.unwrap();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "no duplicates");
    let missing: Vec<_> = acked.iter().filter(|s| seqs.binary_search(s).is_err()).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged uploads lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(
        acked.len() >= 2_000 && seqs.len() < 40_000,
        "killed mid-stream: {} acked, {} stored",
        acked.len(),
        seqs.len()
    );

    // The dongles retry everything unacknowledged (and some acknowledged): all stored once.
    let all: Vec<u64> =
        (0..4u64).flat_map(|d| (0..10_000u64).map(move |i| d * 1_000_000 + i)).collect();
    for chunk in all.chunks(100) {
        let batch = Batch { uploads: chunk.iter().map(|&s| upload(s)).collect() };
        let r =
            http.post(format!("{url}/api/ingest/v1/uploads")).json(&batch).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    let seqs = stored.sequences("D1").await.unwrap();
    assert_eq!(seqs, all);
    child.kill().unwrap();
    child.wait().unwrap();
    // Kept when an assertion above fails, for a look at the file; gone when all is well.
    let _ = std::fs::remove_dir_all(&dir);
}
