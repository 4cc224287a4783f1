//! The Gherkin suites of `features/` on the [`Lab`]: the cucumber world ([`LabWorld`]), the
//! steps (`steps/`, one module per concept), and the runner that `meterlab test` and
//! `cargo test --test gherkin` share ([`run`]).
//!
//! Two ways a scenario goes wrong, told apart in every report:
//! - a **failure**: an assertion about the system under test did not hold (a step panicked);
//! - a **lab error**: the lab itself failed (a [`Lab`] method returned `Err`: the platform did
//!   not start, a store or network error). Steps route every `Lab` result through [`lab`],
//!   which panics with a message starting with [`LAB_ERROR`]; [`report::classify`] reads it.

mod embedded;
pub mod report;
mod steps;

use crate::Lab;
use anyhow::{Context, Result, bail};
use cucumber::gherkin::{self, tagexpr::TagOperation};
use cucumber::tag::Ext as _;
use cucumber::{WriterExt as _, cli, feature::Ext as _, parser, runner, writer};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use embedded::{EMBEDDED, write_embedded};
pub use report::{Report, Status};

/// The seed a run uses unless told otherwise (`--seed`).
pub const DEFAULT_SEED: u64 = 7;

/// How a lab error's message starts (see [`lab`]).
pub const LAB_ERROR: &str = "lab error: ";

/// Unwraps a result of the lab itself; an `Err` fails the step as a *lab error*
/// (a message starting with [`LAB_ERROR`]), not as a failure of the system under test.
pub fn lab<T>(r: Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{LAB_ERROR}{e:#}"),
    }
}

/// The state of one scenario: its lab (started by the first step that needs it) and what the
/// steps remember between them.
#[derive(Default, cucumber::World)]
pub struct LabWorld {
    /// The seed of this scenario's lab (set by the runner before the first step).
    pub seed: u64,
    /// The lab, once a step needed it.
    pub lab: Option<Lab>,
    /// Where the lab clock starts (a `Given the lab clock reads …` step).
    pub start: Option<clock::Timestamp>,
    /// Agreement numbers by holder.
    pub agreements: BTreeMap<String, u64>,
    /// The slot booked last.
    pub last_slot: Option<booking::Slot>,
    /// Where the slot booked last ends.
    pub slot_end: Option<clock::Timestamp>,
    /// Telegrams per variant when the slot ended.
    pub telegrams_at_end: BTreeMap<String, u64>,
    /// Update notices the ledger sent (R-LAB-4).
    pub notices: Vec<booking::Notice>,
    /// The latest mandate id per ESP.
    pub mandates: BTreeMap<String, String>,
    /// The latest consent id per ESP.
    pub consents: BTreeMap<String, String>,
    /// Events of each ESP's open NRT stream (`sample@…`, `revoked`, `closed`).
    pub streams: BTreeMap<String, Arc<Mutex<Vec<String>>>>,
    /// When the last consent was revoked (lab clock).
    pub revoked_at: Option<clock::Timestamp>,
    /// The status of the last API call a step made and kept.
    pub last_status: Option<u16>,
    /// Its error code.
    pub last_code: Option<String>,
}

impl std::fmt::Debug for LabWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabWorld")
            .field("seed", &self.seed)
            .field("start", &self.start)
            .field("agreements", &self.agreements)
            .finish()
    }
}

impl LabWorld {
    /// The scenario's lab, started at the clock a Given step set, with the run's seed.
    pub async fn lab(&mut self) -> &mut Lab {
        let lab = match self.lab.take() {
            Some(lab) => lab,
            None => {
                let Some(start) = self.start else {
                    panic!("no lab clock yet: a `Given the lab clock reads …` step comes first")
                };
                lab(Lab::new(start, self.seed).await)
            }
        };
        self.lab.insert(lab)
    }
}

/// What to run and where the reports go.
#[derive(Clone, Debug)]
pub struct Options {
    /// Feature files or directories (searched for `*.feature`).
    pub paths: Vec<PathBuf>,
    /// Only scenarios whose tags (feature, rule and scenario) satisfy this.
    pub tags: Option<TagOperation>,
    /// The seed of every scenario's lab.
    pub seed: u64,
    /// Scenarios run side by side; `None`: as many as the machine has cores.
    pub concurrency: Option<usize>,
    /// Stop at the first failed scenario (the rest are reported as skipped).
    pub fail_fast: bool,
    /// JUnit XML report.
    pub junit: Option<PathBuf>,
    /// Our JSON report (see [`Report`]).
    pub json: Option<PathBuf>,
    /// Where the features came from, for the header (default: the paths).
    pub source: Option<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            paths: Vec::new(),
            tags: None,
            seed: DEFAULT_SEED,
            concurrency: None,
            fail_fast: false,
            junit: None,
            json: None,
            source: None,
        }
    }
}

/// One scenario as the suites declare it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioInfo {
    /// The feature's name.
    pub feature: String,
    /// The scenario's name.
    pub name: String,
    /// The feature file.
    pub file: PathBuf,
    /// The scenario's line.
    pub line: usize,
    /// Feature, rule and scenario tags, with their `@`.
    pub tags: Vec<String>,
    /// Its steps, background steps included.
    pub steps: usize,
}

impl std::fmt::Display for ScenarioInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}  [{}]", self.feature, self.name, self.tags.join(" "))
    }
}

/// Parses a tag expression (`@R-LAB-2 and not @slow`), with a readable error.
pub fn parse_tags(s: &str) -> Result<TagOperation, String> {
    s.parse::<TagOperation>().map_err(|e| {
        format!(
            "not a tag expression ({e}); write tags with their @ and combine them with \
             and, or, not and parentheses, e.g. '@R-LAB-2 and not @slow'"
        )
    })
}

fn feature_files(path: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("no feature file or directory {}", path.display()))?;
    if !meta.is_dir() {
        out.push(path.to_owned());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("reading {}", path.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("reading {}", path.display()))?;
    entries.sort();
    for p in entries {
        if p.is_dir() {
            feature_files(&p, out)?;
        } else if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("feature")) {
            out.push(p);
        }
    }
    Ok(())
}

/// Reads and parses every feature under `paths` (files, or directories searched for
/// `*.feature`), scenario outlines expanded.
pub fn load(paths: &[PathBuf]) -> Result<Vec<gherkin::Feature>> {
    let mut files = Vec::new();
    for p in paths {
        feature_files(p, &mut files)?;
    }
    files.dedup();
    let mut features = Vec::new();
    for f in files {
        let feature = gherkin::Feature::parse_path(&f, gherkin::GherkinEnv::default())
            .map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
        let feature =
            feature.expand_examples().map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
        features.push(feature);
    }
    Ok(features)
}

fn all_tags<'a>(
    feature: &'a gherkin::Feature,
    rule: Option<&'a gherkin::Rule>,
    scenario: &'a gherkin::Scenario,
) -> impl Iterator<Item = &'a String> + Clone {
    feature.tags.iter().chain(rule.into_iter().flat_map(|r| &r.tags)).chain(&scenario.tags)
}

fn selected(
    tags: Option<&TagOperation>,
    feature: &gherkin::Feature,
    rule: Option<&gherkin::Rule>,
    scenario: &gherkin::Scenario,
) -> bool {
    tags.is_none_or(|t| t.eval(all_tags(feature, rule, scenario)))
}

/// The scenarios of `features` that `tags` selects, in file order.
pub fn scenarios(features: &[gherkin::Feature], tags: Option<&TagOperation>) -> Vec<ScenarioInfo> {
    let mut out = Vec::new();
    for f in features {
        let bg = |b: Option<&gherkin::Background>| b.map_or(0, |b| b.steps.len());
        let mut add = |rule: Option<&gherkin::Rule>, s: &gherkin::Scenario| {
            if !selected(tags, f, rule, s) {
                return;
            }
            out.push(ScenarioInfo {
                feature: f.name.clone(),
                name: s.name.clone(),
                file: f.path.clone().unwrap_or_default(),
                line: s.position.line,
                tags: all_tags(f, rule, s).map(|t| format!("@{t}")).collect(),
                steps: bg(f.background.as_ref())
                    + rule.map_or(0, |r| bg(r.background.as_ref()))
                    + s.steps.len(),
            });
        };
        for s in &f.scenarios {
            add(None, s);
        }
        for r in &f.rules {
            for s in &r.scenarios {
                add(Some(r), s);
            }
        }
    }
    out.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    out
}

/// Hands features parsed by [`load`] to cucumber.
struct Preparsed;

impl cucumber::Parser<Vec<gherkin::Feature>> for Preparsed {
    type Cli = cli::Empty;
    type Output = futures::stream::Iter<std::vec::IntoIter<parser::Result<gherkin::Feature>>>;

    fn parse(self, input: Vec<gherkin::Feature>, _: cli::Empty) -> Self::Output {
        futures::stream::iter(input.into_iter().map(Ok).collect::<Vec<_>>())
    }
}

/// Runs the scenarios `opts` selects: progress on stdout (cucumber's own writer), a summary,
/// the JUnit and JSON reports when asked for (both from the [`Report`]). The [`Report`] says how it went
/// ([`Report::exit_code`]). `Err`: nothing could run (no features, nothing selected, a
/// report file that cannot be created).
pub async fn run(opts: &Options) -> Result<Report> {
    let features = load(&opts.paths)?;
    let selection = scenarios(&features, opts.tags.as_ref());
    if selection.is_empty() {
        bail!(
            "no scenario to run in {}{}",
            source(opts),
            if opts.tags.is_some() { " with these --tags" } else { "" }
        );
    }
    let concurrency = opts
        .concurrency
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
        .max(1);
    println!(
        "meterlab test: {} scenario(s) from {}, seed {}, {} at a time",
        selection.len(),
        source(opts),
        opts.seed,
        concurrency
    );
    // Report files are created now, so a path that cannot be written fails before a long run.
    for p in opts.junit.iter().chain(&opts.json) {
        create(p)?;
    }

    let collected = Arc::new(Mutex::new(report::Collected::default()));
    let writer =
        writer::Basic::raw(std::io::stdout(), writer::Coloring::Auto, writer::Verbosity::Default)
            .tee::<LabWorld, _>(report::Collector::new(collected.clone()))
            .normalized::<LabWorld>()
            .fail_on_skipped();
    let seed = opts.seed;
    let cucumber: cucumber::Cucumber<LabWorld, _, _, _, _, cli::Empty> =
        cucumber::Cucumber::custom(Preparsed, runner::Basic::default(), writer);
    let mut cucumber = cucumber
        .steps(<LabWorld as cucumber::World>::collection())
        .max_concurrent_scenarios(concurrency)
        .before(move |_, _, _, world: &mut LabWorld| {
            world.seed = seed;
            Box::pin(async {})
        })
        .with_default_cli();
    if opts.fail_fast {
        cucumber = cucumber.fail_fast();
    }
    let clock = clock::SystemClock;
    let started = clock::Clock::now(&clock);
    let t0 = clock::Stopwatch::start();
    let tags = opts.tags.clone();
    cucumber.filter_run(features, move |f, r, s| selected(tags.as_ref(), f, r, s)).await;
    let wall = t0.elapsed();

    let collected = std::mem::take(&mut *collected.lock().unwrap_or_else(|e| e.into_inner()));
    let report = Report::new(opts.seed, started, wall, &selection, collected);
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(report.summary().as_bytes());
    let _ = out.flush();
    if let Some(p) = &opts.json {
        std::fs::write(p, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", p.display()))?;
    }
    // Our own JUnit (cucumber's has no `classname`, and calls an undefined step a panic).
    if let Some(p) = &opts.junit {
        std::fs::write(p, report.junit()).with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(report)
}

/// Creates a report file and its directory.
fn create(p: &Path) -> Result<std::fs::File> {
    if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))
}

fn source(opts: &Options) -> String {
    opts.source.clone().unwrap_or_else(|| {
        opts.paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    })
}
