//! Sequence numbers of one dongle: the highest seen, the ranges still missing, and what became
//! of the missing ones (backfilled or lost).
//!
//! Dongles backfill after an outage, newest first and then the backlog (R-NRT-2), so numbers
//! below the highest arrive late as a matter of course. Memory is bounded: at most `cap`
//! ranges are tracked; when a new gap (or the split of a range by a backfilled number in its
//! middle) would exceed that, the oldest ranges (lowest numbers) are given up and counted lost.

use std::collections::BTreeMap;

use calendar::{SignedDuration, Timestamp};

/// One run of missing numbers, `start..=end` (the start is the map key).
#[derive(Clone, Copy, Debug)]
struct Gap {
    end: u64,
    detected_at: Timestamp,
}

impl Gap {
    fn len(&self, start: u64) -> u64 {
        (self.end - start).saturating_add(1)
    }
}

/// What one accepted upload meant for the sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The first number seen from this dongle.
    First,
    /// Above the highest so far; `gap` numbers in between are now missing.
    Next { previous: u64, previous_capture: Timestamp, gap: u64 },
    /// A missing number arrived.
    Backfill,
    /// Below the first number seen (at first contact or since the latest restart): a backlog
    /// sent before we had a baseline. Such numbers are not checked for gaps or duplicates.
    Early,
    /// Not above the highest and not missing, yet captured after the highest: the dongle
    /// restarted its numbering (a reset). Every number still missing was `lost`.
    Restart { previous: u64, lost: u64 },
    /// Already seen (between the first and the highest number, not missing), or given up on.
    Duplicate,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct SequenceTracker {
    /// Highest number seen and the capture time it came with.
    highest: Option<(u64, Timestamp)>,
    /// The first number seen (at first contact or at the latest restart).
    first: u64,
    missing: BTreeMap<u64, Gap>,
    missing_count: u64,
    /// Missing numbers ever detected.
    pub(crate) detected: u64,
    /// Missing numbers that arrived later.
    pub(crate) recovered: u64,
    /// Missing numbers given up on (range cap, timeout, restart).
    pub(crate) lost: u64,
    pub(crate) duplicates: u64,
    pub(crate) restarts: u64,
}

impl SequenceTracker {
    pub(crate) fn highest(&self) -> Option<u64> {
        self.highest.map(|(seq, _)| seq)
    }

    /// Numbers missing right now.
    pub(crate) fn missing(&self) -> u64 {
        self.missing_count
    }

    pub(crate) fn observe(
        &mut self,
        seq: u64,
        captured: Timestamp,
        now: Timestamp,
        cap: usize,
    ) -> Outcome {
        let Some((highest, highest_capture)) = self.highest else {
            self.highest = Some((seq, captured));
            self.first = seq;
            return Outcome::First;
        };
        if seq > highest {
            let gap = seq - highest - 1;
            if gap > 0 {
                self.missing.insert(highest + 1, Gap { end: seq - 1, detected_at: now });
                self.missing_count = self.missing_count.saturating_add(gap);
                self.detected = self.detected.saturating_add(gap);
                self.enforce_cap(cap);
            }
            self.highest = Some((seq, captured));
            return Outcome::Next { previous: highest, previous_capture: highest_capture, gap };
        }
        if self.take(seq, cap) {
            self.recovered = self.recovered.saturating_add(1);
            return Outcome::Backfill;
        }
        if captured > highest_capture {
            let lost = self.missing_count;
            self.lost = self.lost.saturating_add(lost);
            self.missing.clear();
            self.missing_count = 0;
            self.restarts = self.restarts.saturating_add(1);
            self.highest = Some((seq, captured));
            self.first = seq;
            return Outcome::Restart { previous: highest, lost };
        }
        if seq < self.first {
            return Outcome::Early;
        }
        self.duplicates = self.duplicates.saturating_add(1);
        Outcome::Duplicate
    }

    /// Gives up on ranges detected at least `timeout` ago; returns how many numbers were lost.
    pub(crate) fn expire(&mut self, now: Timestamp, timeout: SignedDuration) -> u64 {
        let mut lost = 0u64;
        self.missing.retain(|&start, gap| {
            let keep = now.duration_since(gap.detected_at) < timeout;
            if !keep {
                lost = lost.saturating_add(gap.len(start));
            }
            keep
        });
        self.missing_count = self.missing_count.saturating_sub(lost);
        self.lost = self.lost.saturating_add(lost);
        lost
    }

    /// Removes `seq` from the missing ranges if it is there.
    fn take(&mut self, seq: u64, cap: usize) -> bool {
        let Some((&start, &gap)) = self.missing.range(..=seq).next_back() else {
            return false;
        };
        if gap.end < seq {
            return false;
        }
        self.missing.remove(&start);
        if start < seq {
            self.missing.insert(start, Gap { end: seq - 1, ..gap });
        }
        if seq < gap.end {
            self.missing.insert(seq + 1, gap);
        }
        self.missing_count = self.missing_count.saturating_sub(1);
        self.enforce_cap(cap);
        true
    }

    fn enforce_cap(&mut self, cap: usize) {
        while self.missing.len() > cap.max(1) {
            let Some((start, gap)) = self.missing.pop_first() else { break };
            let len = gap.len(start);
            self.missing_count = self.missing_count.saturating_sub(len);
            self.lost = self.lost.saturating_add(len);
        }
    }

    #[cfg(test)]
    pub(crate) fn ranges(&self) -> Vec<(u64, u64)> {
        self.missing.iter().map(|(&start, gap)| (start, gap.end)).collect()
    }
}
