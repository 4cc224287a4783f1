//! Data access: who may read what (R-NRT-4), the registers of mandates and consents
//! (R-MAN-*, R-NRT-5..8), the access register (R-ACC-1), rate limits and the outage switch
//! (R-SLA-3).
//!
//! The registers are event-sourced: a command is applied to the in-memory `Registers` under a
//! write lock and appended to the store before the lock is released, so the order in the store
//! is the order of application. At start the log is replayed with each command's own instant.

use crate::webhooks::Webhooks;
use clock::{Clock, Timestamp};
use domain::{DataKind, Ean, GridUserId};
use registers::{Command, Decision, Notification, Party, RegisterError, Registers, Rules};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use store::{AccessRow, Record, Store, StoreError, Write};

/// Who holds a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The party the token acts for.
    pub party: Party,
    /// A human label (`ESP Alpha integration`, `console`).
    pub label: String,
}

impl Principal {
    /// How the access register names this party.
    pub fn name(&self) -> String {
        party_name(&self.party)
    }
}

/// How the access register names a party.
pub fn party_name(p: &Party) -> String {
    match p {
        Party::Admin => "admin".into(),
        Party::Operator => "operator".into(),
        Party::GridUser(g) => format!("grid-user:{}", g.0),
        Party::Esp(k) => format!("esp:{}", k.as_str().to_owned()),
    }
}

/// Requests per token: a burst, then a steady rate.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    /// Requests allowed at once.
    pub burst: u32,
    /// Requests per second after the burst.
    pub per_second: f64,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit { burst: 200, per_second: 100.0 }
    }
}

struct Bucket {
    tokens: f64,
    at: Timestamp,
}

/// Why [`Access::take`] refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    /// The bucket is empty: retry after this many seconds.
    Wait(u64),
    /// The limiter's lock was poisoned by a panic.
    Broken,
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The registers refused it.
    #[error(transparent)]
    Register(#[from] RegisterError),
    /// The store failed; nothing changed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// The data-access service shared by the HTTP handlers.
pub struct Access {
    regs: tokio::sync::RwLock<State>,
    tokens: RwLock<HashMap<String, Principal>>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    outage: Mutex<Option<(String, u64)>>,
    limit: RateLimit,
    buckets: Mutex<HashMap<String, Bucket>>,
    pub(crate) hooks: Arc<Webhooks>,
    rules: Rules,
    /// Every answered request, for whoever watches ([`Access::exchanges`]).
    pub(crate) journal: tokio::sync::broadcast::Sender<crate::edge::Exchange>,
    /// The register log's sequence number after each applied command: an open NRT stream
    /// re-checks its consent on every change, so a revocation ends it at once even while the
    /// meter sends nothing (R-NRT-6).
    pub(crate) changes: tokio::sync::watch::Sender<u64>,
}

struct State {
    regs: Registers,
    seq: u64,
    /// What the registers told each grid user (a co-consent request, R-MAN-3; a revoked
    /// consent; a suspended ESP), newest last, at most [`INBOX`] each. Rebuilt by replaying
    /// the log, so it survives a restart without a table of its own.
    inbox: HashMap<GridUserId, std::collections::VecDeque<Notification>>,
}

/// Notices kept per grid user.
pub(crate) const INBOX: usize = 500;

impl State {
    fn deliver(&mut self, notes: &[Notification]) {
        for n in notes {
            if let Some(g) = &n.grid_user {
                let q = self.inbox.entry(g.clone()).or_default();
                q.push_back(n.clone());
                while q.len() > INBOX {
                    q.pop_front();
                }
            }
        }
    }
}

/// The SHA-256 of a token, as stored: a leaked database gives no usable tokens.
pub(crate) fn token_hash(token: &str) -> String {
    wire::hex(&Sha256::digest(token.as_bytes()))
}

/// The readable prefix of a party's tokens.
fn token_prefix(party: &Party) -> &'static str {
    match party {
        Party::Admin => "mla",
        Party::Operator => "mlo",
        Party::GridUser(_) => "mlg",
        Party::Esp(_) => "mle",
    }
}

/// A new random token with a readable prefix naming its role.
pub(crate) fn new_secret(prefix: &str) -> String {
    let bytes: [u8; 24] = rand::random();
    format!("{prefix}_{}", wire::hex(&bytes))
}

impl Access {
    /// Loads tokens and replays the register log.
    pub(crate) async fn start(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        admin_token: &str,
        limit: RateLimit,
        rules: Rules,
        hooks: Arc<Webhooks>,
    ) -> Result<Arc<Access>, StoreError> {
        let mut tokens = HashMap::new();
        for (hash, body) in store.records(Record::Tokens).await? {
            let p: Principal = serde_json::from_str(&body)
                .map_err(|e| StoreError::Corrupt(format!("token {hash}: {e}")))?;
            tokens.insert(hash, p);
        }
        // The configured admin token always works, so a lab can be administered from its
        // first start; it is not stored.
        tokens.insert(
            token_hash(admin_token),
            Principal { party: Party::Admin, label: "configured admin token".into() },
        );
        let state = replay(store.as_ref(), rules).await?;
        Ok(Arc::new(Access {
            regs: tokio::sync::RwLock::new(state),
            tokens: RwLock::new(tokens),
            store,
            clock,
            outage: Mutex::new(None),
            limit,
            buckets: Mutex::new(HashMap::new()),
            hooks,
            rules,
            journal: tokio::sync::broadcast::channel(crate::edge::JOURNAL).0,
            changes: tokio::sync::watch::channel(0).0,
        }))
    }

    /// The principal holding a bearer token.
    pub fn principal(&self, token: &str) -> Option<Principal> {
        self.tokens.read().ok()?.get(&token_hash(token)).cloned()
    }

    /// Issues a token for a party; only its hash is kept.
    pub async fn issue_token(&self, principal: Principal) -> Result<String, StoreError> {
        let (token, row) = Self::mint_token(&principal)?;
        self.commit(vec![row]).await?;
        Ok(token)
    }

    /// Takes one request from the token's bucket: `Wait(seconds)` when it is empty,
    /// `Broken` when the limiter's lock was poisoned (the request is refused, not let
    /// through: a limiter that fails open is no limit).
    pub fn take(&self, key: &str) -> Result<(), Limited> {
        let Ok(mut b) = self.buckets.lock() else { return Err(Limited::Broken) };
        // The platform's clock refills the bucket: under a simulated clock the limits hold in
        // the lab's time, like everything else the platform measures.
        let now = self.clock.now();
        let burst = f64::from(self.limit.burst);
        let bucket = b.entry(key.to_owned()).or_insert(Bucket { tokens: burst, at: now });
        let refill = now.duration_since(bucket.at).as_secs_f64().max(0.0) * self.limit.per_second;
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / self.limit.per_second.max(1e-9);
            Err(Limited::Wait(wait.ceil().max(1.0) as u64))
        }
    }

    /// Poisons the rate limiter's lock, as a panic while holding it would (tests only).
    #[cfg(test)]
    pub(crate) fn poison_limiter(&self) {
        let _ = std::thread::scope(|s| {
            s.spawn(|| {
                let _held = self.buckets.lock();
                panic!("poisoning the rate limiter on purpose");
            })
            .join()
        });
    }

    /// The unplanned outage in force, if any (R-SLA-3): its reason and the seconds its 503s
    /// announce in `Retry-After`.
    pub fn outage(&self) -> Option<(String, u64)> {
        self.outage.lock().ok().and_then(|o| o.clone())
    }

    /// Declares (a reason and the `Retry-After` seconds) or ends an unplanned outage of the
    /// data-access API.
    pub fn set_outage(&self, outage: Option<(String, u64)>) {
        if let Ok(mut o) = self.outage.lock() {
            *o = outage;
        }
    }

    /// Every request answered from now on, as it was answered (the certification kit judges
    /// an ESP by them). A watcher that falls more than [`crate::edge::JOURNAL`] exchanges
    /// behind is told how many it lost (`RecvError::Lagged`); none is kept for nobody.
    pub fn exchanges(&self) -> tokio::sync::broadcast::Receiver<crate::edge::Exchange> {
        self.journal.subscribe()
    }

    /// Empties a token's bucket so that its next request is answered `429` with a
    /// `Retry-After` of `seconds`, as when another client of the same token floods the
    /// platform: the certification kit plays that flood without sending it.
    pub fn exhaust(&self, key: &str, seconds: u64) {
        let Ok(mut b) = self.buckets.lock() else { return };
        // A bucket at 1 - s·rate tokens refills to the one token a request takes in s seconds.
        let tokens = 1.0 - seconds as f64 * self.limit.per_second - 1e-6;
        b.insert(key.to_owned(), Bucket { tokens, at: self.clock.now() });
    }

    /// Applies a command now, persists it, and hands its notifications to the webhooks.
    pub async fn execute(&self, cmd: Command) -> Result<Vec<Notification>, AccessError> {
        self.execute_with(cmd, Vec::new()).await
    }

    /// As [`Access::execute`], with more rows written in the same transaction as the
    /// command (an ESP's token and webhook secret with its registration): a killed process
    /// leaves all of them or none.
    pub(crate) async fn execute_with(
        &self,
        cmd: Command,
        mut also: Vec<Write>,
    ) -> Result<Vec<Notification>, AccessError> {
        let mut st = self.regs.write().await;
        let now = self.clock.now();
        let body = serde_json::to_string(&cmd)
            .map_err(|e| StoreError::Corrupt(format!("command: {e}")))?;
        let notes = st.regs.apply(cmd, now)?;
        let seq = st.seq + 1;
        also.insert(0, Write::Event { seq, at: now, body });
        if let Err(e) = self.store.commit(&also).await {
            // The state moved but the log did not: rebuild from the log so both agree again.
            tracing::error!("register log append failed, replaying: {e}");
            match replay(self.store.as_ref(), self.rules).await {
                Ok(fresh) => *st = fresh,
                Err(r) => tracing::error!("replaying the register log failed too: {r}"),
            }
            return Err(e.into());
        }
        st.seq = seq;
        st.deliver(&notes);
        drop(st);
        self.changes.send_replace(seq);
        self.learn_tokens(&also);
        self.hooks.notify(&notes, self).await;
        Ok(notes)
    }

    /// Writes rows in one transaction (no register command), then learns the tokens among
    /// them: rotating an ESP's credentials.
    pub(crate) async fn commit(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.store.commit(&writes).await?;
        self.learn_tokens(&writes);
        Ok(())
    }

    /// Brings the in-memory token map in line with token rows just committed.
    fn learn_tokens(&self, writes: &[Write]) {
        let mut tokens = self.tokens.write().unwrap_or_else(|e| e.into_inner());
        for w in writes {
            match w {
                Write::PutRecord { kind: Record::Tokens, id, body } => {
                    match serde_json::from_str::<Principal>(body) {
                        Ok(p) => {
                            tokens.insert(id.clone(), p);
                        }
                        Err(e) => tracing::error!("token {id} just written does not parse: {e}"),
                    }
                }
                Write::DeleteRecord { kind: Record::Tokens, id } => {
                    tokens.remove(id);
                }
                _ => {}
            }
        }
    }

    /// A new token for `principal`, as the row to write (the token itself is shown once).
    pub(crate) fn mint_token(principal: &Principal) -> Result<(String, Write), StoreError> {
        let token = new_secret(token_prefix(&principal.party));
        let body = serde_json::to_string(principal)
            .map_err(|e| StoreError::Corrupt(format!("token: {e}")))?;
        Ok((token.clone(), Write::PutRecord { kind: Record::Tokens, id: token_hash(&token), body }))
    }

    /// The hashes of every token held by `party`.
    pub(crate) fn tokens_of(&self, party: &Party) -> Vec<String> {
        let tokens = self.tokens.read().unwrap_or_else(|e| e.into_inner());
        tokens.iter().filter(|(_, p)| &p.party == party).map(|(h, _)| h.clone()).collect()
    }

    /// Runs `f` on the registers (read lock).
    pub async fn read<T>(&self, f: impl FnOnce(&Registers) -> T) -> T {
        let st = self.regs.read().await;
        f(&st.regs)
    }

    /// What the registers told a grid user, oldest first (the last [`INBOX`]).
    pub(crate) async fn inbox(&self, grid_user: &GridUserId) -> Vec<Notification> {
        let st = self.regs.read().await;
        st.inbox.get(grid_user).map(|q| q.iter().cloned().collect()).unwrap_or_default()
    }

    /// Decides a request and records it in the access register (R-ACC-1), allowed or not.
    pub async fn decide(
        &self,
        who: &Principal,
        point: &Ean,
        what: DataKind,
        endpoint: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Decision, StoreError> {
        let now = self.clock.now();
        let decision = self.read(|r| r.authorize(&who.party, point, what, from, to, now)).await;
        self.log(who, point, what, endpoint, from, to, &decision, String::new()).await?;
        Ok(decision)
    }

    /// Appends one row to the access register.
    #[allow(clippy::too_many_arguments)]
    pub async fn log(
        &self,
        who: &Principal,
        point: &Ean,
        what: DataKind,
        endpoint: &str,
        from: Timestamp,
        to: Timestamp,
        decision: &Decision,
        note: String,
    ) -> Result<(), StoreError> {
        let basis = match (&decision.basis, &decision.refusal) {
            (Some(b), _) if decision.allowed => basis_name(b),
            (_, Some(r)) => r.code().to_owned(),
            _ => "refused".into(),
        };
        let mut detail = if decision.allowed {
            let w: Vec<String> =
                decision.windows.iter().map(|(a, b)| format!("[{a}, {b})")).collect();
            format!("served {}", w.join(" "))
        } else {
            String::from("nothing served")
        };
        if !note.is_empty() {
            detail.push_str("; ");
            detail.push_str(&note);
        }
        let row = AccessRow {
            at: self.clock.now(),
            party: who.name(),
            point: point.to_string(),
            what: format!("{} {endpoint}", what.as_str()),
            from,
            to,
            allowed: decision.allowed,
            basis,
            detail,
        };
        self.store.append_access(std::slice::from_ref(&row)).await
    }

    /// Signals renewals and expiries that fell due (called by the ticker).
    pub async fn tick(&self) -> Result<Vec<Notification>, AccessError> {
        // Most ticks have nothing due: check under the read lock first, so a tick does not
        // grow the log every second.
        let now = self.clock.now();
        if !self.read(|r| due(r, &self.rules, now)).await {
            return Ok(Vec::new());
        }
        self.execute(Command::Tick).await
    }
}

/// Whether a tick would signal anything: an approved mandate whose renewal notice or end has
/// come.
fn due(r: &Registers, rules: &Rules, now: Timestamp) -> bool {
    r.mandates().iter().any(|m| {
        matches!(m.state, registers::MandateState::Approved)
            && m.valid_until.is_some_and(|until| {
                until <= now || (!m.renewal_signalled && until - rules.renewal_notice <= now)
            })
    })
}

/// How the access register names the basis of an allowed exchange.
pub(crate) fn basis_name(b: &registers::Basis) -> String {
    match b {
        registers::Basis::Admin => "role:admin".into(),
        registers::Basis::Operator => "role:operator".into(),
        registers::Basis::Occupancy => "grid-user:own".into(),
        registers::Basis::Mandate(m) => format!("mandate:{m}"),
        registers::Basis::Consent(c) => format!("consent:{c}"),
    }
}

async fn replay(store: &dyn Store, rules: Rules) -> Result<State, StoreError> {
    let mut st = State { regs: Registers::new(rules), seq: 0, inbox: HashMap::new() };
    for ev in store.events().await? {
        let cmd: Command = serde_json::from_str(&ev.body)
            .map_err(|e| StoreError::Corrupt(format!("register event {}: {e}", ev.seq)))?;
        // A command that was accepted once is accepted again: the registers are deterministic.
        let notes = st.regs.apply(cmd, ev.at).map_err(|e| {
            StoreError::Corrupt(format!("register event {} no longer applies: {e}", ev.seq))
        })?;
        st.deliver(&notes);
        st.seq = ev.seq;
    }
    Ok(st)
}
