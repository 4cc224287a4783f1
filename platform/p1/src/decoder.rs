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
    /// Bytes outside any frame (line noise, a half frame at start-up or at [`Decoder::finish`]),
    /// CR/LF excluded.
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
    ///
    /// Every frame the bytes complete is queued until taken, so the queue grows with the
    /// input: feed bounded chunks, or use [`Decoder::decode`], which decodes as it is iterated.
    pub fn push(&mut self, mut input: &[u8]) {
        while !input.is_empty() {
            input = self.step(input);
        }
    }

    /// The next decoded frame, oldest first.
    pub fn next_frame(&mut self) -> Option<Frame> {
        self.out.pop_front()
    }

    /// Feeds bytes and yields every frame they complete (after any still queued by
    /// [`Decoder::push`]).
    ///
    /// The bytes are decoded as the iterator is advanced, a frame at a time, so memory stays
    /// bounded whatever the size of `input`: 10 MB of `/A` lines make 2.6 million frames, and
    /// queuing them all first would hold gigabytes. Dropping the iterator early still consumes
    /// the rest of `input` (the counters see it) and discards its frames, as draining would.
    pub fn decode<'a>(&'a mut self, input: &'a [u8]) -> impl Iterator<Item = Frame> + 'a {
        Decode { decoder: self, rest: input }
    }

    /// Ends the input (end of file, closed port). A telegram that has reached `!` is decoded
    /// now instead of waiting for a line end that will not come (DSMR 4.2.2 §5.12: the last line
    /// need not end in CR LF); a frame still open before its end is dropped and its bytes
    /// counted as garbage, like the half frame a capture starts with. The decoder is then ready
    /// for a new stream; the frame, if any, comes out of [`Decoder::next_frame`].
    pub fn finish(&mut self) {
        match self.state {
            State::Idle => {}
            State::Tail => self.finish_plain(),
            State::Plain | State::Encrypted(_) => {
                self.stats.garbage_bytes += noise(&self.buf);
                self.buf.clear();
                self.state = State::Idle;
            }
        }
    }

    /// Decodes from the start of `input` up to a state change; returns the unconsumed rest.
    fn step<'a>(&mut self, input: &'a [u8]) -> &'a [u8] {
        match self.state {
            State::Idle => self.idle(input),
            State::Plain => self.plain(input),
            State::Tail => self.tail(input),
            State::Encrypted(len) => self.encrypted(input, len),
        }
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
        self.stats.garbage_bytes += noise(bytes);
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

    /// The frame's bytes, in a vector of their own size. Handing over `buf` itself would give
    /// every 4-byte noise frame the 2 KiB (or more) the buffer grew to; copying keeps frames
    /// small and lets `buf` keep its capacity for the next frame.
    fn take_buf(&mut self) -> Vec<u8> {
        let raw = self.buf.clone();
        self.buf.clear();
        raw
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

/// The iterator of [`Decoder::decode`]: steps the decoder through `rest` only as far as the
/// next frame.
struct Decode<'a> {
    decoder: &'a mut Decoder,
    rest: &'a [u8],
}

impl Iterator for Decode<'_> {
    type Item = Frame;

    fn next(&mut self) -> Option<Frame> {
        loop {
            if let Some(frame) = self.decoder.out.pop_front() {
                return Some(frame);
            }
            if self.rest.is_empty() {
                return None;
            }
            self.rest = self.decoder.step(self.rest);
        }
    }
}

impl Drop for Decode<'_> {
    fn drop(&mut self) {
        // The old eager `decode` consumed all its input and dropped undelivered frames with the
        // iterator; keep that contract, a step at a time so the queue stays short.
        self.decoder.out.clear();
        while !self.rest.is_empty() {
            self.rest = self.decoder.step(self.rest);
            self.decoder.out.clear();
        }
    }
}

/// How many of these bytes outside a frame are noise. Line ends between frames are not: some
/// meters end `!CRC` without CR LF and others send extra blank lines.
fn noise(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b != b'\r' && b != b'\n').count() as u64
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Issue 14: 10 MB of `/A` CR LF are 2.6 million frames. Decoding them must hold a frame or
    /// two at a time, each owning its own few bytes, not 2.2 kB per frame for all of them.
    #[test]
    fn ten_megabytes_of_tiny_frames_keep_the_decoder_bounded() {
        let input = b"/A\r\n".repeat(10 * 1024 * 1024 / 4);
        let mut d = Decoder::new();
        let mut frames = 0u64;
        let mut retained_max = 0;
        for chunk in input.chunks(64 * 1024) {
            let mut it = Decode { decoder: &mut d, rest: chunk };
            while let Some(frame) = it.next() {
                let Frame::Truncated { raw } = &frame else { panic!("{frame:?}") };
                assert_eq!(raw.as_slice(), b"/A\r\n");
                assert_eq!(raw.capacity(), raw.len(), "a frame owns only its own bytes");
                // What the decoder keeps between frames: the queue and the frame buffer.
                let queued: usize =
                    it.decoder.out.iter().map(|f| size_of::<Frame>() + raw_of(f).capacity()).sum();
                retained_max = retained_max.max(queued + it.decoder.buf.capacity());
                frames += 1;
            }
        }
        assert_eq!(frames, 10 * 1024 * 1024 / 4 - 1, "the last one waits for its end");
        assert!(retained_max <= 2 * 2048, "the decoder retained {retained_max} bytes");
        assert_eq!(d.stats().truncated, frames);
        d.finish();
        assert_eq!(d.next_frame(), None, "an open frame at the end is a half frame: noise");
        assert_eq!(d.stats().garbage_bytes, 2);
    }

    /// The same through one `decode` call over the whole input: nothing is queued ahead.
    #[test]
    fn decode_over_a_huge_slice_decodes_as_it_is_iterated() {
        let input = b"/A\r\n".repeat(1024 * 1024);
        let mut d = Decoder::new();
        let mut it = Decode { decoder: &mut d, rest: &input };
        let mut n = 0;
        while it.next().is_some() {
            assert!(it.decoder.out.len() <= 1, "{} frames queued", it.decoder.out.len());
            n += 1;
        }
        assert_eq!(n, 1024 * 1024 - 1);
        // Dropping an unfinished iterator still consumes its input, as the eager version did.
        let mut d = Decoder::new();
        assert!(d.decode(&input).next().is_some());
        assert_eq!(d.stats().truncated, 1024 * 1024 - 1);
        assert!(d.out.is_empty());
    }

    fn raw_of(f: &Frame) -> &Vec<u8> {
        match f {
            Frame::Ok { raw, .. }
            | Frame::CorruptCrc { raw, .. }
            | Frame::Truncated { raw }
            | Frame::Malformed { raw, .. } => raw,
        }
    }

    #[test]
    fn a_frame_too_long_is_dropped_counted_and_bounded() {
        let mut d = Decoder::new().with_max_len(64);
        let mut input = b"/".to_vec();
        input.resize(1000, b'7');
        let frames: Vec<_> = d.decode(&input).collect();
        let [Frame::Malformed { raw, reason: Malformed::TooLong { limit: 64 } }] = &frames[..]
        else {
            panic!("{frames:?}")
        };
        assert_eq!((raw.len(), raw.capacity()), (64, 64));
        assert_eq!(d.stats().malformed, 1);
        assert!(d.buf.capacity() <= 2048);
    }

    #[test]
    fn finish_decodes_a_telegram_whose_last_line_has_no_line_end() {
        // DSMR 4.2.2 §5.12: every line "except the last one" ends in CR LF; at the end of a
        // file nothing else will come to close the telegram.
        let t = b"/TST5\\x\r\n\r\n1-3:0.2.8(42)\r\n!";
        let crc = crate::crc16(t);
        let bytes = [&t[..], format!("{crc:04X}").as_bytes()].concat();
        let mut d = Decoder::new();
        assert_eq!(d.decode(&bytes).count(), 0, "the CRC may go on");
        d.finish();
        assert!(matches!(d.next_frame(), Some(Frame::Ok { .. })));
        assert_eq!(d.stats().ok, 1);
        // And the decoder starts afresh.
        d.finish();
        assert_eq!(d.next_frame(), None);
        assert_eq!(d.decode(&bytes).count(), 0);
    }
}
