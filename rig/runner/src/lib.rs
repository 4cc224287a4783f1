//! The rig driver: runs meters on a clock, puts their telegrams on serial lines (ptys, TCP
//! ports, devices), feeds the same bytes to simulated dongles, and carries the dongles'
//! uploads to the platform through an [`Uplink`] (REST or MQTT).
//!
//! The models (`meter`, `dongle`) are sans-IO; this crate owns the clock, the lines and the
//! sockets. A slow reader or an unreachable platform never blocks a meter: lines drop what
//! nobody takes, and dongles buffer (and back off) while the uplink fails.

mod uplink;

pub use uplink::{HeadEnd, HttpUplink, MqttUplink, Uplink, UplinkError, UplinkFuture};

use clock::{Clock, SignedDuration, Timestamp};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// One meter of a rig and where its output goes.
pub struct MeterSetup {
    /// A stable name on the rig (`meter-03`).
    pub name: String,
    /// The meter model, port already opened or not (R-LAB-6).
    pub meter: meter::Meter,
    /// A pty (with an optional stable symlink) for external readers.
    pub pty: Option<Option<PathBuf>>,
    /// A TCP port (0 picks one) for external readers.
    pub tcp: Option<u16>,
    /// The simulated dongle on this meter's P1 port, and its uplink.
    pub dongle: Option<(dongle::Dongle, Arc<dyn Uplink>)>,
    /// Someone watching this meter and its dongle (the lab's console), if anyone.
    pub tap: Option<Arc<dyn Tap>>,
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
/// methods run on the meter's task, once per telegram or tick: they must return quickly.
pub trait Tap: Send + Sync {
    /// A telegram the meter emitted at `now`. `Some(bytes)` hands the dongle these bytes
    /// instead (noise on the P1 cable); the serial lines always carry the meter's own bytes.
    fn telegram(&self, now: Timestamp, bytes: &[u8]) -> Option<Vec<u8>>;
    /// The dongle's counters, after each tick of the meter.
    fn dongle(&self, now: Timestamp, stats: &dongle::Stats);
    /// A command waiting for the dongle, taken once; looked at on each tick of the meter (so
    /// it lands within one telegram interval).
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

/// Starts serving meters on `clock` (system time, or a simulated clock at ×N). Each meter
/// sends on its own cadence until `until` (if any) or [`RunningRig::stop`].
pub async fn serve(
    meters: Vec<MeterSetup>,
    clock: Arc<dyn Clock>,
    until: Option<Timestamp>,
    paced: bool,
) -> Result<RunningRig, RigError> {
    let stats = Arc::new(RigStats::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut endpoints = Vec::new();
    let mut tasks = Vec::new();
    for m in meters {
        let baud = (paced && m.meter.variant().baud > 0).then_some(m.meter.variant().baud);
        let mut sinks = Vec::new();
        let mut ep = MeterEndpoint {
            name: m.name.clone(),
            variant: m.meter.variant().id.clone(),
            pty: None,
            link: None,
            tcp: None,
        };
        let mut keep: Vec<Box<dyn std::any::Any + Send>> = Vec::new();
        if let Some(link) = &m.pty {
            let pty = serial::Pty::open(link.as_deref(), baud)?;
            ep.pty = Some(pty.path().to_path_buf());
            ep.link = pty.link().map(|l| l.to_path_buf());
            sinks.push(pty.sink());
            keep.push(Box::new(pty));
        }
        if let Some(port) = m.tcp {
            let tcp =
                serial::TcpFanout::bind(std::net::SocketAddr::from(([127, 0, 0, 1], port))).await?;
            ep.tcp = Some(tcp.local_addr());
            sinks.push(tcp.sink());
            keep.push(Box::new(tcp));
        }
        endpoints.push(ep);
        let task = run_meter(
            m.meter,
            m.dongle,
            m.tap,
            sinks,
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

#[allow(clippy::too_many_arguments)]
async fn run_meter(
    mut meter: meter::Meter,
    mut dongle: Option<(dongle::Dongle, Arc<dyn Uplink>)>,
    tap: Option<Arc<dyn Tap>>,
    sinks: Vec<serial::FrameSink>,
    _keep: Vec<Box<dyn std::any::Any + Send>>,
    clock: Arc<dyn Clock>,
    until: Option<Timestamp>,
    stats: Arc<RigStats>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let (results_tx, mut results_rx) = tokio::sync::mpsc::unbounded_channel();
    loop {
        let mut due = meter.next_deadline();
        if let Some(t) = dongle.as_ref().and_then(|(d, _)| d.next_deadline()) {
            due = due.min(t);
        }
        if until.is_some_and(|u| due >= u) {
            break;
        }
        tokio::select! {
            _ = clock.sleep_until(due) => {}
            r = results_rx.recv() => {
                if let (Some((id, outcome)), Some((d, _))) = (r, &mut dongle) {
                    d.on_transmit_result(clock.now(), id, outcome);
                }
                continue;
            }
            _ = stopped.changed() => {
                flush(&mut dongle, clock.as_ref()).await;
                break;
            }
        }
        let now = clock.now().max(due);
        if let (Some(t), Some((d, _))) = (&tap, &mut dongle) {
            match t.command() {
                Some(DongleCommand::Inject(fault)) => d.inject(now, fault),
                Some(DongleCommand::Reset) => d.reset(now),
                None => {}
            }
        }
        if let Some(bytes) = meter.tick(now) {
            stats.telegrams.fetch_add(1, Ordering::Relaxed);
            let noisy = tap.as_ref().and_then(|t| t.telegram(now, &bytes));
            if let Some((d, _)) = &mut dongle {
                d.on_serial_bytes(now, noisy.as_deref().unwrap_or(&bytes));
            }
            for s in &sinks {
                s.send(bytes.clone());
            }
        }
        if let Some((d, uplink)) = &mut dongle {
            while let Some(tx) = d.poll_transmit(now) {
                stats.transmits.fetch_add(1, Ordering::Relaxed);
                let (uplink, results, stats) = (uplink.clone(), results_tx.clone(), stats.clone());
                tokio::spawn(async move {
                    let outcome = match uplink.send(&tx.uploads).await {
                        Ok(receipt) => dongle::TransmitOutcome::Ok(receipt),
                        Err(_) => {
                            stats.failed.fetch_add(1, Ordering::Relaxed);
                            dongle::TransmitOutcome::Failed
                        }
                    };
                    let _ = results.send((tx.id, outcome));
                });
            }
        }
        if let (Some(t), Some((d, _))) = (&tap, &dongle) {
            t.dongle(now, &d.stats());
        }
    }
}

/// On a clean stop, hands what the dongle still buffers to the uplink (for a few seconds at
/// most), so a shutdown loses nothing that the platform could still take.
async fn flush(dongle: &mut Option<(dongle::Dongle, Arc<dyn Uplink>)>, clock: &dyn Clock) {
    let Some((d, uplink)) = dongle else { return };
    // A real-time bound: a stop must not hang on a platform that does not answer, whatever
    // the lab's clock does.
    let waited = clock::Stopwatch::start();
    while !waited.passed(std::time::Duration::from_secs(5)) {
        // Past any send interval or backoff, so the buffer drains now.
        let now = d.next_deadline().map_or(clock.now(), |t| t.max(clock.now()));
        let Some(tx) = d.poll_transmit(now) else { break };
        let outcome = match uplink.send(&tx.uploads).await {
            Ok(receipt) => dongle::TransmitOutcome::Ok(receipt),
            Err(_) => dongle::TransmitOutcome::Failed,
        };
        let failed = matches!(outcome, dongle::TransmitOutcome::Failed);
        d.on_transmit_result(now, tx.id, outcome);
        if failed {
            break;
        }
    }
}

/// Runs meters and dongles through in-memory lines as fast as the CPU allows, for
/// `duration` of simulated time; uploads go to `sink` (return `true` to acknowledge).
/// Returns (telegrams, uploads acknowledged).
pub fn run_accelerated(
    meters: &mut [(meter::Meter, dongle::Dongle)],
    start: Timestamp,
    duration: SignedDuration,
    mut sink: impl FnMut(&[wire::ingest::v1::Upload]) -> bool,
) -> (u64, u64) {
    let end = start + duration;
    let (mut telegrams, mut acked) = (0u64, 0u64);
    // Second by second for every meter: the same order each run, so the same bytes.
    let mut t = start;
    while t < end {
        for (m, d) in meters.iter_mut() {
            if m.next_deadline() > t {
                continue;
            }
            if let Some(bytes) = m.tick(t) {
                telegrams += 1;
                d.on_serial_bytes(t, &bytes);
            }
            while let Some(tx) = d.poll_transmit(t) {
                let ok = sink(&tx.uploads);
                let n = tx.uploads.len() as u64;
                let outcome = if ok {
                    acked += n;
                    dongle::TransmitOutcome::Ok(wire::ingest::v1::Receipt {
                        stored: tx.uploads.iter().map(|u| u.seq).collect(),
                        ..Default::default()
                    })
                } else {
                    dongle::TransmitOutcome::Failed
                };
                d.on_transmit_result(t, tx.id, outcome);
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
            name: "meter-01".into(),
            meter: m,
            pty: None,
            tcp: None,
            dongle: Some((d, Arc::new(Accept))),
            tap: Some(tap.clone()),
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
