//! What a run found: a cucumber [`Writer`](cucumber::Writer) that collects each scenario's
//! outcome ([`Collector`]), and the [`Report`] built from it — the summary, the JSON report
//! and the exit code.

use super::{LAB_ERROR, ScenarioInfo};
use cucumber::event::{self, Cucumber, Feature, Hook, RetryableScenario, Rule, Scenario, Step};
use cucumber::{Event, cli, gherkin, parser};
use serde::Serialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// How a scenario ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Every step passed.
    Passed,
    /// An assertion about the system under test did not hold (or a step is missing).
    Failed,
    /// The lab itself failed (a `Lab` method returned `Err`).
    LabError,
    /// Not run (`--fail-fast` stopped the run first).
    Skipped,
}

/// A failed step's message → failure or lab error: lab errors start with [`LAB_ERROR`].
pub fn classify(message: &str) -> Status {
    if message.starts_with(LAB_ERROR) { Status::LabError } else { Status::Failed }
}

fn panic_text(info: &event::Info) -> String {
    if let Some(s) = info.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = info.downcast_ref::<&str>() {
        (*s).to_owned()
    } else {
        "(a panic without a message)".to_owned()
    }
}

#[derive(Debug, Default)]
struct Outcome {
    started: Option<SystemTime>,
    finished: Option<SystemTime>,
    failure: Option<(Status, String)>,
}

/// What the [`Collector`] saw, by scenario (feature file, line).
#[derive(Debug, Default)]
pub struct Collected {
    scenarios: HashMap<(PathBuf, usize), Outcome>,
    steps_passed: usize,
    steps_failed: usize,
    problems: Vec<String>,
}

impl Collected {
    fn scenario<W>(
        &mut self,
        feature: &gherkin::Feature,
        scenario: &gherkin::Scenario,
        ev: Scenario<W>,
        at: SystemTime,
    ) {
        let key = (feature.path.clone().unwrap_or_default(), scenario.position.line);
        let outcome = self.scenarios.entry(key).or_default();
        let failed = |step: &gherkin::Step, err: &event::StepError| {
            let text = match err {
                event::StepError::Panic(info) => panic_text(info),
                other => other.to_string(),
            };
            let status = classify(&text);
            let message = format!(
                "step `{} {}` (line {}): {text}",
                step.keyword.trim(),
                step.value,
                step.position.line
            );
            (status, message)
        };
        match ev {
            Scenario::Started => outcome.started = Some(at),
            Scenario::Finished => outcome.finished = Some(at),
            Scenario::Hook(which, Hook::Failed(_, info)) => {
                let text = panic_text(&info);
                let status = classify(&text);
                outcome.failure.get_or_insert((status, format!("{which} hook: {text}")));
            }
            Scenario::Background(_, Step::Passed(..)) | Scenario::Step(_, Step::Passed(..)) => {
                self.steps_passed += 1;
            }
            Scenario::Background(step, Step::Failed(_, _, _, err))
            | Scenario::Step(step, Step::Failed(_, _, _, err)) => {
                self.steps_failed += 1;
                outcome.failure.get_or_insert_with(|| failed(&step, &err));
            }
            Scenario::Hook(..)
            | Scenario::Background(..)
            | Scenario::Step(..)
            | Scenario::Log(_) => {}
        }
    }
}

/// A cucumber writer that collects scenario outcomes into a shared [`Collected`]. It does
/// not care about event order, so it can sit beside cucumber's own writers in a `tee`.
#[derive(Debug, Clone)]
pub struct Collector(Arc<Mutex<Collected>>);

impl Collector {
    /// A collector filling `into`.
    pub fn new(into: Arc<Mutex<Collected>>) -> Collector {
        Collector(into)
    }
}

impl<W> cucumber::Writer<W> for Collector {
    type Cli = cli::Empty;

    async fn handle_event(&mut self, event: parser::Result<Event<Cucumber<W>>>, _: &cli::Empty) {
        let mut c = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (ev, meta) = match event {
            Ok(ev) => ev.split(),
            Err(e) => {
                c.problems.push(e.to_string());
                return;
            }
        };
        match ev {
            Cucumber::Feature(f, Feature::Scenario(sc, RetryableScenario { event, .. }))
            | Cucumber::Feature(
                f,
                Feature::Rule(_, Rule::Scenario(sc, RetryableScenario { event, .. })),
            ) => c.scenario(&f, &sc, event, meta.at),
            Cucumber::Started
            | Cucumber::ParsingFinished { .. }
            | Cucumber::Feature(..)
            | Cucumber::Finished => {}
        }
    }
}

impl cucumber::writer::NonTransforming for Collector {}

/// One scenario in the [`Report`].
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioResult {
    /// The feature's name.
    pub feature: String,
    /// The scenario's name.
    pub name: String,
    /// Feature file and line.
    pub file: String,
    /// The scenario's line in it.
    pub line: usize,
    /// Its tags (feature, rule and scenario), with their `@`.
    pub tags: Vec<String>,
    /// How it ended.
    pub status: Status,
    /// Why, when it did not pass: the step and its message.
    pub message: Option<String>,
    /// How long it ran.
    pub duration_ms: u64,
}

/// Step counts of a run.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct StepCounts {
    /// Steps that passed.
    pub passed: usize,
    /// Steps that failed (or matched no step definition).
    pub failed: usize,
    /// Steps not run: after a failed step, or in a scenario that did not run.
    pub skipped: usize,
}

/// The outcome of a run: `meterlab test --json` writes it as is.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The seed every scenario's lab used (`--seed`): the same seed reproduces the run.
    pub seed: u64,
    /// When the run started (RFC 3339, UTC).
    pub started: String,
    /// Wall time of the run, in seconds.
    pub wall_s: f64,
    /// Scenarios that passed.
    pub passed: usize,
    /// Scenarios that failed.
    pub failed: usize,
    /// Scenarios that ended in a lab error.
    pub lab_errors: usize,
    /// Scenarios not run.
    pub skipped: usize,
    /// Steps.
    pub steps: StepCounts,
    /// Problems outside any scenario (e.g. a feature that did not parse); each fails the run.
    pub problems: Vec<String>,
    /// Every selected scenario, in file order.
    pub scenarios: Vec<ScenarioResult>,
}

impl Report {
    /// The report of a run of `selection` from what the collector saw.
    pub fn new(
        seed: u64,
        started: clock::Timestamp,
        wall: Duration,
        selection: &[ScenarioInfo],
        mut collected: Collected,
    ) -> Report {
        let mut scenarios = Vec::new();
        let mut total_steps = 0;
        for s in selection {
            total_steps += s.steps;
            let outcome = collected.scenarios.remove(&(s.file.clone(), s.line)).unwrap_or_default();
            let (status, message) = match (outcome.finished, outcome.failure) {
                (Some(_), Some((status, message))) => (status, Some(message)),
                (Some(_), None) => (Status::Passed, None),
                (None, Some((status, message))) => (status, Some(message)),
                (None, None) => {
                    (Status::Skipped, Some("not run: --fail-fast stopped the run first".to_owned()))
                }
            };
            let duration_ms = match (outcome.started, outcome.finished) {
                (Some(a), Some(b)) => {
                    u64::try_from(b.duration_since(a).unwrap_or_default().as_millis())
                        .unwrap_or(u64::MAX)
                }
                _ => 0,
            };
            scenarios.push(ScenarioResult {
                feature: s.feature.clone(),
                name: s.name.clone(),
                file: s.file.display().to_string(),
                line: s.line,
                tags: s.tags.clone(),
                status,
                message,
                duration_ms,
            });
        }
        let count = |st: Status| scenarios.iter().filter(|s| s.status == st).count();
        let steps = StepCounts {
            passed: collected.steps_passed,
            failed: collected.steps_failed,
            skipped: total_steps.saturating_sub(collected.steps_passed + collected.steps_failed),
        };
        Report {
            seed,
            started: started.to_string(),
            wall_s: (wall.as_secs_f64() * 1000.0).round() / 1000.0,
            passed: count(Status::Passed),
            failed: count(Status::Failed),
            lab_errors: count(Status::LabError),
            skipped: count(Status::Skipped),
            steps,
            problems: collected.problems,
            scenarios,
        }
    }

    /// The exit code: 0 every scenario passed, 1 a scenario failed, 2 only lab errors.
    pub fn code(&self) -> u8 {
        if self.failed > 0 || !self.problems.is_empty() {
            1
        } else if self.lab_errors > 0 {
            2
        } else {
            0
        }
    }

    /// [`Report::code`] as the process's exit code.
    pub fn exit_code(&self) -> std::process::ExitCode {
        std::process::ExitCode::from(self.code())
    }

    /// The summary printed at the end of a run: counts, wall time, seed, and each scenario
    /// that did not pass with its reason.
    pub fn summary(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let _ = writeln!(s);
        for r in self.scenarios.iter().filter(|r| r.status != Status::Passed) {
            let what = match r.status {
                Status::Passed => "passed",
                Status::Failed => "FAILED",
                Status::LabError => "LAB ERROR",
                Status::Skipped => "skipped",
            };
            let _ = writeln!(s, "{what}: {}: {} ({}:{})", r.feature, r.name, r.file, r.line);
            if let Some(m) = &r.message {
                for l in m.lines() {
                    let _ = writeln!(s, "    {l}");
                }
            }
        }
        for p in &self.problems {
            let _ = writeln!(s, "problem: {p}");
        }
        let _ = writeln!(
            s,
            "scenarios: {} passed, {} failed, {} lab errors, {} skipped ({} in all)",
            self.passed,
            self.failed,
            self.lab_errors,
            self.skipped,
            self.scenarios.len()
        );
        let _ = writeln!(
            s,
            "steps: {} passed, {} failed, {} skipped",
            self.steps.passed, self.steps.failed, self.steps.skipped
        );
        let _ = writeln!(
            s,
            "wall time: {:.2} s, seed {} (the same --seed reproduces the run)",
            self.wall_s, self.seed
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lab_errors_are_told_from_failures_by_their_prefix() {
        assert_eq!(classify("lab error: starting the lab's platform: disk full"), Status::LabError);
        assert_eq!(classify(&format!("{LAB_ERROR}no rig rig-z")), Status::LabError);
        assert_eq!(
            classify("assertion `left == right` failed: lab error: in the text"),
            Status::Failed
        );
        assert_eq!(classify("fluvius-s211-1.7.1: 10 of 7920 stored"), Status::Failed);
        assert_eq!(classify("Step doesn't match any function"), Status::Failed);
        assert_eq!(classify(""), Status::Failed);
    }

    #[test]
    fn the_lab_helper_panics_with_the_prefix() {
        let err = std::panic::catch_unwind(|| {
            super::super::lab::<()>(Err(anyhow::anyhow!("store down").context("ingest")))
        })
        .err()
        .map(|p| panic_text(&Arc::from(p)));
        assert_eq!(err.as_deref(), Some("lab error: ingest: store down"));
        assert_eq!(classify(err.as_deref().unwrap_or_default()), Status::LabError);
    }

    fn info(name: &str, line: usize, steps: usize) -> ScenarioInfo {
        ScenarioInfo {
            feature: "F".into(),
            name: name.into(),
            file: "f.feature".into(),
            line,
            tags: vec!["@R-LAB-2".into()],
            steps,
        }
    }

    #[test]
    fn exit_code_failures_first_then_lab_errors() {
        let mut c = Collected::default();
        let done = |failure: Option<(Status, String)>| Outcome {
            started: Some(SystemTime::UNIX_EPOCH),
            finished: Some(SystemTime::UNIX_EPOCH + Duration::from_millis(1500)),
            failure,
        };
        c.scenarios.insert(("f.feature".into(), 3), done(None));
        c.scenarios.insert(("f.feature".into(), 9), done(Some((Status::LabError, "x".into()))));
        c.steps_passed = 4;
        c.steps_failed = 1;
        let sel = [info("a", 3, 2), info("b", 9, 4), info("c", 20, 1)];
        let r = Report::new(7, clock::Timestamp::UNIX_EPOCH, Duration::from_secs(2), &sel, c);
        assert_eq!((r.passed, r.failed, r.lab_errors, r.skipped), (1, 0, 1, 1));
        assert_eq!(r.scenarios[0].duration_ms, 1500);
        assert_eq!(r.steps.skipped, 2);
        assert_eq!(r.code(), 2, "lab errors only");
        let json = serde_json::to_value(&r).unwrap_or_default();
        assert_eq!(json["scenarios"][1]["status"], "lab-error");
        assert_eq!(json["scenarios"][2]["status"], "skipped");
        assert_eq!(json["seed"], 7);

        let mut c = Collected::default();
        c.scenarios.insert(("f.feature".into(), 3), done(Some((Status::Failed, "y".into()))));
        c.scenarios.insert(("f.feature".into(), 9), done(Some((Status::LabError, "x".into()))));
        let r = Report::new(7, clock::Timestamp::UNIX_EPOCH, Duration::ZERO, &sel[..2], c);
        assert_eq!(r.code(), 1, "a failure wins over lab errors");
        assert!(r.summary().contains("FAILED: F: a (f.feature:3)"), "{}", r.summary());
    }
}
