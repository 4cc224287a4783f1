//! Scenario runs from the console: the embedded Gherkin suites, run by `meterlab test` (that
//! is, `scenarios::suite::run`) in a child process of the lab.
//!
//! Why a child and not `suite::run` in process: the runner writes its progress to the
//! process's stdout, which is the console's screen when `meterlab up` shows it; and every
//! scenario builds its own in-process lab, which does not need this one. The child's output
//! goes to `RUN_DIR/scenarios.log`, its JSON report to `RUN_DIR/scenarios.json`; the rows of
//! the Scenarios screen come from that report.

use anyhow::{Context, Result};
use scenarios::suite;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tui::model::ScenarioRow;

/// The scenarios the lab can run and how each went last.
#[derive(Debug, Default)]
struct Rows {
    /// (feature file, line) of each row.
    keys: Vec<(String, usize)>,
    rows: Vec<ScenarioRow>,
    running: bool,
}

/// The Scenarios screen's state, shared with the run in the background.
#[derive(Clone)]
pub(crate) struct Runs {
    features: PathBuf,
    dir: PathBuf,
    exe: PathBuf,
    rows: Arc<Mutex<Rows>>,
    stop: Arc<AtomicBool>,
}

fn lock(m: &Mutex<Rows>) -> MutexGuard<'_, Rows> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Runs {
    /// Writes the embedded suites under `dir/features` and lists their scenarios, pending.
    pub(crate) fn new(dir: &Path) -> Result<Runs> {
        let features = dir.join("features");
        let _ = std::fs::remove_dir_all(&features);
        suite::write_embedded(&features)?;
        let parsed = suite::load(std::slice::from_ref(&features))?;
        let mut rows = Rows::default();
        for s in suite::scenarios(&parsed, None) {
            rows.keys.push((s.file.display().to_string(), s.line));
            rows.rows.push(ScenarioRow {
                feature: s.feature,
                name: s.name,
                tags: s.tags,
                state: "pending".to_owned(),
                message: None,
            });
        }
        let exe = std::env::current_exe().context("finding the meterlab binary")?;
        Ok(Runs {
            features,
            dir: dir.to_owned(),
            exe,
            rows: Arc::new(Mutex::new(rows)),
            stop: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Ends a run that is going on (the lab stops): the child is killed.
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Every scenario with its state.
    pub(crate) fn rows(&self) -> Vec<ScenarioRow> {
        lock(&self.rows).rows.clone()
    }

    /// Starts a run of the scenarios `tags` selects (empty: all) in the background; a sentence
    /// for the status bar, or why it cannot start.
    pub(crate) fn start(&self, tags: &str) -> Result<String, (u16, String)> {
        let tags = tags.trim();
        let expr = if tags.is_empty() {
            None
        } else {
            Some(suite::parse_tags(tags).map_err(|e| (400, format!("--tags {tags}: {e}")))?)
        };
        let parsed = suite::load(std::slice::from_ref(&self.features))
            .map_err(|e| (500, format!("reading the suites: {e:#}")))?;
        let selected: Vec<(String, usize)> = suite::scenarios(&parsed, expr.as_ref())
            .into_iter()
            .map(|s| (s.file.display().to_string(), s.line))
            .collect();
        if selected.is_empty() {
            return Err((400, format!("no scenario matches {tags}")));
        }
        {
            let mut r = lock(&self.rows);
            if r.running {
                return Err((409, "a run is going on: wait for it to finish".to_owned()));
            }
            r.running = true;
            let Rows { keys, rows, .. } = &mut *r;
            for (key, row) in keys.iter().zip(rows.iter_mut()) {
                if selected.contains(key) {
                    row.state = "running".to_owned();
                    row.message = None;
                }
            }
        }
        let (log, json) = (self.dir.join("scenarios.log"), self.dir.join("scenarios.json"));
        let mut cmd = std::process::Command::new(&self.exe);
        cmd.arg("test").arg(&self.features).arg("--json").arg(&json);
        if !tags.is_empty() {
            cmd.arg("--tags").arg(tags);
        }
        let this = self.clone();
        let n = selected.len();
        // A thread of its own, not the runtime's blocking pool: the lab's shutdown never waits
        // for it (`stop` ends the child).
        std::thread::spawn(move || {
            let outcome = run_child(cmd, &log, &json, &this.stop);
            this.finish(&selected, outcome);
        });
        Ok(format!(
            "running {n} scenario(s){}; output in {}",
            if tags.is_empty() { String::new() } else { format!(" matching {tags}") },
            self.dir.join("scenarios.log").display()
        ))
    }

    /// Records a run's results (or why it produced none) on the rows it ran.
    fn finish(&self, selected: &[(String, usize)], outcome: Result<serde_json::Value>) {
        let mut r = lock(&self.rows);
        r.running = false;
        let Rows { keys, rows, .. } = &mut *r;
        let report = match outcome {
            Ok(report) => report,
            Err(e) => {
                for (key, row) in keys.iter().zip(rows.iter_mut()) {
                    if selected.contains(key) {
                        row.state = "lab-error".to_owned();
                        row.message = Some(format!("the run did not report: {e:#}"));
                    }
                }
                return;
            }
        };
        apply_report(keys, rows, &report);
    }
}

/// Sets each row the report mentions to its status and message.
fn apply_report(keys: &[(String, usize)], rows: &mut [ScenarioRow], report: &serde_json::Value) {
    for s in report["scenarios"].as_array().into_iter().flatten() {
        let key = (
            s["file"].as_str().unwrap_or_default().to_owned(),
            s["line"].as_u64().and_then(|l| usize::try_from(l).ok()).unwrap_or(0),
        );
        let Some(i) = keys.iter().position(|k| *k == key) else { continue };
        let status = s["status"].as_str().unwrap_or("lab-error");
        rows[i].state = match status {
            // `undefined`: a step no definition matches; the suite could not test the system,
            // so the console shows it like a lab error (exit 2), not as waiting.
            "passed" | "failed" | "lab-error" | "undefined" => status.to_owned(),
            // Not run (fail-fast): back to waiting.
            _ => "pending".to_owned(),
        };
        rows[i].message = s["message"].as_str().map(str::to_owned);
    }
}

/// Runs `meterlab test …` to completion with its output in `log`; its JSON report.
fn run_child(
    mut cmd: std::process::Command,
    log: &Path,
    json: &Path,
    stop: &AtomicBool,
) -> Result<serde_json::Value> {
    let _ = std::fs::remove_file(json);
    let out = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let err = out.try_clone()?;
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .context("starting `meterlab test`")?;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if stop.load(Ordering::Relaxed) {
            let _ = child.kill();
            let _ = child.wait();
            anyhow::bail!("stopped with the lab");
        }
        clock::pause(std::time::Duration::from_millis(200));
    };
    let text = std::fs::read_to_string(json).with_context(|| {
        format!("`meterlab test` ended ({status}) without a report: see {}", log.display())
    })?;
    serde_json::from_str(&text).with_context(|| format!("reading {}", json.display()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_embedded_suites_are_listed_pending_and_a_report_updates_them() {
        let dir = std::env::temp_dir().join(format!("meterlab-runs-{}", std::process::id()));
        let runs = Runs::new(&dir).unwrap();
        let rows = runs.rows();
        assert!(rows.len() > 5, "{rows:?}");
        assert!(rows.iter().all(|r| r.state == "pending"));
        assert!(rows.iter().any(|r| r.tags.iter().any(|t| t == "@R-LAB-2")));

        let r = &mut *lock(&runs.rows);
        let (file, line) = r.keys[1].clone();
        let report = serde_json::json!({ "scenarios": [
            { "file": file, "line": line, "status": "failed", "message": "step `Then …`: no" },
            { "file": "elsewhere.feature", "line": 3, "status": "passed", "message": null }
        ]});
        apply_report(&r.keys, &mut r.rows, &report);
        assert_eq!(r.rows[1].state, "failed");
        assert_eq!(r.rows[1].message.as_deref(), Some("step `Then …`: no"));
        assert_eq!(r.rows[0].state, "pending");

        // An undefined step is not "waiting": the row says so, with the step.
        let (file, line) = r.keys[0].clone();
        let msg = "undefined step: When the moon turns blue (line 3): no step definition matches";
        let report = serde_json::json!({ "scenarios": [
            { "file": file, "line": line, "status": "undefined", "message": msg },
        ]});
        apply_report(&r.keys, &mut r.rows, &report);
        assert_eq!(r.rows[0].state, "undefined");
        assert_eq!(r.rows[0].message.as_deref(), Some(msg));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_bad_tag_expression_or_no_match_is_refused_before_anything_runs() {
        let dir = std::env::temp_dir().join(format!("meterlab-runs-bad-{}", std::process::id()));
        let runs = Runs::new(&dir).unwrap();
        let (status, msg) = runs.start("@R-LAB-2 and and").unwrap_err();
        assert_eq!(status, 400);
        assert!(msg.contains("not a tag expression"), "{msg}");
        let (status, msg) = runs.start("@no-such-tag").unwrap_err();
        assert_eq!((status, msg.as_str()), (400, "no scenario matches @no-such-tag"));
        assert!(runs.rows().iter().all(|r| r.state == "pending"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
