//! What a run found: a cucumber [`Writer`](cucumber::Writer) that collects each scenario's
//! outcome ([`Collector`]), and the [`Report`] built from it — the summary, the JSON report,
//! the JUnit report ([`Report::junit`]) and the exit code.

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
    /// An assertion about the system under test did not hold.
    Failed,
    /// The lab itself failed (a `Lab` method returned `Err`).
    LabError,
    /// A step matches no step definition: the suite is wrong (a typo, a step not written
    /// yet), not the system under test.
    Undefined,
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
    /// One line per step that ran, as the console showed it (the JUnit `system-out`).
    log: Vec<String>,
}

/// What the [`Collector`] saw, by scenario (feature file, line).
#[derive(Debug, Default)]
pub struct Collected {
    scenarios: HashMap<(PathBuf, usize), Outcome>,
    steps_passed: usize,
    steps_failed: usize,
    steps_undefined: usize,
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
        let line = |step: &gherkin::Step, mark: &str| {
            format!("{mark} {} {}", step.keyword.trim(), step.value)
        };
        let failed = |step: &gherkin::Step, text: &str| {
            let message = format!(
                "step `{} {}` (line {}): {text}",
                step.keyword.trim(),
                step.value,
                step.position.line
            );
            (classify(text), message)
        };
        match ev {
            Scenario::Started => outcome.started = Some(at),
            Scenario::Finished => outcome.finished = Some(at),
            Scenario::Hook(which, Hook::Failed(_, info)) => {
                let text = panic_text(&info);
                let status = classify(&text);
                outcome.failure.get_or_insert((status, format!("{which} hook: {text}")));
            }
            Scenario::Background(step, Step::Passed(..))
            | Scenario::Step(step, Step::Passed(..)) => {
                self.steps_passed += 1;
                outcome.log.push(line(&step, "✔"));
            }
            // No step definition matches the text (`fail_on_skipped` turns cucumber's
            // "skipped" into this): the suite is wrong, not the system under test.
            Scenario::Background(step, Step::Failed(_, _, _, event::StepError::NotFound))
            | Scenario::Step(step, Step::Failed(_, _, _, event::StepError::NotFound)) => {
                self.steps_undefined += 1;
                outcome.log.push(line(&step, "?"));
                outcome.log.push("    undefined: no step definition matches this text".into());
                outcome.failure.get_or_insert_with(|| {
                    let message = format!(
                        "undefined step: {} {} (line {}): no step definition matches this text; \
                         check its wording against the existing steps or write one",
                        step.keyword.trim(),
                        step.value,
                        step.position.line
                    );
                    (Status::Undefined, message)
                });
            }
            Scenario::Background(step, Step::Failed(_, _, _, err))
            | Scenario::Step(step, Step::Failed(_, _, _, err)) => {
                self.steps_failed += 1;
                let text = match &err {
                    event::StepError::Panic(info) => panic_text(info),
                    other => other.to_string(),
                };
                outcome.log.push(line(&step, "✘"));
                outcome.log.extend(text.lines().map(|l| format!("    {l}")));
                outcome.failure.get_or_insert_with(|| failed(&step, &text));
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
    /// Steps that failed.
    pub failed: usize,
    /// Steps that matched no step definition.
    pub undefined: usize,
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
    /// Scenarios stopped by a step that matches no step definition.
    pub undefined: usize,
    /// Scenarios not run.
    pub skipped: usize,
    /// Steps.
    pub steps: StepCounts,
    /// Problems outside any scenario (e.g. a feature that did not parse); each fails the run.
    pub problems: Vec<String>,
    /// Every selected scenario, in file order.
    pub scenarios: Vec<ScenarioResult>,
    /// Each scenario's steps as they ran, for the JUnit `system-out` (same order).
    #[serde(skip)]
    logs: Vec<Vec<String>>,
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
        let mut logs = Vec::new();
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
            logs.push(outcome.log);
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
        let ran = collected.steps_passed + collected.steps_failed + collected.steps_undefined;
        let steps = StepCounts {
            passed: collected.steps_passed,
            failed: collected.steps_failed,
            undefined: collected.steps_undefined,
            skipped: total_steps.saturating_sub(ran),
        };
        Report {
            seed,
            started: started.to_string(),
            wall_s: (wall.as_secs_f64() * 1000.0).round() / 1000.0,
            passed: count(Status::Passed),
            failed: count(Status::Failed),
            lab_errors: count(Status::LabError),
            undefined: count(Status::Undefined),
            skipped: count(Status::Skipped),
            steps,
            problems: collected.problems,
            scenarios,
            logs,
        }
    }

    /// The exit code: 0 every scenario passed, 1 a scenario failed, 2 no failure but lab
    /// errors or undefined steps (like a usage error, the suite could not test the system:
    /// the lab broke, or the suite names a step nobody wrote).
    pub fn code(&self) -> u8 {
        if self.failed > 0 || !self.problems.is_empty() {
            1
        } else if self.lab_errors > 0 || self.undefined > 0 {
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
                Status::Undefined => "UNDEFINED",
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
            "scenarios: {} passed, {} failed, {} lab errors, {} undefined, {} skipped ({} in all)",
            self.passed,
            self.failed,
            self.lab_errors,
            self.undefined,
            self.skipped,
            self.scenarios.len()
        );
        let _ = writeln!(
            s,
            "steps: {} passed, {} failed, {} undefined, {} skipped",
            self.steps.passed, self.steps.failed, self.steps.undefined, self.steps.skipped
        );
        let _ = writeln!(
            s,
            "wall time: {:.2} s, seed {} (the same --seed reproduces the run)",
            self.wall_s, self.seed
        );
        s
    }

    /// The JUnit XML report: a `testsuite` per feature file (named after the feature), a
    /// `testcase` per scenario with the feature as its `classname`, its file and line, and
    /// the steps as they ran in `system-out`. A failure is a `failure`; a lab error and an
    /// undefined step are `error`s (the suite could not test the system); a scenario not run
    /// is `skipped`. Problems outside any scenario come last, as errors of their own suite.
    pub fn junit(&self) -> String {
        use std::fmt::Write as _;
        let secs = |ms: u64| format!("{:.3}", ms as f64 / 1000.0);
        // JUnit's timestamp is a local date-time without a zone: UTC here.
        let stamp = self
            .started
            .parse::<clock::Timestamp>()
            .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S").to_string())
            .unwrap_or_default();
        let count =
            |rs: &[&ScenarioResult], st: Status| rs.iter().filter(|r| r.status == st).count();
        let errors = |rs: &[&ScenarioResult]| {
            rs.iter().filter(|r| matches!(r.status, Status::LabError | Status::Undefined)).count()
        };
        // Suites in file order, one per feature file.
        type Case<'a> = (&'a ScenarioResult, &'a [String]);
        let mut suites: Vec<(&str, Vec<Case>)> = Vec::new();
        for (r, log) in self.scenarios.iter().zip(&self.logs) {
            match suites.iter_mut().find(|(file, _)| *file == r.file) {
                Some((_, cases)) => cases.push((r, log)),
                None => suites.push((&r.file, vec![(r, log)])),
            }
        }
        let all: Vec<&ScenarioResult> = self.scenarios.iter().collect();
        let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            x,
            "<testsuites name=\"meterlab test\" tests=\"{}\" failures=\"{}\" errors=\"{}\" \
             skipped=\"{}\" time=\"{:.3}\" timestamp=\"{stamp}\">",
            all.len() + self.problems.len(),
            self.failed,
            errors(&all) + self.problems.len(),
            self.skipped,
            self.wall_s
        );
        for (file, cases) in &suites {
            let rs: Vec<&ScenarioResult> = cases.iter().map(|(r, _)| *r).collect();
            let feature = rs.first().map_or("", |r| r.feature.as_str());
            let _ = writeln!(
                x,
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" \
                 skipped=\"{}\" time=\"{}\" timestamp=\"{stamp}\" file=\"{}\">",
                xml(feature),
                rs.len(),
                count(&rs, Status::Failed),
                errors(&rs),
                count(&rs, Status::Skipped),
                secs(rs.iter().map(|r| r.duration_ms).sum()),
                xml(file)
            );
            let _ = writeln!(
                x,
                "    <properties><property name=\"seed\" value=\"{}\"/></properties>",
                self.seed
            );
            for (r, log) in cases {
                // An outline's examples share a name: the line tells them apart.
                let twins = rs.iter().filter(|o| o.name == r.name).count() > 1;
                let name =
                    if twins { format!("{} (line {})", r.name, r.line) } else { r.name.clone() };
                let _ = write!(
                    x,
                    "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\" line=\"{}\" \
                     time=\"{}\">",
                    xml(&r.feature),
                    xml(&name),
                    xml(&r.file),
                    r.line,
                    secs(r.duration_ms)
                );
                let message = r.message.as_deref().unwrap_or_default();
                let first = message.lines().next().unwrap_or_default();
                let element = match r.status {
                    Status::Passed => None,
                    Status::Failed => Some(("failure", "assertion")),
                    Status::LabError => Some(("error", "lab-error")),
                    Status::Undefined => Some(("error", "undefined-step")),
                    Status::Skipped => {
                        let _ = write!(x, "<skipped message=\"{}\"/>", xml(first));
                        None
                    }
                };
                if let Some((tag, kind)) = element {
                    let _ = write!(
                        x,
                        "\n      <{tag} type=\"{kind}\" message=\"{}\">{}</{tag}>",
                        xml(first),
                        xml(message)
                    );
                }
                if !log.is_empty() {
                    let _ = write!(x, "\n      <system-out>{}</system-out>", xml(&log.join("\n")));
                }
                if element.is_some() || !log.is_empty() {
                    x.push_str("\n    ");
                }
                x.push_str("</testcase>\n");
            }
            x.push_str("  </testsuite>\n");
        }
        if !self.problems.is_empty() {
            let n = self.problems.len();
            let _ = writeln!(
                x,
                "  <testsuite name=\"problems\" tests=\"{n}\" failures=\"0\" errors=\"{n}\" \
                 skipped=\"0\" time=\"0.000\" timestamp=\"{stamp}\">"
            );
            for (i, p) in self.problems.iter().enumerate() {
                let _ = writeln!(
                    x,
                    "    <testcase classname=\"meterlab test\" name=\"problem {}\" time=\"0.000\">\
                     <error type=\"problem\" message=\"{}\">{}</error></testcase>",
                    i + 1,
                    xml(p.lines().next().unwrap_or_default()),
                    xml(p)
                );
            }
            x.push_str("  </testsuite>\n");
        }
        x.push_str("</testsuites>\n");
        x
    }
}

/// Text for an XML attribute or element: the five special characters escaped, and the
/// characters XML 1.0 cannot hold at all (terminal escapes and other controls in a panic
/// message) left out.
pub(crate) fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c < ' ' || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
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
            ..Outcome::default()
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

    fn feature(text: &str) -> gherkin::Feature {
        let mut f = gherkin::Feature::parse(text, gherkin::GherkinEnv::default()).unwrap();
        f.path = Some("u.feature".into());
        f
    }

    /// Feeds a scenario whose first step fails with `err` to a collector, as cucumber would.
    fn run_failing(c: &mut Collected, f: &gherkin::Feature, err: event::StepError) {
        let sc = &f.scenarios[0];
        let at = SystemTime::UNIX_EPOCH;
        c.scenario::<()>(f, sc, Scenario::Started, at);
        let step = event::Source::new(sc.steps[0].clone());
        c.scenario::<()>(f, sc, Scenario::Step(step, Step::Failed(None, None, None, err)), at);
        c.scenario::<()>(f, sc, Scenario::Finished, at + Duration::from_millis(20));
    }

    fn selection(f: &gherkin::Feature) -> Vec<ScenarioInfo> {
        super::super::scenarios(std::slice::from_ref(f), None)
    }

    #[test]
    fn an_undefined_step_is_reported_as_undefined_not_as_a_failure() {
        let f =
            feature("Feature: U\n  Scenario: S\n    When the moon turns blue\n    Then nothing\n");
        let mut c = Collected::default();
        run_failing(&mut c, &f, event::StepError::NotFound);
        let r = Report::new(7, clock::Timestamp::UNIX_EPOCH, Duration::ZERO, &selection(&f), c);
        let sc = &r.scenarios[0];
        assert_eq!(sc.status, Status::Undefined);
        let msg = sc.message.as_deref().unwrap_or_default();
        assert!(msg.starts_with("undefined step: When the moon turns blue (line 3)"), "{msg}");
        assert_eq!((r.failed, r.undefined), (0, 1));
        assert_eq!(
            (r.steps.passed, r.steps.failed, r.steps.undefined, r.steps.skipped),
            (0, 0, 1, 1)
        );
        assert_eq!(r.code(), 2, "a usage error of the suite, not a failure of the system");
        let summary = r.summary();
        assert!(summary.contains("UNDEFINED: U: S (u.feature:2)"), "{summary}");
        assert!(summary.contains("0 failed, 0 lab errors, 1 undefined"), "{summary}");
        let json = serde_json::to_value(&r).unwrap_or_default();
        assert_eq!(json["scenarios"][0]["status"], "undefined");
        assert_eq!(json["undefined"], 1);
        assert!(r.junit().contains("<error type=\"undefined-step\""), "{}", r.junit());
    }

    #[test]
    fn junit_has_the_feature_as_classname_and_tells_errors_from_failures() {
        let f = feature(
            "Feature: Slots & <rigs>\n  Scenario: A \"quoted\" one\n    Given a step\n  Scenario: B\n    Given a step\n  Scenario: C\n    Given a step\n  Scenario: D\n    Given a step\n",
        );
        let sel = selection(&f);
        let mut c = Collected::default();
        let done = |failure: Option<(Status, String)>| Outcome {
            started: Some(SystemTime::UNIX_EPOCH),
            finished: Some(SystemTime::UNIX_EPOCH + Duration::from_millis(1250)),
            failure,
            log: vec!["✔ Given a step".into()],
        };
        let fail =
            (Status::Failed, "step `Then x` (line 9): left < right\n  \u{1b}[1mdetail".into());
        c.scenarios.insert(("u.feature".into(), 2), done(Some(fail)));
        c.scenarios
            .insert(("u.feature".into(), 4), done(Some((Status::LabError, "lab error: x".into()))));
        c.scenarios.insert(("u.feature".into(), 6), done(None));
        let r = Report::new(7, clock::Timestamp::UNIX_EPOCH, Duration::from_secs(4), &sel, c);
        let xml = r.junit();

        let mut reader = quick_xml::Reader::from_str(&xml);
        let (mut cases, mut classnames, mut elements) = (0, Vec::new(), Vec::new());
        loop {
            match reader.read_event().unwrap() {
                quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                    let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                    if name == "testcase" {
                        cases += 1;
                        let cn = e.try_get_attribute("classname").unwrap().unwrap();
                        classnames.push(String::from_utf8_lossy(&cn.value).into_owned());
                    }
                    if ["failure", "error", "skipped"].contains(&name.as_str()) {
                        elements.push(name);
                    }
                }
                quick_xml::events::Event::Eof => break,
                _ => {}
            }
        }
        assert_eq!(cases, 4, "{xml}");
        assert!(classnames.iter().all(|c| c == "Slots &amp; &lt;rigs&gt;"), "{classnames:?}");
        assert_eq!(elements, ["failure", "error", "skipped"], "{xml}");
        assert!(xml.contains("<testsuite name=\"Slots &amp; &lt;rigs&gt;\" tests=\"4\" failures=\"1\" errors=\"1\" skipped=\"1\""), "{xml}");
        assert!(xml.contains("name=\"A &quot;quoted&quot; one\""), "{xml}");
        assert!(xml.contains("time=\"1.250\""), "{xml}");
        assert!(!xml.contains('\u{1b}'), "control characters are left out: {xml}");
        assert!(xml.contains("<property name=\"seed\" value=\"7\"/>"), "{xml}");
    }
}
