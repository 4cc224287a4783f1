//! What the reference ESP reads, decided without I/O: from the mandates it knows and the
//! platform's time, the requests of one poll. The misbehaving variants differ here (and in
//! the webhook endpoint), so each misbehaviour is one visible rule.

use crate::Misbehaviour;
use calendar::{SignedDuration, Timestamp};
use domain::Ean;
use wire::api::v1::{self as w, MandateState, Scope};

/// How far back each poll reads: the last day, again at every poll (late data, corrections:
/// R-SLA-4). A real ESP would read less often; the lab's ESP polls fast so that its
/// behaviour after an event shows within seconds.
pub const WINDOW: SignedDuration = SignedDuration::from_hours(24);

/// One data request.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Read {
    /// The data service point.
    pub point: Ean,
    /// `day`, `quarter-hour` (the energy route) or `month-peak` (the months route).
    pub what: &'static str,
    /// Period start.
    pub from: Timestamp,
    /// Period end (exclusive).
    pub to: Timestamp,
}

impl Read {
    /// The request's path and query.
    pub fn path(&self) -> String {
        let (route, granularity) = match self.what {
            "month-peak" => ("months", String::new()),
            g => ("energy", format!("granularity={g}&")),
        };
        format!(
            "/api/esp/v1/points/{}/{route}?{granularity}from={}&to={}",
            self.point, self.from, self.to
        )
    }
}

/// A mandate as the ESP remembers it: the platform's latest view, and the period it had when
/// first seen approved (a variant that ignores cuts reads by that one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    /// The latest view.
    pub now: w::Mandate,
    /// The period end when first seen approved.
    pub first_period_to: Option<Option<Timestamp>>,
}

impl Known {
    /// Takes the platform's latest view of the mandate. A variant that ignores revocations
    /// keeps an approved mandate approved whatever the platform says next.
    pub fn update(&mut self, latest: w::Mandate, bad: Option<Misbehaviour>) {
        let was_approved = self.now.state == MandateState::Approved;
        if self.first_period_to.is_none() && latest.state == MandateState::Approved {
            self.first_period_to = Some(latest.period_to);
        }
        let ended = matches!(latest.state, MandateState::Finished { .. });
        if bad == Some(Misbehaviour::KeepsReadingAfterRevocation) && was_approved && ended {
            return;
        }
        self.now = latest;
    }

    /// From the platform's first view of it.
    pub fn new(m: w::Mandate) -> Known {
        let first = (m.state == MandateState::Approved).then_some(m.period_to);
        Known { now: m, first_period_to: first }
    }
}

/// The reads of one poll for one mandate at `now`.
pub fn reads(k: &Known, now: Timestamp, bad: Option<Misbehaviour>) -> Vec<Read> {
    let m = &k.now;
    if m.state != MandateState::Approved || m.valid_until.is_some_and(|v| v <= now) {
        return Vec::new();
    }
    let period_to = match bad {
        Some(Misbehaviour::ReadsPastCut) => k.first_period_to.unwrap_or(m.period_to),
        _ => m.period_to,
    };
    let mut lo = m.period_from;
    if !m.history
        && let Some(a) = m.approved_at
    {
        lo = lo.max(a);
    }
    let hi = period_to.map_or(now, |t| t.min(now));
    let (from, to) = match bad {
        // Reads the last day whatever the period says.
        Some(Misbehaviour::ReadsPastCut) if period_to != m.period_to => (now - WINDOW, now),
        _ => (lo.max(hi - WINDOW), hi),
    };
    if to <= from {
        return Vec::new();
    }
    let point = m.data_service_point.clone();
    let mut out = vec![Read { point: point.clone(), what: "day", from, to }];
    if m.scope == Scope::WithInterval || bad == Some(Misbehaviour::ReadsBeyondGranularity) {
        out.push(Read { point: point.clone(), what: "quarter-hour", from, to });
    }
    if bad == Some(Misbehaviour::ReadsBeyondServiceNeeds) {
        // No service of the reference's catalogue needs monthly figures.
        out.push(Read { point: point.clone(), what: "month-peak", from, to });
    }
    if bad == Some(Misbehaviour::ReadsAnotherEspsPoint)
        && let Some(next) = neighbour(&point)
    {
        out.push(Read { point: next, what: "day", from, to });
    }
    out
}

/// The next EAN after `p` (the same 17-digit stem plus one, with its check digit): what an
/// ESP enumerating points would try.
pub fn neighbour(p: &Ean) -> Option<Ean> {
    let stem: u64 = p.as_str().get(..17)?.parse().ok()?;
    Ean::with_check_digit(&format!("{:017}", stem + 1)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{GridUserId, Kbo};

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn mandate(scope: Scope, period_to: Option<&str>, history: bool) -> w::Mandate {
        w::Mandate {
            id: "M1".into(),
            esp: Kbo::with_check("01234567").unwrap(),
            data_service_point: Ean::with_check_digit("54144890000000002").unwrap(),
            access_point: Ean::with_check_digit("54144890000000001").unwrap(),
            customer: GridUserId("G1".into()),
            grid_user: GridUserId("G1".into()),
            needs_co_consent: false,
            customer_approved: true,
            grid_user_approved: true,
            scope,
            period_from: t("2026-01-01T00:00:00Z"),
            period_to: period_to.map(t),
            history,
            requested_at: t("2026-03-01T00:00:00Z"),
            approved_at: Some(t("2026-03-01T10:00:00Z")),
            valid_until: Some(t("2029-03-01T10:00:00Z")),
            state: MandateState::Approved,
            renews: None,
            renewal_signalled: false,
            ended_at: None,
        }
    }

    #[test]
    fn the_reference_reads_the_last_day_inside_the_period_and_scope() {
        let now = t("2026-03-02T12:00:00Z");
        let k = Known::new(mandate(Scope::DayOnly, None, true));
        let r = reads(&k, now, None);
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].what, r[0].from, r[0].to), ("day", now - WINDOW, now));
        let k = Known::new(mandate(Scope::WithInterval, None, false));
        let r = reads(&k, now, None);
        assert_eq!(r.iter().map(|r| r.what).collect::<Vec<_>>(), ["day", "quarter-hour"]);
        // Without history nothing before the approval.
        assert_eq!(r[0].from, t("2026-03-01T12:00:00Z").max(t("2026-03-01T10:00:00Z")));
        let k = Known::new(mandate(Scope::WithInterval, None, false));
        let r = reads(&k, t("2026-03-01T11:00:00Z"), None);
        assert_eq!(r[0].from, t("2026-03-01T10:00:00Z"));
    }

    #[test]
    fn a_cut_period_is_read_up_to_the_cut_and_past_it_only_by_the_variant() {
        let mut k = Known::new(mandate(Scope::DayOnly, None, true));
        let mut cut = mandate(Scope::DayOnly, Some("2026-03-02T00:00:00Z"), true);
        cut.state = MandateState::Approved;
        k.update(cut, None);
        let now = t("2026-03-05T00:00:00Z");
        let r = reads(&k, now, None);
        assert_eq!((r[0].from, r[0].to), (t("2026-03-01T00:00:00Z"), t("2026-03-02T00:00:00Z")));
        let r = reads(&k, now, Some(Misbehaviour::ReadsPastCut));
        assert_eq!((r[0].from, r[0].to), (now - WINDOW, now));
    }

    #[test]
    fn an_ended_mandate_is_read_only_by_the_variant_that_ignores_revocations() {
        let approved = mandate(Scope::DayOnly, None, true);
        let mut ended = approved.clone();
        ended.state = MandateState::Finished { reason: w::EndReason::Customer };
        let now = t("2026-03-02T12:00:00Z");
        let mut good = Known::new(approved.clone());
        good.update(ended.clone(), None);
        assert!(reads(&good, now, None).is_empty());
        let bad = Some(Misbehaviour::KeepsReadingAfterRevocation);
        let mut k = Known::new(approved);
        k.update(ended, bad);
        assert_eq!(reads(&k, now, bad).len(), 1);
    }

    #[test]
    fn variants_add_the_reads_they_are_named_for() {
        let now = t("2026-03-02T12:00:00Z");
        let k = Known::new(mandate(Scope::DayOnly, None, true));
        let whats = |b| reads(&k, now, Some(b)).iter().map(|r| r.what).collect::<Vec<_>>();
        assert_eq!(whats(Misbehaviour::ReadsBeyondGranularity), ["day", "quarter-hour"]);
        assert_eq!(whats(Misbehaviour::ReadsBeyondServiceNeeds), ["day", "month-peak"]);
        let r = reads(&k, now, Some(Misbehaviour::ReadsAnotherEspsPoint));
        assert_eq!(r[1].point.as_str(), "541448900000000038");
        assert!(r[1].path().contains("granularity=day&from="));
        assert!(reads(&k, t("2029-03-01T10:00:00Z"), None).is_empty(), "expired");
    }

    #[test]
    fn the_neighbour_has_a_valid_check_digit() {
        let p = Ean::with_check_digit("54144890000000099").unwrap();
        let n = neighbour(&p).unwrap();
        assert_eq!(&n.as_str()[..17], "54144890000000100");
        assert!(Ean::parse(n.as_str()).is_ok());
    }
}
