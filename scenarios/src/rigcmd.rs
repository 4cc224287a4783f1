//! `meterlab book …` and `meterlab rig …`: usage agreements, slots and rigs from the shell.

use crate::labdb::LabDb;
use anyhow::{Context, Result, bail};
use booking::{AgreementId, SlotId};
use clap::{Args, Subcommand};
use clock::{Clock, SystemClock, Timestamp};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Args)]
pub(crate) struct Db {
    /// The lab database (shared with the platform): sqlite:PATH or postgres://…
    #[arg(long, default_value = "sqlite:meterlab.db", env = "MLAB_DATABASE", global = true)]
    database: String,
}

#[derive(Args)]
pub(crate) struct Holder {
    /// Your usage agreement number (from `meterlab book agree`).
    #[arg(long)]
    agreement: u64,
    /// Your access code (R-LAB-5), e.g. ABCD-EFGH-IJKL-MNOP.
    #[arg(long, env = "MLAB_ACCESS_CODE")]
    code: String,
}

#[derive(Subcommand)]
pub(crate) enum BookCommand {
    /// Sign a one-year usage agreement (R-LAB-3) and get its access code (shown once).
    Agree {
        /// Company or developer name.
        #[arg(long)]
        holder: String,
        /// Where notices go.
        #[arg(long)]
        email: String,
        #[command(flatten)]
        db: Db,
    },
    /// Book a 22-hour slot on a rig (R-LAB-2), at least 7 days ahead.
    Create {
        #[command(flatten)]
        who: Holder,
        /// rig-a or rig-b (`meterlab rig list`).
        #[arg(long)]
        rig: String,
        /// Start, on a whole hour, Brussels time (2026-12-01T08:00:00) or RFC 3339.
        #[arg(long)]
        start: String,
        #[command(flatten)]
        db: Db,
    },
    /// List slots, optionally of one rig.
    List {
        /// Only this rig.
        #[arg(long)]
        rig: Option<String>,
        #[command(flatten)]
        db: Db,
    },
    /// Cancel one of your slots before it starts.
    Cancel {
        /// The slot number.
        slot: u64,
        #[command(flatten)]
        who: Holder,
        #[command(flatten)]
        db: Db,
    },
}

#[derive(Subcommand)]
pub(crate) enum RigCommand {
    /// The rigs, their meter variants and who holds them now.
    List {
        #[command(flatten)]
        db: Db,
    },
    /// One rig: variants with firmware, and its calendar.
    Show {
        /// rig-a or rig-b.
        rig: String,
        #[command(flatten)]
        db: Db,
    },
    /// During your slot: serve the rig's meters on ptys and TCP ports (printed), until the
    /// slot ends (hard stop) or Ctrl-C.
    Attach {
        /// rig-a or rig-b.
        rig: String,
        #[command(flatten)]
        who: Holder,
        /// Where the stable pty links go: DIR/<rig>/meter-NN.
        #[arg(long, default_value = "run")]
        run_dir: PathBuf,
        /// Also run a simulated dongle per meter, uploading to this platform (http://…).
        #[arg(long)]
        platform: Option<String>,
        /// The platform's admin or operator token, to register the dongles.
        #[arg(long, default_value = "meterlab-admin-dev", env = "MLAB_TOKEN")]
        token: String,
        #[command(flatten)]
        db: Db,
    },
}

fn entropy() -> [u8; 16] {
    // Access codes must not be guessable: they come from the OS, never from a seed.
    use std::io::Read;
    let mut e = [0u8; 16];
    if std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut e)).is_err() {
        let t = SystemClock.now().as_nanosecond() ^ i128::from(std::process::id());
        e = t.to_le_bytes();
    }
    e
}

fn parse_start(s: &str) -> Result<Timestamp> {
    clock::parse_date_or_time(s).with_context(|| format!("--start {s}"))
}

pub(crate) fn run_book(cmd: BookCommand) -> Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async move {
        let now = SystemClock.now();
        match cmd {
            BookCommand::Agree { holder, email, db } => {
                let mut lab = LabDb::open(&db.database).await?;
                let seed = entropy();
                let (a, code) = lab
                    .transact(|l| l.sign_agreement(now, &holder, &email, seed))
                    .await?
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                println!("agreement: {}", a.id.0);
                println!("holder: {} <{}>", a.holder, a.email);
                let day = |t| clock::local_datetime(t).strftime("%Y-%m-%d %H:%M").to_string();
                println!("valid: {} to {} (Brussels)", day(a.valid_from), day(a.valid_until));
                println!("access code: {}   (shown once; keep it)", code.as_str());
            }
            BookCommand::Create { who, rig, start, db } => {
                let mut lab = LabDb::open(&db.database).await?;
                let start = parse_start(&start)?;
                let agreement = AgreementId(who.agreement);
                let slot = lab
                    .transact(|l| l.book(now, agreement, &who.code, &rig, start))
                    .await?
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                println!(
                    "slot {}: {} from {} to {} (Brussels), agreement {}",
                    slot.id.0,
                    slot.rig,
                    clock::local_datetime(slot.start),
                    clock::local_datetime(slot.end),
                    slot.agreement.0
                );
            }
            BookCommand::List { rig, db } => {
                let mut lab = LabDb::open(&db.database).await?;
                lab.tick(now).await?;
                if let Some(r) = &rig
                    && lab.ledger.rig(r).is_none()
                {
                    let known: Vec<&str> =
                        lab.ledger.rigs().iter().map(|r| r.id.as_str()).collect();
                    bail!(
                        "no rig {r}: the rigs are {}; `meterlab rig list` shows them",
                        known.join(", ")
                    );
                }
                println!("slot  rig    state      start (Brussels)  end (Brussels)    agreement");
                for s in lab
                    .ledger
                    .all_slots()
                    .iter()
                    .filter(|s| rig.as_ref().is_none_or(|r| &s.rig == r))
                {
                    println!(
                        "{:<5} {:<6} {:<10} {}  {}  {}",
                        s.id.0,
                        s.rig,
                        format!("{:?}", s.state).to_lowercase(),
                        clock::local_datetime(s.start).strftime("%Y-%m-%d %H:%M"),
                        clock::local_datetime(s.end).strftime("%Y-%m-%d %H:%M"),
                        s.agreement.0
                    );
                }
            }
            BookCommand::Cancel { slot, who, db } => {
                let mut lab = LabDb::open(&db.database).await?;
                let agreement = AgreementId(who.agreement);
                let s = lab
                    .transact(|l| l.cancel(now, SlotId(slot), agreement, &who.code))
                    .await?
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                println!("slot {} cancelled", s.id.0);
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

pub(crate) fn run_rig(cmd: RigCommand) -> Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async move {
        let now = SystemClock.now();
        match cmd {
            RigCommand::List { db } => {
                let mut lab = LabDb::open(&db.database).await?;
                lab.tick(now).await?;
                for r in lab.ledger.rigs() {
                    let holder = lab
                        .ledger
                        .who_holds(&r.id, now)
                        .map(|a| a.holder.clone())
                        .unwrap_or_else(|| "free".into());
                    println!("{}\t{} meter variants\tnow: {holder}", r.id, r.variants.len());
                }
            }
            RigCommand::Show { rig, db } => {
                let mut lab = LabDb::open(&db.database).await?;
                lab.tick(now).await?;
                let Some(r) = lab.ledger.rig(&rig).cloned() else {
                    bail!("no rig {rig}; `meterlab rig list` shows them");
                };
                println!("{} ({})", r.id, r.name);
                for v in &r.variants {
                    println!("  {:<24} firmware {}", v.variant_id, v.firmware);
                }
                let horizon = now + clock::SignedDuration::from_hours(24 * 60);
                println!("slots:");
                for s in
                    lab.ledger.slots(&rig, now - clock::SignedDuration::from_hours(22), horizon)
                {
                    println!(
                        "  {} to {}  {:?}  agreement {}",
                        clock::local_datetime(s.start).strftime("%Y-%m-%d %H:%M"),
                        clock::local_datetime(s.end).strftime("%Y-%m-%d %H:%M"),
                        s.state,
                        s.agreement.0
                    );
                }
            }
            RigCommand::Attach { rig, who, run_dir, platform, token, db } => {
                let mut lab = LabDb::open(&db.database).await?;
                lab.tick(now).await?;
                let agreement = AgreementId(who.agreement);
                let slot = lab
                    .transact(|l| l.log_in(now, &rig, agreement, &who.code))
                    .await?
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                let platform = platform.as_deref().map(|p| (p, token.as_str()));
                return attach(&rig, slot.end, &run_dir, platform).await;
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Serves every meter variant of the rig until `end`.
async fn attach(
    rig: &str,
    end: Timestamp,
    run_dir: &std::path::Path,
    platform: Option<(&str, &str)>,
) -> Result<ExitCode> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let start = Timestamp::from_second(clock.now().as_second() + 1)?;
    let catalogue = meter::Catalogue::builtin();
    let mut setups = Vec::new();
    let profile: profiles::ProfileSpec = "household:3500+pv:4".parse()?;
    for (i, v) in catalogue.all().iter().filter(|v| v.baud > 0).enumerate() {
        let name = format!("meter-{:02}", i + 1);
        let (dongle, uplink) = match platform {
            Some((url, token)) => {
                let (dongle, uplink) =
                    crate::lab::register_dongle(url, token, rig, &name, v).await?;
                (Some(dongle), Some(uplink))
            }
            None => (None, None),
        };
        let seed = i as u64 + 1;
        let station = runner::Station::build(&name, v, &profile, seed, start, dongle, true)?;
        setups.push(runner::MeterSetup {
            station,
            pty: Some(Some(run_dir.join(rig).join(&name))),
            tcp: Some(0),
            uplink,
        });
    }
    let running = runner::serve(setups, clock.clone(), Some(end), false).await?;
    for ep in &running.endpoints {
        println!(
            "{}\t{}\tpty {}\tlink {}\ttcp {}",
            ep.name,
            ep.variant,
            ep.pty.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            ep.link.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            ep.tcp.map(|a| a.to_string()).unwrap_or_default()
        );
    }
    eprintln!(
        "meterlab rig attach: serving {rig} until {} (Brussels, slot end); Ctrl-C stops",
        clock::local_datetime(end)
    );
    tokio::select! {
        _ = clock.sleep_until(end) => eprintln!("meterlab rig attach: slot over: lines released (hard stop)"),
        _ = tokio::signal::ctrl_c() => eprintln!("meterlab rig attach: stopping"),
    }
    running.stop().await;
    Ok(ExitCode::SUCCESS)
}
