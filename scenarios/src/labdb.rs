//! The lab's booking state in its own store (`ledgerdb`, in the same database as the platform's
//! or another). The pure `booking::Ledger` decides; every change is one store transaction
//! under the ledger's write lock: the ledger is read fresh inside it,
//! the rule applied, and the new rows, changed rows and audit entries written together. So
//! any number of processes (`meterlab up`, `meterlab book …` from shells) book at once
//! without double-booking, lost updates or an audit log that tells of bookings that failed.

use anyhow::{Context, Result, anyhow};
use booking::{Agreement, AuditEntry, Ledger, Policy, Rig, Slot, SlotId, SlotState};
use clock::Timestamp;
use ledgerdb::{AuditRow, LedgerError, LedgerRows, LedgerStore, LedgerWrites, Record, SlotRow};
use std::sync::Arc;

/// A ledger loaded from the store (for reading), and the store to change it through.
pub(crate) struct LabDb {
    pub(crate) store: Arc<ledgerdb::SqlLedger>,
    pub(crate) ledger: Ledger,
}

impl LabDb {
    /// Opens the lab database (the platform's database, or another) and loads the ledger; on
    /// first use, creates the two default rigs with every meter variant (R-LAB-1).
    pub(crate) async fn open(url: &str) -> Result<LabDb> {
        let store = Arc::new(
            ledgerdb::open(url).await.with_context(|| format!("opening the lab database {url}"))?,
        );
        if store.records(Record::Rigs).await?.is_empty() {
            let catalogue = meter::Catalogue::builtin();
            let variants: Vec<(&str, &str)> =
                catalogue.all().iter().map(|v| (v.id.as_str(), v.firmware.as_str())).collect();
            // Idempotent: two first processes write the same rigs.
            for r in booking::default_rigs(&variants) {
                store.put_record(Record::Rigs, &r.id, &serde_json::to_string(&r)?).await?;
            }
        }
        let ledger = load(&store).await?;
        Ok(LabDb { store, ledger })
    }

    /// Reads the ledger again from the store, for a long-running process (`meterlab up`)
    /// that shares the database with others (`meterlab book …` from a shell).
    pub(crate) async fn reload(&mut self) -> Result<()> {
        self.ledger = load(&self.store).await?;
        Ok(())
    }

    /// Applies `change` to the ledger as the store has it now, in one transaction under the
    /// ledger's write lock, and persists what it changed (refusals are audited too); then
    /// reloads. `change`'s result comes back once the transaction committed.
    pub(crate) async fn transact<T: Send>(
        &mut self,
        change: impl FnOnce(&mut Ledger) -> T + Send,
    ) -> Result<T> {
        let mut out = None;
        let decide = |rows: LedgerRows| -> Result<LedgerWrites, LedgerError> {
            let next = SlotId(rows.next_slot);
            let before = ledger_of(rows).map_err(|e| LedgerError::Decision(format!("{e:#}")))?;
            let mut after = before.clone();
            after.set_next_slot_id(next);
            out = Some(change(&mut after));
            writes(&before, &after).map_err(|e| LedgerError::Decision(format!("{e:#}")))
        };
        let res = self.store.transaction(Box::new(decide)).await;
        // The in-memory view follows the store whatever happened.
        let reloaded = self.reload().await;
        match res {
            Ok(()) => {}
            Err(LedgerError::Overlap { slot, start, end }) => {
                return Err(anyhow!(
                    "the rig was booked meanwhile: slot {slot} from {} to {} (Brussels); pick another start",
                    clock::local_datetime(start),
                    clock::local_datetime(end),
                ));
            }
            Err(e) => return Err(e).context("the booking ledger could not be changed"),
        }
        reloaded?;
        out.ok_or_else(|| anyhow!("the ledger transaction did not run"))
    }

    /// Applies the clock: slots start and end; their states are persisted.
    pub(crate) async fn tick(&mut self, now: Timestamp) -> Result<Vec<booking::LedgerEvent>> {
        // Most calls have nothing to do: decide on the loaded ledger before taking the lock.
        if self.ledger.clone().tick(now).is_empty() {
            return Ok(Vec::new());
        }
        self.transact(|l| l.tick(now)).await
    }
}

/// The ledger as the store has it (the audit log included, for reading).
async fn load(store: &ledgerdb::SqlLedger) -> Result<Ledger> {
    let rows = LedgerRows {
        rigs: store.records(Record::Rigs).await?,
        agreements: store.records(Record::Agreements).await?,
        slots: store.slots(None).await?,
        next_slot: 0,
    };
    let mut audit: Vec<AuditEntry> = Vec::new();
    for row in store.audit().await? {
        audit.push(serde_json::from_str(&row.detail)?);
    }
    with_audit(rows, audit)
}

/// The ledger of the rows, without its audit log (decisions never read it).
fn ledger_of(rows: LedgerRows) -> Result<Ledger> {
    with_audit(rows, Vec::new())
}

fn with_audit(rows: LedgerRows, audit: Vec<AuditEntry>) -> Result<Ledger> {
    let mut rigs: Vec<Rig> = Vec::new();
    for (id, body) in &rows.rigs {
        rigs.push(serde_json::from_str(body).with_context(|| format!("rig {id} in the database"))?);
    }
    let mut agreements: Vec<Agreement> = Vec::new();
    for (id, body) in &rows.agreements {
        agreements.push(
            serde_json::from_str(body)
                .with_context(|| format!("agreement {id} in the database"))?,
        );
    }
    agreements.sort_by_key(|a| a.id);
    let mut slots: Vec<Slot> = Vec::new();
    for row in &rows.slots {
        slots.push(
            serde_json::from_str(&row.body)
                .with_context(|| format!("slot {} in the database", row.id))?,
        );
    }
    slots.sort_by_key(|s| s.id);
    Ledger::from_parts(Policy::default(), rigs, agreements, slots, audit)
        .map_err(|e| anyhow!("{e}"))
}

/// What turned `before` into `after`: rigs and agreements to store, slots to insert or
/// update, and the audit entries appended.
fn writes(before: &Ledger, after: &Ledger) -> Result<LedgerWrites> {
    let mut w = LedgerWrites::default();
    for r in after.rigs() {
        if before.rig(&r.id) != Some(r) {
            w.records.push((Record::Rigs, r.id.clone(), serde_json::to_string(r)?));
        }
    }
    for a in after.agreements() {
        if before.agreement(a.id) != Some(a) {
            w.records.push((Record::Agreements, a.id.0.to_string(), serde_json::to_string(a)?));
        }
    }
    for s in after.all_slots() {
        match before.slot(s.id) {
            None => w.new_slots.push(slot_row(s)?),
            Some(old) if old != s => w.changed_slots.push(slot_row(s)?),
            Some(_) => {}
        }
    }
    for e in &after.audit()[before.audit().len()..] {
        w.audit.push(AuditRow {
            at: e.at,
            actor: format!("{:?}", e.actor),
            action: format!("{:?}", e.action),
            detail: serde_json::to_string(e)?,
        });
    }
    Ok(w)
}

fn slot_row(s: &Slot) -> Result<SlotRow> {
    Ok(SlotRow {
        id: s.id.0.to_string(),
        rig: s.rig.clone(),
        agreement: s.agreement.0.to_string(),
        start: s.start,
        end: s.end,
        cancelled: s.state == SlotState::Cancelled,
        body: serde_json::to_string(s)?,
    })
}
