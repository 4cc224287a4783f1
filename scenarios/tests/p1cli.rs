//! `meterlab p1 check|decode` on inputs from the outside probe of issue 14: memory on large
//! inputs, out-of-spec values, a reader that closes the pipe.
#![allow(clippy::unwrap_used)] // helpers in test binaries may unwrap, like the tests themselves

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;
use common::{fixture, meterlab, text};

/// A file in the temp directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, bytes: &[u8]) -> TempFile {
        let path =
            std::env::temp_dir().join(format!("meterlab-p1cli-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        TempFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Appends `!`, the CRC and CR LF to a telegram body `/…` (through its last line's CR LF).
fn with_crc(body: &str) -> Vec<u8> {
    let mut bytes = format!("{body}!").into_bytes();
    let crc = p1::crc16(&bytes);
    bytes.extend_from_slice(format!("{crc:04X}\r\n").as_bytes());
    bytes
}

/// The peak resident set of a running process, in kB (Linux).
fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Issue 14: `p1 check` on 10 MB of `/A` CR LF took 5.5 GB (every frame kept, each with a
/// 2 kB buffer). Streamed, the peak stays at the binary's own size whatever the input.
#[test]
fn check_memory_stays_flat_on_ten_megabytes_of_tiny_frames() {
    const LIMIT_KB: u64 = 200 * 1024;
    let frames = 10 * 1024 * 1024 / 4;
    let big = TempFile::new("tiny-frames.bin", &b"/A\r\n".repeat(frames));
    let mut child = Command::new(env!("CARGO_BIN_EXE_meterlab"))
        .args(["p1", "check", big.path()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // 2.6 million report lines: read them as they come, keeping only the count and the last.
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let (mut n, mut last) = (0usize, String::new());
        for line in BufReader::new(stdout).lines() {
            n += 1;
            last = line.unwrap();
        }
        (n, last)
    });
    let mut peak = 0;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        peak = peak.max(vm_hwm_kb(child.id()).unwrap_or(0));
        if peak > LIMIT_KB {
            // Fail now rather than let the old behaviour take the machine's memory.
            child.kill().unwrap();
            panic!("meterlab p1 check grew to {peak} kB on a 10 MB input");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let (lines, last) = reader.join().unwrap();
    assert_eq!(status.code(), Some(1));
    // The last `/A` waits for its end and is dropped at the end of input as a half frame.
    let n = frames - 1;
    assert_eq!(last, format!("{n} telegram(s), 0 valid, {n} with errors"));
    assert_eq!(lines, n + 1);
    if std::path::Path::new("/proc/self/status").exists() {
        assert!(peak > 0, "VmHWM was never read");
    }
}

/// Issue 14: these values passed `p1 check` and read as 0 kWh.
#[test]
fn check_refuses_out_of_spec_values_naming_line_code_and_format() {
    let bad = with_crc(
        "/FLU5\\253769484_A\r\n\r\n0-0:96.1.4(50217)\r\n0-0:1.0.0(231302121548W)\r\n\
         1-0:1.8.1(99999999999999999999999.999*kWh)\r\n1-0:1.8.2(000270.014*kW)\r\n\
         1-0:1.7.0(-1.#INF*kW)\r\n",
    );
    let out = meterlab(&["p1", "check", "-"], Some(&bad));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let s = text(&out.stdout);
    for expected in [
        "telegram 1: error: line 4 (0-0:1.0.0): (231302121548W) is not a date and time; \
         expected a timestamp YYMMDDhhmmssX",
        "telegram 1: error: line 5 (1-0:1.8.1): (99999999999999999999999.999*kWh) is not a \
         number; expected F9(3,3) *kWh",
        "telegram 1: error: line 6 (1-0:1.8.2): (000270.014*kW) has the unit kW, which is not \
         this object's; expected F9(3,3) *kWh",
        "telegram 1: error: line 7 (1-0:1.7.0): (-1.#INF*kW) is not a number; expected F5(3,3)",
        "1 telegram(s), 0 valid, 1 with errors",
    ] {
        assert!(s.contains(expected), "{expected}\nmissing from:\n{s}");
    }

    // `decode` still shows what the telegram says, and flags the values.
    let out = meterlab(&["p1", "decode", "-"], Some(&bad));
    assert_eq!(out.status.code(), Some(1));
    let s = text(&out.stdout);
    assert!(s.contains("telegram 1: ok (/FLU5\\253769484_A"), "{s}");
    assert!(s.contains("  out of spec: line 5 (1-0:1.8.1): (99999999999999999999999"), "{s}");
    let out = meterlab(&["p1", "decode", "--json", "-"], Some(&bad));
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["violations"].as_array().unwrap().len(), 4, "{v:#}");
}

/// Every real and spec telegram in fixtures/p1 passes the stricter check, plain or encrypted.
#[test]
fn check_passes_every_fixture() {
    let names: Vec<String> = std::fs::read_dir(fixture(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".txt"))
        .collect();
    let all: Vec<u8> = names.iter().flat_map(|n| std::fs::read(fixture(n)).unwrap()).collect();
    let out = meterlab(&["p1", "check", "-"], Some(&all));
    let n = names.len();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains(&format!("{n} telegram(s), {n} valid, 0 with errors")));
    for (name, key) in [
        ("smarty-lux5-2018-encrypted.bin", "D491470F47126332B07D1923B3504188"),
        ("smarty-format-synthetic-encrypted-sagemcom-t210.bin", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
    ] {
        let f = fixture(name);
        let out = meterlab(&["p1", "check", f.to_str().unwrap(), "--key", key], None);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out.stdout));
    }
}

/// `decode --json` streams one array: the same document, however many frames.
#[test]
fn decode_json_streams_one_array_of_every_frame() {
    let one = std::fs::read(fixture("dsmr-5.0-iskra-am550-3phase.txt")).unwrap();
    let mut input = one.repeat(200);
    input.extend_from_slice(b"/A\r\n");
    input.extend_from_slice(&one);
    let f = TempFile::new("frames.txt", &input);
    let out = meterlab(&["p1", "decode", "--json", f.path()], None);
    assert_eq!(out.status.code(), Some(1), "one frame is truncated");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let frames = v.as_array().unwrap();
    assert_eq!(frames.len(), 202);
    assert_eq!(frames[200]["status"], "truncated");
    assert!(
        frames
            .iter()
            .filter(|f| f["status"] == "ok")
            .all(|f| f["violations"] == serde_json::json!([]))
    );
    assert!(text(&out.stdout).starts_with("[\n  {\n    \"bytes\": 807,"), "pretty as before");
}

/// Issue 14: `meterlab p1 decode FILE | head` ended with `error: Broken pipe`.
#[test]
fn a_reader_that_closes_the_pipe_ends_output_quietly() {
    let one = std::fs::read(fixture("fluvius-emucs-1.7.1-3phase.txt")).unwrap();
    let f = TempFile::new("many.txt", &one.repeat(2000));
    for args in [
        ["p1", "decode", f.path(), ""],
        ["p1", "decode", f.path(), "--json"],
        ["p1", "check", f.path(), ""],
    ] {
        let args: Vec<&str> = args.into_iter().filter(|a| !a.is_empty()).collect();
        let mut child = Command::new(env!("CARGO_BIN_EXE_meterlab"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Like `head -1`: read a line, then close the pipe.
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
        assert!(first.starts_with("telegram 1: ok") || first == "[\n", "{first}");
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        let status = child.wait().unwrap();
        assert_eq!((status.code(), stderr.as_str()), (Some(0), ""), "{args:?}");
    }
}

/// DSMR 4.2.2 §5.12: the last line need not end in CR LF. At the end of a file nothing else
/// will close the telegram, so it is decoded there (it was reported as "no '!'").
#[test]
fn a_telegram_without_its_last_line_end_checks_at_end_of_input() {
    let mut t = std::fs::read(fixture("dsmr-4.2-kaifa-1phase.txt")).unwrap();
    t.truncate(t.len() - 2);
    let out = meterlab(&["p1", "check", "-"], Some(&t));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("1 telegram(s), 1 valid, 0 with errors"));

    // A telegram that never reaches `!` is still reported, not passed over.
    let out = meterlab(&["p1", "check", "-"], Some(&t[..t.len() / 2]));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("telegram 1: error: no '!' ends the telegram"));
}
