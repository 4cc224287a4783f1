//! The house's one-way doors, checked on the real workspace (`cargo metadata` and the
//! sources), so ARCHITECTURE.md cannot drift from the code:
//!
//! 1. the product never depends on the lab: no `platform/` crate depends, even through another
//!    crate, on a `simulator/` or `rig/` crate;
//! 2. models do no I/O: the model crates depend on no runtime, database or web framework
//!    (tokio, sqlx, axum), even through another crate;
//! 3. time is read only through the clock: `Instant::now`, `SystemTime::now` and
//!    `thread::sleep` appear in no source outside `platform/clock`, benches and tests;
//! 4. ARCHITECTURE.md's code map has a section for every crate of the workspace.
//!
//! Each rule is a pure function over the metadata or a file's text, and each is also run on
//! a planted violation, so a rule that can no longer fail is noticed.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The crates that model the domain: pure, `now` is an argument.
const MODELS: &[&str] = &[
    "meter",
    "profiles",
    "dongle",
    "booking",
    "certify",
    "registers",
    "supervision",
    "derive",
    "domain",
];

/// What a model must not reach.
const RUNTIMES: &[&str] = &["tokio", "sqlx", "axum"];

/// Ways of reading or waiting on real time that belong in `platform/clock`.
const TIME_READS: &[&str] = &["Instant::now", "SystemTime::now", "thread::sleep"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().expect("workspace root")
}

fn metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(root())
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("cargo metadata is JSON")
}

/// The workspace's view: each package id's name, and for workspace members their folder
/// relative to the root (`platform/server`, `tui`).
struct Workspace {
    names: BTreeMap<String, String>,
    folders: BTreeMap<String, String>,
    /// Normal (and build) dependencies by package id: what a crate ships with.
    deps: BTreeMap<String, Vec<String>>,
}

impl Workspace {
    fn from(meta: &Value, root: &Path) -> Workspace {
        let members: BTreeSet<&str> = meta["workspace_members"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let mut names = BTreeMap::new();
        let mut folders = BTreeMap::new();
        for p in meta["packages"].as_array().into_iter().flatten() {
            let id = p["id"].as_str().unwrap_or_default().to_owned();
            names.insert(id.clone(), p["name"].as_str().unwrap_or_default().to_owned());
            if members.contains(id.as_str()) {
                let manifest = Path::new(p["manifest_path"].as_str().unwrap_or_default());
                let dir = manifest.parent().unwrap_or(manifest);
                let rel = dir.strip_prefix(root).unwrap_or(dir);
                folders.insert(id, rel.to_string_lossy().replace('\\', "/"));
            }
        }
        let mut deps = BTreeMap::new();
        for n in meta["resolve"]["nodes"].as_array().into_iter().flatten() {
            let shipped: Vec<String> = n["deps"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|d| {
                    d["dep_kinds"].as_array().into_iter().flatten().any(|k| k["kind"] != "dev")
                })
                .filter_map(|d| d["pkg"].as_str().map(str::to_owned))
                .collect();
            deps.insert(n["id"].as_str().unwrap_or_default().to_owned(), shipped);
        }
        Workspace { names, folders, deps }
    }

    /// Every package `id` ships with, itself excluded, each with the path that reaches it.
    fn closure(&self, id: &str) -> BTreeMap<String, Vec<String>> {
        let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut todo = vec![(id.to_owned(), vec![self.name(id)])];
        while let Some((at, path)) = todo.pop() {
            for d in self.deps.get(&at).into_iter().flatten() {
                if d != id && !seen.contains_key(d) {
                    let mut p = path.clone();
                    p.push(self.name(d));
                    seen.insert(d.clone(), p.clone());
                    todo.push((d.clone(), p));
                }
            }
        }
        seen
    }

    fn name(&self, id: &str) -> String {
        self.names.get(id).cloned().unwrap_or_else(|| id.to_owned())
    }

    fn member(&self, folder: &str) -> Option<&str> {
        self.folders.iter().find(|(_, f)| *f == folder).map(|(id, _)| id.as_str())
    }
}

/// Rule 1: platform crates that reach a simulator or rig crate, with the path.
fn product_reaches_lab(ws: &Workspace) -> Vec<String> {
    let mut out = Vec::new();
    for (id, folder) in ws.folders.iter().filter(|(_, f)| f.starts_with("platform/")) {
        for (dep, path) in ws.closure(id) {
            if let Some(f) = ws.folders.get(&dep)
                && (f.starts_with("simulator/") || f.starts_with("rig/"))
            {
                out.push(format!("{folder} depends on the lab's {f}: {}", path.join(" → ")));
            }
        }
    }
    out
}

/// Rule 2: model crates that reach a runtime, with the path.
fn models_reach_runtimes(ws: &Workspace) -> Vec<String> {
    let mut out = Vec::new();
    for (id, folder) in &ws.folders {
        let name = ws.name(id);
        if !MODELS.contains(&name.as_str()) {
            continue;
        }
        for (dep, path) in ws.closure(id) {
            let n = ws.name(&dep);
            if RUNTIMES.contains(&n.as_str()) {
                out.push(format!("model {folder} depends on {n}: {}", path.join(" → ")));
            }
        }
    }
    out
}

/// Rule 3: lines of `text` that read real time, as `file:line: text`.
fn time_reads(file: &str, text: &str) -> Vec<String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .filter(|(_, l)| TIME_READS.iter().any(|t| l.contains(t)))
        .map(|(i, l)| format!("{file}:{}: {}", i + 1, l.trim()))
        .collect()
}

/// Whether a source file is exempt from rule 3: the clock itself, benchmarks, tests.
fn exempt(rel: &str) -> bool {
    rel.starts_with("platform/clock/")
        || rel.contains("/benches/")
        || rel.contains("/tests/")
        || rel.ends_with("/tests.rs")
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if p.is_dir() && !name.starts_with('.') && name != "target" {
            sources(&p, out);
        } else if name.ends_with(".rs") {
            out.push(p);
        }
    }
}

/// Rule 4: workspace crates ARCHITECTURE.md's code map has no `### \`folder\`` section for.
fn unmapped(ws: &Workspace, architecture: &str) -> Vec<String> {
    let mapped: BTreeSet<&str> = architecture
        .lines()
        .filter_map(|l| l.strip_prefix("### `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    ws.folders.values().filter(|f| !mapped.contains(f.as_str())).cloned().collect()
}

#[test]
fn the_product_never_depends_on_the_lab_and_models_on_no_runtime() {
    let root = root();
    let ws = Workspace::from(&metadata(), &root);
    assert!(ws.member("platform/server").is_some(), "the workspace was read: {:?}", ws.folders);
    let mut problems = product_reaches_lab(&ws);
    problems.extend(models_reach_runtimes(&ws));
    assert!(problems.is_empty(), "layering broken:\n{}", problems.join("\n"));
    for m in MODELS {
        assert!(ws.folders.keys().any(|id| &ws.name(id) == m), "model {m} is not in the workspace");
    }
}

#[test]
fn time_is_read_only_through_the_clock() {
    let root = root();
    let mut files = Vec::new();
    for area in ["platform", "simulator", "rig", "scenarios", "tui"] {
        sources(&root.join(area), &mut files);
    }
    assert!(files.len() > 50, "sources were found: {}", files.len());
    let mut problems = Vec::new();
    for f in files {
        let rel = f.strip_prefix(&root).unwrap_or(&f).to_string_lossy().replace('\\', "/");
        if exempt(&rel) {
            continue;
        }
        problems.extend(time_reads(&rel, &std::fs::read_to_string(&f).unwrap_or_default()));
    }
    assert!(
        problems.is_empty(),
        "real time read outside platform/clock (use Clock, clock::Stopwatch or clock::pause):\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_code_map_names_every_crate() {
    let root = root();
    let ws = Workspace::from(&metadata(), &root);
    let arch = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let missing = unmapped(&ws, &arch);
    assert!(missing.is_empty(), "ARCHITECTURE.md's code map has no section for {missing:?}");
}

/// A workspace of three crates in metadata form: `platform/server` → `platform/derive`
/// → `simulator/meter` → `tokio`.
fn planted() -> (Value, PathBuf) {
    let root = PathBuf::from("/w");
    let pkg = |id: &str, dir: &str| serde_json::json!({ "id": id, "name": id, "manifest_path": format!("/w/{dir}/Cargo.toml") });
    let dep = |id: &str, kind: Value| serde_json::json!({ "name": id, "pkg": id, "dep_kinds": [{ "kind": kind }] });
    let meta = serde_json::json!({
        "workspace_members": ["server", "derive", "meter"],
        "packages": [pkg("server", "platform/server"), pkg("derive", "platform/derive"),
                     pkg("meter", "simulator/meter"),
                     { "id": "tokio", "name": "tokio", "manifest_path": "/r/tokio/Cargo.toml" }],
        "resolve": { "nodes": [
            { "id": "server", "deps": [dep("derive", Value::Null)] },
            { "id": "derive", "deps": [dep("meter", Value::Null), dep("tokio", "dev".into())] },
            { "id": "meter", "deps": [dep("tokio", Value::Null)] },
            { "id": "tokio", "deps": [] },
        ] },
    });
    (meta, root)
}

#[test]
fn each_rule_fails_on_a_planted_violation() {
    let (meta, root) = planted();
    let ws = Workspace::from(&meta, &root);
    let lab = product_reaches_lab(&ws);
    assert_eq!(
        lab,
        [
            "platform/derive depends on the lab's simulator/meter: derive → meter",
            "platform/server depends on the lab's simulator/meter: server → derive → meter",
        ],
        "reached through another crate too"
    );
    // `derive`'s tokio is a dev-dependency: allowed; `meter`'s is not.
    let runtimes = models_reach_runtimes(&ws);
    assert_eq!(
        runtimes,
        [
            "model platform/derive depends on tokio: derive → meter → tokio",
            "model simulator/meter depends on tokio: meter → tokio",
        ]
    );
    let src = "fn f() {\n    // Instant::now in a comment is fine\n    let t = std::time::Instant::now();\n}\n";
    assert_eq!(
        time_reads("rig/runner/src/lib.rs", src),
        ["rig/runner/src/lib.rs:3: let t = std::time::Instant::now();"]
    );
    assert!(exempt("platform/clock/src/real.rs") && exempt("platform/p1/benches/codec.rs"));
    assert!(!exempt("rig/runner/src/lib.rs"));
    let arch = "### `platform/server` — the platform\n### `simulator/meter` — meters\n";
    assert_eq!(unmapped(&ws, arch), ["platform/derive"]);
}
