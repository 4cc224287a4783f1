//! Requirement tags: every `@R-…` tag in `features/` names a requirement of
//! `features/REQUIREMENTS.md`, and the requirements no scenario covers are listed.

use std::collections::BTreeSet;
use std::path::Path;

fn feature_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            feature_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "feature") {
            out.push(p);
        }
    }
}

fn ids(text: &str, prefix: char) -> BTreeSet<String> {
    text.split(|c: char| c.is_whitespace() || c == '(' || c == ',')
        .filter_map(|w| w.strip_prefix(prefix))
        .filter(|w| w.starts_with("R-") && w.split('-').count() == 3)
        .map(|w| w.trim_end_matches(|c: char| !c.is_ascii_digit()).to_owned())
        .collect()
}

#[test]
fn requirement_tags_name_known_requirements_and_uncovered_ones_are_listed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../features");
    let digest =
        std::fs::read_to_string(root.join("REQUIREMENTS.md")).expect("features/REQUIREMENTS.md");
    let known: BTreeSet<String> = digest
        .lines()
        .filter_map(|l| l.strip_prefix("- "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|id| id.starts_with("R-"))
        .map(str::to_owned)
        .collect();
    assert!(known.len() > 40, "the requirement list parsed: {known:?}");
    let mut files = Vec::new();
    feature_files(&root, &mut files);
    assert!(!files.is_empty());
    let mut tagged = BTreeSet::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for id in ids(&text, '@') {
            assert!(
                known.contains(&id),
                "{}: @{id} names no requirement in REQUIREMENTS.md",
                f.display()
            );
            tagged.insert(id);
        }
    }
    let uncovered: Vec<_> = known.difference(&tagged).collect();
    eprintln!("requirements covered by scenarios: {} of {}", tagged.len(), known.len());
    eprintln!("not yet covered by any scenario: {uncovered:?}");
}
