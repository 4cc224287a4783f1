//! The dongle's configuration.

use crate::fault::FaultModel;
use calendar::SignedDuration;
use p1::smarty::Keys;
use std::fmt;

/// How a dongle behaves. [`Config::new`] gives the defaults; [`crate::Dongle::new`] raises
/// values below their minimum (capacities and batch limits to 1, `backoff_min` and
/// `transmit_timeout` to 1 ms, `backoff_max` to `backoff_min`, `send_interval` to zero).
#[derive(Clone)]
pub struct Config {
    /// The dongle id the platform knows it by.
    pub id: String,
    /// The HMAC-SHA256 key its uploads are signed with.
    pub key: Vec<u8>,
    /// Uploads kept while they cannot be sent (in flight not included). When full, the oldest
    /// is dropped and counted in [`crate::Stats::dropped`]. Default 86,400: a day at 1 Hz.
    pub buffer_capacity: usize,
    /// Uploads per transmit at most. Default 100.
    pub batch_max: usize,
    /// Upper bound of a batch's JSON body, bytes (estimated from above, so a batch is never
    /// refused as too large). Default [`wire::ingest::v1::MAX_BODY`]. A batch always carries
    /// at least one upload.
    pub batch_max_bytes: usize,
    /// How often it transmits when healthy. A full batch goes at once; a partial one waits
    /// until this long after the previous transmit. Default 1 s: each telegram is sent as it
    /// arrives at 1 Hz.
    pub send_interval: SignedDuration,
    /// Backoff after the first failure. Default 1 s.
    pub backoff_min: SignedDuration,
    /// Backoff never exceeds this. Default 5 min.
    pub backoff_max: SignedDuration,
    /// A transmit with no result after this long has failed. Default 30 s.
    pub transmit_timeout: SignedDuration,
    /// Keys for Smarty encrypted frames; without them such frames are counted as malformed.
    pub smarty_keys: Option<Keys>,
    /// Whether the buffer lives in flash and survives [`crate::Dongle::reset`]. Default
    /// `false`: RAM, so a reset loses it (counted as dropped).
    pub flash_backed: bool,
    /// The persistent sequence counter at power-on: the next upload's number. Default 0.
    /// A dongle that replaces a simulated one carries on from where that one stopped.
    pub first_seq: u64,
    /// Seeded field failures. Default none.
    pub faults: FaultModel,
    /// The seed of every random draw (fault windows, backoff jitter).
    pub seed: u64,
}

impl Config {
    /// The defaults, with this id and key.
    pub fn new(id: impl Into<String>, key: impl Into<Vec<u8>>) -> Config {
        Config {
            id: id.into(),
            key: key.into(),
            buffer_capacity: 86_400,
            batch_max: 100,
            batch_max_bytes: wire::ingest::v1::MAX_BODY,
            send_interval: SignedDuration::from_secs(1),
            backoff_min: SignedDuration::from_secs(1),
            backoff_max: SignedDuration::from_secs(300),
            transmit_timeout: SignedDuration::from_secs(30),
            smarty_keys: None,
            flash_backed: false,
            first_seq: 0,
            faults: FaultModel::none(),
            seed: 0,
        }
    }

    /// Raises every value to its minimum (see the type's documentation).
    pub(crate) fn normalised(mut self) -> Config {
        let ms = SignedDuration::from_millis(1);
        self.buffer_capacity = self.buffer_capacity.max(1);
        self.batch_max = self.batch_max.max(1);
        self.batch_max_bytes = self.batch_max_bytes.max(1);
        self.send_interval = self.send_interval.max(SignedDuration::ZERO);
        self.backoff_min = self.backoff_min.max(ms);
        self.backoff_max = self.backoff_max.max(self.backoff_min);
        self.transmit_timeout = self.transmit_timeout.max(ms);
        self
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The HMAC key stays out of logs.
        f.debug_struct("Config")
            .field("id", &self.id)
            .field("key", &format_args!("[{} bytes]", self.key.len()))
            .field("buffer_capacity", &self.buffer_capacity)
            .field("batch_max", &self.batch_max)
            .field("batch_max_bytes", &self.batch_max_bytes)
            .field("send_interval", &self.send_interval)
            .field("backoff_min", &self.backoff_min)
            .field("backoff_max", &self.backoff_max)
            .field("transmit_timeout", &self.transmit_timeout)
            .field("smarty_keys", &self.smarty_keys)
            .field("flash_backed", &self.flash_backed)
            .field("first_seq", &self.first_seq)
            .field("faults", &format_args!("{}", self.faults))
            .field("seed", &self.seed)
            .finish()
    }
}
