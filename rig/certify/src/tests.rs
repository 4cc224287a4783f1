use super::*;
use std::collections::BTreeSet;

const REQUIREMENTS: &str = include_str!("../../../features/REQUIREMENTS.md");

#[test]
fn the_catalogue_has_unique_ids_real_requirements_and_at_least_twenty_cases() {
    let cases = catalogue();
    assert!(cases.len() >= 20, "{} cases", cases.len());
    let ids: BTreeSet<_> = cases.iter().map(|c| c.id).collect();
    assert_eq!(ids.len(), cases.len(), "two cases share an id");
    for c in cases {
        let (family, number) = c.id.rsplit_once('-').unwrap();
        assert!(family.starts_with("ESP-") && number.len() == 2, "{}", c.id);
        assert!(number.bytes().all(|b| b.is_ascii_digit()), "{}", c.id);
        assert!(!c.requirements.is_empty(), "{} checks no requirement", c.id);
        for r in c.requirements {
            // Each ID is one the requirements document defines.
            assert!(
                REQUIREMENTS.contains(&format!("- {r} ")),
                "{}: {r} is not a requirement",
                c.id
            );
        }
        assert!(!c.title.is_empty() && !c.events.is_empty() && !c.criterion.is_empty());
    }
}

#[test]
fn the_catalogue_covers_the_requirements_the_issue_names() {
    let covered: BTreeSet<&str> =
        catalogue().iter().flat_map(|c| c.requirements.iter().copied()).collect();
    for r in [
        "R-MAN-1", "R-MAN-2", "R-MAN-3", "R-MAN-4", "R-MAN-5", "R-MAN-6", "R-MAN-8", "R-NRT-5",
        "R-NRT-6", "R-NRT-7", "R-NRT-8", "R-ACC-1", "R-ACC-2", "R-SLA-3", "R-SLA-4",
    ] {
        assert!(covered.contains(r), "no case checks {r}");
    }
}

const STATEMENT: &str = "\
name: Alpha Energy
kbo: 0123.456.749
webhook_url: https://alpha.example/hooks
services:
  - { id: live, name: Live power, needs: [nrt] }
  - { id: insights, name: Insights, needs: [day, quarter-hour] }
claims: [day-data, quarter-hour-data, nrt-stream, webhooks]
max_reaction: 30s
";

#[test]
fn a_statement_reads_and_rules_cases_out() {
    let s = Statement::parse(STATEMENT).unwrap();
    assert_eq!(s.kbo.as_str(), "0123456749");
    assert_eq!(s.reaction().unwrap(), calendar::SignedDuration::from_secs(30));
    let ruled_out: Vec<&str> =
        catalogue().iter().filter(|c| !applicable(c, &s)).map(|c| c.id).collect();
    // No market events and no renewal claimed: those cases are not-applicable, nothing else.
    assert!(ruled_out.contains(&"ESP-MKT-01") && ruled_out.contains(&"ESP-MAN-08"));
    assert!(!ruled_out.contains(&"ESP-NRT-02") && !ruled_out.contains(&"ESP-ONB-01"));
    for c in catalogue().iter().filter(|c| !applicable(c, &s)) {
        assert!(c.needs.iter().any(|n| matches!(n, Claim::MarketEvents | Claim::Renewal)));
    }
}

#[test]
fn a_malformed_statement_names_its_field() {
    let cases = [
        (STATEMENT.replace("kbo: 0123.456.749", "kbo: 0123.456.748"), "kbo"),
        (STATEMENT.replace("claims: [", "claims: [telepathy, "), "telepathy"),
        (STATEMENT.replace("max_reaction: 30s", "max_reaction: soon"), "max_reaction"),
        (STATEMENT.replace("max_reaction: 30s", "max_reaction: 2h"), "max_reaction"),
        (STATEMENT.replace("webhook_url: https://alpha.example/hooks\n", ""), "webhook_url"),
        (STATEMENT.replace("name: Alpha Energy", "name: ' '"), "name"),
        (format!("{STATEMENT}colour: blue\n"), "colour"),
        ("{".to_owned(), ""),
    ];
    for (yaml, field) in cases {
        let e = Statement::parse(&yaml).unwrap_err().to_string();
        assert!(e.contains(field), "{field}: {e}");
    }
}

#[test]
fn verdicts_have_their_report_names() {
    let names: Vec<_> =
        [Verdict::Passed, Verdict::Failed, Verdict::NotApplicable, Verdict::Inconclusive]
            .iter()
            .map(|v| serde_json::to_value(v).unwrap())
            .collect();
    assert_eq!(names, ["passed", "failed", "not-applicable", "inconclusive"]);
    assert_eq!(Verdict::NotApplicable.as_str(), "not-applicable");
}
