//! The `meterlab` binary as a user runs it.
#![allow(clippy::unwrap_used)] // helpers in test binaries may unwrap, like the tests themselves

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

mod common;
use common::{fixture, meterlab, text};

#[test]
fn certify_lists_its_catalogue_and_checks_a_statement() {
    let out = meterlab(&["certify", "list", "--json"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 20, "{}", cases.len());
    assert!(cases.iter().all(|c| c["requirements"].as_array().is_some_and(|r| !r.is_empty())));
    assert!(doc["catalogue"].as_str().is_some_and(|v| !v.is_empty()));
    let dir = std::env::temp_dir().join(format!("meterlab-certify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("esp.yaml");
    let statement = "name: Alpha\nkbo: 0123.456.749\nservices:\n  - { id: live, name: Live, needs: [nrt] }\nclaims: [nrt-stream]\nmax_reaction: 30s\n";
    std::fs::write(&file, statement).unwrap();
    let out = meterlab(&["certify", "statement", file.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("not-applicable: no day-data claim"),
        "{}",
        text(&out.stdout)
    );
    std::fs::write(&file, statement.replace("30s", "soon")).unwrap();
    let out = meterlab(&["certify", "statement", file.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("max_reaction"), "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn help_lists_every_subcommand() {
    let out = meterlab(&["--help"], None);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for cmd in ["p1", "up", "console", "test", "sim", "platform", "book", "rig", "certify"] {
        assert!(help.contains(cmd), "{cmd} missing from --help:\n{help}");
    }
    assert!(!help.contains("not built yet"), "{help}");
}

#[test]
fn console_and_up_help_have_examples() {
    let help = text(&meterlab(&["console", "--help"], None).stdout);
    for s in [
        "--lab <LAB>",
        "MLAB_LAB",
        "--token <TOKEN>",
        "--refresh <REFRESH>",
        "Examples:",
        "meterlab console --lab",
    ] {
        assert!(help.contains(s), "{s} missing from console --help:\n{help}");
    }
    let help = text(&meterlab(&["up", "--help"], None).stdout);
    for s in ["--lab-listen <LAB_LISTEN>", "--headless", "Examples:", "meterlab up --headless"] {
        assert!(help.contains(s), "{s} missing from up --help:\n{help}");
    }
}

#[test]
fn console_without_a_lab_says_how_to_start_one() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let out = meterlab(&["console", "--lab", &url], None);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains(&format!("no lab at {url}")) && err.contains("meterlab up"), "{err}");
}

fn features(sub: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../features").join(sub).display().to_string()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("meterlab-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn test_help_has_examples_and_exit_codes() {
    let out = meterlab(&["test", "--help"], None);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for s in [
        "--tags <EXPR>",
        "--junit <FILE>",
        "--json <FILE>",
        "--seed <SEED>",
        "--concurrency <N>",
        "--fail-fast",
        "--list",
        "Examples:",
        "meterlab test features/lab --tags",
        "Exit status:",
        "2  only lab errors",
    ] {
        assert!(help.contains(s), "{s} missing from test --help:\n{help}");
    }
}

/// The fast booking scenario (R-LAB-3, not the 22-hour one), with both reports.
#[test]
fn test_runs_a_tagged_subset_and_writes_junit_and_json() {
    let dir = temp_dir("test-reports");
    let (junit, json) = (dir.join("junit.xml"), dir.join("report.json"));
    let out = meterlab(
        &[
            "test",
            &features("lab"),
            "--tags",
            "@R-LAB-3 and not @slow",
            "--junit",
            junit.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
            "--seed",
            "11",
        ],
        None,
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("seed 11"), "{stdout}");
    assert!(stdout.contains("Booking rules are enforced with a reason"), "{stdout}");
    assert!(stdout.contains("scenarios: 1 passed, 0 failed, 0 lab errors"), "{stdout}");

    // JUnit: well-formed XML with a testcase per scenario.
    let xml = std::fs::read_to_string(&junit).unwrap();
    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut testcases = 0;
    loop {
        match reader.read_event().unwrap() {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e)
                if e.name().as_ref() == b"testcase" =>
            {
                testcases += 1;
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(testcases, 1, "{xml}");
    assert!(!xml.contains("<failure"), "{xml}");

    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(v["seed"], 11);
    assert!(v["passed"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["failed"], 0, "{v}");
    assert_eq!(v["lab_errors"], 0, "{v}");
    assert!(v["wall_s"].as_f64().is_some() && v["started"].is_string(), "{v}");
    let sc = &v["scenarios"][0];
    assert_eq!(sc["status"], "passed", "{v}");
    assert_eq!(sc["feature"], "A 22-hour test slot on a rig");
    assert!(sc["tags"].as_array().unwrap().iter().any(|t| t == "@R-LAB-3"), "{v}");
    assert!(sc["duration_ms"].is_u64());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Existing step texts, an impossible expectation: a failure (exit 1). A rig that does not
/// exist makes the `Lab` itself return an error: a lab error (exit 2 when that is all).
#[test]
fn test_tells_failures_from_lab_errors_in_exit_code_and_json() {
    let dir = temp_dir("test-failing");
    std::fs::write(
        dir.join("impossible.feature"),
        "Feature: Deliberately wrong
  Scenario: A slot of 23 hours
    Given the lab clock reads 2026-12-01T06:00:00 in Brussels
    And ACME Dongles has signed a usage agreement
    When ACME Dongles books rig-a starting 2026-12-08T20:00:00
    Then the slot ends 22 hours later, at 2026-12-09T19:00:00 in Brussels
",
    )
    .unwrap();
    let json = dir.join("failed.json");
    let out = meterlab(&["test", dir.to_str().unwrap(), "--json", json.to_str().unwrap()], None);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("FAILED: Deliberately wrong: A slot of 23 hours"), "{stdout}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!((v["passed"].as_u64(), v["failed"].as_u64()), (Some(0), Some(1)), "{v}");
    let sc = &v["scenarios"][0];
    assert_eq!(sc["status"], "failed", "{v}");
    let msg = sc["message"].as_str().unwrap();
    assert!(msg.contains("the slot ends 22 hours later") && !msg.contains("lab error"), "{msg}");

    let lab_dir = dir.join("lab-error");
    std::fs::create_dir_all(&lab_dir).unwrap();
    std::fs::write(
        lab_dir.join("no-such-rig.feature"),
        "Feature: A rig the lab does not have
  Scenario: Attaching rig-z
    Given the lab clock reads 2026-06-01T10:00:00 in Brussels
    And rig-z is attached to the lab as an ephemeral CI rig
",
    )
    .unwrap();
    let json = dir.join("lab-error.json");
    let out =
        meterlab(&["test", lab_dir.to_str().unwrap(), "--json", json.to_str().unwrap()], None);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("LAB ERROR: A rig the lab does not have"), "{stdout}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(v["lab_errors"], 1, "{v}");
    assert_eq!(v["scenarios"][0]["status"], "lab-error", "{v}");
    assert!(v["scenarios"][0]["message"].as_str().unwrap().contains("lab error: no rig rig-z"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn test_rejects_a_bad_tag_expression_clearly() {
    let out = meterlab(&["test", &features("lab"), "--tags", "@R-LAB-2 and and"], None);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("--tags") && err.contains("not a tag expression"), "{err}");
    assert!(out.stdout.is_empty(), "nothing ran");
}

#[test]
fn test_lists_scenarios_without_running_them() {
    let out = meterlab(&["test", &features(""), "--list", "--tags", "not @slow"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(
        s.lines().any(|l| l.starts_with(
            "A 22-hour test slot on a rig: Booking rules are enforced with a reason  [@R-LAB-1"
        )),
        "{s}"
    );
    assert!(s.contains("Dongle outage and recovery: A 20-minute Wi-Fi loss"), "{s}");
    assert!(!s.contains("22 hours across midnight"), "@slow is left out: {s}");
    assert!(!s.contains("passed"), "nothing ran: {s}");

    // Without ./features the suites built into the binary are used, and it says so.
    let dir = temp_dir("test-embedded");
    let out = Command::new(env!("CARGO_BIN_EXE_meterlab"))
        .args(["test", "--list"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("built into meterlab"), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("22 hours across midnight"));
    std::fs::remove_dir_all(&dir).unwrap();
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

#[test]
fn sim_lists_variants_and_profiles_one_per_line() {
    let out = meterlab(&["sim", "--list"], None);
    assert!(out.status.success());
    let s = text(&out.stdout);
    assert_eq!(s.lines().count(), 8, "{s}");
    assert!(
        s.lines()
            .all(|l| l.split_once('\t').is_some_and(|(id, d)| !id.is_empty() && !d.is_empty()))
    );
    let out = meterlab(&["sim", "--list-profiles"], None);
    assert!(text(&out.stdout).lines().any(|l| l.starts_with("household:3500+pv:4\t")));
}

#[test]
fn sim_same_seed_same_bytes_and_every_telegram_checks() {
    let args = [
        "sim",
        "--variant",
        "fluvius-s211-1.7.1",
        "--profile",
        "household+gas",
        "--seed",
        "9",
        "--speed",
        "max",
        "--from",
        "2026-10-25T01:59:50",
        "--for",
        "2h",
    ];
    let a = meterlab(&args, None);
    let b = meterlab(&args, None);
    assert!(a.status.success(), "{}", text(&a.stderr));
    assert_eq!(a.stdout, b.stdout);
    // 2 hours across the autumn DST change: 7,200 telegrams (the repeated hour included).
    let out = meterlab(&["p1", "check", "-"], Some(&a.stdout));
    assert!(
        text(&out.stdout).contains("7200 telegram(s), 7200 valid, 0 with errors"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn sim_faults_show_up_in_p1_check() {
    let a = meterlab(
        &["sim", "--speed", "max", "--for", "10m", "--faults", "crc:0.05", "--seed", "3"],
        None,
    );
    let out = meterlab(&["p1", "check", "-"], Some(&a.stdout));
    assert_eq!(out.status.code(), Some(1));
    let s = text(&out.stdout);
    assert!(s.contains("CRC mismatch"), "{s}");
}

#[test]
fn sim_summary_prints_twelve_months() {
    let out =
        meterlab(&["sim", "--summary", "--profile", "household:3500+pv:4", "--seed", "2"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert_eq!(s.lines().filter(|l| l.starts_with("2026-")).count(), 12, "{s}");
    assert!(s.contains("total"));
}

#[test]
fn sim_exports_quarter_hours_of_many_homes_with_local_offsets() {
    let path = std::env::temp_dir().join(format!("meterlab-export-{}.csv", std::process::id()));
    let out = meterlab(
        &[
            "sim",
            "--households",
            "3",
            "--from",
            "2026-03-29",
            "--for",
            "23h",
            "--export-quarter-hours",
            path.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "timestamp,household,offtake_kwh,injection_kwh");
    // The spring DST day has 92 quarter hours.
    assert_eq!(lines.len(), 1 + 92 * 3);
    assert!(lines[1].starts_with("2026-03-29T00:00:00+01:00,0,"));
    assert!(lines.iter().any(|l| l.starts_with("2026-03-29T03:00:00+02:00,2,")));
}

#[test]
fn sim_errors_say_what_to_do() {
    let out = meterlab(&["sim", "--variant", "nope"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("meterlab sim --list"));
    let out = meterlab(&["sim", "--speed", "max", "--for", "soon"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--for soon"));
    let out = meterlab(&["sim", "--out", "carrier-pigeon", "--for", "1s"], None);
    assert!(text(&out.stderr).contains("use stdout, pty"));
}

#[test]
fn sim_pty_can_be_read_by_an_ordinary_reader() {
    use std::io::{BufRead, BufReader, Read};
    let mut child = Command::new(env!("CARGO_BIN_EXE_meterlab"))
        .args(["sim", "--out", "pty", "--speed", "5", "--for", "20s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    lines.read_line(&mut first).unwrap();
    let path = first.trim().strip_prefix("pty: ").unwrap().to_owned();
    let mut dev = std::fs::File::open(&path).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut decoder = p1::Decoder::new();
    let mut ok = 0;
    while ok < 3 {
        let n = dev.read(&mut chunk).unwrap();
        buf.extend_from_slice(&chunk[..n]);
        for f in decoder.decode(&chunk[..n]) {
            assert!(matches!(f, p1::Frame::Ok { .. } | p1::Frame::Truncated { .. }), "{f:?}");
            ok += usize::from(matches!(f, p1::Frame::Ok { .. }));
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// An external program (Python, no meterlab code) reads the pty and the TCP port that
/// `meterlab sim` prints, and gets valid telegrams.
#[test]
fn python_reads_valid_telegrams_from_the_pty_and_the_tcp_port() {
    use std::io::{BufRead, BufReader};
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("\n*** SKIPPED: python3 is not installed ***\n");
        return;
    }
    for (out, script) in [
        (
            "pty",
            "import os,sys\nfd=os.open(sys.argv[1], os.O_RDONLY|os.O_NOCTTY)\nbuf=b''\nwhile buf.count(b'!')<4: buf+=os.read(fd,4096)\nsys.stdout.buffer.write(buf)",
        ),
        (
            "tcp:0",
            "import socket,sys\nh,p=sys.argv[1].rsplit(':',1)\ns=socket.create_connection((h,int(p)))\nbuf=b''\nwhile buf.count(b'!')<4: buf+=s.recv(4096)\nsys.stdout.buffer.write(buf)",
        ),
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_meterlab"))
            .args(["sim", "--out", out, "--speed", "5", "--for", "60s"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        lines.read_line(&mut first).unwrap();
        let target = first.split_once(": ").unwrap().1.trim().to_owned();
        let py = Command::new("python3").args(["-c", script, &target]).output().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(py.status.success(), "{out}: {}", text(&py.stderr));
        // The first frame may be cut (the reader joined mid-telegram); the rest are whole.
        let frames: Vec<p1::Frame> = p1::Decoder::new().decode(&py.stdout).collect();
        let ok = frames.iter().filter(|f| matches!(f, p1::Frame::Ok { .. })).count();
        assert!(ok >= 2, "{out}: {frames:?}");
        assert!(
            frames.iter().all(|f| matches!(f, p1::Frame::Ok { .. } | p1::Frame::Truncated { .. })),
            "{out}"
        );
    }
}

#[test]
fn booking_from_the_shell_agreement_slot_refusals_and_cancel() {
    let dir = std::env::temp_dir().join(format!("meterlab-book-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite:{}", dir.join("lab.db").display());
    let _ = std::fs::remove_file(dir.join("lab.db"));
    let run = |args: &[&str]| meterlab(&[args, &["--database", &db]].concat(), None);
    let create = |code: &str, rig: &str, start: &str| {
        run(&["book", "create", "--agreement", "1", "--code", code, "--rig", rig, "--start", start])
    };

    let out = run(&["rig", "list"]);
    let s = text(&out.stdout);
    assert!(s.contains("rig-a\t8 meter variants") && s.contains("rig-b"), "{s}");

    let out = run(&["book", "agree", "--holder", "ACME Dongles", "--email", "dev@acme.example"]);
    let s = text(&out.stdout);
    let code = s
        .lines()
        .find_map(|l| l.strip_prefix("access code: "))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(code.len(), 19, "XXXX-XXXX-XXXX-XXXX: {code}");

    // Far enough ahead (the lead time is 7 days), on the hour.
    let start = (clock::Timestamp::now() + clock::SignedDuration::from_hours(24 * 10)).as_second()
        / 3600
        * 3600;
    let start = clock::Timestamp::from_second(start).unwrap().to_string();
    let out = create(&code, "rig-a", &start);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("slot 1: rig-a"));

    // Overlap, wrong code, too short notice: refused with the reason.
    let out = create(&code, "rig-a", &start);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("rig-a is taken"), "{}", text(&out.stderr));
    let out = run(&[
        "book",
        "create",
        "--agreement",
        "1",
        "--code",
        "AAAA-BBBB-CCCC-DDDD",
        "--rig",
        "rig-b",
        "--start",
        &start,
    ]);
    assert!(text(&out.stderr).contains("access code does not match"), "{}", text(&out.stderr));
    let soon =
        clock::Timestamp::from_second((clock::Timestamp::now().as_second() / 3600 + 25) * 3600)
            .unwrap()
            .to_string();
    let out = run(&[
        "book",
        "create",
        "--agreement",
        "1",
        "--code",
        &code,
        "--rig",
        "rig-b",
        "--start",
        &soon,
    ]);
    assert!(text(&out.stderr).contains("at least 7 days ahead"), "{}", text(&out.stderr));

    let out = run(&["book", "list"]);
    assert!(text(&out.stdout).contains("1     rig-a  booked"), "{}", text(&out.stdout));
    let out = run(&["book", "cancel", "1", "--agreement", "1", "--code", &code]);
    assert!(out.status.success());
    assert!(text(&run(&["book", "list"]).stdout).contains("cancelled"));
    // The cancelled time is free again.
    let out = create(&code, "rig-a", &start);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// 50 holders booking 50 different days at once (separate processes on one database): all
/// succeed with distinct ids; 50 booking the same day: exactly one does. The audit log tells
/// of exactly the bookings that happened. (Before: 5–10 of 50 succeeded, the rest failed with
/// the database's UNIQUE error, and the audit said 50 "booked".)
#[test]
fn fifty_parallel_bookings_from_the_shell_neither_collide_nor_lie() {
    let mut dbs = vec![];
    let dir = temp_dir("book-race");
    let _ = std::fs::remove_file(dir.join("race.db"));
    dbs.push(format!("sqlite:{}", dir.join("race.db").display()));
    match std::env::var("MLAB_PG_URL") {
        Ok(url) => {
            let schema = format!("race_{}", std::process::id());
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let admin = store::SqlStore::open(&url).await.unwrap();
                admin.exec(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await.unwrap();
                admin.exec(&format!("CREATE SCHEMA {schema}")).await.unwrap();
            });
            let sep = if url.contains('?') { '&' } else { '?' };
            dbs.push(format!("{url}{sep}options=-csearch_path%3D{schema}"));
        }
        Err(_) => eprintln!("\n*** SKIPPED on PostgreSQL: MLAB_PG_URL is not set ***\n"),
    }
    for db in dbs {
        let run = |args: &[&str]| meterlab(&[args, &["--database", &db]].concat(), None);
        let mut codes = Vec::new();
        for i in 0..50 {
            let out = run(&[
                "book",
                "agree",
                "--holder",
                &format!("Holder {i}"),
                "--email",
                "h@x.example",
            ]);
            assert!(out.status.success(), "{}", text(&out.stderr));
            let s = text(&out.stdout);
            let code = s.lines().find_map(|l| l.strip_prefix("access code: ")).unwrap();
            codes.push(code.split_whitespace().next().unwrap().to_owned());
        }
        let day = |d: i64| {
            let t = clock::Timestamp::now() + clock::SignedDuration::from_hours(24 * (10 + d));
            clock::Timestamp::from_second(t.as_second() / 3600 * 3600).unwrap().to_string()
        };
        let race = |start: &dyn Fn(usize) -> String| {
            let children: Vec<_> = (0..50)
                .map(|i| {
                    let agreement = (i + 1).to_string();
                    std::process::Command::new(env!("CARGO_BIN_EXE_meterlab"))
                        .args(["book", "create", "--agreement", &agreement, "--code", &codes[i]])
                        .args(["--rig", "rig-a", "--start", &start(i), "--database", &db])
                        .stdout(std::process::Stdio::piped())
                        .stderr(std::process::Stdio::piped())
                        .spawn()
                        .unwrap()
                })
                .collect();
            children.into_iter().map(|c| c.wait_with_output().unwrap()).collect::<Vec<_>>()
        };
        // 50 different days, 24 h apart: no two overlap.
        let apart = race(&|i| day(i as i64));
        for o in &apart {
            assert!(o.status.success(), "{db}: {}", text(&o.stderr));
        }
        let mut ids: Vec<String> =
            apart.iter().map(|o| text(&o.stdout).split(':').next().unwrap().to_owned()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 50, "{db}: every booking has its own id");
        // 50 at the same hour on rig-a, 200 days on: exactly one wins; the others are told
        // the rig is taken, never the database's own text.
        let same = race(&|_| day(200));
        let wins = same.iter().filter(|o| o.status.success()).count();
        let told: Vec<String> = same.iter().map(|o| text(&o.stderr)).collect();
        assert_eq!(wins, 1, "{db}: {told:#?}");
        for o in same.iter().filter(|o| !o.status.success()) {
            let e = text(&o.stderr);
            assert!(e.contains("rig-a is taken"), "{db}: {e}");
            assert!(!e.to_lowercase().contains("unique") && !e.contains("constraint"), "{db}: {e}");
        }
        // The audit log: one "booked" per slot, one refusal per loser.
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (slots, audit) = rt.block_on(async {
            use ledgerdb::LedgerStore as _;
            let s = ledgerdb::open(&db).await.unwrap();
            (s.slots(None).await.unwrap(), s.audit().await.unwrap())
        });
        assert_eq!(slots.len(), 51, "{db}");
        let booked = audit.iter().filter(|a| a.action.starts_with("Booked")).count();
        let refused = audit.iter().filter(|a| a.action.starts_with("Refused")).count();
        assert_eq!((booked, refused), (51, 49), "{db}");
        // An unknown rig is an error, not an empty table.
        let out = run(&["book", "list", "--rig", "rig-q"]);
        assert_eq!(out.status.code(), Some(2), "{db}");
        assert!(text(&out.stderr).contains("no rig rig-q"), "{}", text(&out.stderr));
    }
}

/// The README's main command, as a new user runs it: the API answers, a printed pty delivers
/// valid telegrams, the dongles feed the platform, and Ctrl-C stops cleanly.
#[test]
fn meterlab_up_boots_the_lab_and_stops_cleanly_on_ctrl_c() {
    use std::io::{BufRead, BufReader, Read};
    let dir = std::env::temp_dir().join(format!("meterlab-up-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite:{}", dir.join("lab.db").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_meterlab"))
        .args(["up", "--listen", "127.0.0.1:0", "--mqtt", "embedded:0", "--database", &db])
        .args(["--lab-listen", "127.0.0.1:0", "--run-dir", dir.join("run").to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Stop the lab even when an assertion fails, so no `meterlab up` outlives the test.
    struct Kill(u32);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = Command::new("kill").args(["-KILL", &self.0.to_string()]).status();
        }
    }
    let _guard = Kill(child.id());
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    while lines.iter().filter(|l: &&String| l.starts_with("rig-")).count() < 14 {
        let mut l = String::new();
        assert!(out.read_line(&mut l).unwrap() > 0, "meterlab up ended early: {lines:?}");
        lines.push(l.trim_end().to_owned());
    }
    let api = lines.iter().find_map(|l| l.strip_prefix("api: ")).unwrap().to_owned();
    let addr = api.strip_prefix("http://").unwrap();
    let health = http_get(addr, "/health");
    assert!(health.contains("\"status\":\"ok\""), "{health}");
    // A link printed for a meter reads like a serial port.
    let link = lines.iter().find(|l| l.starts_with("rig-b/meter-02")).unwrap();
    let link = link.split('\t').find_map(|f| f.strip_prefix("link ")).unwrap().to_owned();
    let mut dev = std::fs::File::open(&link).unwrap();
    let mut decoder = p1::Decoder::new();
    let mut ok = 0;
    let mut buf = [0u8; 4096];
    while ok < 2 {
        let n = dev.read(&mut buf).unwrap();
        ok += decoder.decode(&buf[..n]).filter(|f| matches!(f, p1::Frame::Ok { .. })).count();
    }
    // The dongles reach the platform.
    let dongles = http_get(addr, "/api/admin/v1/dongles");
    assert_eq!(
        dongles.matches("\"dongle\":").count(),
        14,
        "14 P1 meters, a dongle each: {dongles}"
    );
    assert!(
        dongles.contains("\"expected_interval\":\"PT10S\""),
        "Smarty and DSMR 4.2 dongles send every 10 s"
    );
    // The lab API for the console: the whole lab in one snapshot, behind the admin token.
    while !lines.iter().any(|l| l.starts_with("lab: ")) {
        let mut l = String::new();
        assert!(out.read_line(&mut l).unwrap() > 0, "meterlab up ended early: {lines:?}");
        lines.push(l.trim_end().to_owned());
    }
    assert!(lines.iter().any(|l| l.starts_with("registers: 14 access points")), "{lines:?}");
    let lab = lines.iter().find_map(|l| l.strip_prefix("lab: http://")).unwrap().to_owned();
    let snap = http_get(&lab, "/api/lab/v1/snapshot");
    assert!(snap.starts_with("HTTP/1.1 200"), "{snap}");
    let body = &snap[snap.find("\r\n\r\n").unwrap() + 4..];
    let snap: tui::Snapshot = serde_json::from_str(body).unwrap();
    assert_eq!(snap.meters.len(), 14);
    assert_eq!(snap.rigs.len(), 2);
    assert_eq!(snap.points.len(), 14);
    assert!(snap.scenarios.len() > 5);
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let status = child.wait().unwrap();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(status.success(), "{err}");
    assert!(err.contains("meterlab up: stopped"), "{err}");
}

fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    // The default admin token of `meterlab up` (supervision endpoints need one).
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer meterlab-admin-dev\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body
}

/// A tmux server of the test's own (`-L`), so nothing touches the user's sessions.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux").args(["-L", &self.socket]).args(args).output().unwrap()
    }

    fn capture(&self) -> String {
        text(&self.run(&["capture-pane", "-p", "-t", "t"]).stdout)
    }

    fn display(&self, format: &str) -> String {
        text(&self.run(&["display-message", "-p", "-t", "t", format]).stdout).trim().to_owned()
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            assert!(self.run(&["send-keys", "-t", "t", k]).status.success());
            std::thread::sleep(std::time::Duration::from_millis(150));
        }
    }

    /// Waits (up to 30 s) until the pane shows everything in `wanted`; the pane's text.
    fn wait_for(&self, wanted: &[&str]) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let screen = self.capture();
            if wanted.iter().all(|w| screen.contains(w)) {
                return screen;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the terminal never showed {wanted:?}:\n{screen}"
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// The console as a person uses it, in a real terminal (tmux): it attaches to a running lab,
/// switches screens, books a slot and revokes a consent through the lab API, and on `q` gives
/// the terminal back as it found it.
#[test]
fn the_console_in_a_terminal_books_a_slot_revokes_a_consent_and_restores_the_terminal() {
    use std::io::{BufRead, BufReader};
    let tmux_ok = Command::new("tmux").arg("-V").output().is_ok_and(|o| o.status.success());
    assert!(
        tmux_ok,
        "this test drives the console in a terminal with tmux, which is not installed: \
         install it (Debian: apt-get install tmux) — the test does not skip"
    );
    let dir = temp_dir("console");
    let db = format!("sqlite:{}", dir.join("lab.db").display());
    let bin = env!("CARGO_BIN_EXE_meterlab");

    // A usage agreement on the lab's database, as a holder signs it.
    let out = meterlab(
        &[
            "book",
            "agree",
            "--holder",
            "Console QA",
            "--email",
            "qa@lab.example",
            "--database",
            &db,
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("agreement: 1"));

    let mut child = Command::new(bin)
        .args(["up", "--headless", "--listen", "127.0.0.1:0", "--lab-listen", "127.0.0.1:0"])
        .args(["--database", &db, "--mqtt", "embedded:0"])
        .args(["--run-dir", dir.join("run").to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    struct Kill(u32);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = Command::new("kill")
                .args(["-KILL", &self.0.to_string()])
                .stderr(Stdio::null())
                .status();
        }
    }
    let _guard = Kill(child.id());
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut lines: Vec<String> = Vec::new();
    while !lines.iter().any(|l| l.starts_with("lab: ")) {
        let mut l = String::new();
        assert!(out.read_line(&mut l).unwrap() > 0, "meterlab up ended early: {lines:?}");
        lines.push(l.trim_end().to_owned());
    }
    let api = lines.iter().find_map(|l| l.strip_prefix("api: http://")).unwrap().to_owned();
    let lab = lines.iter().find_map(|l| l.strip_prefix("lab: ")).unwrap().to_owned();

    let tmux = Tmux { socket: format!("meterlab-test-{}", std::process::id()) };
    let started = tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "t",
        "-x",
        "200",
        "-y",
        "50",
        "env",
        "PS1=lab$ ",
        "sh",
    ]);
    assert!(started.status.success(), "tmux: {}", text(&started.stderr));
    tmux.wait_for(&["lab$"]);
    assert_eq!(tmux.display("#{alternate_on}"), "0");
    tmux.keys(&[&format!("{bin} console --lab {lab}"), "Enter"]);

    // It opens on the Rigs screen, in the alternate screen.
    tmux.wait_for(&["1 Rigs", "6 Scenarios", "Slots (0)", "rig-a", "rig-b"]);
    assert_eq!(tmux.display("#{alternate_on}"), "1");
    tmux.keys(&["2"]);
    tmux.wait_for(&["Live meters (14)", "rig-a/01", "s211-1.7.1", "last telegram"]);
    tmux.keys(&["3"]);
    tmux.wait_for(&["rig-a-01", "rig-b-07", "online"]);
    tmux.keys(&["4"]);
    tmux.wait_for(&["availability"]);
    tmux.keys(&["6"]);
    tmux.wait_for(&["pending", "@R-LAB-2"]);
    tmux.keys(&["5"]);
    tmux.wait_for(&["Demo ESP", "G1"]);

    // Book a slot on rig-a ten days ahead at 10:00, under agreement 1.
    let day = clock::local_date(clock::Timestamp::now() + clock::SignedDuration::from_hours(240));
    let start = format!("{day}T10:00");
    tmux.keys(&["1", "b"]);
    tmux.wait_for(&["Book a slot"]);
    tmux.keys(&[&start, "Tab", "1", "Enter"]);
    tmux.wait_for(&["slot 1 booked on rig-a", "Slots (1)", "Console QA"]);

    // Revoke the first point's consent: focus the consents table, r, and confirm with y.
    tmux.keys(&["5", "Right", "r"]);
    tmux.wait_for(&["Revoke consent C1"]);
    tmux.keys(&["y"]);
    let screen = tmux.wait_for(&["consent C1 revoked"]);
    assert!(!screen.contains("✗"), "{screen}");

    // The platform agrees: C1 is revoked; the ledger has the slot.
    let reg = http_get(&api, "/api/admin/v1/registers");
    let body: serde_json::Value =
        serde_json::from_str(&reg[reg.find("\r\n\r\n").unwrap() + 4..]).unwrap();
    let consents: Vec<&serde_json::Value> = body["points"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["consents"].as_array().unwrap())
        .collect();
    let c1 = consents.iter().find(|c| c["id"] == "C1").unwrap();
    assert!(c1["revoked_at"].is_string(), "{c1}");
    assert!(consents.iter().filter(|c| c["id"] != "C1").all(|c| c["revoked_at"].is_null()));
    let list = text(&meterlab(&["book", "list", "--database", &db], None).stdout);
    assert!(list.contains("1     rig-a  booked"), "{list}");
    assert!(list.contains(&format!("{day} 10:00")), "{list}");

    // q: the console ends, the shell is back on the main screen.
    tmux.keys(&["q"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while tmux.display("#{alternate_on}") != "0" {
        assert!(std::time::Instant::now() < deadline, "still in the alternate screen");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let screen = tmux.wait_for(&["console --lab"]);
    let last = screen.lines().rfind(|l| !l.trim().is_empty()).unwrap_or_default();
    assert_eq!(last.trim_end(), "lab$", "the prompt is back, nothing left over:\n{screen}");
    assert_eq!(tmux.display("#{pane_current_command}"), "sh");
    assert_eq!(tmux.display("#{cursor_flag}"), "1", "the cursor is visible again");

    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(child.wait().unwrap().success());
}
