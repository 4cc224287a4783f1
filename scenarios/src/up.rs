//! `meterlab up`: the whole lab in real time on embedded defaults.

use anyhow::{Context, Result};
use clap::Args;
use clock::{Clock, SimClock, SystemClock, Timestamp};
use server::App;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::labapi::LabApi;
use crate::labapi::live::MeterWatch;
use scenarios::access::AccessClient;

#[derive(Args)]
pub(crate) struct UpArgs {
    #[command(flatten)]
    platform: crate::platform::PlatformOpts,
    /// Where the stable pty links go: DIR/rig-a/meter-NN.
    #[arg(long, default_value = "run")]
    run_dir: PathBuf,
    /// Seed of the meters' load profiles.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The lab API the console talks to (port 0 picks one; the line `lab: http://…` says which).
    #[arg(long, default_value = "127.0.0.1:8081", env = "MLAB_LAB_LISTEN")]
    lab_listen: std::net::SocketAddr,
    /// No console, even on a terminal (`meterlab console` can attach later).
    #[arg(long)]
    headless: bool,
    /// The lab's clock: `system` (real time), or `sim[:SPEED]`, a simulated clock running
    /// SPEED times real time (1 by default) that the lab API, the console (`t`) and scripts
    /// move forward (`POST /api/lab/v1/clock {"advance": "3y"}`): renewals, expiries, service
    /// levels and webhook retries follow it.
    #[arg(long, default_value = "system", value_parser = ClockChoice::parse)]
    clock: ClockChoice,
    /// Where a simulated clock starts (Brussels day or time, or RFC 3339; default: now).
    #[arg(long, value_parser = clock::parse_date_or_time)]
    start: Option<Timestamp>,
}

/// `--clock`: the system's, or a simulated one at a speed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum ClockChoice {
    System,
    Sim { speed: f64 },
}

impl ClockChoice {
    fn parse(s: &str) -> Result<ClockChoice, String> {
        let bad = || format!("{s}: use system, sim or sim:SPEED (sim:60 runs a minute a second)");
        match s.split_once(':') {
            None if s == "system" => Ok(ClockChoice::System),
            None if s == "sim" => Ok(ClockChoice::Sim { speed: 1.0 }),
            Some(("sim", speed)) => match speed.parse::<f64>() {
                Ok(speed) if speed.is_finite() && speed > 0.0 && speed <= 1e6 => {
                    Ok(ClockChoice::Sim { speed })
                }
                _ => Err(bad()),
            },
            _ => Err(bad()),
        }
    }

    /// The clock, and the handle that moves it when it is simulated.
    fn build(self, start: Option<Timestamp>) -> Result<(Arc<dyn Clock>, Option<SimClock>)> {
        match self {
            ClockChoice::System if start.is_some() => {
                anyhow::bail!("--start moves a simulated clock: add --clock sim (or sim:60)")
            }
            ClockChoice::System => Ok((Arc::new(SystemClock), None)),
            ClockChoice::Sim { speed } => {
                let start = start.unwrap_or_else(|| SystemClock.now());
                let sim = SimClock::accelerated(start, speed)?;
                Ok((Arc::new(sim.clone()), Some(sim)))
            }
        }
    }
}

impl UpArgs {
    /// Whether the console will take this terminal.
    pub(crate) fn console_on_terminal(&self) -> bool {
        std::io::stdout().is_terminal() && !self.headless
    }

    /// Where the log goes while the console owns the terminal.
    pub(crate) fn log_file(&self) -> PathBuf {
        self.run_dir.join("meterlab.log")
    }
}

pub(crate) const AFTER_HELP: &str = "\
Examples:
  meterlab up                                     platform, rigs, lab API; the console on a terminal
  meterlab up --headless                          no console (attach one with `meterlab console`)
  meterlab up --listen 127.0.0.1:0 --lab-listen 127.0.0.1:0 --mqtt embedded:0   free ports only
  meterlab up --clock sim:60 --start 2026-06-01  a simulated clock, a minute a second, from June
  curl -H \"Authorization: Bearer meterlab-admin-dev\" -X POST 127.0.0.1:8081/api/lab/v1/clock -d '{\"advance\":\"3y\"}'
                                                  then three years on: renewals due, mandates expired

It prints `api: http://…` (the platform), `lab: http://…` (the lab API the console uses) and a
line per meter. A fresh database gets demo registers: an access point per meter with a grid
user each, the ESP \"Demo ESP\", mandates and consents on the first meters.
Quitting the console (q) stops the lab like Ctrl-C.";

/// Load profiles by meter position, so a rig shows varied homes.
const PROFILES: [&str; 4] =
    ["household:3500+pv:4", "household+gas", "household:4500+pv:6+ev:11", "household+heatpump"];

/// Why the platform did not start, said once: a busy `--listen` address names the address and
/// the OS error a single time (the error's own message already holds its cause, which anyhow
/// would print again as the source), with what to do.
fn start_error(
    e: server::StartError,
    listen: std::net::SocketAddr,
    database: &str,
) -> anyhow::Error {
    match e {
        server::StartError::Listen { addr, source } => anyhow::anyhow!(
            "the platform cannot listen on {addr}: {source}. Another process holds it (a \
             running `meterlab up` or `meterlab platform`?): stop it, or pick another address \
             with --listen (127.0.0.1:0 picks a free port)"
        ),
        // The broker's message names its port and what to do; the HTTP address is no help.
        server::StartError::Mqtt(why) => anyhow::anyhow!("MQTT: {why}"),
        e => anyhow::Error::new(e)
            .context(format!("starting the platform on {listen} with {database}")),
    }
}

/// The stages, in order: the platform, the rigs (and the AMR head-end), the demo registers,
/// the lab API, the console; then wait for a stop and stop everything cleanly.
pub(crate) fn run(args: UpArgs) -> Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async move {
        let (clock, sim) = args.clock.build(args.start)?;
        let (app, lab, runs) = start_platform(&args, clock.clone()).await?;
        let rigs = start_rigs(&args, &app, &lab.ledger, clock.clone()).await?;
        let amr_task = start_head_end(&app, clock.clone(), rigs.amr)?;
        // The demo ESP's webhook endpoint lives as long as its client: until the end.
        let _access = provision(&args, &app, &rigs.watches, clock.now()).await;
        let lab = Arc::new(LabApi::new(
            &app,
            &args.platform.admin_token,
            clock.clone(),
            sim,
            lab,
            rigs.watches,
            runs,
        ));
        let (lab_addr, lab_tasks) = crate::labapi::serve(lab.clone(), args.lab_listen).await?;
        let lab_url = format!("http://{lab_addr}");
        println!("lab: {lab_url}");
        let n_meters = rigs.running.iter().map(|r| r.endpoints.len()).sum::<usize>();
        let console = open_console(&args, &lab_url, n_meters, rigs.running.len());
        let console_open = wait_for_stop(console).await?;
        // Stopped by a signal with the console still open: it keeps the screen until the end,
        // then the terminal is given back (the process ends its thread).
        let stopping = "meterlab up: stopping: meters stop, dongles hand over what they buffer";
        if !console_open {
            eprintln!("{stopping}");
        }
        lab.runs().stop();
        for t in lab_tasks {
            t.abort();
        }
        amr_task.abort();
        for r in rigs.running {
            r.stop().await;
        }
        if console_open {
            tui::term::restore();
            eprintln!("{stopping}");
        }
        eprintln!("meterlab up: stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// The platform on its store, the lab's database (ledger) beside it, and the suites' run
/// directory; says where each is.
async fn start_platform(
    args: &UpArgs,
    clock: Arc<dyn Clock>,
) -> Result<(App, crate::labdb::LabDb, crate::labapi::runs::Runs)> {
    let config = args.platform.config()?;
    let database = args.platform.database.clone();
    let listen = config.listen;
    let app = App::start_with_clock(config, clock.clone())
        .await
        .map_err(|e| start_error(e, listen, &database))?;
    let lab = crate::labdb::LabDb::open(&database).await?;
    let runs = crate::labapi::runs::Runs::new(&args.run_dir)
        .with_context(|| format!("writing the suites under {}", args.run_dir.display()))?;
    println!("api: {}", app.url());
    if let Some(m) = app.mqtt {
        println!("mqtt: mqtt://{m}");
    }
    println!("store: {database}");
    println!("admin token: {}", args.platform.admin_token);
    if let ClockChoice::Sim { speed } = args.clock {
        let from = clock::local_datetime(clock.now()).strftime("%Y-%m-%d %H:%M:%S");
        println!(
            "clock: simulated ×{speed} from {from} Brussels (move it: POST /api/lab/v1/clock)"
        );
    }
    Ok((app, lab, runs))
}

/// What the rigs run: their serving stations, the lab's watch on each P1 meter, and the AMR
/// meters for the head-end.
struct Rigs {
    running: Vec<runner::RunningRig>,
    watches: Vec<Arc<MeterWatch>>,
    amr: Vec<(String, meter::AmrMeter)>,
}

/// Every rig of the ledger with every variant: a P1 meter is a station (its dongle registered
/// with the platform, its pty and TCP port listed), an AMR meter goes to the head-end.
async fn start_rigs(
    args: &UpArgs,
    app: &App,
    ledger: &booking::Ledger,
    clock: Arc<dyn Clock>,
) -> Result<Rigs> {
    let start = Timestamp::from_second(clock.now().as_second() + 1)?;
    let catalogue = meter::Catalogue::builtin();
    let mut rigs = Rigs { running: Vec::new(), watches: Vec::new(), amr: Vec::new() };
    for (r, rig) in ledger.rigs().iter().enumerate() {
        let mut setups = Vec::new();
        for (i, variant_id) in rig.variants.iter().map(|v| &v.variant_id).enumerate() {
            let v = catalogue.get(variant_id)?;
            let seed = args.seed.wrapping_add((r * 100 + i) as u64);
            let profile: profiles::ProfileSpec = PROFILES[i % PROFILES.len()].parse()?;
            if v.baud == 0 {
                let m = meter::AmrMeter::new(v, &"business:50000+pv:20".parse()?, seed, start)?;
                rigs.amr.push((format!("{}-{}", rig.id, v.equipment_id), m));
                continue;
            }
            let name = format!("meter-{:02}", i + 1);
            let token = &args.platform.admin_token;
            let (dongle, uplink) =
                crate::lab::register_dongle(&app.url(), token, &rig.id, &name, v).await?;
            // The lab watches every meter and injects its faults through the station.
            let watch = Arc::new(MeterWatch::new(&rig.id, &name, v));
            rigs.watches.push(watch.clone());
            let station =
                runner::Station::build(&name, v, &profile, seed, start, Some(dongle), true)?
                    .with_tap(watch);
            setups.push(runner::MeterSetup {
                station,
                pty: Some(Some(args.run_dir.join(&rig.id).join(&name))),
                tcp: Some(0),
                uplink: Some(uplink),
            });
        }
        let running = runner::serve(setups, clock.clone(), None, false).await?;
        for ep in &running.endpoints {
            // Encrypted (Smarty) frames need the meter's key to be read: say it.
            let key = catalogue
                .get(&ep.variant)
                .ok()
                .and_then(|v| v.encryption_key.clone())
                .map(|k| format!("\tkey {k}"))
                .unwrap_or_default();
            println!(
                "{}/{}\t{}\tpty {}\tlink {}\ttcp {}{key}",
                rig.id,
                ep.name,
                ep.variant,
                ep.pty.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
                ep.link.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
                ep.tcp.map(|a| a.to_string()).unwrap_or_default(),
            );
        }
        rigs.running.push(running);
    }
    Ok(rigs)
}

/// AMR meters: the head-end delivers each finished day after local midnight.
fn start_head_end(
    app: &App,
    clock: Arc<dyn Clock>,
    mut meters: Vec<(String, meter::AmrMeter)>,
) -> Result<tokio::task::JoinHandle<()>> {
    let head_end = runner::HeadEnd::new(&app.url(), "meterlab-headend-dev")?;
    Ok(tokio::spawn(async move {
        loop {
            let midnight = clock::day_bounds(clock::local_date(clock.now())).1;
            clock.sleep_until(midnight).await;
            for (id, m) in &mut meters {
                let day = m.tick(midnight);
                if let Err(e) = head_end.deliver(id, &day).await {
                    eprintln!("meterlab up: AMR delivery of {id} failed: {e}");
                }
            }
        }
    }))
}

/// Demo registers on a fresh database, so the console's Consents screen has content; the
/// client that made them (it holds the demo ESP's webhook endpoint).
async fn provision(
    args: &UpArgs,
    app: &App,
    watches: &[Arc<MeterWatch>],
    now: Timestamp,
) -> AccessClient {
    let token = &args.platform.admin_token;
    let mut access = AccessClient::new(&app.url(), token);
    match crate::labapi::provision::demo(&mut access, app, watches, now).await {
        Ok(Some(p)) => println!(
            "registers: {} access points (grid users G1…G{}), ESP \"{}\", {} mandates, {} consents",
            p.points,
            p.points,
            crate::labapi::provision::DEMO_ESP,
            p.mandates,
            p.consents
        ),
        Ok(None) => println!("registers: kept from the database"),
        Err(e) => eprintln!("meterlab up: no demo registers: {e:#}"),
    }
    access
}

/// The console on a thread of its own (its loop blocks), when stdout is a terminal and not
/// `--headless`; its end is the receiver's answer.
fn open_console(
    args: &UpArgs,
    lab_url: &str,
    n_meters: usize,
    n_rigs: usize,
) -> Option<tokio::sync::oneshot::Receiver<Result<()>>> {
    if !std::io::stdout().is_terminal() || args.headless {
        eprintln!(
            "meterlab up: {n_meters} meters on {n_rigs} rigs feeding the platform; Ctrl-C stops cleanly"
        );
        return None;
    }
    eprintln!(
        "meterlab up: {n_meters} meters on {n_rigs} rigs feeding the platform; opening the console (q quits and stops the lab)"
    );
    let (tx, rx) = tokio::sync::oneshot::channel();
    let (token, url) = (args.platform.admin_token.clone(), lab_url.to_owned());
    std::thread::spawn(move || {
        let _ = tx.send(crate::console::attach(&url, &token, Duration::from_secs(1)));
    });
    Some(rx)
}

/// Waits for Ctrl-C, a service manager's SIGTERM (the same clean stop) or the user quitting
/// the console; a console that fails leaves the lab running. Whether the console is still open.
async fn wait_for_stop(
    mut console: Option<tokio::sync::oneshot::Receiver<Result<()>>>,
) -> Result<bool> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    loop {
        tokio::select! {
            r = tokio::signal::ctrl_c() => {
                r.context("waiting for Ctrl-C")?;
                break;
            }
            _ = term.recv() => break,
            r = async {
                match console.as_mut() {
                    Some(rx) => rx.await,
                    None => std::future::pending().await,
                }
            } => {
                console = None;
                match r {
                    Ok(Ok(())) => break,
                    Ok(Err(e)) => eprintln!(
                        "meterlab up: the console stopped: {e:#}; the lab runs on, Ctrl-C stops it"
                    ),
                    Err(_) => eprintln!("meterlab up: the console stopped; the lab runs on, Ctrl-C stops it"),
                }
            }
        }
    }
    Ok(console.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_listen_address_is_one_clear_error() {
        let addr: std::net::SocketAddr = ([127, 0, 0, 1], 8080).into();
        let source = std::io::Error::from(std::io::ErrorKind::AddrInUse);
        let busy = server::StartError::Listen { addr, source };
        let text = format!("{:#}", start_error(busy, addr, "sqlite:meterlab.db"));
        let cause = std::io::Error::from(std::io::ErrorKind::AddrInUse).to_string();
        assert_eq!(text.matches(&cause).count(), 1, "{text}");
        assert_eq!(text.matches("127.0.0.1:8080").count(), 1, "{text}");
        assert!(text.contains("--listen"), "{text}");
    }
}
