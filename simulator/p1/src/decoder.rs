//! The incremental decoder: bytes in, in any chunking; frames out, as observations.
//!
//! It looks for `/` (plain telegram) or `0xDB` (Smarty encrypted frame), collects up to the end
//! of the frame and decodes it. Everything that goes wrong is reported as a [`Frame`] and
//! counted in [`Stats`]; nothing is fatal, and the buffer never grows past `max_len`.

use crate::codec::{DecodeError, Malformed};
use crate::model::Telegram;
use crate::smarty::{self, Keys, Security, SmartyError};
use std::collections::VecDeque;

/// The default frame limit. The largest real telegrams are ≈1,500 bytes; a DSMR text message
/// can add 2,048 hex digits. 16 KiB leaves room for both and bounds memory per line.
pub const DEFAULT_MAX_LEN: usize = 16 * 1024;

/// What the decoder saw. Only `Ok` carries a usable telegram; the others are counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete telegram whose CRC (if it has one) matches.
    Ok {
        /// The decoded telegram.
        telegram: Telegram,
        /// The plain telegram bytes as received (decrypted for Smarty frames).
        raw: Vec<u8>,
        /// The clear-text header of the encrypted frame it came in, if any.
        security: Option<Security>,
    },
    /// A complete telegram whose CRC does not match.
    CorruptCrc {
        /// The bytes as received.
        raw: Vec<u8>,
        /// The CRC written in the telegram.
        expected: u16,
        /// The CRC of its bytes.
        computed: u16,
    },
    /// A telegram cut off: a new `/` arrived before its `!`.
    Truncated {
        /// The bytes received before the cut.
        raw: Vec<u8>,
    },
    /// Bytes that are not a telegram.
    Malformed {
        /// The bytes, at most `max_len` of them.
        raw: Vec<u8>,
        /// What was wrong.
        reason: Malformed,
    },
}

/// Counters over the decoder's life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Stats {
    /// Frames decoded with a valid CRC.
    pub ok: u64,
    /// Frames with a CRC mismatch.
    pub corrupt_crc: u64,
    /// Frames cut off by the start of the next one.
    pub truncated: u64,
    /// Frames that did not parse, were too long or could not be decrypted.
    pub malformed: u64,
    /// Bytes outside any frame (line noise, a half frame at start-up), CR/LF excluded.
    pub garbage_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between frames.
    Idle,
    /// Inside `/…`, before `!`.
    Plain,
    /// After `!`: the CRC and line end.
    Tail,
    /// Inside an encrypted frame; the total length once known.
    Encrypted(Option<usize>),
}

/// The incremental P1 decoder.
#[derive(Debug)]
pub struct Decoder {
    buf: Vec<u8>,
    state: State,
    max_len: usize,
    keys: Option<Keys>,
    out: VecDeque<Frame>,
    stats: Stats,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    /// A decoder for plain telegrams with the default frame limit.
    pub fn new() -> Decoder {
        Decoder {
            buf: Vec::with_capacity(2048),
            state: State::Idle,
            max_len: DEFAULT_MAX_LEN,
            keys: None,
            out: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    /// Sets the largest frame accepted; longer ones are dropped and reported.
    pub fn with_max_len(mut self, max_len: usize) -> Decoder {
        self.max_len = max_len.max(16);
        self
    }

    /// Decrypts Smarty frames with these keys.
    pub fn with_keys(mut self, keys: Keys) -> Decoder {
        self.keys = Some(keys);
        self
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Feeds bytes; complete frames become available through [`Decoder::next_frame`].
    pub fn push(&mut self, mut input: &[u8]) {
        while !input.is_empty() {
            input = match self.state {
                State::Idle => self.idle(input),
                State::Plain => self.plain(input),
                State::Tail => self.tail(input),
                State::Encrypted(len) => self.encrypted(input, len),
            };
        }
    }

    /// The next decoded frame, oldest first.
    pub fn next_frame(&mut self) -> Option<Frame> {
        self.out.pop_front()
    }

    /// Feeds bytes and drains every frame they completed.
    pub fn decode<'a>(&'a mut self, input: &[u8]) -> impl Iterator<Item = Frame> + 'a {
        self.push(input);
        self.out.drain(..)
    }

    fn idle<'a>(&mut self, input: &'a [u8]) -> &'a [u8] {
        match memchr::memchr2(b'/', smarty::FRAME_TAG, input) {
            None => {
                self.count_garbage(input);
                &[]
            }
            Some(i) => {
                self.count_garbage(&input[..i]);
                self.buf.clear();
                self.buf.push(input[i]);
                self.state = if input[i] == b'/' { State::Plain } else { State::Encrypted(None) };
                &input[i + 1..]
            }
        }
    }

    fn count_garbage(&mut self, bytes: &[u8]) {
        // Line ends between frames are not noise: some meters end `!CRC` without CR LF and
        // others send extra blank lines.
        self.stats.garbage_bytes +=
            bytes.iter().filter(|&&b| b != b'\r' && b != b'\n').count() as u64;
    }

    fn plain<'a>(&mut self, input: &'a [u8]) -> &'a [u8] {
        let room = self.max_len.saturating_sub(self.buf.len());
        let window = &input[..input.len().min(room)];
        match memchr::memchr2(b'!', b'/', window) {
            Some(i) if window[i] == b'/' => {
                self.buf.extend_from_slice(&window[..i]);
                let raw = self.take_buf();
                self.emit(Frame::Truncated { raw });
                self.state = State::Idle;
                &input[i..]
            }
            Some(i) => {
                self.buf.extend_from_slice(&window[..=i]);
                self.state = State::Tail;
                &input[i + 1..]
            }
            None if window.len() < input.len() || self.buf.len() + window.len() >= self.max_len => {
                self.buf.extend_from_slice(window);
                self.overflow();
                &input[window.len()..]
            }
            None => {
                self.buf.extend_from_slice(window);
                &[]
            }
        }
    }

    fn tail<'a>(&mut self, input: &'a [u8]) -> &'a [u8] {
        // `!` + up to 4 hex digits + CR LF: finish at the line feed, or as soon as a byte shows
        // the telegram ended without one (a new `/`, or more than "XXXX\r" after `!`).
        let bang = memchr::memrchr(b'!', &self.buf).unwrap_or(0);
        for (i, &b) in input.iter().enumerate() {
            if b == b'/' || self.buf.len() - bang > 5 && b != b'\n' {
                self.finish_plain();
                return &input[i..];
            }
            self.buf.push(b);
            if b == b'\n' {
                self.finish_plain();
                return &input[i + 1..];
            }
        }
        &[]
    }

    fn encrypted<'a>(&mut self, input: &'a [u8], len: Option<usize>) -> &'a [u8] {
        let Some(total) = len else {
            // Collect the header a byte at a time until the length is known (at most 13 bytes).
            self.buf.push(input[0]);
            match smarty::frame_len(&self.buf) {
                Ok(None) => {}
                Ok(Some(total)) if total > self.max_len => {
                    self.overflow();
                }
                Ok(Some(total)) => self.state = State::Encrypted(Some(total)),
                Err(_) => {
                    // Not a frame after all: the 0xDB was noise. Rescan what followed it.
                    self.stats.garbage_bytes += 1;
                    let rest = self.buf.split_off(1);
                    self.state = State::Idle;
                    self.push(&rest);
                }
            }
            return &input[1..];
        };
        let need = total - self.buf.len();
        let take = need.min(input.len());
        self.buf.extend_from_slice(&input[..take]);
        if self.buf.len() == total {
            self.finish_encrypted();
        }
        &input[take..]
    }

    fn overflow(&mut self) {
        let raw = self.take_buf();
        self.emit(Frame::Malformed { raw, reason: Malformed::TooLong { limit: self.max_len } });
        self.state = State::Idle;
    }

    fn take_buf(&mut self) -> Vec<u8> {
        std::mem::replace(&mut self.buf, Vec::with_capacity(2048))
    }

    fn finish_plain(&mut self) {
        self.state = State::Idle;
        let raw = self.take_buf();
        let frame = frame_from(Telegram::decode(&raw), raw, None);
        self.emit(frame);
    }

    fn finish_encrypted(&mut self) {
        self.state = State::Idle;
        let raw = self.take_buf();
        let Some(keys) = &self.keys else {
            let reason = Malformed::Encrypted(SmartyError::NoKey);
            return self.emit(Frame::Malformed { raw, reason });
        };
        match smarty::decrypt(&raw, keys) {
            Ok((sec, plain)) => {
                let frame = frame_from(Telegram::decode(&plain), plain, Some(sec));
                self.emit(frame);
            }
            Err(e) => self.emit(Frame::Malformed { raw, reason: Malformed::Encrypted(e) }),
        }
    }

    fn emit(&mut self, frame: Frame) {
        match &frame {
            Frame::Ok { .. } => self.stats.ok += 1,
            Frame::CorruptCrc { .. } => self.stats.corrupt_crc += 1,
            Frame::Truncated { .. } => self.stats.truncated += 1,
            Frame::Malformed { .. } => self.stats.malformed += 1,
        }
        self.out.push_back(frame);
    }
}

fn frame_from(
    res: Result<Telegram, DecodeError>,
    raw: Vec<u8>,
    security: Option<Security>,
) -> Frame {
    match res {
        Ok(telegram) => Frame::Ok { telegram, raw, security },
        Err(DecodeError::Crc { expected, computed }) => {
            Frame::CorruptCrc { raw, expected, computed }
        }
        Err(DecodeError::Malformed(reason)) => Frame::Malformed { raw, reason },
    }
}
