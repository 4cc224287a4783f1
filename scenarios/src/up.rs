//! `meterlab up`: the whole lab in real time on embedded defaults.

use anyhow::{Context, Result};
use clap::Args;
use clock::{Clock, SystemClock, Timestamp};
use server::App;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

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
    /// No console, even on a terminal (the console is issue #8; today the lab always runs headless).
    #[arg(long)]
    headless: bool,
}

/// Load profiles by meter position, so a rig shows varied homes.
const PROFILES: [&str; 4] =
    ["household:3500+pv:4", "household+gas", "household:4500+pv:6+ev:11", "household+heatpump"];

pub(crate) fn run(args: UpArgs) -> Result<ExitCode> {
    let config = args.platform.config()?;
    let database = args.platform.database.clone();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async move {
        let listen = config.listen;
        let app = App::start(config)
            .await
            .with_context(|| format!("starting the platform on {listen} with {database}"))?;
        let lab = crate::labdb::LabDb::open(&database).await?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let start = Timestamp::from_second(clock.now().as_second() + 1)?;
        let catalogue = meter::Catalogue::builtin();
        println!("api: {}", app.url());
        if let Some(m) = app.mqtt {
            println!("mqtt: mqtt://{m}");
        }
        println!("store: {database}");
        println!("admin token: {}", args.platform.admin_token);
        let mut rigs = Vec::new();
        let mut head_ends = Vec::new();
        for (r, rig) in lab.ledger.rigs().iter().enumerate() {
            let mut setups = Vec::new();
            for (i, variant_id) in rig.variants.iter().map(|v| &v.variant_id).enumerate() {
                let v = catalogue.get(variant_id)?;
                let seed = args.seed.wrapping_add((r * 100 + i) as u64);
                let profile: profiles::ProfileSpec = PROFILES[i % PROFILES.len()].parse()?;
                if v.baud == 0 {
                    let m = meter::AmrMeter::new(v, &"business:50000+pv:20".parse()?, seed, start)?;
                    head_ends.push((format!("{}-{}", rig.id, v.equipment_id), m));
                    continue;
                }
                let mut m = meter::Meter::new(v, &profile, seed, start)?;
                m.open_port();
                let name = format!("meter-{:02}", i + 1);
                let dongle = crate::lab::dongle_for(
                    &app.url(),
                    &args.platform.admin_token,
                    &rig.id,
                    &name,
                    seed,
                    v,
                    start,
                )
                .await?;
                setups.push(runner::MeterSetup {
                    name,
                    meter: m,
                    pty: Some(Some(args.run_dir.join(&rig.id).join(format!("meter-{:02}", i + 1)))),
                    tcp: Some(0),
                    dongle: Some(dongle),
                });
            }
            let running = runner::serve(setups, clock.clone(), None, false).await?;
            for ep in &running.endpoints {
                println!(
                    "{}/{}\t{}\tpty {}\tlink {}\ttcp {}",
                    rig.id,
                    ep.name,
                    ep.variant,
                    ep.pty.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
                    ep.link.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
                    ep.tcp.map(|a| a.to_string()).unwrap_or_default(),
                );
            }
            rigs.push(running);
        }
        // AMR meters: the head-end delivers each finished day after local midnight.
        let head_end = runner::HeadEnd::new(&app.url(), "meterlab-headend-dev");
        let amr_task = tokio::spawn({
            let clock = clock.clone();
            async move {
                let mut meters = head_ends;
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
            }
        });
        if std::io::stdout().is_terminal() && !args.headless {
            eprintln!("meterlab up: the console is not built yet (issue #8); running headless");
        }
        eprintln!(
            "meterlab up: {} meters on {} rigs feeding the platform; Ctrl-C stops cleanly",
            rigs.iter().map(|r| r.endpoints.len()).sum::<usize>(),
            rigs.len()
        );
        // Ctrl-C, or a service manager's SIGTERM: the same clean stop.
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
            _ = term.recv() => {}
        }
        eprintln!("meterlab up: stopping: meters stop, dongles hand over what they buffer");
        amr_task.abort();
        for r in rigs {
            r.stop().await;
        }
        eprintln!("meterlab up: stopped");
        Ok(ExitCode::SUCCESS)
    })
}
