//! The P1 cable from a meter to the dongle on its port, in memory and on the lab's clock.

use calendar::{SignedDuration, Timestamp};
use std::collections::VecDeque;

/// Bytes a cable holds for a reader that has not taken them: a UART's receive buffer is far
/// smaller, but the dongle model reads at every step, so this only bounds a stalled reader.
pub const CABLE_BUFFER: usize = 64 * 1024;

/// A frame on its way down the cable.
#[derive(Debug)]
struct InFlight {
    /// When its first byte went out.
    start: Timestamp,
    bytes: Vec<u8>,
    /// How many of them the reader has taken.
    read: usize,
}

/// A P1 cable in memory: what the meter writes at `now` reaches the reader at the line's
/// speed (8N1 at `baud`: a 1,100-byte telegram takes 95 ms at 115200), one frame after the
/// other, or at once when unpaced (accelerated runs). Time is the caller's `now`, so the same
/// writes and reads give the same bytes on any clock. A frame that does not fit beside what
/// the reader left unread is dropped and counted, as a meter's telegram is lost when nobody
/// reads; the writer never waits.
#[derive(Debug)]
pub struct Cable {
    bytes_per_second: Option<u32>,
    frames: VecDeque<InFlight>,
    held: usize,
    sent: u64,
    dropped: u64,
}

impl Cable {
    /// A cable at `baud` (8N1), or one that delivers at once (`None`).
    pub fn new(baud: Option<u32>) -> Cable {
        Cable {
            bytes_per_second: baud.map(|b| crate::bytes_per_second(b).max(1)),
            frames: VecDeque::new(),
            held: 0,
            sent: 0,
            dropped: 0,
        }
    }

    /// The meter writes `frame` at `now`; `false` if it was dropped (the cable is full).
    pub fn write(&mut self, now: Timestamp, frame: &[u8]) -> bool {
        if self.held + frame.len() > CABLE_BUFFER {
            self.dropped += 1;
            return false;
        }
        // A frame goes out when the one before it is through.
        let start = match (self.frames.back(), self.bytes_per_second) {
            (Some(last), Some(r)) => now.max(last.start + duration_of(last.bytes.len(), r)),
            _ => now,
        };
        self.held += frame.len();
        self.sent += 1;
        self.frames.push_back(InFlight { start, bytes: frame.to_vec(), read: 0 });
        true
    }

    /// Appends to `out` every byte that has reached the reader by `now`, in order.
    pub fn read(&mut self, now: Timestamp, out: &mut Vec<u8>) {
        while let Some(f) = self.frames.front_mut() {
            let arrived = match self.bytes_per_second {
                None => f.bytes.len(),
                Some(_) if now < f.start => 0,
                Some(r) => {
                    let micros = now.duration_since(f.start).as_micros().max(0) as u128;
                    (micros * u128::from(r) / 1_000_000).min(f.bytes.len() as u128) as usize
                }
            };
            out.extend_from_slice(&f.bytes[f.read..arrived]);
            self.held -= arrived - f.read;
            f.read = arrived;
            if arrived < f.bytes.len() {
                return;
            }
            self.frames.pop_front();
        }
    }

    /// When the frame on the line is through (all of it readable), if one is.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        let f = self.frames.front()?;
        Some(match self.bytes_per_second {
            None => f.start,
            Some(r) => f.start + duration_of(f.bytes.len(), r),
        })
    }

    /// Frames written, and frames dropped because the cable was full.
    pub fn counts(&self) -> (u64, u64) {
        (self.sent, self.dropped)
    }
}

/// How long `len` bytes take at `r` bytes per second, rounded up to the microsecond.
fn duration_of(len: usize, r: u32) -> SignedDuration {
    let micros = (len as u64 * 1_000_000).div_ceil(u64::from(r));
    SignedDuration::from_micros(micros as i64)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn t(ms: i64) -> Timestamp {
        Timestamp::from_second(1_790_000_000).unwrap() + SignedDuration::from_millis(ms)
    }

    #[test]
    fn unpaced_frames_arrive_at_once_byte_exact() {
        let mut c = Cable::new(None);
        let frame = b"/FLU5\\253769484_A\r\n\r\n1-0:1.8.1(000001.000*kWh)\r\n!ABCD\r\n";
        assert!(c.write(t(0), frame));
        assert!(c.write(t(0), b"\x00\xffbinary"));
        let mut out = Vec::new();
        c.read(t(0), &mut out);
        assert_eq!(out, [&frame[..], b"\x00\xffbinary"].concat(), "CR LF and any byte survive");
        assert_eq!(c.next_deadline(), None);
        assert_eq!(c.counts(), (2, 0));
    }

    #[test]
    fn a_paced_frame_takes_the_time_of_its_bytes_and_the_next_queues_behind() {
        // 115200 baud: 11,520 bytes/s, so 1,152 bytes take 100 ms.
        let mut c = Cable::new(Some(115_200));
        let a = vec![b'a'; 1152];
        let b = vec![b'b'; 1152];
        c.write(t(0), &a);
        c.write(t(10), &b);
        assert_eq!(c.next_deadline(), Some(t(100)));
        let mut out = Vec::new();
        c.read(t(50), &mut out);
        assert_eq!(out.len(), 576, "half of it after half the time");
        c.read(t(150), &mut out);
        assert_eq!(out.len(), 1152 + 576, "b started when a was through, at 100 ms");
        assert_eq!(c.next_deadline(), Some(t(200)));
        c.read(t(200), &mut out);
        assert_eq!(out, [a, b].concat());
        assert_eq!(c.next_deadline(), None);
        // A quiet line starts the next frame at its own write time.
        c.write(t(5_000), b"x");
        let mut out = Vec::new();
        c.read(t(4_999), &mut out);
        assert!(out.is_empty(), "nothing before it was written");
    }

    #[test]
    fn a_reader_that_stops_reading_loses_frames_never_blocks_the_meter() {
        let mut c = Cable::new(None);
        let frame = vec![b'x'; 1000];
        let written = (0..100).filter(|&i| c.write(t(i), &frame)).count();
        assert_eq!(written, CABLE_BUFFER / 1000);
        assert_eq!(c.counts(), (written as u64, 100 - written as u64));
        let mut out = Vec::new();
        c.read(t(100), &mut out);
        assert_eq!(out.len(), written * 1000, "what was kept arrives whole");
        assert!(c.write(t(101), &frame), "room again once read");
    }
}
