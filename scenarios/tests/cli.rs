//! The `meterlab` binary as a user runs it.
#![allow(clippy::unwrap_used)] // helpers in test binaries may unwrap, like the tests themselves

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/p1").join(name)
}

fn meterlab(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_meterlab"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or_default()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn help_lists_every_subcommand_and_says_what_is_not_built() {
    let out = meterlab(&["--help"], None);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for cmd in ["p1", "up", "console", "test", "sim", "platform", "book", "rig"] {
        assert!(help.contains(cmd), "{cmd} missing from --help:\n{help}");
    }
    assert!(help.contains("not built yet"));
    let out = meterlab(&["up"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("issue #7"));
}

#[test]
fn decode_prints_named_fields_and_a_summary() {
    let f = fixture("fluvius-emucs-1.7.1-3phase.txt");
    let out = meterlab(&["p1", "decode", f.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(s.contains("telegram 1: ok (/FLU5\\253769484_A, emucs-1.7.1"), "{s}");
    assert!(s.contains("1-0:1.8.1    import_t1"), "{s}");
    assert!(s.contains("(000301.548*kWh)"));
    assert!(s.contains("import 571.562 kWh (day 301.548 + night 270.014)"), "{s}");
}

#[test]
fn decode_json_reads_stdin_and_decrypts_smarty_with_a_key() {
    let frame = std::fs::read(fixture("smarty-lux5-2018-encrypted.bin")).unwrap();
    let out = meterlab(
        &["p1", "decode", "-", "--json", "--key", "D491470F47126332B07D1923B3504188"],
        Some(&frame),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["status"], "ok");
    assert_eq!(v[0]["dialect"], "smarty");
    assert_eq!(v[0]["encrypted"]["frame_counter"], 0x0005_A8E3);
    assert_eq!(v[0]["reading"]["import_wh"][0], 6695);
}

#[test]
fn check_passes_good_telegrams_and_fails_bad_ones_with_the_reason() {
    let f = fixture("dsmr-5.0-iskra-am550-3phase.txt");
    let out = meterlab(&["p1", "check", f.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("1 telegram(s), 1 valid, 0 with errors"));

    let mut bad = std::fs::read(&f).unwrap();
    let at = bad.iter().position(|&b| b == b'2').unwrap();
    bad[at] = b'3';
    let out = meterlab(&["p1", "check", "-"], Some(&bad));
    assert_eq!(out.status.code(), Some(1));
    let s = text(&out.stdout);
    assert!(s.contains("CRC mismatch: the telegram says 58E5"), "{s}");

    let out = meterlab(&["p1", "check", "-"], Some(b"hello"));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("no telegram found"));

    let out = meterlab(&["p1", "check", "/nonexistent/file"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read /nonexistent/file"));
}
