//! Meter-side fault injection: corrupt CRCs, truncated telegrams, garbage bytes, silence,
//! clock jumps and wrong DST flags, each drawn per telegram from its own seeded stream.

use calendar::{SignedDuration, Timestamp};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use std::fmt;

/// One fault applied to one telegram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// One byte of the body flipped: the CRC no longer matches.
    Crc,
    /// The telegram is cut short (the next one starts before its `!`).
    Truncate,
    /// Line noise before the telegram.
    Garbage,
    /// The meter stops sending for this long.
    Silence(SignedDuration),
    /// The telegram's timestamp is off by this much.
    ClockJump(SignedDuration),
    /// The S/W suffix is the wrong one.
    WrongDst,
}

/// Probabilities per telegram, and the seed of the fault stream.
#[derive(Debug)]
pub struct FaultPlan {
    rng: ChaCha8Rng,
    crc: f64,
    truncate: f64,
    garbage: f64,
    silence: f64,
    clock_jump: f64,
    wrong_dst: f64,
    text: String,
}

/// A fault spec that does not parse.
#[derive(Debug, thiserror::Error)]
#[error(
    "bad fault spec `{0}`: use comma-separated kind:rate with rate in 0..=1, kinds crc, truncate, garbage, silence, clockjump, dst (e.g. crc:0.01,silence:0.001)"
)]
pub struct FaultSpecError(String);

impl FaultPlan {
    /// No faults.
    pub fn none() -> FaultPlan {
        FaultPlan::parse("", 0).unwrap_or_else(|_| unreachable_plan())
    }

    /// Parses `crc:0.01,truncate:0.005,garbage:0.01,silence:0.001,clockjump:0.0001,dst:0.001`.
    pub fn parse(spec: &str, seed: u64) -> Result<FaultPlan, FaultSpecError> {
        let mut p = unreachable_plan();
        p.rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6661_756c_7473);
        p.text = spec.to_owned();
        for part in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let err = || FaultSpecError(part.to_owned());
            let (kind, rate) = part.split_once(':').ok_or_else(err)?;
            let rate: f64 = rate.parse().map_err(|_| err())?;
            if !(0.0..=1.0).contains(&rate) {
                return Err(err());
            }
            let slot = match kind {
                "crc" => &mut p.crc,
                "truncate" => &mut p.truncate,
                "garbage" => &mut p.garbage,
                "silence" => &mut p.silence,
                "clockjump" => &mut p.clock_jump,
                "dst" => &mut p.wrong_dst,
                _ => return Err(err()),
            };
            *slot = rate;
        }
        Ok(p)
    }

    /// Whether any fault can happen.
    pub fn is_empty(&self) -> bool {
        [self.crc, self.truncate, self.garbage, self.silence, self.clock_jump, self.wrong_dst]
            .iter()
            .all(|&r| r == 0.0)
    }

    /// Draws the fault (if any) for the telegram at `now`. One draw per telegram keeps the
    /// stream aligned with the telegram count, whatever the rates.
    pub(crate) fn roll(&mut self, _now: Timestamp) -> Option<FaultKind> {
        if self.is_empty() {
            return None;
        }
        let x: f64 = self.rng.random();
        let extra: f64 = self.rng.random();
        let mut acc = 0.0;
        for (rate, kind) in [
            (self.crc, FaultKind::Crc),
            (self.truncate, FaultKind::Truncate),
            (self.garbage, FaultKind::Garbage),
            (
                self.silence,
                FaultKind::Silence(SignedDuration::from_secs(30 + (extra * 570.0) as i64)),
            ),
            (
                self.clock_jump,
                FaultKind::ClockJump(SignedDuration::from_secs(if extra < 0.5 {
                    -3600
                } else {
                    3600
                })),
            ),
            (self.wrong_dst, FaultKind::WrongDst),
        ] {
            acc += rate;
            if x < acc {
                return Some(kind);
            }
        }
        None
    }

    /// Damages encoded bytes for the byte-level faults.
    pub(crate) fn damage(&mut self, fault: FaultKind, bytes: &mut Vec<u8>) {
        match fault {
            FaultKind::Crc => {
                // Flip a digit in the body (never the framing bytes `/`, `!`, CR, LF).
                let digits: Vec<usize> =
                    (0..bytes.len()).filter(|&i| bytes[i].is_ascii_digit()).collect();
                if !digits.is_empty() {
                    let i = digits[self.rng.random_range(0..digits.len())];
                    bytes[i] = if bytes[i] == b'9' { b'0' } else { bytes[i] + 1 };
                }
            }
            FaultKind::Truncate => {
                let keep = self.rng.random_range(1..bytes.len().max(2));
                bytes.truncate(keep);
            }
            FaultKind::Garbage => {
                let n = self.rng.random_range(1..64);
                let noise: Vec<u8> = (0..n)
                    .map(|_| {
                        // Noise never contains a frame start, so it cannot fake a telegram.
                        let b: u8 = self.rng.random();
                        if b == b'/' || b == 0xDB { b'?' } else { b }
                    })
                    .collect();
                bytes.splice(0..0, noise);
            }
            _ => {}
        }
    }
}

fn unreachable_plan() -> FaultPlan {
    FaultPlan {
        rng: ChaCha8Rng::seed_from_u64(0),
        crc: 0.0,
        truncate: 0.0,
        garbage: 0.0,
        silence: 0.0,
        clock_jump: 0.0,
        wrong_dst: 0.0,
        text: String::new(),
    }
}

impl fmt::Display for FaultPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.text.is_empty() { "none" } else { &self.text })
    }
}
