//! `meterlab sim`: one meter (or many homes) on the simulated or real clock.

use anyhow::{Context, Result, bail};
use clap::Args;
use clock::{Clock, SignedDuration, SimClock, SystemClock, Timestamp};
use meter::{Catalogue, FaultPlan, Meter, MonthSummary};
use profiles::ProfileSpec;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub(crate) struct SimArgs {
    /// Meter variant (see --list).
    #[arg(long, default_value = "fluvius-t211-1.7.1")]
    variant: String,
    /// Load profile, components joined by `+` (see --list-profiles).
    #[arg(long, default_value = "household:3500+pv:4")]
    profile: String,
    /// Seed: the same seed gives the same bytes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where telegrams go: stdout, pty, pty:LINK (a stable symlink), tcp:PORT, tcp:HOST:PORT,
    /// or a serial device such as /dev/ttyUSB0 (opened at the variant's baud rate, 8N1).
    #[arg(long, default_value = "stdout", value_name = "TARGET")]
    out: String,
    /// Simulated seconds per real second, or `max` to run as fast as the machine allows.
    /// Without it the meter runs in real time.
    #[arg(long, value_name = "N|max", conflicts_with = "realtime")]
    speed: Option<String>,
    /// Run in real time (the default): one telegram per interval of the wall clock.
    #[arg(long)]
    realtime: bool,
    /// Simulated start: a date or local time in Brussels (2026-03-29, 2026-03-29T01:59:00) or
    /// RFC 3339. Default: now (2026-01-01 for --summary and exports).
    #[arg(long, value_name = "DATE")]
    from: Option<String>,
    /// How long to run (22h, 7d, 365d). Days are Brussels calendar days: `--from 2026-10-25
    /// --for 1d` runs to the next local midnight (23, 24 or 25 hours), `7d` ends at the same
    /// local time a week later; h, m and s are elapsed time. Default: until Ctrl-C in real
    /// time, one day at `--speed max`, a year for --summary and exports.
    #[arg(long = "for", value_name = "DURATION")]
    duration: Option<String>,
    /// Pace bytes at the variant's baud rate (a pty or TCP port otherwise delivers at once).
    #[arg(long)]
    paced: bool,
    /// Meter-side faults per telegram, e.g. crc:0.01,truncate:0.005,garbage:0.01,silence:0.001,
    /// clockjump:0.0001,dst:0.001 (seeded by --seed).
    #[arg(long, value_name = "SPEC", default_value = "")]
    faults: String,
    /// Print one variant id per line with its description, and exit.
    #[arg(long)]
    list: bool,
    /// Print the example profile specs with descriptions, and exit.
    #[arg(long)]
    list_profiles: bool,
    /// Simulate without telegrams and print kWh per month, PV yield, gas and monthly peaks.
    #[arg(long)]
    summary: bool,
    /// Write the quarter-hour offtake and injection (kWh) of --households homes to FILE.csv.
    #[arg(long, value_name = "FILE.csv")]
    export_quarter_hours: Option<PathBuf>,
    /// Number of homes for --export-quarter-hours (seeds SEED, SEED+1, …; shared weather).
    #[arg(long, default_value_t = 1)]
    households: u32,
}

pub(crate) fn run(args: SimArgs) -> Result<ExitCode> {
    if args.list {
        let mut out = std::io::stdout().lock();
        for v in Catalogue::builtin().all() {
            writeln!(out, "{}\t{}", v.id, v.description)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.list_profiles {
        let mut out = std::io::stdout().lock();
        for (spec, what) in ProfileSpec::catalogue() {
            writeln!(out, "{spec}\t{what}")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let profile: ProfileSpec =
        args.profile.parse().with_context(|| format!("--profile {}", args.profile))?;
    if let Some(path) = &args.export_quarter_hours {
        return export(&args, &profile, path);
    }
    let catalogue = Catalogue::builtin();
    let variant = catalogue.get(&args.variant)?;
    let faults = FaultPlan::parse(&args.faults, args.seed)?;
    if args.summary {
        return summary(&args, variant, &profile);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(stream(&args, variant, &profile, faults))
}

fn start_and_end(
    args: &SimArgs,
    default_from: Option<Timestamp>,
    default_for: Option<&str>,
) -> Result<(Timestamp, Option<Timestamp>)> {
    let from = match &args.from {
        Some(s) => clock::parse_date_or_time(s).with_context(|| format!("--from {s}"))?,
        // Real time starts at the next whole second, so telegram timestamps fall on seconds.
        None => default_from.unwrap_or_else(|| {
            let now = SystemClock.now().as_second() + 1;
            Timestamp::from_second(now).unwrap_or(Timestamp::UNIX_EPOCH)
        }),
    };
    let end = match args.duration.as_deref().or(default_for) {
        Some(s) => Some(end_after(from, s).with_context(|| format!("--for {s}"))?),
        None => None,
    };
    Ok((from, end))
}

/// When a run of `spec` (a `clock::parse_duration` string) that starts at `from` ends. Its
/// leading days are calendar days in Brussels, as a user counts them: `1d` from a date ends
/// at the next local midnight, 23, 24 or 25 hours later, and `7d` at the same local time a
/// week later, across a DST change too. Hours, minutes and seconds are elapsed time.
fn end_after(from: Timestamp, spec: &str) -> Result<Timestamp> {
    let total = clock::parse_duration(spec)?;
    if total <= SignedDuration::ZERO {
        bail!("the duration must be positive");
    }
    // The parser accepted it, so days can only come first: `7d`, `1d12h`.
    let s = spec.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let days: i64 = if s[digits..].starts_with('d') { s[..digits].parse()? } else { 0 };
    let rest = total - SignedDuration::from_hours(24 * days);
    let local = clock::local_datetime(from).checked_add(SignedDuration::from_hours(24 * days))?;
    // A local time that a DST change skips or repeats resolves as jiff's `compatible` does:
    // the later instant in a gap, the earlier one in a fold.
    let day_end = clock::brussels().to_ambiguous_timestamp(local).compatible()?;
    Ok(day_end.checked_add(rest)?)
}

fn jan_first() -> Result<Timestamp> {
    Ok(clock::parse_date_or_time("2026-01-01")?)
}

enum Pace {
    Max,
    Clock(Box<dyn Clock>),
}

async fn stream(
    args: &SimArgs,
    variant: &meter::Variant,
    profile: &ProfileSpec,
    faults: FaultPlan,
) -> Result<ExitCode> {
    let max = args.speed.as_deref() == Some("max");
    let (from, end) = start_and_end(args, None, if max { Some("1d") } else { None })?;
    let pace = match args.speed.as_deref() {
        Some("max") => Pace::Max,
        Some(n) => {
            let factor: f64 =
                n.parse().with_context(|| format!("--speed {n}: a number or `max`"))?;
            Pace::Clock(Box::new(SimClock::accelerated(from, factor).context("--speed")?))
        }
        None if args.from.is_some() => Pace::Clock(Box::new(SimClock::accelerated(from, 1.0)?)),
        None => Pace::Clock(Box::new(SystemClock)),
    };
    let mut meter = Meter::new(variant, profile, args.seed, from)?.with_faults(faults);
    meter.open_port();
    let out = Output::open(&args.out, variant, args.paced).await?;
    eprintln!(
        "meterlab sim: {} ({}, seed {}) from {} {}; one telegram every {} s{}",
        variant.id,
        profile,
        args.seed,
        clock::local_datetime(from),
        end.map(|e| format!("to {}", clock::local_datetime(e)))
            .unwrap_or_else(|| "until Ctrl-C".into()),
        variant.interval_s,
        if matches!(out, Output::Stdout) { "" } else { "; Ctrl-C stops" },
    );
    let mut ctrl_c = std::pin::pin!(tokio::signal::ctrl_c());
    // Progress only where a run takes a while: fast-forwarding at least six simulated hours.
    let long = end.is_some_and(|e| e.as_second() - from.as_second() >= 6 * 3600);
    let mut progress = Progress::new(from, end.filter(|_| long && args.speed.is_some()));
    let mut stdout = std::io::stdout().lock();
    loop {
        let due = meter.next_deadline();
        if end.is_some_and(|e| due >= e) {
            break;
        }
        let now = match &pace {
            Pace::Max => due,
            Pace::Clock(c) => {
                tokio::select! {
                    _ = c.sleep_until(due) => due,
                    _ = &mut ctrl_c => break,
                }
            }
        };
        if let Some(bytes) = meter.tick(now) {
            match &out {
                Output::Stdout => {
                    if stdout.write_all(&bytes).and_then(|_| stdout.flush()).is_err() {
                        // The reader went away (a closed pipe): stop quietly.
                        break;
                    }
                }
                Output::Sink { sink, .. } => {
                    sink.send(bytes);
                }
            }
        }
        progress.at(now);
    }
    if let Output::Sink { sink, .. } = &out {
        let s = sink.stats();
        eprintln!(
            "meterlab sim: {} telegrams sent, {} dropped (no reader or a slow one)",
            s.sent.load(std::sync::atomic::Ordering::Relaxed),
            s.dropped.load(std::sync::atomic::Ordering::Relaxed)
        );
    }
    Ok(ExitCode::SUCCESS)
}

enum Output {
    Stdout,
    Sink { sink: serial::FrameSink, _keep: Option<Box<dyn std::any::Any + Send>> },
}

impl Output {
    async fn open(target: &str, variant: &meter::Variant, paced: bool) -> Result<Output> {
        let baud = (paced && variant.baud > 0).then_some(variant.baud);
        if target == "stdout" || target == "-" {
            return Ok(Output::Stdout);
        }
        if target == "pty" || target.starts_with("pty:") {
            let link = target.strip_prefix("pty:").map(PathBuf::from);
            let pty = serial::Pty::open(link.as_deref(), baud)?;
            // stdout carries no telegrams here, so the path goes there for scripts to read.
            println!("pty: {}", pty.path().display());
            if let Some(l) = pty.link() {
                println!("link: {}", l.display());
            }
            let sink = pty.sink();
            return Ok(Output::Sink { sink, _keep: Some(Box::new(pty)) });
        }
        if let Some(rest) = target.strip_prefix("tcp:") {
            let addr =
                if rest.contains(':') { rest.to_owned() } else { format!("127.0.0.1:{rest}") };
            let addr = addr
                .parse()
                .with_context(|| format!("--out {target}: use tcp:PORT or tcp:HOST:PORT"))?;
            let fanout = serial::TcpFanout::bind(addr).await?;
            println!("tcp: {}", fanout.local_addr());
            let sink = fanout.sink();
            return Ok(Output::Sink { sink, _keep: Some(Box::new(fanout)) });
        }
        if target.starts_with('/') {
            if variant.baud == 0 {
                bail!("variant {} has no P1 port", variant.id);
            }
            let sink = serial::open_device(target, variant.baud)?;
            println!("device: {target} at {} baud 8N1", variant.baud);
            return Ok(Output::Sink { sink, _keep: None });
        }
        bail!(
            "--out {target}: use stdout, pty, pty:LINK, tcp:PORT or a device path like /dev/ttyUSB0"
        )
    }
}

/// Progress on stderr for runs with an end: a line per 10 % (or a live line on a terminal).
struct Progress {
    from: i64,
    span: Option<f64>,
    shown: i64,
    tty: bool,
}

impl Progress {
    fn new(from: Timestamp, end: Option<Timestamp>) -> Progress {
        Progress {
            from: from.as_second(),
            span: end.map(|e| (e.as_second() - from.as_second()) as f64),
            shown: 0,
            tty: std::io::stderr().is_terminal(),
        }
    }

    fn at(&mut self, now: Timestamp) {
        self.fraction(
            (now.as_second() - self.from) as f64 / self.span.unwrap_or(f64::INFINITY),
            now,
        );
    }

    fn fraction(&mut self, f: f64, now: Timestamp) {
        let step = if self.tty { 100.0 } else { 10.0 };
        let k = (f * step).floor() as i64;
        if k > self.shown && f.is_finite() {
            self.shown = k;
            let pct = k as f64 * 100.0 / step;
            if self.tty {
                eprint!("\r{pct:5.1}%  {}", clock::local_datetime(now));
                if k as f64 >= step {
                    eprintln!();
                }
            } else {
                eprintln!("{pct:.0}%  {}", clock::local_datetime(now));
            }
        }
    }
}

fn summary(args: &SimArgs, variant: &meter::Variant, profile: &ProfileSpec) -> Result<ExitCode> {
    let (from, end) = start_and_end(args, Some(jan_first()?), Some("365d"))?;
    let end = end.unwrap_or(from);
    let mut meter = Meter::new(variant, profile, args.seed, from)?;
    let mut progress = Progress::new(from, Some(end));
    let months = meter::summarize(&mut meter, from, end, |f| {
        progress.fraction(
            f,
            from + SignedDuration::from_secs_f64(f * (end.as_second() - from.as_second()) as f64),
        )
    });
    let mut out = std::io::stdout().lock();
    write_summary(&mut out, &variant.id, profile, args.seed, &months)?;
    Ok(ExitCode::SUCCESS)
}

fn write_summary(
    out: &mut impl Write,
    id: &str,
    profile: &ProfileSpec,
    seed: u64,
    months: &[MonthSummary],
) -> Result<()> {
    writeln!(out, "{id}  profile {profile}  seed {seed}")?;
    writeln!(
        out,
        "month     offtake kWh  injection kWh  consumption kWh  PV kWh   gas m³   peak kW  peak at"
    )?;
    for m in months {
        writeln!(
            out,
            "{}  {:>11.1}  {:>13.1}  {:>15.1}  {:>6.1}  {:>7.1}  {:>7.3}  {}",
            m.month.strftime("%Y-%m"),
            m.import_kwh,
            m.export_kwh,
            m.consumption_kwh,
            m.pv_kwh,
            m.gas_m3,
            f64::from(m.peak_w) / 1000.0,
            m.peak_at
                .map(|t| clock::local_datetime(t).strftime("%d %H:%M").to_string())
                .unwrap_or_default(),
        )?;
    }
    let sum = |f: fn(&MonthSummary) -> f64| months.iter().map(f).sum::<f64>();
    let peaks: Vec<f64> = months.iter().map(|m| f64::from(m.peak_w) / 1000.0).collect();
    let avg_peak = peaks.iter().sum::<f64>() / peaks.len().max(1) as f64;
    writeln!(
        out,
        "total     {:>11.1}  {:>13.1}  {:>15.1}  {:>6.1}  {:>7.1}  avg {:.3} kW (capacity tariff: each month counts at least 2.5 kW)",
        sum(|m| m.import_kwh),
        sum(|m| m.export_kwh),
        sum(|m| m.consumption_kwh),
        sum(|m| m.pv_kwh),
        sum(|m| m.gas_m3),
        avg_peak,
    )?;
    Ok(())
}

fn export(args: &SimArgs, profile: &ProfileSpec, path: &PathBuf) -> Result<ExitCode> {
    if args.households == 0 {
        bail!("--households must be at least 1");
    }
    let (from, end) = start_and_end(args, Some(jan_first()?), Some("365d"))?;
    let end = end.unwrap_or(from);
    let from = clock::quarter_start(from);
    let quarters = ((end.as_second() - from.as_second()) / 900).max(0) as usize;
    let n = args.households as usize;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(n);
    eprintln!(
        "meterlab sim: {n} homes × {quarters} quarter hours on {threads} threads → {}",
        path.display()
    );
    // Homes are independent: compute them in parallel, then write in time order.
    let done = std::sync::atomic::AtomicUsize::new(0);
    let mut series: Vec<Vec<(f32, f32)>> = vec![Vec::new(); n];
    std::thread::scope(|s| {
        for (t, chunk) in series.chunks_mut(n.div_ceil(threads)).enumerate() {
            let done = &done;
            s.spawn(move || {
                let base = t * n.div_ceil(threads);
                for (i, slot) in chunk.iter_mut().enumerate() {
                    let h = (base + i) as u64;
                    *slot = meter::quarter_series(
                        profile,
                        args.seed.wrapping_add(h),
                        args.seed,
                        from,
                        quarters,
                    );
                    let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    if d.is_multiple_of((n / 10).max(1)) {
                        eprintln!("{:3.0}%  {d}/{n} homes", d as f64 * 100.0 / n as f64);
                    }
                }
            });
        }
    });
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    writeln!(w, "timestamp,household,offtake_kwh,injection_kwh")?;
    let mut t = from;
    for q in 0..quarters {
        let stamp = clock::local_datetime(t);
        let offset = if clock::is_dst(t) { "+02:00" } else { "+01:00" };
        let ts = format!("{}{offset}", stamp.strftime("%Y-%m-%dT%H:%M:%S"));
        for (h, s) in series.iter().enumerate() {
            let (o, i) = s[q];
            writeln!(w, "{ts},{h},{o:.4},{i:.4}")?;
        }
        t += SignedDuration::from_secs(900);
    }
    w.flush().with_context(|| format!("writing {}", path.display()))?;
    eprintln!("meterlab sim: wrote {} rows", quarters * n);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(s: &str) -> Timestamp {
        clock::parse_date_or_time(s).unwrap()
    }

    #[test]
    fn a_day_from_a_date_is_the_brussels_calendar_day() {
        for (date, hours) in [("2026-10-25", 25), ("2026-03-29", 23), ("2026-06-01", 24)] {
            let from = at(date);
            let end = end_after(from, "1d").unwrap();
            assert_eq!(end, clock::day_bounds(clock::local_date(from)).1, "{date}");
            assert_eq!(end.as_second() - from.as_second(), hours * 3600, "{date}");
        }
    }

    #[test]
    fn days_keep_the_local_time_and_hours_are_elapsed() {
        let from = at("2026-10-24T12:00:00");
        assert_eq!(end_after(from, "7d").unwrap(), at("2026-10-31T12:00:00"));
        assert_eq!(end_after(from, "1d2h").unwrap(), at("2026-10-25T14:00:00"));
        // 26 hours of elapsed time across the autumn change end an hour earlier on the clock.
        assert_eq!(end_after(from, "26h").unwrap(), at("2026-10-25T13:00:00"));
        assert_eq!(end_after(at("2026-01-01"), "365d").unwrap(), at("2027-01-01"));
        assert!(end_after(from, "0d").is_err());
        assert!(end_after(from, "1d1d").is_err());
    }
}
