//! The rig driver: the one loop that moves meters and dongles. Each [`Station`] (a meter,
//! the P1 cable on its port, the dongle reading it) is stepped from one deadline to the next
//! on a `Clock`; its telegrams also go out on serial lines (ptys, TCP ports, devices), and the
//! dongle's batches reach the platform through an [`Uplink`] (REST or MQTT). The `Lab` and
//! accelerated runs step the same stations.
//!
//! The models (`meter`, `dongle`) are sans-IO; this crate owns the clock, the lines and the
//! sockets. A slow reader or an unreachable platform never blocks a meter: lines drop what
//! nobody takes, and dongles buffer (and back off) while the uplink fails.

mod station;
mod uplink;

pub use station::{SetupError, Station, Step, dongle_config};
pub use uplink::{HeadEnd, HttpUplink, MqttUplink, Uplink, UplinkError, UplinkFuture};

use clock::{Clock, SignedDuration, Timestamp};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// One station of a rig and where its output goes.
pub struct MeterSetup {
    /// The meter with its dongle (see [`Station::build`]).
    pub station: Station,
    /// A pty (with an optional stable symlink) for external readers.
    pub pty: Option<Option<PathBuf>>,
    /// A TCP port (0 picks one) for external readers.
    pub tcp: Option<u16>,
    /// How the dongle's batches reach the platform (none: they are dropped unsent, and the
    /// dongle buffers them).
    pub uplink: Option<Arc<dyn Uplink>>,
}

/// What a [`Tap`] asks of a meter's dongle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DongleCommand {
    /// A fault of the dongle model ([`dongle::Dongle::inject`]): the firmware hangs, the link
    /// goes down, the clock jumps.
    Inject(dongle::Fault),
    /// A power cycle ([`dongle::Dongle::reset`]).
    Reset,
}

/// A window on one running meter for whoever drives the rig (the lab API behind the console):
/// the meter's telegrams, its dongle's counters, and a way in for fault injection. The
/// methods run on the meter's task, once per step: they must return quickly.
pub trait Tap: Send + Sync {
    /// A telegram the meter emitted at `now`. `Some(bytes)` puts these bytes on the dongle's
    /// cable instead (noise on the P1 cable); the serial lines always carry the meter's own.
    fn telegram(&self, now: Timestamp, bytes: &[u8]) -> Option<Vec<u8>>;
    /// The dongle's counters, after each step.
    fn dongle(&self, now: Timestamp, stats: &dongle::Stats);
    /// A command waiting for the dongle, taken once; looked at on each step (so it lands
    /// within one telegram interval).
    fn command(&self) -> Option<DongleCommand>;
}

/// What a running meter exposes.
#[derive(Debug, Clone)]
pub struct MeterEndpoint {
    /// Its name.
    pub name: String,
    /// Its variant.
    pub variant: String,
    /// The pty device path.
    pub pty: Option<PathBuf>,
    /// The stable symlink to it.
    pub link: Option<PathBuf>,
    /// The TCP address.
    pub tcp: Option<std::net::SocketAddr>,
}

/// Counters of a running rig.
#[derive(Debug, Default)]
pub struct RigStats {
    /// Telegrams the meters emitted.
    pub telegrams: AtomicU64,
    /// Batches the dongles sent.
    pub transmits: AtomicU64,
    /// Batches that failed (and will be retried by the dongle).
    pub failed: AtomicU64,
}

/// A rig serving its meters until stopped.
pub struct RunningRig {
    /// Each meter's endpoints.
    pub endpoints: Vec<MeterEndpoint>,
    /// Counters.
    pub stats: Arc<RigStats>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl RunningRig {
    /// Stops every meter (the hard stop at slot end): lines close, dongle sessions end.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Why a rig could not start.
#[derive(Debug, thiserror::Error)]
pub enum RigError {
    /// A line could not be opened.
    #[error(transparent)]
    Serial(#[from] serial::SerialError),
}

/// Starts serving stations on `clock` (system time, or a simulated clock at ×N). Each steps
/// on its own deadlines until `until` (if any) or [`RunningRig::stop`]. `paced`: the ptys
/// write at the meter's baud rate (a pty ignores it otherwise).
pub async fn serve(
    setups: Vec<MeterSetup>,
    clock: Arc<dyn Clock>,
    until: Option<Timestamp>,
    paced: bool,
) -> Result<RunningRig, RigError> {
    let stats = Arc::new(RigStats::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut endpoints = Vec::new();
    let mut tasks = Vec::new();
    for m in setups {
        let mut station = m.station;
        let variant = station.meter().variant();
        let baud = (paced && variant.baud > 0).then_some(variant.baud);
        let mut ep = MeterEndpoint {
            name: station.name().to_owned(),
            variant: variant.id.clone(),
            pty: None,
            link: None,
            tcp: None,
        };
        let mut keep: Vec<Box<dyn std::any::Any + Send>> = Vec::new();
        if let Some(link) = &m.pty {
            let pty = serial::Pty::open(link.as_deref(), baud)?;
            ep.pty = Some(pty.path().to_path_buf());
            ep.link = pty.link().map(|l| l.to_path_buf());
            station = station.with_sink(pty.sink());
            keep.push(Box::new(pty));
        }
        if let Some(port) = m.tcp {
            let tcp =
                serial::TcpFanout::bind(std::net::SocketAddr::from(([127, 0, 0, 1], port))).await?;
            ep.tcp = Some(tcp.local_addr());
            station = station.with_sink(tcp.sink());
            keep.push(Box::new(tcp));
        }
        endpoints.push(ep);
        let task = run_station(
            station,
            m.uplink,
            keep,
            clock.clone(),
            until,
            stats.clone(),
            stopped.clone(),
        );
        tasks.push(tokio::spawn(task));
    }
    Ok(RunningRig { endpoints, stats, tasks, stop })
}

/// One station on the clock: sleep to its next deadline, step, hand the transmits to the
/// uplink (each on a task of its own: a slow platform never holds the meter back), and feed
/// the answers back as they come.
async fn run_station(
    mut station: Station,
    uplink: Option<Arc<dyn Uplink>>,
    _keep: Vec<Box<dyn std::any::Any + Send>>,
    clock: Arc<dyn Clock>,
    until: Option<Timestamp>,
    stats: Arc<RigStats>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let (results_tx, mut results_rx) = tokio::sync::mpsc::unbounded_channel();
    loop {
        let due = station.next_deadline();
        if until.is_some_and(|u| due >= u) {
            break;
        }
        tokio::select! {
            _ = clock.sleep_until(due) => {}
            r = results_rx.recv() => {
                if let Some((id, outcome)) = r {
                    station.on_transmit_result(clock.now(), id, outcome);
                }
                continue;
            }
            _ = stopped.changed() => {
                if let Some(uplink) = &uplink {
                    flush(&mut station, uplink.as_ref(), clock.as_ref()).await;
                }
                break;
            }
        }
        // A late wake-up (a loaded machine under an accelerated clock) may land past the hard
        // stop: nothing happens at or after it, not even the step that was due before it.
        let now = clock.now().max(due);
        if until.is_some_and(|u| now >= u) {
            break;
        }
        let step = station.step(now);
        if step.telegram {
            stats.telegrams.fetch_add(1, Ordering::Relaxed);
        }
        let Some(uplink) = &uplink else { continue };
        for tx in step.transmits {
            stats.transmits.fetch_add(1, Ordering::Relaxed);
            let (uplink, results, stats) = (uplink.clone(), results_tx.clone(), stats.clone());
            tokio::spawn(async move {
                let outcome = dongle::TransmitOutcome::of(uplink.send(&tx.uploads).await);
                if outcome == dongle::TransmitOutcome::Failed {
                    stats.failed.fetch_add(1, Ordering::Relaxed);
                }
                let _ = results.send((tx.id, outcome));
            });
        }
    }
}

/// On a clean stop, hands what the dongle still buffers to the uplink (for a few seconds at
/// most), so a shutdown loses nothing that the platform could still take.
async fn flush(station: &mut Station, uplink: &dyn Uplink, clock: &dyn Clock) {
    // A real-time bound: a stop must not hang on a platform that does not answer, whatever
    // the lab's clock does.
    let waited = clock::Stopwatch::start();
    while !waited.passed(std::time::Duration::from_secs(5)) {
        let Some((now, tx)) = station.drain(clock.now()) else { break };
        let outcome = dongle::TransmitOutcome::of(uplink.send(&tx.uploads).await);
        let failed = outcome == dongle::TransmitOutcome::Failed;
        station.on_transmit_result(now, tx.id, outcome);
        if failed {
            break;
        }
    }
}

/// Runs stations second by second for `duration` of simulated time, as fast as the CPU
/// allows; uploads go to `sink` (return `true` to acknowledge them all, `false` to fail the
/// transmit). Returns (telegrams, uploads acknowledged).
pub fn run_accelerated(
    stations: &mut [Station],
    start: Timestamp,
    duration: SignedDuration,
    mut sink: impl FnMut(&[wire::ingest::v1::Upload]) -> bool,
) -> (u64, u64) {
    let end = start + duration;
    let (mut telegrams, mut acked) = (0u64, 0u64);
    // Second by second for every station: the same order each run, so the same bytes.
    let mut t = start;
    while t < end {
        for st in stations.iter_mut() {
            if st.next_deadline() > t {
                continue;
            }
            let step = st.step(t);
            telegrams += u64::from(step.telegram);
            for tx in step.transmits {
                let outcome = if sink(&tx.uploads) {
                    acked += tx.uploads.len() as u64;
                    tx.all_stored()
                } else {
                    dongle::TransmitOutcome::Failed
                };
                st.on_transmit_result(t, tx.id, outcome);
            }
        }
        t += SignedDuration::from_secs(1);
    }
    (telegrams, acked)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::AtomicBool;
    use wire::ingest::v1::{Receipt, Upload};

    /// An uplink that stores everything.
    struct Accept;

    impl Uplink for Accept {
        fn send<'a>(&'a self, uploads: &'a [Upload]) -> UplinkFuture<'a> {
            Box::pin(async move {
                Ok(Receipt {
                    stored: uploads.iter().map(|u| u.seq).collect(),
                    ..Receipt::default()
                })
            })
        }
    }

    /// Flips a digit of every telegram, hangs the dongle once, records what it saw.
    #[derive(Default)]
    struct Noisy {
        telegrams: AtomicU64,
        hang_sent: AtomicBool,
        last: Mutex<Option<dongle::Stats>>,
    }

    impl Tap for Noisy {
        fn telegram(&self, _: Timestamp, bytes: &[u8]) -> Option<Vec<u8>> {
            self.telegrams.fetch_add(1, Ordering::Relaxed);
            let mut b = bytes.to_vec();
            // A digit of the body, not of the CRC: the CRC no longer matches.
            let body_end = b.iter().rposition(|&c| c == b'!')?;
            let i = b[..body_end].iter().rposition(u8::is_ascii_digit)?;
            b[i] ^= 1;
            Some(b)
        }

        fn dongle(&self, _: Timestamp, stats: &dongle::Stats) {
            *self.last.lock().unwrap() = Some(*stats);
        }

        fn command(&self) -> Option<DongleCommand> {
            let seen = self.telegrams.load(Ordering::Relaxed);
            (seen >= 20 && !self.hang_sent.swap(true, Ordering::Relaxed))
                .then_some(DongleCommand::Inject(dongle::Fault::Hang))
        }
    }

    #[tokio::test]
    async fn a_tap_sees_every_telegram_and_can_corrupt_the_dongles_input_and_hang_it() {
        let start = Timestamp::from_second(1_790_000_000).unwrap();
        let clock = Arc::new(clock::SimClock::accelerated(start, 200.0).unwrap());
        let catalogue = meter::Catalogue::builtin();
        let v = catalogue.all().iter().find(|v| v.baud > 0 && v.interval_s == 1).unwrap();
        let mut m = meter::Meter::new(v, &"household".parse().unwrap(), 1, start).unwrap();
        m.open_port();
        let d = dongle::Dongle::new(dongle::Config::new("d1", vec![7u8; 32]), start);
        let tap = Arc::new(Noisy::default());
        let setup = MeterSetup {
            station: Station::new("meter-01", m, Some(d), Some(v.baud)).with_tap(tap.clone()),
            pty: None,
            tcp: None,
            uplink: Some(Arc::new(Accept)),
        };
        let until = start + SignedDuration::from_secs(60);
        let rig = serve(vec![setup], clock, Some(until), false).await.unwrap();
        // 60 s of lab time at ×200.
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        rig.stop().await;
        let seen = tap.telegrams.load(Ordering::Relaxed);
        assert!(seen >= 50, "telegrams seen: {seen}");
        let stats = tap.last.lock().unwrap().unwrap();
        assert_eq!(stats.crc_errors, stats.telegrams, "every telegram was corrupted: {stats:?}");
        assert!(stats.telegrams >= 50);
        assert_eq!(stats.state, dongle::State::Hung, "{stats:?}");
        assert_eq!(stats.hangs, 1);
    }
}
