//! One meter, the cable on its P1 port and the dongle that reads it: the unit every driver
//! steps (the rig's tasks on a clock, the `Lab` second by second, accelerated runs).

use crate::{DongleCommand, Tap};
use clock::Timestamp;
use std::sync::Arc;

/// A meter with what is plugged into it. Sans-IO like its parts: it moves only when stepped,
/// at the `now` it is given, so the same steps give the same bytes on any clock.
pub struct Station {
    name: String,
    meter: meter::Meter,
    /// The P1 cable to the dongle: every byte the dongle reads came down it.
    cable: serial::Cable,
    dongle: Option<dongle::Dongle>,
    /// The meter's other outputs (pty, TCP port, device): its own bytes, fire and forget.
    sinks: Vec<serial::FrameSink>,
    tap: Option<Arc<dyn Tap>>,
    /// Whether the meter's port carries telegrams (a rig outside its slot is dark; its
    /// registers still move).
    live: bool,
    telegrams: u64,
}

/// What one step did.
#[derive(Debug, Default)]
pub struct Step {
    /// Whether the meter emitted a telegram.
    pub telegram: bool,
    /// Batches the dongle hands to its uplink now; answer each with
    /// [`Station::on_transmit_result`].
    pub transmits: Vec<dongle::Transmit>,
}

impl Station {
    /// A live station: `meter` on a cable paced at `baud` (8N1; `None` delivers at once), with
    /// the dongle on its port, if any.
    pub fn new(
        name: impl Into<String>,
        meter: meter::Meter,
        dongle: Option<dongle::Dongle>,
        baud: Option<u32>,
    ) -> Station {
        Station {
            name: name.into(),
            meter,
            cable: serial::Cable::new(baud),
            dongle,
            sinks: Vec::new(),
            tap: None,
            live: true,
            telegrams: 0,
        }
    }

    /// Also writes every telegram to `sink` (a pty, a TCP port, a device).
    pub fn with_sink(mut self, sink: serial::FrameSink) -> Station {
        self.sinks.push(sink);
        self
    }

    /// Lets `tap` watch the station and pass the dongle commands.
    pub fn with_tap(mut self, tap: Arc<dyn Tap>) -> Station {
        self.tap = Some(tap);
        self
    }

    /// Its name on the rig.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The meter.
    pub fn meter(&self) -> &meter::Meter {
        &self.meter
    }

    /// The dongle, if one is plugged in.
    pub fn dongle(&self) -> Option<&dongle::Dongle> {
        self.dongle.as_ref()
    }

    /// Telegrams the meter emitted on this station.
    pub fn telegrams(&self) -> u64 {
        self.telegrams
    }

    /// Whether the port carries telegrams.
    pub fn live(&self) -> bool {
        self.live
    }

    /// Lights or darkens the port (a slot starts or ends).
    pub fn set_live(&mut self, live: bool) {
        self.live = live;
    }

    /// The earliest instant a step does something: the meter's next telegram, the frame on
    /// the cable being through, or the dongle's next send, timeout or backoff end.
    pub fn next_deadline(&self) -> Timestamp {
        let mut due = self.meter.next_deadline();
        for t in [self.cable.next_deadline(), self.dongle.as_ref().and_then(|d| d.next_deadline())]
            .into_iter()
            .flatten()
        {
            due = due.min(t);
        }
        due
    }

    /// Moves the station to `now`: the tap's command reaches the dongle, the meter emits what
    /// is due (on every line, and down the cable, with the tap's noise on the cable only),
    /// the dongle reads what the cable delivered, and hands out what it has to send.
    pub fn step(&mut self, now: Timestamp) -> Step {
        let mut step = Step::default();
        if let Some(command) = self.tap.as_ref().and_then(|t| t.command()) {
            self.command(now, command);
        }
        if !self.live {
            self.meter.advance(now);
        } else if let Some(bytes) = self.meter.tick(now) {
            self.telegrams += 1;
            step.telegram = true;
            let noisy = self.tap.as_ref().and_then(|t| t.telegram(now, &bytes));
            self.cable.write(now, noisy.as_deref().unwrap_or(&bytes));
            for s in &self.sinks {
                s.send(bytes.clone());
            }
        }
        let mut read = Vec::new();
        self.cable.read(now, &mut read);
        if let Some(d) = &mut self.dongle {
            if !read.is_empty() {
                d.on_serial_bytes(now, &read);
            }
            while let Some(tx) = d.poll_transmit(now) {
                step.transmits.push(tx);
            }
            if let Some(t) = &self.tap {
                t.dongle(now, &d.stats());
            }
        }
        step
    }

    /// Moves the meter's registers to `now` without a telegram and without stepping the
    /// dongle (a lab that starts later than its clock).
    pub fn skip_to(&mut self, now: Timestamp) {
        self.meter.advance(now);
    }

    /// The uplink's answer to a transmit.
    pub fn on_transmit_result(
        &mut self,
        now: Timestamp,
        id: u64,
        outcome: dongle::TransmitOutcome,
    ) {
        if let Some(d) = &mut self.dongle {
            d.on_transmit_result(now, id, outcome);
        }
    }

    /// A fault or a power cycle of the dongle: the one way in for the lab, its API, the
    /// console and the Gherkin steps.
    pub fn command(&mut self, now: Timestamp, command: DongleCommand) {
        let Some(d) = &mut self.dongle else { return };
        match command {
            DongleCommand::Inject(fault) => d.inject(now, fault),
            DongleCommand::Reset => d.reset(now),
        }
    }

    /// On a clean stop: the dongle's buffer, a batch at a time, past any send interval or
    /// backoff, with the instant it was taken at. Answer each with
    /// [`Station::on_transmit_result`] at that instant before asking for the next; `None`
    /// when nothing is left.
    pub fn drain(&mut self, now: Timestamp) -> Option<(Timestamp, dongle::Transmit)> {
        let d = self.dongle.as_mut()?;
        let at = d.next_deadline().map_or(now, |t| t.max(now));
        d.poll_transmit(at).map(|tx| (at, tx))
    }
}

/// Why a station could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The meter model refused the variant (an AMR meter has no P1 port).
    #[error(transparent)]
    Meter(#[from] meter::MeterError),
    /// The variant's Smarty key is unusable for its dongle.
    #[error("variant {variant}: its Smarty key cannot be used by the dongle: {why}")]
    Key {
        /// The variant.
        variant: String,
        /// Why.
        why: p1::smarty::SmartyError,
    },
}

/// The dongle for a meter of `variant`: its id, HMAC key and seed, and the variant's Smarty
/// key when its frames are encrypted (the dongle decrypts, as real ones do).
pub fn dongle_config(
    id: impl Into<String>,
    key: Vec<u8>,
    seed: u64,
    variant: &meter::Variant,
) -> Result<dongle::Config, SetupError> {
    let mut config = dongle::Config::new(id.into(), key);
    config.seed = seed;
    if let Some(k) = &variant.encryption_key {
        let keys = p1::smarty::Keys::from_hex(k)
            .map_err(|why| SetupError::Key { variant: variant.id.clone(), why })?;
        config.smarty_keys = Some(keys);
    }
    Ok(config)
}

impl Station {
    /// The one way the lab sets a meter up: `variant` with `profile` and `seed`, its port
    /// open from `start`, and on its port the dongle `dongle` (if any: an id and its HMAC
    /// key), seeded alike. `paced`: the cable runs at the variant's baud rate (real-time
    /// rigs); otherwise bytes reach the dongle at once (second-by-second and accelerated
    /// runs).
    pub fn build(
        name: impl Into<String>,
        variant: &meter::Variant,
        profile: &profiles::ProfileSpec,
        seed: u64,
        start: Timestamp,
        dongle: Option<(String, Vec<u8>)>,
        paced: bool,
    ) -> Result<Station, SetupError> {
        let mut meter = meter::Meter::new(variant, profile, seed, start)?;
        meter.open_port();
        let dongle = match dongle {
            Some((id, key)) => {
                Some(dongle::Dongle::new(dongle_config(id, key, seed, variant)?, start))
            }
            None => None,
        };
        Ok(Station::new(name, meter, dongle, paced.then_some(variant.baud)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clock::SignedDuration;

    fn station(variant: &str, paced: bool) -> (Station, Timestamp) {
        let start = Timestamp::from_second(1_790_000_000).unwrap();
        let v = meter::Catalogue::builtin().get(variant).unwrap().clone();
        let dongle = Some(("d1".to_owned(), vec![7u8; 32]));
        let profile = "household".parse().unwrap();
        (Station::build("meter-01", &v, &profile, 1, start, dongle, paced).unwrap(), start)
    }

    /// Steps from deadline to deadline until `end`, acknowledging every transmit.
    fn run(st: &mut Station, end: Timestamp) -> Vec<Timestamp> {
        let mut sent = Vec::new();
        loop {
            let now = st.next_deadline();
            if now >= end {
                return sent;
            }
            for tx in st.step(now).transmits {
                sent.push(now);
                st.on_transmit_result(now, tx.id, tx.all_stored());
            }
        }
    }

    #[test]
    fn a_paced_cable_delivers_the_telegram_when_its_last_byte_is_through() {
        let (mut st, start) = station("fluvius-t211-1.7.1", true);
        let step = st.step(start);
        assert!(step.telegram);
        assert!(step.transmits.is_empty(), "the dongle has read nothing yet");
        let through = st.next_deadline();
        let took = through.duration_since(start);
        // About 1 kB at 115200 baud (11,520 bytes/s): roughly 90 ms.
        assert!(took > SignedDuration::from_millis(50), "{took:?}");
        assert!(took < SignedDuration::from_millis(200), "{took:?}");
        let step = st.step(through);
        assert!(!step.telegram);
        assert_eq!(step.transmits.len(), 1, "read whole, uploaded");
        assert_eq!(st.dongle().unwrap().stats().telegrams, 1);
    }

    #[test]
    fn stepping_by_deadlines_uploads_every_telegram_once_and_the_same_each_run() {
        for variant in ["fluvius-t211-1.7.1", "sagemcom-smarty", "iskra-am550-dsmr-5.0.2"] {
            let (mut a, start) = station(variant, true);
            let end = start + SignedDuration::from_secs(120);
            let sent = run(&mut a, end);
            let s = a.dongle().unwrap().stats();
            assert_eq!(s.telegrams, a.telegrams(), "{variant}: every telegram read: {s:?}");
            assert_eq!(s.crc_errors + s.malformed, 0, "{variant}: {s:?}");
            assert!(s.acknowledged + s.buffered >= a.telegrams(), "{variant}: {s:?}");
            let (mut b, _) = station(variant, true);
            assert_eq!(run(&mut b, end), sent, "{variant}: the same steps each run");
        }
    }

    #[test]
    fn a_dark_port_moves_the_registers_but_sends_nothing() {
        let (mut st, start) = station("fluvius-t211-1.7.1", false);
        st.set_live(false);
        let end = start + SignedDuration::from_secs(30);
        let mut t = start;
        while t < end {
            assert!(!st.step(t).telegram);
            t += SignedDuration::from_secs(1);
        }
        assert_eq!(st.telegrams(), 0);
        st.set_live(true);
        assert!(st.step(end).telegram, "the next telegram on the meter's own cadence");
    }

    #[test]
    fn commands_reach_the_dongle() {
        let (mut st, start) = station("fluvius-t211-1.7.1", false);
        let until = start + SignedDuration::from_secs(60);
        st.command(start, DongleCommand::Inject(dongle::Fault::LinkDown { until }));
        let step = st.step(start);
        assert!(step.telegram && step.transmits.is_empty(), "the link is down");
        st.command(start, DongleCommand::Inject(dongle::Fault::LinkUp));
        assert_eq!(st.step(start).transmits.len(), 1);
        st.command(start, DongleCommand::Reset);
        assert_eq!(st.dongle().unwrap().stats().resets, 1);
    }
}
