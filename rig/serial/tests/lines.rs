//! Outputs against real ptys and TCP sockets on this machine.
#![allow(clippy::unwrap_used)]

use serial::{Pty, TcpFanout};
use std::io::Read;
use std::time::Duration;
use tokio::io::AsyncReadExt;

const TELEGRAM: &[u8] = b"/FLU5\\253769484_A\r\n\r\n0-0:96.1.4(50217)\r\n!1234\r\n";

#[tokio::test]
async fn pty_is_raw_so_crlf_survives_and_the_symlink_points_at_it() {
    let dir = std::env::temp_dir().join(format!("meterlab-pty-{}", std::process::id()));
    let link = dir.join("rig-a/meter-01");
    let pty = Pty::open(Some(&link), None).unwrap();
    assert!(pty.path().starts_with("/dev/pts"));
    assert_eq!(std::fs::read_link(&link).unwrap(), pty.path());
    // An ordinary reader opening the device path, as a user's tool would.
    let mut reader = std::fs::File::open(&link).unwrap();
    let sink = pty.sink();
    let got = tokio::task::spawn_blocking(move || {
        let mut buf = vec![0u8; TELEGRAM.len()];
        reader.read_exact(&mut buf).unwrap();
        buf
    });
    // Written after the reader opened (above): a pty delivers only what arrives while open.
    assert!(sink.send(TELEGRAM.to_vec()));
    let got = tokio::time::timeout(Duration::from_secs(5), got).await.unwrap().unwrap();
    assert_eq!(got, TELEGRAM, "CR LF must reach the reader unchanged");
    drop(pty);
    assert!(std::fs::symlink_metadata(&link).is_err(), "the link goes with the pty");
}

#[tokio::test]
async fn nobody_reading_never_blocks_the_meter() {
    let pty = Pty::open(None, None).unwrap();
    let sink = pty.sink();
    let big = vec![b'x'; 1100];
    // 2.2 MB into a pty nobody reads: every send returns (a blocking send would hang here),
    // and what does not fit is dropped and counted, not queued without bound.
    for _ in 0..2000 {
        sink.send(big.clone());
    }
    let dropped = sink.stats().dropped.load(std::sync::atomic::Ordering::Relaxed);
    assert!(dropped > 1000, "dropped {dropped}");
}

#[tokio::test]
async fn paced_pty_takes_the_time_of_a_real_115200_line() {
    let pty = Pty::open(None, Some(115_200)).unwrap();
    let mut reader = std::fs::File::open(pty.path()).unwrap();
    let frame = vec![b'a'; 2304]; // 0.2 s at 11,520 bytes/s
    let sink = pty.sink();
    let read = tokio::task::spawn_blocking(move || {
        let mut buf = vec![0u8; 2304];
        let t0 = std::time::Instant::now();
        reader.read_exact(&mut buf).unwrap();
        t0.elapsed()
    });
    sink.send(frame);
    let took = read.await.unwrap();
    assert!(took >= Duration::from_millis(150), "paced write took only {took:?}");
}

#[tokio::test]
async fn tcp_fanout_serves_every_reader_and_a_stalled_one_blocks_nobody() {
    let out = TcpFanout::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let mut fast = tokio::net::TcpStream::connect(out.local_addr()).await.unwrap();
    let _stalled = tokio::net::TcpStream::connect(out.local_addr()).await.unwrap();
    // Let the accept loop register both readers.
    while out.sink().stats().readers.load(std::sync::atomic::Ordering::Relaxed) < 2 {
        tokio::task::yield_now().await;
    }
    let sink = out.sink();
    let frame = vec![b'y'; 4096];
    let mut received = 0usize;
    let mut buf = vec![0u8; 65536];
    for _ in 0..500 {
        sink.send(frame.clone());
        // The fast reader keeps up; the stalled one never reads a byte.
        while received < 4096 {
            received += tokio::time::timeout(Duration::from_secs(5), fast.read(&mut buf))
                .await
                .unwrap()
                .unwrap();
        }
        received -= 4096;
    }
}
