//! Outputs against real ptys and TCP sockets on this machine.
#![allow(clippy::unwrap_used)]

use serial::{FrameSink, Pty, TcpFanout};
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
async fn a_new_pty_reader_gets_the_latest_frame_not_a_backlog() {
    let dir = std::env::temp_dir().join(format!("meterlab-pty-stale-{}", std::process::id()));
    let link = dir.join("rig-a/meter-01");
    let pty = Pty::open(Some(&link), None).unwrap();
    let sink = pty.sink();
    // A meter runs for a while with nobody reading its pty (the lab up, no tool attached yet).
    let frames: Vec<Vec<u8>> = (0..40)
        .map(|i| format!("/XMX5{i:03}\r\n\r\n1-0:1.8.1({i:06}.000*kWh)\r\n!\r\n").into_bytes())
        .collect();
    for f in &frames {
        assert!(sink.send(f.clone()));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Then a user opens the stable link: the first frame is the latest, not the oldest.
    let mut reader = std::fs::File::open(&link).unwrap();
    let len = frames[0].len();
    let got = tokio::task::spawn_blocking(move || {
        let mut buf = vec![0u8; len];
        reader.read_exact(&mut buf).unwrap();
        buf
    });
    let got = tokio::time::timeout(Duration::from_secs(5), got).await.unwrap().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(frames.last().unwrap()),
        "a new reader must start with current telegrams"
    );
    // The unread frames were discarded and counted as dropped.
    let dropped = sink.stats().dropped.load(std::sync::atomic::Ordering::Relaxed);
    assert!(dropped >= 30, "dropped {dropped}");
    drop(pty);
    let _ = std::fs::remove_dir_all(&dir);
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

/// The frames every line carries in the conformance suite.
fn frames() -> Vec<Vec<u8>> {
    (0..20)
        .map(|i| format!("/XMX5{i}\r\n\r\n1-0:1.8.1({i:06}.000*kWh)\r\n!\r\n").into_bytes())
        .collect()
}

/// The conformance suite every line implementation passes: frames arrive byte-exact (CR LF
/// included), complete and in order.
async fn conformance<R: tokio::io::AsyncRead + Unpin>(name: &str, sink: FrameSink, mut reader: R) {
    for f in &frames() {
        assert!(sink.send(f.clone()), "{name}: send refused");
        // One frame in flight at a time keeps within every line's buffer.
        let mut got = vec![0u8; f.len()];
        tokio::time::timeout(Duration::from_secs(5), reader.read_exact(&mut got))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&got, f, "{name}");
    }
}

#[tokio::test]
async fn conformance_mem_line() {
    let (sink, reader) = serial::mem_line(None);
    conformance("mem", sink, reader).await;
    let (sink, reader) = serial::mem_line(Some(115_200));
    conformance("mem paced", sink, reader).await;
}

/// The same suite on the in-memory P1 cable the simulated dongles read: on the caller's
/// clock, so "in flight" is a time, not a buffer.
#[test]
fn conformance_cable() {
    let t0 = calendar::Timestamp::from_second(1_790_000_000).unwrap();
    for baud in [None, Some(115_200), Some(9_600)] {
        let mut cable = serial::Cable::new(baud);
        let mut now = t0;
        for f in &frames() {
            assert!(cable.write(now, f), "{baud:?}: write refused");
            now = cable.next_deadline().unwrap_or(now);
            let mut got = Vec::new();
            cable.read(now, &mut got);
            assert_eq!(&got, f, "{baud:?}");
        }
        // All at once, then read in one go: in order, nothing lost, nothing doubled.
        let all = frames();
        for f in &all {
            assert!(cable.write(now, f));
        }
        let mut got = Vec::new();
        while let Some(t) = cable.next_deadline() {
            cable.read(t, &mut got);
        }
        assert_eq!(got, all.concat(), "{baud:?}");
    }
}

#[tokio::test]
async fn conformance_tcp() {
    let out = TcpFanout::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let reader = tokio::net::TcpStream::connect(out.local_addr()).await.unwrap();
    while out.sink().stats().readers.load(std::sync::atomic::Ordering::Relaxed) < 1 {
        tokio::task::yield_now().await;
    }
    conformance("tcp", out.sink(), reader).await;
}

#[tokio::test]
async fn conformance_pty() {
    let pty = Pty::open(None, None).unwrap();
    let reader = tokio::fs::File::open(pty.path()).await.unwrap();
    conformance("pty", pty.sink(), reader).await;
}

/// A real device only where one is configured: MLAB_SERIAL_DEVICE=/dev/ttyUSB0 with a loopback
/// plug (TX to RX). Without it, the test says so.
#[tokio::test]
async fn conformance_device() {
    let Ok(path) = std::env::var("MLAB_SERIAL_DEVICE") else {
        eprintln!(
            "\n*** SKIPPED: no real serial device (set MLAB_SERIAL_DEVICE to a port with a loopback plug) ***\n"
        );
        return;
    };
    let sink = serial::open_device(&path, 115_200).unwrap();
    let reader = tokio::fs::File::open(&path).await.unwrap();
    conformance("device", sink, reader).await;
}
