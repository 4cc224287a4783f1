//! `meterlab test`: the Gherkin suites on the in-process lab, headless (CI), with JUnit and
//! JSON reports. The runner is `scenarios::suite`, the same one `cargo test` uses.

use anyhow::Result;
use clap::Args;
use cucumber::gherkin::tagexpr::TagOperation;
use scenarios::suite;
use std::path::PathBuf;
use std::process::ExitCode;

pub(crate) const AFTER_HELP: &str = "\
Examples:
  meterlab test                                  every suite in ./features (else the built-in ones)
  meterlab test features/lab --tags '@R-LAB-2 and not @slow'
  meterlab test --junit junit.xml --json report.json --seed 42
  meterlab test --list --tags @R-NRT-2           what would run, without running it

A failure is an assertion about the system under test; a lab error is the lab itself failing
(the platform did not start, a store or network error). @slow marks the long runs (the 22-hour slot, a month of SLA data).

Exit status:
  0  every scenario passed
  1  a scenario failed (whatever else happened)
  2  only lab errors or undefined steps (no step definition matches a step's text), or a usage
     error (bad option, bad --tags, no feature found, nothing selected)";

#[derive(Args)]
pub(crate) struct TestArgs {
    /// Feature files or directories (searched for *.feature) [default: ./features, or the
    /// suites built into this binary when there is none]
    #[arg(value_name = "PATHS")]
    paths: Vec<PathBuf>,
    /// Only scenarios whose tags match this cucumber tag expression, e.g.
    /// '@R-LAB-2 and not @slow' (feature and scenario tags count).
    #[arg(long, value_name = "EXPR", value_parser = suite::parse_tags)]
    tags: Option<TagOperation>,
    /// Write a JUnit XML report here (for CI test tabs).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write a JSON report here: seed, counts, and each scenario's status, message, duration.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Seed of every scenario's lab; the same seed reproduces a run.
    #[arg(long, default_value_t = suite::DEFAULT_SEED)]
    seed: u64,
    /// Scenarios run side by side [default: the number of cores].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    concurrency: Option<u16>,
    /// Stop after the first scenario that fails; the rest are reported as skipped.
    #[arg(long)]
    fail_fast: bool,
    /// List the matching scenarios (feature: name [tags]) without running them.
    #[arg(long)]
    list: bool,
}

/// A directory for the built-in suites, removed when dropped.
struct TempFeatures(PathBuf);

impl Drop for TempFeatures {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn run(args: TestArgs) -> Result<ExitCode> {
    // Kept until the run is over: the built-in suites' directory, when they are used.
    let (paths, source, _temp) = if !args.paths.is_empty() {
        let shown = args.paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>();
        (args.paths.clone(), shown.join(", "), None)
    } else if std::path::Path::new("features").is_dir() {
        (vec![PathBuf::from("features")], "features/ (in the current directory)".to_owned(), None)
    } else {
        let dir = std::env::temp_dir().join(format!("meterlab-test-{}", std::process::id()));
        let t = TempFeatures(dir.clone());
        let features = dir.join("features");
        suite::write_embedded(&features)?;
        let source = format!(
            "the suites built into meterlab ({} files, no ./features here; written to {})",
            suite::EMBEDDED.len(),
            features.display()
        );
        (vec![features], source, Some(t))
    };

    if args.list {
        let features = suite::load(&paths)?;
        let selection = suite::scenarios(&features, args.tags.as_ref());
        eprintln!("{} scenario(s) from {source}", selection.len());
        for s in &selection {
            println!("{s}");
        }
        return Ok(ExitCode::SUCCESS);
    }

    let opts = suite::Options {
        paths,
        tags: args.tags,
        seed: args.seed,
        concurrency: args.concurrency.map(usize::from),
        fail_fast: args.fail_fast,
        junit: args.junit,
        json: args.json,
        source: Some(source),
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let report = rt.block_on(suite::run(&opts))?;
    Ok(report.exit_code())
}
