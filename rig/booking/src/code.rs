//! Access codes (R-LAB-5): human-typable, generated from caller-supplied entropy, stored only as
//! a SHA-256 digest.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::model::Agreement;

/// Crockford's base32: no `I`, `L`, `O` or `U`, so nothing looks like `1`, `0` or a word.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters in a code, without the dashes: 16 × 5 bits = 80 bits of the entropy.
const CODE_CHARS: usize = 16;
/// Bytes of entropy that the 80 bits come from.
const CODE_BYTES: usize = 10;

/// The access code handed to a holder once, when the agreement is signed: 16 characters of
/// Crockford base32 in four groups of four, e.g. `7K3Q-M9TD-2XVB-H4NR`.
///
/// The ledger keeps only [`Agreement::access_code_hash`]; this value is the one chance to hand
/// the code out. It deliberately has no serde implementation (so it cannot end up in a database
/// by accident), and its `Debug` output is redacted. [`Display`](fmt::Display) and
/// [`AccessCode::as_str`] give the code itself, for the mail or screen that hands it out.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessCode(String);

impl AccessCode {
    /// The code made from the first 10 bytes of `entropy` (80 bits; the rest is ignored).
    /// Pass bytes from the caller's seeded or OS random generator, so the ledger stays pure.
    pub fn from_entropy(entropy: [u8; 16]) -> Self {
        let bits = entropy[..CODE_BYTES].iter().fold(0u128, |acc, b| (acc << 8) | u128::from(*b));
        let mut out = String::with_capacity(CODE_CHARS + 3);
        for i in 0..CODE_CHARS {
            if i > 0 && i % 4 == 0 {
                out.push('-');
            }
            let shift = 5 * (CODE_CHARS - 1 - i);
            // Masked to 5 bits, so the index is below 32.
            let index = ((bits >> shift) & 0x1f) as usize;
            out.push(char::from(ALPHABET[index]));
        }
        Self(out)
    }

    /// The code as typed by a person, with dashes.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The hex SHA-256 digest the ledger stores for this code.
    pub(crate) fn hash(&self) -> String {
        // A code we generated always normalises; fall back to the raw text anyway.
        digest_hex(&normalize(&self.0).unwrap_or_else(|| self.0.clone()))
    }
}

impl fmt::Display for AccessCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AccessCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessCode(****-****-****-****)")
    }
}

/// Whether `code` is the access code of `agreement`.
///
/// Typing is forgiving: case, dashes and spaces do not matter, and `O`, `I`, `L` are read as
/// `0`, `1`, `1` (Crockford). The digests are compared in constant time. The code carries 80
/// random bits, so an unsalted SHA-256 digest cannot be reversed by guessing; rate limiting of
/// log-in attempts belongs to the caller, which sees every refusal in the audit log.
pub fn verify_code(agreement: &Agreement, code: &str) -> bool {
    match normalize(code) {
        Some(normal) => {
            ct_eq(digest_hex(&normal).as_bytes(), agreement.access_code_hash.as_bytes())
        }
        None => false,
    }
}

/// The canonical form of a typed code: 16 upper-case alphabet characters, or `None`.
fn normalize(code: &str) -> Option<String> {
    let mut out = String::with_capacity(CODE_CHARS);
    for c in code.chars() {
        let c = match c.to_ascii_uppercase() {
            '-' | ' ' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) || out.len() == CODE_CHARS {
            return None;
        }
        out.push(c);
    }
    (out.len() == CODE_CHARS).then_some(out)
}

fn digest_hex(normal: &str) -> String {
    Sha256::digest(normal.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Equality that looks at every byte whatever the first difference.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
