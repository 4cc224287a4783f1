//! `meterlab bench`: throughput and latency figures of the platform, measured on this machine.

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use clock::Stopwatch;
use clock::Timestamp;
use server::{App, BrokerSpec, Config};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use wire::ingest::v1::{Batch, Upload};

#[derive(Subcommand)]
pub(crate) enum BenchCommand {
    /// Sustained ingest: uploads verified, decoded and stored per second.
    Ingest(IngestArgs),
    /// End-to-end latency dongle → stored, with many dongles each sending once a second.
    Latency(LatencyArgs),
    /// Rig capacity: meters served in real time on their own ptys (CPU share), or the
    /// accelerated throughput of meters and dongles through in-memory lines.
    Rig(RigArgs),
}

#[derive(Args)]
pub(crate) struct RigArgs {
    /// Meters on the rig (cycled through the P1 variants).
    #[arg(long, default_value_t = 500)]
    meters: usize,
    /// Seconds to run (real time), or simulated seconds with --accelerated.
    #[arg(long, default_value_t = 20)]
    seconds: i64,
    /// Run meters and dongles through in-memory lines as fast as possible.
    #[arg(long)]
    accelerated: bool,
}

#[derive(Args)]
pub(crate) struct IngestArgs {
    /// Store to measure: sqlite:PATH, sqlite::memory: or postgres://…
    #[arg(long, default_value = "sqlite::memory:")]
    database: String,
    /// How uploads reach the platform: direct (in-process pipeline), rest, or mqtt.
    #[arg(long, default_value = "direct")]
    via: String,
    /// Broker for --via mqtt: embedded or mqtt://HOST:PORT.
    #[arg(long, default_value = "embedded")]
    mqtt: String,
    /// Uploads in total.
    #[arg(long, default_value_t = 100_000)]
    uploads: u64,
    /// Uploads per request or message.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Dongles sending in parallel.
    #[arg(long, default_value_t = 16)]
    dongles: u64,
}

#[derive(Args)]
pub(crate) struct LatencyArgs {
    /// Store: sqlite:PATH, sqlite::memory: or postgres://…
    #[arg(long, default_value = "sqlite::memory:")]
    database: String,
    /// Dongles, each sending one upload per second over REST.
    #[arg(long, default_value_t = 1000)]
    dongles: u64,
    /// Seconds to run.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
}

const KEY: &[u8] = b"meterlab-bench-dongle-key-000001";

fn telegram() -> String {
    String::from_utf8_lossy(include_bytes!("../../fixtures/p1/fluvius-emucs-1.7.1-3phase.txt"))
        .into_owned()
}

fn upload(dongle: &str, seq: u64, telegram: &str) -> Upload {
    let mut u = Upload {
        dongle: dongle.into(),
        seq,
        captured_at: Timestamp::from_second(1_780_000_000 + seq as i64)
            .unwrap_or(Timestamp::UNIX_EPOCH),
        telegram: telegram.to_owned(),
        crc_ok: true,
        sig: String::new(),
    };
    u.sign(KEY);
    u
}

pub(crate) fn run(cmd: BenchCommand) -> Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async {
        match cmd {
            BenchCommand::Ingest(a) => ingest(a).await,
            BenchCommand::Latency(a) => latency(a).await,
            BenchCommand::Rig(a) => rig(a).await,
        }
    })
}

async fn start(database: &str, mqtt: BrokerSpec, dongles: u64) -> Result<App> {
    let app = App::start(Config {
        listen: "127.0.0.1:0".parse()?,
        database: database.into(),
        mqtt,
        // A fresh session per run: a benchmark must not be handed what an earlier run left
        // queued at the broker.
        mqtt_client_id: format!("meterlab-bench-{}", std::process::id()),
        ..Config::default()
    })
    .await
    .with_context(|| format!("starting the platform on {database}"))?;
    for d in 0..dongles {
        app.ingest.register_dongle(&format!("B{d:05}"), KEY, None).await?;
    }
    Ok(app)
}

async fn ingest(a: IngestArgs) -> Result<ExitCode> {
    let mqtt = match a.via.as_str() {
        "mqtt" => a.mqtt.parse().map_err(anyhow::Error::msg)?,
        "direct" | "rest" => BrokerSpec::None,
        v => bail!("--via {v}: use direct, rest or mqtt"),
    };
    let app = Arc::new(start(&a.database, mqtt, a.dongles).await?);
    let per = a.uploads / a.dongles;
    eprintln!("preparing {} signed uploads from {} dongles…", per * a.dongles, a.dongles);
    let t = telegram();
    let batches: Vec<Vec<Batch>> = (0..a.dongles)
        .map(|d| {
            let id = format!("B{d:05}");
            (0..per)
                .collect::<Vec<_>>()
                .chunks(a.batch)
                .map(|c| Batch { uploads: c.iter().map(|&s| upload(&id, s, &t)).collect() })
                .collect()
        })
        .collect();
    // Beside the platform, a plain subscriber on the same broker counts what the broker can
    // deliver at all, so the platform's figure has a baseline from the same run.
    let baseline = if a.via == "mqtt" {
        while !app.ingest.mqtt_subscribed() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let addr = app.mqtt.context("no broker")?;
        let expected = (per.div_ceil(a.batch as u64) * a.dongles) as usize;
        Some(plain_subscriber(addr, expected).await?)
    } else {
        None
    };
    eprintln!("sending via {} into {}…", a.via, app.ingest.store_backend());
    let t0 = Stopwatch::start();
    let mut tasks = Vec::new();
    for (d, list) in batches.into_iter().enumerate() {
        let app = app.clone();
        let via = a.via.clone();
        tasks.push(tokio::spawn(async move { send(&app, &via, d as u64, list).await }));
    }
    for t in tasks {
        t.await??;
    }
    let total = per * a.dongles;
    // MQTT: the broker acks publishers before the platform stores; wait for the store.
    let mut stored;
    loop {
        stored = 0;
        for d in 0..a.dongles {
            stored += app.ingest.stored_sequences(&format!("B{d:05}")).await?.len() as u64;
        }
        if stored >= total || a.via != "mqtt" {
            break;
        }
        if t0.elapsed() > Duration::from_secs(600) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "ingest via {} into {}: {stored}/{total} uploads stored in {secs:.2} s = {:.0} uploads/s (verified, decoded, stored with decoded registers; batch {})",
        a.via,
        app.ingest.store_backend(),
        stored as f64 / secs,
        a.batch
    );
    if let Some(b) = baseline
        && let Ok(Ok(took)) = tokio::time::timeout(Duration::from_secs(60), b).await
    {
        let rate = (per * a.dongles) as f64 / took.as_secs_f64();
        println!(
            "plain subscriber in the same run: {:.0} uploads/s; the platform stores {:.0} % of that",
            rate,
            100.0 * (stored as f64 / secs) / rate
        );
    }
    Ok(if stored == total { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Subscribes (QoS 1, automatic acks) and returns a handle that resolves to the time the
/// subscriber took, from the start of publishing, to receive `expected` messages.
async fn plain_subscriber(
    addr: std::net::SocketAddr,
    expected: usize,
) -> Result<tokio::task::JoinHandle<Duration>> {
    let mut opts =
        rumqttc::MqttOptions::new("bench-plain-subscriber", addr.ip().to_string(), addr.port());
    opts.set_max_packet_size(300 * 1024, 300 * 1024);
    let (client, mut events) = rumqttc::AsyncClient::new(opts, 1000);
    client.subscribe(wire::ingest::v1::TOPIC_FILTER, rumqttc::QoS::AtLeastOnce).await?;
    loop {
        if let rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_)) = events.poll().await? {
            break;
        }
    }
    Ok(tokio::spawn(async move {
        let t0 = Stopwatch::start();
        let mut n = 0;
        while n < expected {
            match events.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(_))) => n += 1,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        let _ = client;
        t0.elapsed()
    }))
}

async fn send(app: &App, via: &str, d: u64, batches: Vec<Batch>) -> Result<()> {
    match via {
        "direct" => {
            for b in batches {
                app.ingest.submit(b).await?;
            }
        }
        "rest" => {
            let http = reqwest::Client::new();
            let url = format!("{}/api/ingest/v1/uploads", app.url());
            for b in batches {
                let r = http.post(&url).json(&b).send().await?;
                if !r.status().is_success() {
                    bail!("HTTP {}", r.status());
                }
            }
        }
        _ => {
            let addr = app.mqtt.context("no broker")?;
            let mut opts =
                rumqttc::MqttOptions::new(format!("bench-{d}"), addr.ip().to_string(), addr.port());
            opts.set_max_packet_size(300 * 1024, 300 * 1024);
            opts.set_inflight(100);
            let (client, mut events) = rumqttc::AsyncClient::new(opts, 100);
            let n = batches.len();
            let id = format!("B{d:05}");
            tokio::spawn(async move {
                for b in batches {
                    let body = serde_json::to_vec(&b).unwrap_or_default();
                    if client
                        .publish(
                            wire::ingest::v1::topic(&id),
                            rumqttc::QoS::AtLeastOnce,
                            false,
                            body,
                        )
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
            let mut acked = 0;
            while acked < n {
                if let rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_)) = events.poll().await? {
                    acked += 1;
                }
            }
        }
    }
    Ok(())
}

async fn latency(a: LatencyArgs) -> Result<ExitCode> {
    let app = Arc::new(start(&a.database, BrokerSpec::None, a.dongles).await?);
    let http = reqwest::Client::builder().pool_max_idle_per_host(a.dongles as usize).build()?;
    let url = format!("{}/api/ingest/v1/uploads", app.url());
    let t = telegram();
    let mut tasks = Vec::new();
    // Offered load on real time: each dongle's second s starts 0.5 s + its offset + s after now.
    let pace = Stopwatch::start();
    for d in 0..a.dongles {
        let (http, url, t) = (http.clone(), url.clone(), t.clone());
        // Dongles spread over the second, as independent devices are.
        let offset = Duration::from_micros(d * 1_000_000 / a.dongles);
        let seconds = a.seconds;
        tasks.push(tokio::spawn(async move {
            let id = format!("B{d:05}");
            let mut lat = Vec::with_capacity(seconds as usize);
            for s in 0..seconds {
                let due = Duration::from_millis(500) + offset + Duration::from_secs(s);
                tokio::time::sleep(pace.left(due)).await;
                let body = Batch { uploads: vec![upload(&id, s, &t)] };
                let t0 = Stopwatch::start();
                let ok = http
                    .post(&url)
                    .json(&body)
                    .send()
                    .await
                    .map(|r| r.status().is_success())
                    .unwrap_or(false);
                if ok {
                    lat.push(t0.elapsed());
                }
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await?);
    }
    all.sort();
    let n = all.len();
    let q = |p: f64| {
        all.get(((n as f64 * p) as usize).min(n.saturating_sub(1))).copied().unwrap_or_default()
    };
    let mean = all.iter().sum::<Duration>() / n.max(1) as u32;
    println!(
        "latency dongle → stored (HTTP 200 after commit), {} dongles × 1 Hz for {} s into {}: {n} uploads, mean {:.1} ms, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        a.dongles,
        a.seconds,
        app.ingest.store_backend(),
        mean.as_secs_f64() * 1e3,
        q(0.5).as_secs_f64() * 1e3,
        q(0.99).as_secs_f64() * 1e3,
        all.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    Ok(ExitCode::SUCCESS)
}

/// CPU seconds this process has used (user + system), from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

async fn rig(a: RigArgs) -> Result<ExitCode> {
    let catalogue = meter::Catalogue::builtin();
    let variants: Vec<&meter::Variant> = catalogue.all().iter().filter(|v| v.baud > 0).collect();
    let start =
        clock::Timestamp::from_second(clock::Clock::now(&clock::SystemClock).as_second() + 1)?;
    let profile: profiles::ProfileSpec = "household:3500+pv:4".parse()?;
    if a.accelerated {
        let mut stations = Vec::with_capacity(a.meters);
        for i in 0..a.meters {
            let v = variants[i % variants.len()];
            let (name, dongle) =
                (format!("meter-{i:03}"), Some((format!("D{i:05}"), KEY.to_vec())));
            stations
                .push(runner::Station::build(name, v, &profile, i as u64, start, dongle, false)?);
        }
        let t0 = Stopwatch::start();
        let cpu0 = cpu_seconds();
        let (telegrams, acked) = runner::run_accelerated(
            &mut stations,
            start,
            clock::SignedDuration::from_secs(a.seconds),
            |_| true,
        );
        let secs = t0.elapsed().as_secs_f64();
        println!(
            "accelerated rig: {} meters × {} simulated s: {telegrams} telegrams through meter → line → dongle (decode, sign, buffer) → ack in {secs:.2} s = {:.0} telegrams/s ({acked} uploads acknowledged, CPU {:.0} % of one core)",
            a.meters,
            a.seconds,
            telegrams as f64 / secs,
            100.0 * (cpu_seconds() - cpu0) / secs
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut setups = Vec::with_capacity(a.meters);
    for i in 0..a.meters {
        let v = variants[i % variants.len()];
        let name = format!("meter-{i:03}");
        let station = runner::Station::build(name, v, &profile, i as u64, start, None, true)?;
        setups.push(runner::MeterSetup { station, pty: Some(None), tcp: None, uplink: None });
    }
    let clock: Arc<dyn clock::Clock> = Arc::new(clock::SystemClock);
    let end = start + clock::SignedDuration::from_secs(a.seconds);
    let running = runner::serve(setups, clock.clone(), Some(end), false).await?;
    // Readers on a tenth of the ptys, as attached tools would be; the rest drop unread.
    let mut readers = Vec::new();
    for ep in running.endpoints.iter().step_by(10) {
        if let Some(p) = &ep.pty {
            let mut f = tokio::fs::File::open(p).await?;
            readers.push(tokio::spawn(async move {
                use tokio::io::AsyncReadExt;
                let mut buf = vec![0u8; 8192];
                let mut n = 0u64;
                while let Ok(k) = f.read(&mut buf).await {
                    if k == 0 {
                        break;
                    }
                    n += k as u64;
                }
                n
            }));
        }
    }
    let cpu0 = cpu_seconds();
    let t0 = Stopwatch::start();
    clock.sleep_until(end).await;
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let stats = running.stats.clone();
    running.stop().await;
    for r in readers {
        r.abort();
    }
    let telegrams = stats.telegrams.load(std::sync::atomic::Ordering::Relaxed);
    let expected: f64 = (0..a.meters)
        .map(|i| a.seconds as f64 / f64::from(variants[i % variants.len()].interval_s))
        .sum();
    println!(
        "real-time rig: {} meters on their own ptys for {secs:.1} s: {telegrams} telegrams ({:.1} % of the due {expected:.0}), CPU {:.1} % of one core ({:.1} % of the machine's 2)",
        a.meters,
        100.0 * telegrams as f64 / expected,
        100.0 * cpu / secs,
        50.0 * cpu / secs
    );
    Ok(ExitCode::SUCCESS)
}
