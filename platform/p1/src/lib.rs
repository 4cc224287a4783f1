//! P1 customer-port telegrams for Belgian (e-MUCS P1), Dutch (DSMR) and Luxembourg (Smarty)
//! smart meters: a model, an encoder, an incremental decoder, the CRC and Smarty's AES-GCM frames.
//!
//! The crate knows nothing of meterlab; it is the protocol layer that the simulated meters, the
//! dongles and the platform share. It does no I/O and never reads the clock.
//!
//! - [`Telegram`] is the wire model: header, [`Line`]s of typed [`Value`]s, CRC or not. It keeps
//!   the wire formats, so `Telegram::decode(bytes)?.encode() == bytes` for every valid telegram.
//! - [`Reading`] is the meaning (registers, powers, phases, peaks, M-Bus devices), and
//!   [`Dialect::build`] writes it as one country's telegram.
//! - [`Decoder`] takes bytes in any chunking and yields [`Frame`]s: `Ok`, `CorruptCrc`,
//!   `Truncated`, `Malformed`. Bad input is an observation to count, never an error or a panic.
//! - [`validate`] holds a decoded telegram to the specs' value formats (digits, units, dates),
//!   which decoding leaves lenient so that odd meters can still be read.
//!
//! Invariant: no input makes any function here panic, loop without consuming, or hold more
//! than the decoder's `max_len` bytes.
#![deny(missing_docs)]

mod codec;
mod crc;
mod decoder;
mod model;
mod reading;
pub mod smarty;
mod validate;

pub use codec::{DecodeError, Malformed};
pub use crc::{Crc16, crc16};
pub use decoder::{DEFAULT_MAX_LEN, Decoder, Frame, Stats};
pub use model::{Line, MAX_NUM_DIGITS, Num, Obis, Season, Telegram, Tst, Unit, Value, Values};
pub use reading::{
    Demand, Dialect, HistoryEntry, MbusDevice, Medium, Peak, Phase, PowerFailure, Reactive,
    Reading, hex_ascii, obis, unhex_ascii,
};
pub use validate::{Violation, validate};
