//! `meterlab`: the one binary of the lab. Each subcommand lives in its own module; this file is
//! only the command line.

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod bench;
mod certifycmd;
mod console;
mod espcmd;
mod lab;
mod labapi;
mod labdb;
mod logging;
mod p1cmd;
mod platform;
mod rigcmd;
mod sim;
mod testcmd;
mod up;

/// A hardware-in-the-loop test and simulation lab for smart-meter data services:
/// simulated P1/AMR/gas meters and dongles feeding a reference data platform.
#[derive(Parser)]
#[command(
    name = "meterlab",
    version,
    about = "A hardware-in-the-loop lab for smart-meter data services: simulated P1, AMR and gas meters and dongles feeding a reference data platform",
    long_about = None,
    propagate_version = true,
    after_help = "Examples:\n  meterlab up                          # the whole lab on embedded defaults, console on a terminal\n  meterlab test --junit junit.xml      # every scenario suite, headless, for CI\n  meterlab console --lab http://127.0.0.1:8081\n  meterlab sim --out pty               # one meter on a pty\n  meterlab p1 decode capture.txt       # what a telegram says\n\nEach command has --help with its own examples."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log lines as text or JSON (one object per line); `RUST_LOG` filters them
    /// (default: warnings, and the platform's info lines).
    #[arg(long, global = true, value_enum, default_value = "text", env = "MLAB_LOG_FORMAT")]
    log_format: logging::LogFormat,
    /// Append the log to this file instead of stderr (`meterlab up` with a console logs to
    /// RUN_DIR/meterlab.log, since the console owns the terminal).
    #[arg(long, global = true, value_name = "FILE", env = "MLAB_LOG_FILE")]
    log_file: Option<std::path::PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Decode and check P1 telegrams (files, stdin, captures).
    #[command(subcommand)]
    P1(p1cmd::P1Command),
    /// Boot the whole lab: platform, two rigs with every meter variant on ptys and TCP ports,
    /// a dongle per meter, the lab API; prints where everything is and opens the console on a
    /// terminal. Ctrl-C (or q in the console) stops cleanly.
    #[command(after_help = up::AFTER_HELP)]
    Up(up::UpArgs),
    /// The console (TUI) attached to a running lab: rigs and slots, live meters, dongles and
    /// fault injection, platform health, consents, scenario runs.
    #[command(after_help = console::AFTER_HELP)]
    Console(console::ConsoleArgs),
    /// Run the Gherkin scenario suites on the in-process lab, headless: progress, summary,
    /// JUnit and JSON reports; exit 0 passed, 1 failed, 2 only lab errors or undefined steps.
    #[command(after_help = testcmd::AFTER_HELP)]
    Test(testcmd::TestArgs),
    /// Simulate one meter to stdout, a pty, a TCP port or a serial device; summaries and
    /// quarter-hour exports of many homes.
    Sim(sim::SimArgs),
    /// Run the reference platform alone: HTTP API, MQTT ingest, SQLite or PostgreSQL.
    Platform(platform::PlatformArgs),
    /// Measure the platform on this machine: ingest throughput, end-to-end latency.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Usage agreements and 22-hour test slots on the rigs (R-LAB-2, R-LAB-3, R-LAB-5).
    #[command(subcommand)]
    Book(rigcmd::BookCommand),
    /// The rigs: list, show, and attach during your slot (ptys and TCP ports per meter).
    #[command(subcommand)]
    Rig(rigcmd::RigCommand),
    /// The ESP certification kit: its case catalogue, statements, and campaigns against an
    /// ESP under test.
    #[command(subcommand)]
    Certify(certifycmd::CertifyCommand),
    /// ESPs the lab provides: the reference ESP.
    #[command(subcommand)]
    Esp(espcmd::EspCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log_file = match (&cli.log_file, &cli.command) {
        (Some(f), _) => Some(f.clone()),
        (None, Command::Up(args)) if args.console_on_terminal() => Some(args.log_file()),
        _ => None,
    };
    if let Err(e) = logging::init(cli.log_format, log_file.as_deref()) {
        eprintln!("error: {e:#}");
        return ExitCode::from(2);
    }
    let res: Result<ExitCode> = match cli.command {
        Command::P1(cmd) => p1cmd::run(cmd),
        Command::Up(args) => up::run(args),
        Command::Test(args) => testcmd::run(args),
        Command::Console(args) => console::run(args),
        Command::Sim(args) => sim::run(args),
        Command::Platform(args) => platform::run(args),
        Command::Bench(cmd) => bench::run(cmd),
        Command::Book(cmd) => rigcmd::run_book(cmd),
        Command::Rig(cmd) => rigcmd::run_rig(cmd),
        Command::Certify(cmd) => certifycmd::run(cmd),
        Command::Esp(cmd) => espcmd::run(cmd),
    };
    match res {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
