//! Half-open time windows `[start, end)` and the set operations authorization needs. An open
//! end is [`Timestamp::MAX`]; every window list these functions return is sorted, has no empty
//! windows, and neither overlaps nor touches (touching windows are merged).

use calendar::Timestamp;

/// A half-open stretch of time `[start, end)`.
pub(crate) type Window = (Timestamp, Timestamp);

/// Sorts, drops empty windows and merges overlapping or touching ones.
pub(crate) fn normalize(mut windows: Vec<Window>) -> Vec<Window> {
    windows.retain(|(s, e)| s < e);
    windows.sort();
    let mut out: Vec<Window> = Vec::with_capacity(windows.len());
    for (s, e) in windows {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// The intersection of two normalized window lists.
pub(crate) fn intersect(a: &[Window], b: &[Window]) -> Vec<Window> {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while let (Some(&(as_, ae)), Some(&(bs, be))) = (a.get(i), b.get(j)) {
        let (s, e) = (as_.max(bs), ae.min(be));
        if s < e {
            out.push((s, e));
        }
        if ae < be {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// An optional end as a window end.
pub(crate) fn end(to: Option<Timestamp>) -> Timestamp {
    to.unwrap_or(Timestamp::MAX)
}
