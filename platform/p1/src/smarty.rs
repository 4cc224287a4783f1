//! Luxembourg Smarty encrypted frames (Luxmetering E-Meter P1 Specification v1.1.3 §3.2.5):
//! DLMS general-glo-ciphering with security suite 0, AES-128-GCM and a 12-byte tag.
//!
//! ```text
//! DB | 08 | system title (8) | 82 LL LL | 30 | frame counter (4, BE) | ciphertext | tag (12)
//! ```
//! IV = system title ‖ frame counter; AAD = `30` ‖ authentication key (public and the same for
//! every meter). The ciphertext is the whole plain telegram `/…!CRC\r\n`.

use aes_gcm::AesGcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::Aes128;
use aes_gcm::aes::cipher::consts::U12;
use std::fmt;

type SmartyGcm = AesGcm<Aes128, U12, U12>;

/// The authentication key every Smarty meter uses (spec §3.4.1).
pub const SMARTY_AUTH_KEY: [u8; 16] = [
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF,
];

/// The general-glo-ciphering tag that opens a frame.
pub const FRAME_TAG: u8 = 0xDB;
const SECURITY_CONTROL: u8 = 0x30;
const TAG_LEN: usize = 12;

/// The keys of one meter.
#[derive(Clone, PartialEq, Eq)]
pub struct Keys {
    /// The per-meter encryption key handed out by the DSO.
    pub encryption: [u8; 16],
    /// The authentication key (normally [`SMARTY_AUTH_KEY`]).
    pub authentication: [u8; 16],
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys stay out of logs.
        f.write_str("Keys(..)")
    }
}

impl Keys {
    /// Keys from a 32-hex-digit encryption key, with the standard authentication key.
    pub fn from_hex(ek: &str) -> Result<Keys, SmartyError> {
        let mut encryption = [0u8; 16];
        let bytes = ek.as_bytes();
        if bytes.len() != 32 || !bytes.iter().all(u8::is_ascii_hexdigit) {
            return Err(SmartyError::BadKey);
        }
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let s = std::str::from_utf8(pair).map_err(|_| SmartyError::BadKey)?;
            encryption[i] = u8::from_str_radix(s, 16).map_err(|_| SmartyError::BadKey)?;
        }
        Ok(Keys { encryption, authentication: SMARTY_AUTH_KEY })
    }
}

/// The clear-text header of an encrypted frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Security {
    /// The meter's system title (starts with `SAG` on Sagemcom-built Smarty meters).
    pub system_title: [u8; 8],
    /// The frame counter; the meter increments it per frame.
    pub frame_counter: u32,
}

/// Why an encrypted frame could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum SmartyError {
    /// The key is not 32 hexadecimal digits.
    BadKey,
    /// An encrypted frame arrived but the decoder has no key for it.
    NoKey,
    /// The frame header is not `DB 08 … 30`.
    BadHeader,
    /// The GCM tag does not verify: wrong key or damaged frame.
    Authentication,
    /// The plaintext is too long for a frame (more than 65,535 bytes).
    TooLong,
}

impl fmt::Display for SmartyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SmartyError::BadKey => "the key must be 32 hexadecimal digits",
            SmartyError::NoKey => "no decryption key was given (use the meter's key from the DSO)",
            SmartyError::BadHeader => "the frame header is not DB 08 <system title> .. 30",
            SmartyError::Authentication => {
                "the GCM tag does not verify: wrong key or damaged frame"
            }
            SmartyError::TooLong => "the telegram is too long for one frame",
        })
    }
}

impl std::error::Error for SmartyError {}

fn iv(sec: &Security) -> [u8; 12] {
    let mut iv = [0u8; 12];
    iv[..8].copy_from_slice(&sec.system_title);
    iv[8..].copy_from_slice(&sec.frame_counter.to_be_bytes());
    iv
}

fn aad(keys: &Keys) -> [u8; 17] {
    let mut aad = [0u8; 17];
    aad[0] = SECURITY_CONTROL;
    aad[1..].copy_from_slice(&keys.authentication);
    aad
}

/// Wraps a plain telegram in an encrypted frame.
pub fn encrypt(plain: &[u8], keys: &Keys, sec: Security) -> Result<Vec<u8>, SmartyError> {
    let cipher = SmartyGcm::new(&keys.encryption.into());
    let aad = aad(keys);
    let ct = cipher
        .encrypt(&iv(&sec).into(), Payload { msg: plain, aad: &aad })
        .map_err(|_| SmartyError::TooLong)?;
    let len = u16::try_from(1 + 4 + ct.len()).map_err(|_| SmartyError::TooLong)?;
    let mut out = Vec::with_capacity(18 + ct.len());
    out.extend_from_slice(&[FRAME_TAG, 0x08]);
    out.extend_from_slice(&sec.system_title);
    out.push(0x82);
    out.extend_from_slice(&len.to_be_bytes());
    out.push(SECURITY_CONTROL);
    out.extend_from_slice(&sec.frame_counter.to_be_bytes());
    out.extend_from_slice(&ct);
    Ok(out)
}

/// How long the frame starting with these bytes is, once enough of its header has arrived.
/// `Ok(None)`: need more bytes. `Err`: these bytes do not start an encrypted frame.
pub fn frame_len(head: &[u8]) -> Result<Option<usize>, SmartyError> {
    if head.first().is_some_and(|&b| b != FRAME_TAG) || head.get(1).is_some_and(|&b| b != 0x08) {
        return Err(SmartyError::BadHeader);
    }
    let Some(&form) = head.get(10) else { return Ok(None) };
    let (len, header) = match form {
        0x82 => match head.get(11..13) {
            Some(l) => (usize::from(u16::from_be_bytes([l[0], l[1]])), 13),
            None => return Ok(None),
        },
        0x81 => match head.get(11) {
            Some(&l) => (usize::from(l), 12),
            None => return Ok(None),
        },
        l if l < 0x80 => (usize::from(l), 11),
        _ => return Err(SmartyError::BadHeader),
    };
    if len < 5 + TAG_LEN {
        return Err(SmartyError::BadHeader);
    }
    Ok(Some(header + len))
}

/// Opens a complete encrypted frame and returns its header and the plain telegram.
pub fn decrypt(frame: &[u8], keys: &Keys) -> Result<(Security, Vec<u8>), SmartyError> {
    let total = frame_len(frame)?.ok_or(SmartyError::BadHeader)?;
    if frame.len() != total {
        return Err(SmartyError::BadHeader);
    }
    let body = &frame[header_len(frame[10])..];
    let (&control, rest) = body.split_first().ok_or(SmartyError::BadHeader)?;
    if control != SECURITY_CONTROL || rest.len() < 4 + TAG_LEN {
        return Err(SmartyError::BadHeader);
    }
    let mut system_title = [0u8; 8];
    system_title.copy_from_slice(&frame[2..10]);
    let frame_counter = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
    let sec = Security { system_title, frame_counter };
    let cipher = SmartyGcm::new(&keys.encryption.into());
    let aad = aad(keys);
    let plain = cipher
        .decrypt(&iv(&sec).into(), Payload { msg: &rest[4..], aad: &aad })
        .map_err(|_| SmartyError::Authentication)?;
    Ok((sec, plain))
}

/// The number of header bytes before the security control byte, by length form.
fn header_len(form: u8) -> usize {
    match form {
        0x82 => 13,
        0x81 => 12,
        _ => 11,
    }
}
