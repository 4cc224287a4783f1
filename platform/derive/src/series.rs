//! A register series (samples sorted by capture time, one per instant) and the reading of its
//! registers at an arbitrary boundary instant.

use std::borrow::Cow;

use calendar::Timestamp;

use crate::{GasReading, MissingCause, Options, Quality, Sample};

/// Something that carries cumulative registers at a capture instant. Two registers fit every
/// series here: electricity has import and export, gas has one (the second stays 0).
pub(crate) trait Point: Clone {
    fn at(&self) -> Timestamp;
    fn regs(&self) -> [u64; 2];
}

impl Point for Sample {
    fn at(&self) -> Timestamp {
        self.at
    }

    fn regs(&self) -> [u64; 2] {
        [self.import.as_wh(), self.export.as_wh()]
    }
}

impl Point for GasReading {
    fn at(&self) -> Timestamp {
        self.at
    }

    fn regs(&self) -> [u64; 2] {
        [self.volume.as_dm3(), 0]
    }
}

/// Points strictly increasing in capture time, and where the registers go backwards.
pub(crate) struct Series<'a, P: Point> {
    points: Cow<'a, [P]>,
    /// Every `k` where some register of point `k` is below that of point `k - 1`, ascending.
    /// Usually empty (a meter exchange or corrupt data adds one).
    decreases: Vec<usize>,
}

/// The registers at a boundary instant, how they were found, and which points they came from
/// (`lo..=hi`), so a decrease among those points can invalidate the interval.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reading {
    regs: [u64; 2],
    quality: Quality,
    lo: usize,
    hi: usize,
}

/// The register difference over one interval: `Some` with a quality of `Measured` or
/// `Estimated`, or `None` with the cause and quality `Missing`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Delta {
    pub(crate) wh: Option<[u64; 2]>,
    pub(crate) quality: Quality,
    pub(crate) missing: Option<MissingCause>,
}

impl Delta {
    fn missing(cause: MissingCause) -> Self {
        Self { wh: None, quality: Quality::Missing, missing: Some(cause) }
    }
}

/// One interval `[start, end)` of a boundary grid with its register difference.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Step {
    pub(crate) start: Timestamp,
    pub(crate) end: Timestamp,
    pub(crate) delta: Delta,
}

/// Sorts by capture time (then registers) and keeps one point per instant: the lowest
/// registers, so the result never depends on the order the points arrived in.
fn normalise<P: Point>(mut v: Vec<P>) -> Vec<P> {
    if !strictly_sorted(&v) {
        v.sort_unstable_by_key(|p| (p.at(), p.regs()));
        v.dedup_by_key(|p| p.at());
    }
    v
}

fn strictly_sorted<P: Point>(points: &[P]) -> bool {
    points.windows(2).all(|w| w[0].at() < w[1].at())
}

impl<'a> Series<'a, Sample> {
    /// The electricity series. Borrows `samples` when they are already strictly increasing in
    /// time (the store's order), so a month at 1 Hz is not copied.
    pub(crate) fn electricity(samples: &'a [Sample]) -> Self {
        let points = if strictly_sorted(samples) {
            Cow::Borrowed(samples)
        } else {
            Cow::Owned(normalise(samples.to_vec()))
        };
        Self::new(points)
    }
}

impl Series<'static, GasReading> {
    /// The gas series: the distinct gas captures the samples carry. Consecutive telegrams
    /// repeat the same capture, so those collapse while scanning.
    pub(crate) fn gas(samples: &[Sample]) -> Self {
        let mut v: Vec<GasReading> = Vec::new();
        for g in samples.iter().filter_map(|s| s.gas) {
            if v.last() != Some(&g) {
                v.push(g);
            }
        }
        Self::new(Cow::Owned(normalise(v)))
    }
}

impl<P: Point> Series<'_, P> {
    fn new(points: Cow<'_, [P]>) -> Series<'_, P> {
        let decreases = points
            .windows(2)
            .enumerate()
            .filter(|(_, w)| {
                let (a, b) = (w[0].regs(), w[1].regs());
                b[0] < a[0] || b[1] < a[1]
            })
            .map(|(k, _)| k + 1)
            .collect();
        Series { points, decreases }
    }

    /// Index of the first point at or after `b`. `cursor` remembers the previous answer, so a
    /// walk over increasing boundaries costs O(log n) per boundary and never rescans; a
    /// boundary earlier than the cursor (not used by this crate) falls back to a full search.
    fn seek(&self, cursor: &mut usize, b: Timestamp) -> usize {
        let pts = &self.points[..];
        let from = match cursor.checked_sub(1).and_then(|i| pts.get(i)) {
            Some(p) if p.at() >= b => 0,
            _ => (*cursor).min(pts.len()),
        };
        *cursor = from + pts[from..].partition_point(|p| p.at() < b);
        *cursor
    }

    /// The registers at boundary `b`:
    /// 1. a point exactly at `b` gives them as they are (`Measured`);
    /// 2. else, if the points just before and just after `b` are at most `max_gap` apart, they
    ///    are interpolated linearly at `b` — `Measured` if one of the two is within
    ///    `exact_within` of `b`, `Estimated` otherwise;
    /// 3. else the nearer of those two points, if within `exact_within`, gives them as they are
    ///    (`Measured`; at most `exact_within` of consumption is misplaced);
    /// 4. else they are unknown (`None`).
    pub(crate) fn reading(
        &self,
        cursor: &mut usize,
        b: Timestamp,
        opt: &Options,
    ) -> Option<Reading> {
        let i = self.seek(cursor, b);
        let pts = &self.points[..];
        let next = pts.get(i);
        if let Some(n) = next.filter(|n| n.at() == b) {
            return Some(Reading { regs: n.regs(), quality: Quality::Measured, lo: i, hi: i });
        }
        let prev = i.checked_sub(1).and_then(|j| pts.get(j));
        let close = |p: &P| b.duration_since(p.at()).abs() <= opt.exact_within;
        let near = match (prev.filter(|p| close(p)), next.filter(|n| close(n))) {
            (Some(p), Some(n)) => {
                if b.duration_since(p.at()) <= n.at().duration_since(b) {
                    Some((i - 1, p))
                } else {
                    Some((i, n))
                }
            }
            (Some(p), None) => Some((i - 1, p)),
            (None, Some(n)) => Some((i, n)),
            (None, None) => None,
        };
        if let (Some(p), Some(n)) = (prev, next)
            && n.at().duration_since(p.at()) <= opt.max_gap
        {
            let quality = if near.is_some() { Quality::Measured } else { Quality::Estimated };
            let regs = interpolate(p, n, b);
            return Some(Reading { regs, quality, lo: i - 1, hi: i });
        }
        near.map(|(k, p)| Reading { regs: p.regs(), quality: Quality::Measured, lo: k, hi: k })
    }

    /// Whether a register goes down between any two consecutive points in `lo..=hi`.
    fn decreases_within(&self, lo: usize, hi: usize) -> bool {
        let j = self.decreases.partition_point(|&k| k <= lo);
        self.decreases.get(j).is_some_and(|&k| k <= hi)
    }

    /// The difference `end − start`. Missing when either boundary is unknown, when both are
    /// read from the same single point, or when a register goes backwards anywhere among the
    /// points the two readings span.
    pub(crate) fn delta(&self, start: Option<Reading>, end: Option<Reading>) -> Delta {
        let (Some(a), Some(b)) = (start, end) else {
            return Delta::missing(MissingCause::NoData);
        };
        // Both ends read from one and the same sample say nothing about the interval: a
        // zero there would be invented.
        if a.lo == a.hi && (b.lo, b.hi) == (a.lo, a.hi) {
            return Delta::missing(MissingCause::NoData);
        }
        if self.decreases_within(a.lo.min(b.lo), a.hi.max(b.hi)) {
            return Delta::missing(MissingCause::RegisterDecrease);
        }
        // Interpolation is monotone, so a negative difference only comes from a boundary grid
        // that is not increasing.
        let (Some(import), Some(export)) =
            (b.regs[0].checked_sub(a.regs[0]), b.regs[1].checked_sub(a.regs[1]))
        else {
            return Delta::missing(MissingCause::RegisterDecrease);
        };
        Delta { wh: Some([import, export]), quality: a.quality.max(b.quality), missing: None }
    }

    /// The differences over consecutive boundaries `bounds[0..=n]`: `n` steps, each boundary
    /// read once.
    pub(crate) fn steps(&self, bounds: &[Timestamp], opt: &Options) -> Vec<Step> {
        let mut cursor = 0;
        let mut out = Vec::with_capacity(bounds.len().saturating_sub(1));
        let mut iter = bounds.iter();
        let Some(&first) = iter.next() else { return out };
        let (mut start, mut reading) = (first, self.reading(&mut cursor, first, opt));
        for &end in iter {
            let next = self.reading(&mut cursor, end, opt);
            out.push(Step { start, end, delta: self.delta(reading, next) });
            (start, reading) = (end, next);
        }
        out
    }
}

/// Linear interpolation at `b`, strictly between `p` and `n`, rounded to the registers'
/// resolution (half up). The register at a boundary is rounded once and both intervals it
/// bounds use that value, so volumes of adjacent intervals still add up exactly.
fn interpolate<P: Point>(p: &P, n: &P, b: Timestamp) -> [u64; 2] {
    let span = n.at().as_nanosecond() - p.at().as_nanosecond();
    let into = b.as_nanosecond() - p.at().as_nanosecond();
    let (a, z) = (p.regs(), n.regs());
    let at = |a: u64, z: u64| -> u64 {
        let (a, z) = (i128::from(a), i128::from(z));
        // (z − a) · into / span, rounded half up; `into / span` is in (0, 1), so the result
        // lies between `a` and `z` and fits a register.
        let v = a + ((z - a) * into * 2 + span).div_euclid(span * 2);
        u64::try_from(v).unwrap_or(0)
    };
    [at(a[0], z[0]), at(a[1], z[1])]
}
