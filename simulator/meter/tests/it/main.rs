//! Meter models against the p1 decoder: what they emit must be what real meters send.
#![allow(clippy::unwrap_used)] // helpers in test binaries may unwrap, like the tests themselves

mod behaviour;
mod brussels;
mod variants;
mod year;

use calendar::Timestamp;
use meter::{Catalogue, Meter};
use p1::{Decoder, Frame, Reading, Telegram};

pub(crate) fn local(s: &str) -> Timestamp {
    calendar::parse_date_or_time(s).unwrap()
}

pub(crate) fn meter(id: &str, profile: &str, seed: u64, start: Timestamp) -> Meter {
    let cat = Catalogue::builtin();
    let mut m = Meter::new(cat.get(id).unwrap(), &profile.parse().unwrap(), seed, start).unwrap();
    m.open_port();
    m
}

/// Runs a meter second by second and returns every telegram's bytes.
pub(crate) fn run(m: &mut Meter, start: Timestamp, secs: i64) -> Vec<Vec<u8>> {
    (0..=secs).filter_map(|s| m.tick(start + jiff::SignedDuration::from_secs(s))).collect()
}

/// Decodes telegrams, insisting each is a valid frame.
pub(crate) fn decode_all(m: &Meter, frames: &[Vec<u8>]) -> Vec<(Telegram, Reading)> {
    let mut d = Decoder::new();
    if let Some(k) = &m.variant().encryption_key {
        d = d.with_keys(p1::smarty::Keys::from_hex(k).unwrap());
    }
    frames
        .iter()
        .map(|bytes| {
            let out: Vec<Frame> = d.decode(bytes).collect();
            match &out[..] {
                [Frame::Ok { telegram, .. }] => {
                    (telegram.clone(), Reading::from_telegram(telegram))
                }
                other => panic!("{}: not one valid telegram: {other:?}", m.variant().id),
            }
        })
        .collect()
}
