//! A campaign's evidence: `report.json` (what a certifier checks: the campaign, the
//! catalogue's version, the statement's hash, and per case its verdict, times and the observed
//! evidence) and `junit.xml` (for the ESP's CI).

use crate::suite::report::xml;
use certify::Verdict;
use clock::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The ESP a report is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EspIdentity {
    /// Its company name, as its statement gives it.
    pub name: String,
    /// Its enterprise number.
    pub kbo: String,
}

/// One case's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseResult {
    /// The catalogue id.
    pub id: String,
    /// What it checks.
    pub title: String,
    /// The requirement IDs it checks.
    pub requirements: Vec<String>,
    /// The verdict.
    pub verdict: Verdict,
    /// When it started and ended (the lab platform's clock).
    pub started: Timestamp,
    /// When it ended.
    pub finished: Timestamp,
    /// What the kit observed: requests, answers, register entries, webhook answers.
    pub evidence: Vec<String>,
}

/// A campaign's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// The campaign's id.
    pub campaign: String,
    /// The catalogue's version.
    pub catalogue: String,
    /// The kit's version.
    pub meterlab: String,
    /// SHA-256 of the statement's text, hex.
    pub statement_sha256: String,
    /// The ESP.
    pub esp: EspIdentity,
    /// When the campaign ran (wall clock).
    pub started: Timestamp,
    /// When it ended (wall clock).
    pub finished: Timestamp,
    /// `certified`, `failed` (a case failed), `incomplete` (a case could not be judged) or
    /// `partial` (only some cases ran: nothing is certified).
    pub outcome: String,
    /// The cases a partial campaign ran; empty for a whole one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<String>,
    /// Cases per verdict.
    pub counts: BTreeMap<String, usize>,
    /// Every case of the catalogue, in its order.
    pub cases: Vec<CaseResult>,
    /// The lab's signature (see [`super::seal`]); last, so a reader sees it after the content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<super::seal::Signature>,
}

/// A certificate as the lab's database keeps it (`meterlab certify history`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// The campaign's id.
    pub campaign: String,
    /// The ESP.
    pub esp: EspIdentity,
    /// The outcome.
    pub outcome: String,
    /// The catalogue's version.
    pub catalogue: String,
    /// When it ran (wall clock).
    pub started: Timestamp,
    /// SHA-256 of the statement, hex.
    pub statement_sha256: String,
    /// SHA-256 of the signed report.json, hex.
    pub report_sha256: String,
    /// The key that signed it, hex.
    pub public_key: String,
    /// Cases per verdict.
    pub counts: BTreeMap<String, usize>,
}

impl Report {
    /// The outcome of a set of verdicts: any failure fails; otherwise any inconclusive case
    /// leaves the campaign incomplete; otherwise certified.
    pub fn outcome_of(cases: &[CaseResult]) -> &'static str {
        if cases.iter().any(|c| c.verdict == Verdict::Failed) {
            "failed"
        } else if cases.iter().any(|c| c.verdict == Verdict::Inconclusive) {
            "incomplete"
        } else {
            "certified"
        }
    }

    /// The exit code: 0 certified (or a partial campaign whose cases all passed or were not
    /// applicable), 1 a case failed, 2 a case could not be judged.
    pub fn code(&self) -> u8 {
        match Report::outcome_of(&self.cases) {
            "certified" => 0,
            "failed" => 1,
            _ => 2,
        }
    }

    /// Cases per verdict.
    pub fn count(cases: &[CaseResult]) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for c in cases {
            *counts.entry(c.verdict.as_str().to_owned()).or_insert(0) += 1;
        }
        counts
    }

    /// The JUnit XML: one test case per catalogue case; failed is a `<failure>`, inconclusive
    /// an `<error>` (the lab could not judge), not-applicable `<skipped>`.
    pub fn junit(&self) -> String {
        let n = |v: Verdict| self.cases.iter().filter(|c| c.verdict == v).count();
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        out.push_str(&format!(
            "<testsuites name=\"meterlab certify esp\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">\n",
            self.cases.len(),
            n(Verdict::Failed),
            n(Verdict::Inconclusive),
            n(Verdict::NotApplicable)
        ));
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" timestamp=\"{}\">\n",
            xml(&format!("{} ({}) catalogue {}", self.esp.name, self.esp.kbo, self.catalogue)),
            self.cases.len(),
            n(Verdict::Failed),
            n(Verdict::Inconclusive),
            n(Verdict::NotApplicable),
            self.started
        ));
        for c in &self.cases {
            let secs = c.finished.duration_since(c.started).as_secs_f64().max(0.0);
            out.push_str(&format!(
                "    <testcase classname=\"{}\" name=\"{}: {}\" time=\"{secs:.3}\">\n",
                xml(c.id.split('-').take(2).collect::<Vec<_>>().join("-").as_str()),
                xml(&c.id),
                xml(&c.title)
            ));
            let text = xml(&c.evidence.join("\n"));
            let first = xml(c.evidence.first().map_or("", String::as_str));
            match c.verdict {
                Verdict::Passed => {}
                Verdict::Failed => out.push_str(&format!(
                    "      <failure message=\"{first}\" type=\"failed\">{text}</failure>\n"
                )),
                Verdict::Inconclusive => out.push_str(&format!(
                    "      <error message=\"{first}\" type=\"inconclusive\">{text}</error>\n"
                )),
                Verdict::NotApplicable => {
                    out.push_str(&format!("      <skipped message=\"{first}\"/>\n"));
                }
            }
            if c.verdict == Verdict::Passed && !c.evidence.is_empty() {
                out.push_str(&format!("      <system-out>{text}</system-out>\n"));
            }
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n</testsuites>\n");
        out
    }
}
