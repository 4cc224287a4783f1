//! The `Lab`: the platform, rigs of meters with their dongles, the booking ledger and a
//! simulated clock, wired in process. Gherkin steps (tests/gherkin) are thin calls on it.
//!
//! One `Lab` per scenario: each has its own clock, store (SQLite in memory) and seed, so
//! scenarios run side by side and the same seed gives the same run. Time moves only when a
//! step says so (`run_for`), second by second: the rig runner's stations step (meters tick,
//! their bytes go down the P1 cable, dongles read them and hand out batches), the batches go
//! in process to the platform's ingest pipeline (the same pipeline REST and MQTT feed), and
//! the ledger's events (slot start, hard stop at slot end) light and darken the stations.

use anyhow::{Context, Result, anyhow, bail};
use booking::{AgreementId, Ledger, Policy, Slot};
use clock::{Clock, SignedDuration, SimClock, Timestamp};
use server::{App, BrokerSpec, Config};
use std::collections::BTreeMap;
use std::sync::Arc;
use wire::ingest::v1::Batch;

/// The Gherkin suites on the `Lab`: world, steps, runner and reports (`meterlab test`).
pub mod suite;

/// A client of the platform's data-access API, simulated ESPs, and provisioning.
pub mod access;

/// The ESP certification campaign (`meterlab certify esp`).
pub mod campaign;

/// One meter of a rig, with the dongle on its P1 port.
pub struct LabMeter {
    /// `rig-a`.
    pub rig: String,
    /// Its variant id.
    pub variant: String,
    /// The dongle id (`rig-a/fluvius-t211-1.7.1`).
    pub dongle_id: String,
    /// The meter, its cable and its dongle, as the rig runner steps them; live while a slot
    /// holds the rig (or always, on an ephemeral rig).
    pub station: runner::Station,
}

/// The longest step of [`Lab::run_for`]: the platform's supervision judges silence and
/// staleness on its ticks, and ten seconds is the longest telegram interval of the catalogue,
/// so no tick comes later than a telegram would.
pub const MAX_STEP: SignedDuration = SignedDuration::from_secs(10);

/// `t` rounded up to a whole second.
fn ceil_second(t: Timestamp) -> Timestamp {
    let floor = Timestamp::from_second(t.as_second()).unwrap_or(t);
    if floor < t { floor + SignedDuration::from_secs(1) } else { floor }
}

/// The lab of one scenario.
pub struct Lab {
    /// The platform.
    pub app: App,
    clock: Arc<SimClock>,
    /// The booking ledger (the lab's, not the platform's).
    pub ledger: Ledger,
    /// Meters by position.
    pub meters: Vec<LabMeter>,
    codes: BTreeMap<u64, String>,
    seed: u64,
    /// The lab's client of the platform's registers, ESP and admin APIs, and its ESPs.
    pub access: access::AccessClient,
}

impl Lab {
    /// A lab whose clock starts at `start`, with no rigs attached yet.
    pub async fn new(start: Timestamp, seed: u64) -> Result<Lab> {
        let clock = Arc::new(SimClock::new(start));
        let app = App::start_with_clock(
            Config {
                listen: "127.0.0.1:0".parse()?,
                database: "sqlite::memory:".into(),
                mqtt: BrokerSpec::None,
                ..Config::default()
            },
            clock.clone(),
        )
        .await
        .context("starting the lab's platform")?;
        let catalogue = meter::Catalogue::builtin();
        let variants: Vec<(&str, &str)> =
            catalogue.all().iter().map(|v| (v.id.as_str(), v.firmware.as_str())).collect();
        let ledger = Ledger::new(Policy::default(), booking::default_rigs(&variants))
            .map_err(|e| anyhow!("{e}"))?;
        let access = access::AccessClient::new(&app.url(), &Config::default().admin_token);
        Ok(Lab { app, clock, ledger, meters: Vec::new(), codes: BTreeMap::new(), seed, access })
    }

    /// Simulated now.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Moves the clock to `t` without running meters (for scenarios that start later).
    pub fn jump_to(&mut self, t: Timestamp) -> Result<()> {
        self.clock.set(t).map_err(|e| anyhow!("{e}"))?;
        for m in &mut self.meters {
            m.station.skip_to(t);
        }
        Ok(())
    }

    /// Puts every P1 variant of `rig` on the lab with a registered dongle each. `live`: the
    /// lines carry telegrams at once (an ephemeral CI rig); otherwise only during a slot.
    pub async fn attach_rig(&mut self, rig: &str, live: bool) -> Result<()> {
        self.attach(rig, live, None).await
    }

    /// Puts one meter variant of `rig` on the lab (a cheaper lab for long runs).
    pub async fn attach_variant(&mut self, rig: &str, variant: &str, live: bool) -> Result<()> {
        self.attach(rig, live, Some(variant)).await?;
        if self.meter(variant).is_none() {
            bail!("{rig} has no P1 meter {variant}");
        }
        Ok(())
    }

    async fn attach(&mut self, rig: &str, live: bool, only: Option<&str>) -> Result<()> {
        let catalogue = meter::Catalogue::builtin();
        let now = self.now();
        let variants: Vec<String> = self
            .ledger
            .rig(rig)
            .ok_or_else(|| anyhow!("no rig {rig}"))?
            .variants
            .iter()
            .map(|v| v.variant_id.clone())
            .collect();
        for (i, id) in variants.iter().enumerate() {
            let v = catalogue.get(id)?;
            if v.baud == 0 || only.is_some_and(|o| o != v.id) {
                continue;
            }
            let seed = self.seed.wrapping_add(i as u64);
            let dongle_id = format!("{rig}/{}", v.id);
            let key = format!("lab-key-{dongle_id}-0123456789").into_bytes();
            self.app
                .ingest
                .register_dongle_every(
                    &dongle_id,
                    &key,
                    Some(&v.equipment_id),
                    SignedDuration::from_secs(i64::from(v.interval_s)),
                )
                .await?;
            let profile = "household:3500+pv:4".parse()?;
            let dongle = Some((dongle_id.clone(), key));
            // Unpaced: second by second, a telegram reaches the dongle in the second it is sent.
            let mut station =
                runner::Station::build(&dongle_id, v, &profile, seed, now, dongle, false)?;
            station.set_live(live);
            self.meters.push(LabMeter {
                rig: rig.into(),
                variant: v.id.clone(),
                dongle_id,
                station,
            });
        }
        Ok(())
    }

    /// Signs a usage agreement; returns its number (the code is kept by the lab).
    pub fn sign_agreement(&mut self, holder: &str) -> Result<u64> {
        let entropy = (self.seed ^ self.codes.len() as u64).to_le_bytes();
        let mut e = [0u8; 16];
        e[..8].copy_from_slice(&entropy);
        e[8..].copy_from_slice(&entropy);
        let (a, code) = self
            .ledger
            .sign_agreement(
                self.now(),
                holder,
                &format!("{}@example.test", holder.to_lowercase().replace(' ', ".")),
                e,
            )
            .map_err(|err| anyhow!("{err}"))?;
        self.codes.insert(a.id.0, code.as_str().to_owned());
        Ok(a.id.0)
    }

    /// Books a slot for an agreement; the error is the ledger's message.
    pub fn book(&mut self, agreement: u64, rig: &str, start: Timestamp) -> Result<Slot, String> {
        let code = self.codes.get(&agreement).cloned().unwrap_or_default();
        self.ledger
            .book(self.now(), AgreementId(agreement), &code, rig, start)
            .map_err(|e| e.to_string())
    }

    /// The lab operator gives a variant on a rig other firmware; the notices the ledger sends
    /// to every holder of a valid agreement (R-LAB-4).
    pub fn update_firmware(
        &mut self,
        rig: &str,
        variant: &str,
        firmware: &str,
    ) -> Result<Vec<booking::Notice>> {
        let mut variants =
            self.ledger.rig(rig).ok_or_else(|| anyhow!("no rig {rig}"))?.variants.clone();
        let v = variants
            .iter_mut()
            .find(|v| v.variant_id == variant)
            .ok_or_else(|| anyhow!("{rig} has no {variant}"))?;
        v.firmware = firmware.to_owned();
        self.ledger
            .update_rig(self.now(), "lab operator", rig, variants)
            .map_err(|e| anyhow!("{e}"))
    }

    /// Cuts a dongle's link for a while (Wi-Fi loss): the dongle's own fault, as the lab API
    /// and the console inject it.
    pub fn link_down(&mut self, variant: &str, duration: SignedDuration) {
        let (now, until) = (self.now(), self.now() + duration);
        let fault = runner::DongleCommand::Inject(dongle::Fault::LinkDown { until });
        for m in self.meters.iter_mut().filter(|m| m.variant == variant) {
            m.station.command(now, fault);
        }
    }

    /// Runs the lab for `duration`, from one deadline to the next: the earliest instant a
    /// station (meter, cable, dongle) or the booking ledger has something to do, in whole
    /// seconds, and at most [`MAX_STEP`] apart.
    pub async fn run_for(&mut self, duration: SignedDuration) -> Result<()> {
        let end = self.now() + duration;
        let mut t = self.now();
        while t < end {
            t = self.next_step(t, end);
            self.clock.set(t).map_err(|e| anyhow!("{e}"))?;
            for e in self.ledger.tick(t) {
                let live = matches!(e, booking::LedgerEvent::Activated { .. });
                let rig = match &e {
                    booking::LedgerEvent::Activated { rig, .. }
                    | booking::LedgerEvent::Ended { rig, .. } => rig.clone(),
                };
                // Slot start opens the rig's lines; the hard stop at its end releases them.
                for m in self.meters.iter_mut().filter(|m| m.rig == rig) {
                    m.station.set_live(live);
                }
            }
            let mut batches = Vec::new();
            for m in &mut self.meters {
                for tx in m.station.step(t).transmits {
                    batches.push((m.dongle_id.clone(), tx));
                }
            }
            // All dongles of this second upload at once, as independent devices do; the
            // platform's writer then stores them in one group commit.
            let mut sends = tokio::task::JoinSet::new();
            for (id, tx) in batches {
                let ingest = self.app.ingest.clone();
                sends.spawn(async move {
                    let answer = ingest.submit(Batch { uploads: tx.uploads }).await;
                    let outcome = dongle::TransmitOutcome::of(answer);
                    (id, tx.id, outcome)
                });
            }
            let mut results: Vec<_> = sends.join_all().await;
            // Deterministic order, whatever order the sends finished in.
            results.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
            for (id, tx_id, outcome) in results {
                if let Some(m) = self.meters.iter_mut().find(|m| m.dongle_id == id) {
                    m.station.on_transmit_result(t, tx_id, outcome);
                }
            }
            self.app.ingest.tick();
        }
        Ok(())
    }

    /// The instant after `t` the lab steps to: the earliest station deadline or slot boundary,
    /// rounded up to a whole second (the lab's resolution), at least a second and at most
    /// [`MAX_STEP`] after `t`, and not past `end` unless a second is all that is left.
    fn next_step(&self, t: Timestamp, end: Timestamp) -> Timestamp {
        let second = SignedDuration::from_secs(1);
        let due = self
            .meters
            .iter()
            .map(|m| m.station.next_deadline())
            .chain(self.ledger.next_boundary(t))
            .min()
            .unwrap_or(end);
        let due = ceil_second(due).clamp(t + second, t + MAX_STEP);
        due.min(end).max(t + second)
    }

    /// Uploads the platform stored for a meter's dongle.
    pub async fn stored(&self, variant: &str) -> Result<Vec<u64>, store::StoreError> {
        let mut all = Vec::new();
        for m in self.meters.iter().filter(|m| m.variant == variant) {
            all.extend(self.app.ingest.stored_sequences(&m.dongle_id).await?);
        }
        Ok(all)
    }

    /// The meter of a variant.
    pub fn meter(&self, variant: &str) -> Option<&LabMeter> {
        self.meters.iter().find(|m| m.variant == variant)
    }

    /// Registers the access point of a variant's meter with `grid_user` on it since the lab
    /// clock's start, and links the meter's dongle to its data service point.
    pub async fn add_point(&mut self, variant: &str, grid_user: &str) -> Result<access::Point> {
        let (i, m) = self
            .meters
            .iter()
            .enumerate()
            .find(|(_, m)| m.variant == variant)
            .ok_or_else(|| anyhow!("no meter {variant} in the lab: attach a rig first"))?;
        let since = self.now() - SignedDuration::from_hours(24 * 365);
        let meter = m.station.meter().variant().equipment_id.clone();
        let dongle = m.dongle_id.clone();
        self.access.add_point(variant, i as u64, &dongle, &meter, grid_user, since).await
    }

    /// Signals mandate renewals and expiries that fell due at the lab's now.
    pub async fn tick_registers(&self) -> Result<()> {
        self.app.access.tick().await.map(|_| ()).map_err(|e| anyhow!("{e}"))
    }

    /// Telegrams the dongle of a variant read.
    pub fn dongle_stats(&self, variant: &str) -> Option<dongle::Stats> {
        self.meter(variant).and_then(|m| m.station.dongle()).map(|d| d.stats())
    }
}
