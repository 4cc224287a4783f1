//! The platform's external contracts, as serde types. Only this crate decides what goes over
//! the wire; other crates convert at the edge.
//!
//! - [`ingest::v1`]: what a dongle uploads (the same payload over MQTT and REST), and what a
//!   head-end sends for AMR meters.
//! - [`api::v1`]: every request and response body of the HTTP API, and [`ApiError`], every
//!   4xx/5xx body: a stable [`Code`] and a human `message`.
#![deny(missing_docs)]

pub mod api;
mod codes;
pub mod ingest;
pub mod lab;

pub use api::v1::{ApiError, Code};

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0xF)]));
    }
    s
}

/// Bytes from hex (either case); `None` if it is not hex pairs.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks_exact(2)
        .map(|p| {
            let hi = char::from(p[0]).to_digit(16)?;
            let lo = char::from(p[1]).to_digit(16)?;
            Some((hi * 16 + lo) as u8)
        })
        .collect()
}
