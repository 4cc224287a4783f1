//! `report.html`: the campaign for a person, one self-contained page (inline style, no script,
//! nothing fetched) that opens offline; well-formed XHTML, so any XML reader checks it too.

use super::Report;
use crate::suite::report::xml;
use certify::Verdict;

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#222}\
h1{font-size:1.5em}table{border-collapse:collapse;width:100%}th,td{text-align:left;vertical-align:top;padding:.35em .6em;border-bottom:1px solid #ddd}\
.passed{color:#176b2c}.failed{color:#b00020;font-weight:bold}.inconclusive{color:#8a5a00;font-weight:bold}.not-applicable{color:#666}\
pre{white-space:pre-wrap;margin:0;font-size:.85em}code{font-size:.9em}dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{color:#555}";

/// The page.
pub fn render(r: &Report) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE html>\n");
    out.push_str(
        "<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\"><head><meta charset=\"utf-8\"/>",
    );
    out.push_str(&format!(
        "<title>Certification of {} — {}</title><style>{STYLE}</style></head><body>",
        xml(&r.esp.name),
        xml(&r.outcome)
    ));
    let outcome_class = match r.outcome.as_str() {
        "certified" => "passed",
        "failed" => "failed",
        _ => "inconclusive",
    };
    out.push_str(&format!(
        "<h1>{} ({}): <span class=\"{outcome_class}\">{}</span></h1>",
        xml(&r.esp.name),
        xml(&r.esp.kbo),
        xml(&r.outcome)
    ));
    let counts: Vec<String> = r.counts.iter().map(|(v, n)| format!("{n} {v}")).collect();
    let signed = r.signature.as_ref().map_or("not signed".to_owned(), |s| {
        format!(
            "{} key {} (check with meterlab certify verify report.json)",
            s.algorithm, s.public_key
        )
    });
    out.push_str("<dl>");
    for (k, v) in [
        ("Campaign", r.campaign.clone()),
        ("Catalogue", r.catalogue.clone()),
        ("meterlab", r.meterlab.clone()),
        ("Statement SHA-256", r.statement_sha256.clone()),
        ("Ran", format!("{} to {}", r.started, r.finished)),
        ("Cases", counts.join(", ")),
        ("Signature", signed),
    ] {
        out.push_str(&format!("<dt>{k}</dt><dd><code>{}</code></dd>", xml(&v)));
    }
    if !r.only.is_empty() {
        out.push_str(&format!(
            "<dt>Partial</dt><dd>only {}: certifies nothing</dd>",
            xml(&r.only.join(", "))
        ));
    }
    out.push_str("</dl><table><thead><tr><th>Case</th><th>Requirements</th><th>Verdict</th><th>Evidence</th></tr></thead><tbody>");
    for c in &r.cases {
        let class = c.verdict.as_str();
        let label = if c.verdict == Verdict::Passed { "passed" } else { class };
        out.push_str(&format!(
            "<tr id=\"{id}\"><td><b>{id}</b><br/>{title}</td><td>{reqs}</td><td class=\"{class}\">{label}</td><td><pre>{ev}</pre></td></tr>",
            id = xml(&c.id),
            title = xml(&c.title),
            reqs = xml(&c.requirements.join(" ")),
            ev = xml(&c.evidence.join("\n")),
        ));
    }
    out.push_str("</tbody></table></body></html>\n");
    out
}
