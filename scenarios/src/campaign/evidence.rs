//! What the kit sees of the ESP under test, and the rules it judges by. Two sources, both the
//! platform's own records: the exchanges its edge answered (every request with the ESP's
//! token, its status and `Retry-After`, on the platform's clock) and the access register
//! (every data request decided, with the ground or the refusal's code). The judging helpers
//! are pure functions of those records.

use clock::Timestamp;
use server::Exchange;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use wire::api::v1::AccessEntry;

/// Exchanges kept at most: a flooding ESP is judged by the first ones, memory stays bounded.
const KEPT: usize = 200_000;

/// The exchanges of one ESP, collected as the platform answers them.
pub(crate) struct Journal {
    seen: Arc<Mutex<Vec<Exchange>>>,
    lost: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Journal {
    /// Collects the exchanges of `party` (`esp:KBO`), and those sent with a token it used
    /// (an old token answered 401 names no party any more).
    pub(crate) fn start(
        mut rx: tokio::sync::broadcast::Receiver<Exchange>,
        party: String,
    ) -> Journal {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let lost = Arc::new(AtomicU64::new(0));
        let (s, l) = (seen.clone(), lost.clone());
        let task = tokio::spawn(async move {
            let mut tokens = BTreeSet::new();
            loop {
                match rx.recv().await {
                    Ok(x) => {
                        let ours = x.party.as_deref() == Some(party.as_str());
                        if ours && let Some(t) = &x.token {
                            tokens.insert(t.clone());
                        }
                        if !(ours || x.token.as_ref().is_some_and(|t| tokens.contains(t))) {
                            continue;
                        }
                        let Ok(mut v) = s.lock() else { return };
                        if v.len() < KEPT {
                            v.push(x);
                        } else {
                            l.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        l.fetch_add(n, Ordering::Relaxed);
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        Journal { seen, lost, task }
    }

    /// The ESP's exchanges answered at or after `t`, in order.
    pub(crate) fn since(&self, t: Timestamp) -> Vec<Exchange> {
        self.seen
            .lock()
            .map(|v| v.iter().filter(|x| x.at >= t).cloned().collect())
            .unwrap_or_default()
    }

    /// Exchanges the kit could not keep (a watcher that fell behind, or past [`KEPT`]).
    pub(crate) fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }
}

/// An exchange as a line of evidence.
pub(crate) fn exchange_line(x: &Exchange) -> String {
    let q = x.query.as_deref().map(|q| format!("?{q}")).unwrap_or_default();
    let retry = x.retry_after.map(|r| format!(" (Retry-After {r})")).unwrap_or_default();
    format!("{} {} {}{q} → {}{retry}", x.at, x.method, x.path, x.status)
}

/// An access-register entry as a line of evidence.
pub(crate) fn entry_line(e: &AccessEntry) -> String {
    let answer = if e.allowed { format!("served ({})", e.basis) } else { e.basis.clone() };
    format!("{} {} {} [{}, {}) → {answer}", e.at, e.what, e.point, e.from, e.to)
}

/// The kind of data an entry asked for (`day`, `quarter-hour`, `nrt` …): the register
/// writes it first, then the endpoint (`day GET energy`).
pub(crate) fn kind(e: &AccessEntry) -> &str {
    e.what.split(' ').next().unwrap_or("")
}

/// Entries answered after `t`.
pub(crate) fn after(entries: &[AccessEntry], t: Timestamp) -> Vec<&AccessEntry> {
    entries.iter().filter(|e| e.at > t).collect()
}

/// The first served entry of `what` after `t`.
pub(crate) fn first_served<'a>(
    entries: &'a [AccessEntry],
    what: &str,
    t: Timestamp,
) -> Option<&'a AccessEntry> {
    entries.iter().find(|e| e.at > t && e.allowed && kind(e) == what)
}

/// Refused entries whose code is one of `codes` (all refusals when empty).
pub(crate) fn refused<'a>(entries: &'a [AccessEntry], codes: &[&str]) -> Vec<&'a AccessEntry> {
    entries
        .iter()
        .filter(|e| !e.allowed && (codes.is_empty() || codes.contains(&e.basis.as_str())))
        .collect()
}

/// The refusals asked again: for each (point, what, code), every refused entry after the first.
/// A refusal tells the ESP the answer; asking again is what the cases forbid.
pub(crate) fn repeated<'a>(refusals: &[&'a AccessEntry]) -> Vec<&'a AccessEntry> {
    let mut first = BTreeSet::new();
    refusals
        .iter()
        .filter(|e| !first.insert((e.point.clone(), kind(e).to_owned(), e.basis.clone())))
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(at: &str, what: &str, allowed: bool, basis: &str) -> AccessEntry {
        let t: Timestamp = at.parse().unwrap();
        AccessEntry {
            at: t,
            party: "esp:0123456749".into(),
            point: "541448900000000021".into(),
            what: format!("{what} GET energy"),
            from: t,
            to: t,
            allowed,
            basis: basis.into(),
            detail: String::new(),
        }
    }

    #[test]
    fn a_refusal_asked_again_is_a_repeat_and_the_first_is_not() {
        let log = [
            entry("2026-03-02T08:00:01Z", "day", true, "mandate:M1"),
            entry("2026-03-02T08:00:02Z", "quarter-hour", false, "scope_excludes_granularity"),
            entry("2026-03-02T08:00:03Z", "quarter-hour", false, "scope_excludes_granularity"),
            entry("2026-03-02T08:00:04Z", "day", false, "outside_period"),
        ];
        let r = refused(&log, &["scope_excludes_granularity"]);
        assert_eq!(r.len(), 2);
        let again = repeated(&r);
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].at, log[2].at);
        assert!(repeated(&refused(&log, &["outside_period"])).is_empty());
        assert_eq!(refused(&log, &[]).len(), 3);
        let t0: Timestamp = "2026-03-02T08:00:01Z".parse().unwrap();
        assert_eq!(after(&log, t0).len(), 3);
        assert!(first_served(&log, "day", t0).is_none());
        assert!(entry_line(&log[1]).ends_with("→ scope_excludes_granularity"));
    }
}
