//! The lab's booking state in the store: the pure `booking::Ledger` decides, the database has
//! the last word on overlaps (two processes booking at once), and every change is persisted.

use anyhow::{Context, Result, bail};
use booking::{Agreement, AuditEntry, Ledger, Policy, Rig, Slot};
use clock::Timestamp;
use std::sync::Arc;
use store::{AuditRow, Record, SlotRow, Store, StoreError};

/// A ledger loaded from the store, and what has been persisted of it.
pub(crate) struct LabDb {
    pub(crate) store: Arc<store::SqlStore>,
    pub(crate) ledger: Ledger,
    audit_saved: usize,
}

impl LabDb {
    /// Opens the lab database (the same store as the platform) and loads the ledger; on first
    /// use, creates the two default rigs with every meter variant (R-LAB-1).
    pub(crate) async fn open(url: &str) -> Result<LabDb> {
        let store = Arc::new(
            store::open(url).await.with_context(|| format!("opening the lab database {url}"))?,
        );
        let mut rigs: Vec<Rig> = Vec::new();
        for (id, body) in store.records(Record::Rigs).await? {
            rigs.push(
                serde_json::from_str(&body).with_context(|| format!("rig {id} in the database"))?,
            );
        }
        if rigs.is_empty() {
            let catalogue = meter::Catalogue::builtin();
            let variants: Vec<(&str, &str)> =
                catalogue.all().iter().map(|v| (v.id.as_str(), v.firmware.as_str())).collect();
            rigs = booking::default_rigs(&variants);
            for r in &rigs {
                store.put_record(Record::Rigs, &r.id, &serde_json::to_string(r)?).await?;
            }
        }
        let (ledger, audit_saved) = load(&store, rigs).await?;
        Ok(LabDb { store, ledger, audit_saved })
    }

    /// Reads the ledger again from the store, for a long-running process (`meterlab up`)
    /// that shares the database with others (`meterlab book …` from a shell).
    pub(crate) async fn reload(&mut self) -> Result<()> {
        let rigs = self.ledger.rigs().to_vec();
        let (ledger, audit_saved) = load(&self.store, rigs).await?;
        self.ledger = ledger;
        self.audit_saved = audit_saved;
        Ok(())
    }

    /// Persists a new agreement.
    pub(crate) async fn save_agreement(&mut self, a: &Agreement) -> Result<()> {
        self.store
            .put_record(Record::Agreements, &a.id.0.to_string(), &serde_json::to_string(a)?)
            .await?;
        self.save_audit().await
    }

    /// Persists a new slot; the database refuses it if another process booked the time first.
    pub(crate) async fn save_new_slot(&mut self, s: &Slot) -> Result<()> {
        let row = SlotRow {
            id: s.id.0.to_string(),
            rig: s.rig.clone(),
            agreement: s.agreement.0.to_string(),
            start: s.start,
            end: s.end,
            cancelled: false,
            body: serde_json::to_string(s)?,
        };
        match self.store.insert_slot(&row).await {
            Ok(()) => self.save_audit().await,
            Err(StoreError::Overlap { slot, start, end }) => bail!(
                "the rig was booked by someone else meanwhile: slot {slot} from {} to {} (Brussels); pick another start (`meterlab book list --rig {}`)",
                clock::local_datetime(start),
                clock::local_datetime(end),
                s.rig
            ),
            Err(e) => Err(e.into()),
        }
    }

    /// Persists a slot's new state (cancelled, active, ended).
    pub(crate) async fn save_slot_state(&mut self, s: &Slot) -> Result<()> {
        let body = serde_json::to_string(s)?;
        let id = s.id.0.to_string();
        if s.state == booking::SlotState::Cancelled {
            self.store.cancel_slot(&id, &body).await?;
        } else {
            self.store.update_slot(&id, &body).await?;
        }
        self.save_audit().await
    }

    /// Appends the audit entries not yet in the database (refusals included).
    pub(crate) async fn save_audit(&mut self) -> Result<()> {
        let new: Vec<AuditRow> = self.ledger.audit()[self.audit_saved..]
            .iter()
            .map(|e| -> Result<AuditRow> {
                Ok(AuditRow {
                    at: e.at,
                    actor: format!("{:?}", e.actor),
                    action: format!("{:?}", e.action),
                    detail: serde_json::to_string(e)?,
                })
            })
            .collect::<Result<_>>()?;
        self.store.append_audit(&new).await?;
        self.audit_saved += new.len();
        Ok(())
    }

    /// Applies the clock: slots start and end; their states are persisted.
    pub(crate) async fn tick(&mut self, now: Timestamp) -> Result<Vec<booking::LedgerEvent>> {
        let events = self.ledger.tick(now);
        for e in &events {
            let id = match e {
                booking::LedgerEvent::Activated { slot, .. }
                | booking::LedgerEvent::Ended { slot, .. } => *slot,
            };
            if let Some(s) = self.ledger.slot(id).cloned() {
                self.save_slot_state(&s).await?;
            }
        }
        self.save_audit().await?;
        Ok(events)
    }
}

/// The ledger from the store's agreements, slots and audit log, on `rigs`; and the audit
/// entries already persisted.
async fn load(store: &store::SqlStore, rigs: Vec<Rig>) -> Result<(Ledger, usize)> {
    let mut agreements: Vec<Agreement> = Vec::new();
    for (_, body) in store.records(Record::Agreements).await? {
        agreements.push(serde_json::from_str(&body)?);
    }
    agreements.sort_by_key(|a| a.id);
    let mut slots: Vec<Slot> = Vec::new();
    for row in store.slots(None).await? {
        slots.push(serde_json::from_str(&row.body)?);
    }
    slots.sort_by_key(|s| s.id);
    let mut audit: Vec<AuditEntry> = Vec::new();
    for row in store.audit().await? {
        audit.push(serde_json::from_str(&row.detail)?);
    }
    let audit_saved = audit.len();
    let ledger = Ledger::from_parts(Policy::default(), rigs, agreements, slots, audit)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((ledger, audit_saved))
}
