//! The suites of `features/`, built into the binary so that `meterlab test` runs them where
//! there is no checkout. A test below keeps this list equal to the files on disk.

use anyhow::{Context, Result};
use std::path::Path;

/// Every `*.feature` under `features/`: (path relative to `features/`, text).
pub const EMBEDDED: &[(&str, &str)] = &[
    (
        "access/consent-revocation.feature",
        include_str!("../../../features/access/consent-revocation.feature"),
    ),
    ("access/mandates.feature", include_str!("../../../features/access/mandates.feature")),
    ("access/meter-data.feature", include_str!("../../../features/access/meter-data.feature")),
    (
        "access/market-switches.feature",
        include_str!("../../../features/access/market-switches.feature"),
    ),
    (
        "dongle/outage-recovery.feature",
        include_str!("../../../features/dongle/outage-recovery.feature"),
    ),
    ("lab/rig-updates.feature", include_str!("../../../features/lab/rig-updates.feature")),
    ("lab/test-slot.feature", include_str!("../../../features/lab/test-slot.feature")),
    ("sla/service-levels.feature", include_str!("../../../features/sla/service-levels.feature")),
];

/// Writes the embedded suites under `dir` (created if needed).
pub fn write_embedded(dir: &Path) -> Result<()> {
    for (path, text) in EMBEDDED {
        let p = dir.join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::path::PathBuf;

    fn on_disk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                on_disk(root, &p, out);
            } else if p.extension().is_some_and(|e| e == "feature") {
                let rel = p.strip_prefix(root).unwrap().to_str().unwrap().replace('\\', "/");
                out.push((rel, std::fs::read_to_string(&p).unwrap()));
            }
        }
    }

    #[test]
    fn the_embedded_suites_are_the_feature_files_on_disk() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../features");
        let mut disk = Vec::new();
        on_disk(&root, &root, &mut disk);
        disk.sort();
        let mut embedded: Vec<(String, String)> =
            EMBEDDED.iter().map(|(p, t)| ((*p).to_owned(), (*t).to_owned())).collect();
        embedded.sort();
        let names = |v: &[(String, String)]| v.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();
        assert_eq!(
            names(&embedded),
            names(&disk),
            "scenarios/src/suite/embedded.rs must list every features/**/*.feature"
        );
        assert_eq!(embedded, disk);
    }

    #[test]
    fn written_suites_load() {
        let dir = std::env::temp_dir().join(format!("meterlab-embedded-{}", std::process::id()));
        write_embedded(&dir).unwrap();
        let features = crate::suite::load(std::slice::from_ref(&dir)).unwrap();
        assert_eq!(features.len(), EMBEDDED.len());
        assert!(crate::suite::scenarios(&features, None).len() >= 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
