//! `meterlab console`: the console (the `tui` crate) attached to a running lab through its lab
//! API (`meterlab up` prints `lab: http://…`). `meterlab up` opens the same console in process
//! on a terminal.
//!
//! The terminal loop is synchronous; [`HttpSource`] owns a current-thread tokio runtime of its
//! own and blocks on it per request, so it must not run on a thread of another runtime (`up`
//! gives it a thread of its own).

use anyhow::{Context, Result, bail};
use clap::Args;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;
use tui::{Action, Snapshot, Source as _};

pub(crate) const AFTER_HELP: &str = "\
Examples:
  meterlab up                                     the lab, with this console on a terminal
  meterlab console                                attach to the lab at http://127.0.0.1:8081
  meterlab console --lab http://10.0.0.5:8081 --token \"$MLAB_ADMIN_TOKEN\" --refresh 2s

Keys: 1-6 or Tab switch screens (Rigs, Live, Dongles, Platform, Consents, Scenarios), ? help,
q quits. Rigs: b book, c cancel (asks a reason for the audit log). Dongles: f inject a fault.
Consents: r revoke, m market scenario, a access register. Scenarios: t tag filter, Enter run.";

#[derive(Args)]
pub(crate) struct ConsoleArgs {
    /// The lab API of a running `meterlab up` (the URL of its `lab:` line).
    #[arg(long, default_value = "http://127.0.0.1:8081", env = "MLAB_LAB")]
    lab: String,
    /// The lab's admin token (`meterlab up` prints it).
    #[arg(long, default_value = "meterlab-admin-dev", env = "MLAB_ADMIN_TOKEN")]
    token: String,
    /// How often the screens refresh: 500ms, 1s, 5s …
    #[arg(long, default_value = "1s", value_parser = parse_refresh)]
    refresh: Duration,
}

fn parse_refresh(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let d = match s.strip_suffix("ms") {
        Some(ms) => ms.parse::<u64>().map(Duration::from_millis).map_err(|e| e.to_string()),
        None => clock::parse_duration(s)
            .map_err(|e| e.to_string())
            .and_then(|d| Duration::try_from(d).map_err(|e| e.to_string())),
    }
    .map_err(|e| format!("{s}: {e}; write 500ms, 1s or 5s"))?;
    if d < Duration::from_millis(100) {
        return Err(format!("{s}: at least 100ms"));
    }
    Ok(d)
}

pub(crate) fn run(args: ConsoleArgs) -> Result<ExitCode> {
    attach(&args.lab, &args.token, args.refresh)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs the console on this terminal against the lab API at `lab` until the user quits.
/// Fails before touching the terminal when there is no lab or no terminal.
pub(crate) fn attach(lab: &str, token: &str, refresh: Duration) -> Result<()> {
    let mut source = HttpSource::new(lab, token)?;
    source.snapshot().map_err(anyhow::Error::msg)?;
    if !std::io::stdout().is_terminal() {
        bail!(
            "the console needs a terminal and stdout is not one; scripts use the lab API instead (curl -H 'Authorization: Bearer TOKEN' {lab}/api/lab/v1/snapshot)"
        );
    }
    tui::run(&mut source, refresh).context("driving the terminal")
}

/// The lab API as the console's [`tui::Source`].
pub(crate) struct HttpSource {
    base: String,
    token: String,
    http: reqwest::Client,
    rt: tokio::runtime::Runtime,
}

impl HttpSource {
    pub(crate) fn new(base: &str, token: &str) -> Result<HttpSource> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the console's runtime")?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .context("making the console's HTTP client")?;
        Ok(HttpSource {
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            http,
            rt,
        })
    }

    /// One request to the lab API: the status and the JSON body, or what to do about it.
    fn call(
        &self,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<(u16, serde_json::Value), String> {
        let url = format!("{}{path}", self.base);
        let req = match body {
            Some(b) => self.http.post(&url).json(&b),
            None => self.http.get(&url),
        };
        self.rt.block_on(async {
            let r = req.bearer_auth(&self.token).send().await.map_err(|e| {
                if e.is_connect() {
                    format!("no lab at {}: start one with `meterlab up` (or pass --lab URL)", self.base)
                } else if e.is_timeout() {
                    format!("the lab at {} did not answer in time", self.base)
                } else {
                    format!("{url}: {e}")
                }
            })?;
            let status = r.status().as_u16();
            if status == 401 {
                return Err(format!(
                    "the lab at {} refused the token: pass its admin token with --token or MLAB_ADMIN_TOKEN",
                    self.base
                ));
            }
            if status == 404 && path.ends_with("/snapshot") {
                return Err(format!(
                    "{} is not a meterlab lab API (give the URL of the `lab:` line `meterlab up` prints)",
                    self.base
                ));
            }
            let body = r.json().await.map_err(|e| format!("{url}: not JSON: {e}"))?;
            Ok((status, body))
        })
    }
}

/// The request an action makes: path and body.
pub(crate) fn request(action: &Action) -> Option<(String, serde_json::Value)> {
    use wire::lab::v1 as lab;
    let (path, body) = match action {
        Action::Quit => return None,
        Action::Book { rig, start, agreement } => (
            "/api/lab/v1/slots".to_owned(),
            serde_json::to_value(lab::Book {
                rig: rig.clone(),
                start: start.clone(),
                agreement: lab::AgreementRef::Holder(agreement.clone()),
                code: None,
                waive_lead_time: false,
            }),
        ),
        Action::Cancel { slot, reason } => (
            format!("/api/lab/v1/slots/{slot}/cancel"),
            serde_json::to_value(lab::Cancel {
                reason: Some(reason.clone()),
                ..lab::Cancel::default()
            }),
        ),
        Action::InjectFault { dongle, fault } => (
            "/api/lab/v1/faults".to_owned(),
            serde_json::to_value(lab::Fault { dongle: dongle.clone(), fault: fault.clone() }),
        ),
        Action::Revoke { consent } => {
            (format!("/api/lab/v1/consents/{consent}/revoke"), Ok(serde_json::json!({})))
        }
        Action::MarketScenario { point, kind } => (
            "/api/lab/v1/market-scenarios".to_owned(),
            serde_json::to_value(lab::Market { point: point.clone(), kind: kind.clone() }),
        ),
        Action::RunScenarios { tags } => (
            "/api/lab/v1/scenarios/run".to_owned(),
            serde_json::to_value(lab::Run { tags: tags.clone() }),
        ),
        // A duration moves the clock by it; anything else is a time to move it to (the lab
        // says what it could not read).
        Action::MoveClock { when } => {
            let when = when.trim().to_owned();
            let body = if clock::parse_duration(&when).is_ok() {
                lab::ClockMove { advance: Some(when), to: None }
            } else {
                lab::ClockMove { advance: None, to: Some(when) }
            };
            ("/api/lab/v1/clock".to_owned(), serde_json::to_value(body))
        }
    };
    // Serialising these plain structs cannot fail; an action that could not be written is
    // sent as nothing rather than as a wrong body.
    Some((path, body.ok()?))
}

impl tui::Source for HttpSource {
    fn snapshot(&mut self) -> Result<Snapshot, String> {
        let (status, body) = self.call("/api/lab/v1/snapshot", None)?;
        if status != 200 {
            return Err(message(status, &body));
        }
        serde_json::from_value(body).map_err(|e| format!("the lab's snapshot: {e}"))
    }

    fn perform(&mut self, action: &Action) -> Result<String, String> {
        let Some((path, body)) = request(action) else { return Ok(String::new()) };
        let (status, body) = self.call(&path, Some(body))?;
        if (200..300).contains(&status) {
            Ok(body["message"].as_str().unwrap_or("done").to_owned())
        } else {
            Err(message(status, &body))
        }
    }
}

/// A refusal's message (a `LabError`), or the status when the body is none.
fn message(status: u16, body: &serde_json::Value) -> String {
    match serde_json::from_value::<wire::lab::v1::LabError>(body.clone()) {
        Ok(e) => e.message,
        Err(_) => format!("the lab answered {status}"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn refresh_takes_milliseconds_and_seconds() {
        assert_eq!(parse_refresh("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_refresh("2s").unwrap(), Duration::from_secs(2));
        assert!(parse_refresh("10ms").unwrap_err().contains("at least"));
        assert!(parse_refresh("soon").unwrap_err().contains("500ms"));
    }

    #[test]
    fn every_action_but_quit_is_one_post_to_the_lab_api() {
        let book = Action::Book {
            rig: "rig-a".into(),
            start: "2026-12-01".into(),
            agreement: "ACME".into(),
        };
        let (path, body) = request(&book).unwrap();
        assert_eq!(path, "/api/lab/v1/slots");
        assert_eq!(body["agreement"], "ACME");
        let (path, _) = request(&Action::Revoke { consent: "C2".into() }).unwrap();
        assert_eq!(path, "/api/lab/v1/consents/C2/revoke");
        let cancel = Action::Cancel { slot: "4".into(), reason: "rig-a is rewired".into() };
        let (path, body) = request(&cancel).unwrap();
        assert_eq!(path, "/api/lab/v1/slots/4/cancel");
        // The operator's cancel: no holder code, a reason for the audit log.
        assert_eq!(body, serde_json::json!({ "reason": "rig-a is rewired" }));
        let (path, body) = request(&Action::MoveClock { when: " 3y ".into() }).unwrap();
        assert_eq!(path, "/api/lab/v1/clock");
        assert_eq!(body, serde_json::json!({ "advance": "3y", "to": null }));
        let (_, body) = request(&Action::MoveClock { when: "2029-06-01".into() }).unwrap();
        assert_eq!(body, serde_json::json!({ "advance": null, "to": "2029-06-01" }));
        assert!(request(&Action::Quit).is_none());
    }

    #[test]
    fn no_lab_says_how_to_start_one() {
        // A port nobody listens on: bind one, then free it.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut s = HttpSource::new(&format!("http://127.0.0.1:{port}"), "t").unwrap();
        let err = tui::Source::snapshot(&mut s).unwrap_err();
        assert!(err.contains("no lab at") && err.contains("meterlab up"), "{err}");
    }
}
