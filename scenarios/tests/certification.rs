//! The certification kit judged by what it must catch (issue 16): the reference ESP passes
//! every case, and each misbehaving variant fails exactly the cases its broken rule is
//! checked by, no more and no fewer. One more campaign certifies the reference ESP as a
//! process of its own (`certify esp --run 'meterlab esp reference …'`), through the binary a
//! user runs.
//!
//! The campaigns run at once (each on a platform of its own): a campaign mostly waits on the
//! lab's clock, so together they take about as long as one.

#![allow(clippy::unwrap_used)]

use espref::Misbehaviour;
use scenarios::campaign::{self, Campaign, Options, Report};
use std::collections::BTreeMap;
use std::time::Duration;

/// What each variant must fail, by case id.
fn expected(m: Option<Misbehaviour>) -> &'static [&'static str] {
    use Misbehaviour::*;
    match m {
        None => &[],
        Some(KeepsReadingAfterRevocation) => &["ESP-MAN-07", "ESP-NRT-02", "ESP-NRT-04"],
        Some(ReadsPastCut) => &["ESP-MKT-02", "ESP-MKT-03", "ESP-MKT-04", "ESP-MKT-05"],
        Some(IgnoresRetryAfter) => &["ESP-SLA-01", "ESP-SLA-02"],
        Some(AcceptsForgedWebhooks) => &["ESP-HOOK-01"],
        Some(ReadsAnotherEspsPoint) => &["ESP-ACC-01"],
        Some(NeverRenews) => &["ESP-MAN-08"],
        Some(ReadsBeyondGranularity) => &["ESP-MAN-02"],
        Some(ReadsBeyondServiceNeeds) => &["ESP-NRT-03"],
    }
}

async fn certify(m: Option<Misbehaviour>) -> Report {
    let opts = options(Vec::new());
    let mut c = Campaign::start(opts).await.unwrap();
    let on = c.onboarding().clone();
    let esp = espref::Reference::start(espref::Config {
        platform: on.platform,
        token: on.token,
        webhook_secret: on.webhook_secret,
        webhook_listen: Some("127.0.0.1:0".parse().unwrap()),
        poll: Duration::from_millis(250),
        misbehave: m,
    })
    .await
    .unwrap();
    c.webhooks_to(&format!("http://{}/hooks", esp.webhook.unwrap())).await.unwrap();
    c.run(|_| {}).await.unwrap()
}

fn options(only: Vec<String>) -> Options {
    Options {
        statement: campaign::reference_statement("http://127.0.0.1:9/hooks"),
        listen: "127.0.0.1:0".parse().unwrap(),
        esp_timeout: Duration::from_secs(30),
        only,
    }
}

/// A webhook endpoint that takes connections and never answers (`hang`) or answers bytes that
/// are no HTTP (`garbage`): the ESP is judged on it, failed with the evidence, and the kit
/// finishes in bounded time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_or_garbage_webhook_endpoint_fails_its_cases_and_never_stalls_the_kit() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for garbage in [false, true] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let endpoint = tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = listener.accept().await else { return };
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    if garbage {
                        let _ = s.write_all(b"\x00\x07 not http at all\r\n\r\n").await;
                    } else {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                });
            }
        });
        let ids = ["ESP-ONB-01", "ESP-MAN-01", "ESP-HOOK-01", "ESP-HOOK-02", "ESP-HOOK-03"];
        let mut c =
            Campaign::start(options(ids.iter().map(|s| (*s).to_owned()).collect())).await.unwrap();
        let on = c.onboarding().clone();
        let _esp = espref::Reference::start(espref::Config {
            platform: on.platform,
            token: on.token,
            webhook_secret: on.webhook_secret,
            webhook_listen: None,
            poll: Duration::from_millis(250),
            misbehave: None,
        })
        .await
        .unwrap();
        c.webhooks_to(&format!("http://{addr}/hooks")).await.unwrap();
        let r = tokio::time::timeout(Duration::from_secs(180), c.run(|_| {}))
            .await
            .expect("the kit stalled on a hostile webhook endpoint")
            .unwrap();
        endpoint.abort();
        let verdict = |id: &str| r.cases.iter().find(|c| c.id == id).map(|c| c.verdict);
        let kind = if garbage { "garbage" } else { "hanging" };
        use certify::Verdict::*;
        assert_eq!(verdict("ESP-MAN-01"), Some(Passed), "{kind}: {r:#?}");
        assert_eq!(verdict("ESP-HOOK-01"), Some(Failed), "{kind}: {r:#?}");
        assert_eq!(verdict("ESP-HOOK-02"), Some(Inconclusive), "{kind}: nothing was delivered");
        assert_eq!(verdict("ESP-HOOK-03"), Some(Failed), "{kind}: {r:#?}");
        assert_eq!(r.outcome, "partial");
        assert_eq!(r.code(), 1);
    }
}

/// An ESP that sends malformed requests beside its good ones fails ESP-API-01, with the
/// requests as evidence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_fail_the_api_case_with_the_requests_as_evidence() {
    let ids = ["ESP-ONB-01", "ESP-MAN-01", "ESP-API-01"];
    let mut c =
        Campaign::start(options(ids.iter().map(|s| (*s).to_owned()).collect())).await.unwrap();
    let on = c.onboarding().clone();
    let esp = espref::Reference::start(espref::Config {
        platform: on.platform.clone(),
        token: on.token.clone(),
        webhook_secret: on.webhook_secret.clone(),
        webhook_listen: Some("127.0.0.1:0".parse().unwrap()),
        poll: Duration::from_millis(250),
        misbehave: None,
    })
    .await
    .unwrap();
    c.webhooks_to(&format!("http://{}/hooks", esp.webhook.unwrap())).await.unwrap();
    // The same ESP's sloppy side: periods it cannot spell, a body of the wrong shape.
    let http = reqwest::Client::new();
    let sloppy = tokio::spawn(async move {
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let url = format!(
                "{}/api/esp/v1/points/541448900000002049/energy?granularity=day&from=yesterday&to=today",
                on.platform
            );
            let _ = http.get(&url).bearer_auth(&on.token).send().await;
            let url = format!("{}/api/esp/v1/mandates/status", on.platform);
            let body = serde_json::json!({ "eans": 1 });
            let _ = http.post(&url).bearer_auth(&on.token).json(&body).send().await;
        }
    });
    let r = c.run(|_| {}).await.unwrap();
    sloppy.await.unwrap();
    let api = r.cases.iter().find(|c| c.id == "ESP-API-01").unwrap();
    assert_eq!(api.verdict, certify::Verdict::Failed, "{api:#?}");
    assert!(api.evidence[0].contains("10 malformed"), "{api:#?}");
    assert!(
        api.evidence.iter().any(|e| e.contains("from=yesterday") && e.ends_with("→ 422")),
        "{api:#?}"
    );
    let man = r.cases.iter().find(|c| c.id == "ESP-MAN-01").unwrap();
    assert_eq!(man.verdict, certify::Verdict::Passed, "{man:#?}");
}

fn not_passed(r: &Report) -> BTreeMap<String, String> {
    r.cases
        .iter()
        .filter(|c| c.verdict != certify::Verdict::Passed)
        .map(|c| (c.id.clone(), format!("{}: {}", c.verdict.as_str(), c.evidence.join(" | "))))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_passes_and_each_misbehaviour_fails_exactly_its_cases() {
    let variants: Vec<Option<Misbehaviour>> =
        std::iter::once(None).chain(Misbehaviour::ALL.into_iter().map(Some)).collect();
    let runs = variants.iter().map(|m| tokio::spawn(certify(*m)));
    let reports = futures::future::join_all(runs).await;
    let mut wrong = Vec::new();
    for (m, r) in variants.iter().zip(reports) {
        let r = r.unwrap();
        let name = m.map_or("the reference", |m| m.as_str());
        let got = not_passed(&r);
        let failed: Vec<&str> =
            got.iter().filter(|(_, v)| v.starts_with("failed")).map(|(k, _)| k.as_str()).collect();
        let want = expected(*m);
        if failed != want || got.len() != want.len() {
            wrong.push(format!("{name}: expected to fail {want:?}, got {got:#?}"));
        }
        assert_eq!(r.cases.len(), certify::catalogue().len(), "{name}: every case in the report");
        assert_eq!(r.code(), if want.is_empty() { 0 } else { 1 }, "{name}");
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_reference_esp_as_a_process_of_its_own_is_certified() {
    let dir = std::env::temp_dir().join(format!("mlab-certify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A free port for the reference's webhook endpoint, which the statement must name.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let statement = dir.join("esp.yaml");
    std::fs::write(
        &statement,
        campaign::reference_statement(&format!("http://127.0.0.1:{port}/hooks")),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_meterlab");
    let data = dir.join("data");
    let database = format!("sqlite:{}", dir.join("lab.db").display());
    let meterlab = |args: &[&str]| {
        std::process::Command::new(bin)
            .args(args)
            .env("MLAB_DATA_DIR", &data)
            .env("MLAB_DATABASE", &database)
            .output()
            .unwrap()
    };
    let out = std::process::Command::new(bin)
        .env("MLAB_DATA_DIR", &data)
        .env("MLAB_DATABASE", &database)
        .args(["certify", "esp", "--statement"])
        .arg(&statement)
        .arg("--run")
        .arg(format!("exec {bin} esp reference --webhook-listen 127.0.0.1:{port}"))
        .arg("--out")
        .arg(dir.join("evidence"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout {}\nstderr {stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(": certified ("));
    let report: Report =
        serde_json::from_str(&std::fs::read_to_string(dir.join("evidence/report.json")).unwrap())
            .unwrap();
    assert_eq!(report.outcome, "certified");
    assert_eq!(report.catalogue, certify::CATALOGUE_VERSION);
    // Progress on the terminal: a line per case.
    assert_eq!(stderr.lines().filter(|l| l.starts_with('[')).count(), certify::catalogue().len());
    let junit = std::fs::read_to_string(dir.join("evidence/junit.xml")).unwrap();
    let mut reader = quick_xml::Reader::from_str(&junit);
    let mut cases = 0;
    loop {
        match reader.read_event().unwrap() {
            quick_xml::events::Event::Start(e) if e.name().as_ref() == b"testcase" => cases += 1,
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(cases, certify::catalogue().len());

    // The report verifies against the lab's key; one changed byte is refused, with the reason.
    let report_path = dir.join("evidence/report.json");
    let path = report_path.to_str().unwrap();
    let v = meterlab(&["certify", "verify", path]);
    assert_eq!(v.status.code(), Some(0), "{}", String::from_utf8_lossy(&v.stderr));
    assert!(String::from_utf8_lossy(&v.stdout).starts_with("verified: meterlab reference ESP"));
    let key = meterlab(&["certify", "key"]);
    let key = String::from_utf8_lossy(&key.stdout).trim().to_owned();
    assert_eq!(Some(key.as_str()), report.signature.as_ref().map(|s| s.public_key.as_str()));
    let text = std::fs::read_to_string(&report_path).unwrap();
    let tampered = dir.join("tampered.json");
    std::fs::write(&tampered, text.replacen("\"passed\"", "\"failed\"", 1)).unwrap();
    let v = meterlab(&["certify", "verify", tampered.to_str().unwrap()]);
    assert_eq!(v.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&v.stderr).contains("changed after signing"));
    // Another lab's key refuses it.
    let other = dir.join("other");
    let v = std::process::Command::new(bin)
        .args(["certify", "verify", path])
        .env("MLAB_DATA_DIR", &other)
        .env("MLAB_CERTIFY_PUBLIC_KEY", "11".repeat(32))
        .output()
        .unwrap();
    assert_eq!(v.status.code(), Some(1), "{}", String::from_utf8_lossy(&v.stderr));

    // The history keeps the certificate; the page is well-formed and names every case.
    let h = meterlab(&["certify", "history"]);
    let h = String::from_utf8_lossy(&h.stdout);
    assert_eq!(h.lines().filter(|l| l.contains("certified")).count(), 1, "{h}");
    let html = std::fs::read_to_string(dir.join("evidence/report.html")).unwrap();
    let mut reader = quick_xml::Reader::from_str(&html);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("report.html is not well-formed: {e}"),
        }
    }
    for c in certify::catalogue() {
        assert!(html.contains(&format!("id=\"{}\"", c.id)), "{} missing from the page", c.id);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
