//! Encoding a [`Telegram`] to bytes and decoding one complete frame back.

use crate::crc::crc16;
use crate::model::{Line, Obis, Telegram, Value, write_padded};
use std::fmt;

/// Why a frame is not a usable telegram (apart from a CRC mismatch).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Malformed {
    /// The frame does not start with `/`.
    NoStart,
    /// No `!` closes the frame.
    NoEnd,
    /// The header line after `/` is empty or not followed by a line end.
    BadHeader,
    /// A byte outside ASCII: P1 telegrams are ASCII, so this is line noise inside a frame.
    NotAscii,
    /// What follows `!` is not 0–4 hex digits and a line end.
    BadCrcField,
    /// A data line is not `OBIS(…)(…)`; `line` counts from 1 at the header.
    BadLine {
        /// 1-based line number (the header is line 1).
        line: usize,
        /// What was wrong.
        what: &'static str,
    },
    /// The frame grew past the decoder's limit without ending.
    TooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// An encrypted (Smarty) frame could not be opened.
    Encrypted(crate::smarty::SmartyError),
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::NoStart => f.write_str("the frame does not start with '/'"),
            Malformed::NoEnd => f.write_str("no '!' ends the telegram"),
            Malformed::BadHeader => f.write_str("the identification line after '/' is empty"),
            Malformed::NotAscii => {
                f.write_str("a byte outside ASCII inside the telegram (line noise?)")
            }
            Malformed::BadCrcField => {
                f.write_str("the CRC after '!' is not 4 hexadecimal digits followed by CR LF")
            }
            Malformed::BadLine { line, what } => write!(f, "line {line}: {what}"),
            Malformed::TooLong { limit } => {
                write!(f, "no end of telegram within {limit} bytes; the bytes were dropped")
            }
            Malformed::Encrypted(e) => write!(f, "encrypted frame: {e}"),
        }
    }
}

/// Decoding a complete frame failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The telegram is well-formed but its CRC does not match its bytes.
    Crc {
        /// The CRC written after `!`.
        expected: u16,
        /// The CRC of the bytes from `/` through `!`.
        computed: u16,
    },
    /// The bytes are not a telegram.
    Malformed(Malformed),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Crc { expected, computed } => write!(
                f,
                "CRC mismatch: the telegram says {expected:04X}, its bytes give {computed:04X}"
            ),
            DecodeError::Malformed(m) => m.fmt(f),
        }
    }
}

impl std::error::Error for DecodeError {}

impl Telegram {
    /// Appends the telegram as sent on the wire: `/header` CR LF CR LF, the lines, `!`, the
    /// CRC as 4 upper-case hex digits (when `has_crc`), CR LF.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.push(b'/');
        out.extend_from_slice(self.header.as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
        for line in &self.lines {
            if let Some(obis) = line.obis {
                write_obis(out, obis);
            }
            for v in &line.values {
                out.push(b'(');
                v.write(out);
                out.push(b')');
            }
            out.extend_from_slice(b"\r\n");
        }
        out.push(b'!');
        if self.has_crc {
            let crc = crc16(&out[start..]);
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            for shift in [12, 8, 4, 0] {
                out.push(HEX[usize::from((crc >> shift) & 0xF)]);
            }
        }
        out.extend_from_slice(b"\r\n");
    }

    /// The telegram as bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.lines.len() * 32);
        self.encode_into(&mut out);
        out
    }

    /// Decodes one complete plain-text frame `/…!CRC` (trailing CR LF optional) and checks
    /// its CRC. Never panics, whatever the bytes.
    pub fn decode(frame: &[u8]) -> Result<Telegram, DecodeError> {
        decode_frame(frame)
    }
}

fn write_obis(out: &mut Vec<u8>, o: Obis) {
    write_padded(out, u64::from(o.a), 1);
    out.push(b'-');
    write_padded(out, u64::from(o.b), 1);
    out.push(b':');
    write_padded(out, u64::from(o.c), 1);
    out.push(b'.');
    write_padded(out, u64::from(o.d), 1);
    out.push(b'.');
    write_padded(out, u64::from(o.e), 1);
}

fn malformed(m: Malformed) -> DecodeError {
    DecodeError::Malformed(m)
}

fn decode_frame(frame: &[u8]) -> Result<Telegram, DecodeError> {
    if frame.first() != Some(&b'/') {
        return Err(malformed(Malformed::NoStart));
    }
    let bang = memchr::memchr(b'!', frame).ok_or(malformed(Malformed::NoEnd))?;
    let mut tail = &frame[bang + 1..];
    while let Some((&last, rest)) = tail.split_last() {
        if last == b'\r' || last == b'\n' {
            tail = rest;
        } else {
            break;
        }
    }
    if tail.len() > 4 || !tail.iter().all(u8::is_ascii_hexdigit) {
        return Err(malformed(Malformed::BadCrcField));
    }
    let has_crc = !tail.is_empty();
    if has_crc {
        let expected = tail.iter().fold(0u16, |acc, &b| (acc << 4) | hex_val(b));
        let computed = crc16(&frame[..=bang]);
        if expected != computed {
            return Err(DecodeError::Crc { expected, computed });
        }
    }
    if !frame[..bang].is_ascii() {
        return Err(malformed(Malformed::NotAscii));
    }
    let mut telegram = parse_body(&frame[1..bang])?;
    telegram.has_crc = has_crc;
    Ok(telegram)
}

fn hex_val(b: u8) -> u16 {
    match b {
        b'0'..=b'9' => u16::from(b - b'0'),
        b'a'..=b'f' => u16::from(b - b'a' + 10),
        _ => u16::from(b.wrapping_sub(b'A').wrapping_add(10) & 0xF),
    }
}

/// Parses everything between `/` and `!`.
fn parse_body(body: &[u8]) -> Result<Telegram, DecodeError> {
    let header_end = memchr::memchr(b'\n', body).ok_or(malformed(Malformed::BadHeader))?;
    let header = trim_cr(&body[..header_end]);
    if header.is_empty() {
        return Err(malformed(Malformed::BadHeader));
    }
    let header = String::from_utf8_lossy(header).into_owned();
    let rest = &body[header_end + 1..];
    let mut lines = Vec::with_capacity(rest.len() / 24 + 1);
    let mut line_no = 1;
    let mut pos = 0;
    while pos < rest.len() {
        let end = memchr::memchr(b'\n', &rest[pos..]).map_or(rest.len(), |i| pos + i);
        let raw = trim_cr(&rest[pos..end]);
        pos = end + 1;
        line_no += 1;
        if raw.is_empty() {
            continue;
        }
        lines.push(parse_line(raw, line_no)?);
    }
    Ok(Telegram { header, lines, has_crc: true })
}

fn trim_cr(s: &[u8]) -> &[u8] {
    s.strip_suffix(b"\r").unwrap_or(s)
}

fn parse_line(raw: &[u8], line: usize) -> Result<Line, DecodeError> {
    let bad = |what| malformed(Malformed::BadLine { line, what });
    let open = memchr::memchr(b'(', raw).ok_or_else(|| bad("no '(' value group"))?;
    let obis = if open == 0 {
        None
    } else {
        Some(Obis::parse(&raw[..open]).ok_or_else(|| bad("not an OBIS code before '('"))?)
    };
    let mut values = crate::model::Values::new();
    let mut pos = open;
    while pos < raw.len() {
        if raw[pos] != b'(' {
            return Err(bad("text between value groups"));
        }
        let close = memchr::memchr(b')', &raw[pos + 1..])
            .ok_or_else(|| bad("value group not closed by ')'"))?;
        let content = &raw[pos + 1..pos + 1 + close];
        if content.contains(&b'(') {
            return Err(bad("'(' inside a value group"));
        }
        values.push(Value::parse(content));
        pos += close + 2;
    }
    Ok(Line { obis, values })
}
