//! Signed reports: the lab's Ed25519 key, made once in the data directory, signs each
//! campaign's `report.json`; a certifier checks it with `meterlab certify verify` and the
//! lab's public key.
//!
//! What is signed is the report's compact JSON without its `signature` member (the fields in
//! their fixed order). The file itself is the pretty JSON the kit writes, signature included;
//! verification checks the signature, then that the file is byte for byte what the kit wrote
//! for that report, so any changed byte fails, whitespace included.

use super::Report;
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The key file in the data directory: the 32-byte secret, hex.
pub const KEY_FILE: &str = "certify-ed25519.key";

/// The algorithm's name in reports.
const ALGORITHM: &str = "ed25519";

/// A report's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// Always `ed25519`.
    pub algorithm: String,
    /// The signing key's public half, hex (64 digits).
    pub public_key: String,
    /// The signature over the report's compact JSON without this member, hex (128 digits).
    pub value: String,
}

/// Why a report was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    /// Not a report at all.
    #[error("not a meterlab certification report: {0}")]
    NotAReport(String),
    /// No signature member.
    #[error("the report is not signed")]
    Unsigned,
    /// Another algorithm, or a key or signature that is not hex of the right length.
    #[error("the signature is malformed: {0}")]
    Malformed(String),
    /// Signed by a key the verifier does not trust.
    #[error(
        "signed by key {found}, not by the trusted key {trusted}: this report comes from another lab"
    )]
    OtherKey {
        /// The report's key.
        found: String,
        /// The trusted key.
        trusted: String,
    },
    /// The signature does not match the content.
    #[error("the signature does not match the content: the report was changed after signing")]
    Tampered,
    /// The content verifies but the file's bytes differ from what the kit wrote.
    #[error(
        "the file's bytes differ from what the kit wrote (changed after signing, if only its whitespace)"
    )]
    Bytes,
}

/// The lab's signing key.
pub struct LabKey {
    key: SigningKey,
    /// Where it is kept.
    pub path: PathBuf,
}

impl LabKey {
    /// Reads the key in `dir`, or makes it (only this process can then read it); whether it
    /// was made now. Two processes making it at once: one writes it, both use that one.
    pub fn open_or_create(dir: &Path) -> anyhow::Result<(LabKey, bool)> {
        use anyhow::Context;
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = dir.join(KEY_FILE);
        if let Some(k) = LabKey::open(dir)? {
            return Ok((k, false));
        }
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let secret: [u8; 32] = rand::random();
        match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path) {
            Ok(mut f) => {
                f.write_all(wire::hex(&secret).as_bytes())
                    .and_then(|()| f.sync_all())
                    .with_context(|| format!("writing {}", path.display()))?;
                Ok((LabKey { key: SigningKey::from_bytes(&secret), path }, true))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let k = LabKey::open(dir)?.context("the key file vanished")?;
                Ok((k, false))
            }
            Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
        }
    }

    /// The key in `dir`, if one was made.
    pub fn open(dir: &Path) -> anyhow::Result<Option<LabKey>> {
        let path = dir.join(KEY_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(anyhow::anyhow!("reading {}: {e}", path.display())),
        };
        let bytes: [u8; 32] = wire::unhex(text.trim())
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| anyhow::anyhow!("{} is not a key (64 hex digits)", path.display()))?;
        Ok(Some(LabKey { key: SigningKey::from_bytes(&bytes), path }))
    }

    /// The public key, hex.
    pub fn public_hex(&self) -> String {
        wire::hex(self.key.verifying_key().as_bytes())
    }

    /// Signs the report (replacing any signature) and returns the file's text.
    pub fn seal(&self, report: &mut Report) -> anyhow::Result<String> {
        report.signature = None;
        let payload = serde_json::to_vec(report)?;
        let sig = self.key.sign(&payload);
        report.signature = Some(Signature {
            algorithm: ALGORITHM.into(),
            public_key: self.public_hex(),
            value: wire::hex(&sig.to_bytes()),
        });
        render(report)
    }
}

/// The file's text for a report: pretty JSON and a newline.
pub fn render(report: &Report) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(report)? + "\n")
}

/// A public key given as 64 hex digits.
pub fn public_key(hex: &str) -> Result<VerifyingKey, Refusal> {
    let bytes: [u8; 32] =
        wire::unhex(hex.trim()).and_then(|b| b.try_into().ok()).ok_or_else(|| {
            Refusal::Malformed(format!("{hex:?} is not a public key (64 hex digits)"))
        })?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| Refusal::Malformed(format!("public key: {e}")))
}

/// Checks a report file's text against the trusted key; the report it holds.
pub fn verify(text: &str, trusted: &VerifyingKey) -> Result<Report, Refusal> {
    let mut report: Report =
        serde_json::from_str(text).map_err(|e| Refusal::NotAReport(e.to_string()))?;
    let sig = report.signature.take().ok_or(Refusal::Unsigned)?;
    if sig.algorithm != ALGORITHM {
        return Err(Refusal::Malformed(format!("algorithm {:?}, not ed25519", sig.algorithm)));
    }
    let key = public_key(&sig.public_key)?;
    if key != *trusted {
        return Err(Refusal::OtherKey {
            found: sig.public_key.clone(),
            trusted: wire::hex(trusted.as_bytes()),
        });
    }
    let value: [u8; 64] = wire::unhex(&sig.value)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| Refusal::Malformed("the signature is not 128 hex digits".into()))?;
    let payload = serde_json::to_vec(&report).map_err(|e| Refusal::NotAReport(e.to_string()))?;
    key.verify(&payload, &ed25519_dalek::Signature::from_bytes(&value))
        .map_err(|_| Refusal::Tampered)?;
    report.signature = Some(sig);
    if render(&report).map_err(|e| Refusal::NotAReport(e.to_string()))? != text {
        return Err(Refusal::Bytes);
    }
    Ok(report)
}

/// The data directory: `--data-dir`, else `$MLAB_DATA_DIR` (both handled by the command
/// line), else `$XDG_DATA_HOME/meterlab`, else `~/.local/share/meterlab`.
pub fn default_data_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(x).join("meterlab");
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(h) => PathBuf::from(h).join(".local/share/meterlab"),
        None => PathBuf::from(".meterlab"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::report::{CaseResult, EspIdentity};

    fn report() -> Report {
        let t: clock::Timestamp = "2026-03-02T08:00:00Z".parse().unwrap();
        let cases = vec![CaseResult {
            id: "ESP-MAN-01".into(),
            title: "Day data".into(),
            requirements: vec!["R-MAN-2".into()],
            verdict: certify::Verdict::Passed,
            started: t,
            finished: t,
            evidence: vec!["read \"day\" → 200".into()],
        }];
        Report {
            campaign: "c1".into(),
            catalogue: certify::CATALOGUE_VERSION.into(),
            meterlab: "0.0.0".into(),
            statement_sha256: "ab".into(),
            esp: EspIdentity { name: "Example".into(), kbo: "0061728424".into() },
            started: t,
            finished: t,
            outcome: Report::outcome_of(&cases).into(),
            only: Vec::new(),
            counts: Report::count(&cases),
            cases,
            signature: None,
        }
    }

    #[test]
    fn a_sealed_report_verifies_and_any_changed_byte_is_refused() {
        let dir = std::env::temp_dir().join(format!("mlab-seal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (key, made) = LabKey::open_or_create(&dir).unwrap();
        assert!(made);
        let (again, made) = LabKey::open_or_create(&dir).unwrap();
        assert!(!made);
        assert_eq!(key.public_hex(), again.public_hex(), "the key is made once");
        let trusted = public_key(&key.public_hex()).unwrap();
        let mut r = report();
        let text = key.seal(&mut r).unwrap();
        assert_eq!(verify(&text, &trusted).unwrap(), r);
        // Every single byte changed, one at a time, is refused.
        let bytes = text.as_bytes();
        for i in 0..bytes.len() {
            let mut b = bytes.to_vec();
            b[i] = if b[i] == b'0' { b'1' } else { b'0' };
            let Ok(t) = String::from_utf8(b) else { continue };
            assert!(verify(&t, &trusted).is_err(), "byte {i} changed and still verified");
        }
        assert_eq!(verify(&text.replace("passed", "failed"), &trusted), Err(Refusal::Tampered));
        assert_eq!(verify(&format!("{text} "), &trusted), Err(Refusal::Bytes));
        let (other, _) = LabKey::open_or_create(&dir.join("other")).unwrap();
        let other_key = public_key(&other.public_hex()).unwrap();
        assert!(matches!(verify(&text, &other_key), Err(Refusal::OtherKey { .. })));
        let unsigned = render(&report()).unwrap();
        assert_eq!(verify(&unsigned, &trusted), Err(Refusal::Unsigned));
        assert!(matches!(verify("{}", &trusted), Err(Refusal::NotAReport(_))));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
