//! Who may read what, and for which stretches of time (R-ACC-2, R-MAN-6, R-NRT-4, R-NRT-7).
//!
//! The answer is not a yes/no but the windows of the requested stretch that may be served:
//! a mandate covers its consumption period, a consent the time it was in force, a grid user
//! his own occupancy. Serving only those windows is what keeps a backdated customer switch or
//! a revocation from leaking data, whatever range the caller asks for.

use calendar::Timestamp;
use domain::{Channel, ContractStatus, DataKind, Ean, Esp, GridUserId, Kbo};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::model::{MandateState, Party, Scope};
use crate::registers::{Registers, mandate_on};
use crate::window::{Window, end, intersect, normalize};

/// On what ground data is served.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Basis {
    /// The platform administrator.
    Admin,
    /// A lab operator.
    Operator,
    /// The grid user's own data, over his occupancy.
    Occupancy,
    /// A mandate, by id.
    Mandate(String),
    /// An NRT consent, by id.
    Consent(String),
}

/// Why nothing may be served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// The EAN is neither an access point nor a data service point.
    #[error("the point is not registered")]
    UnknownPoint,
    /// The ESP holds no mandate on the point.
    #[error(
        "there is no mandate for this point: ask the customer to grant one through the step plan"
    )]
    NoMandate,
    /// The ESP's mandate waits for approval or co-consent.
    #[error("the mandate is not approved yet (by the customer, or the grid user's co-consent)")]
    MandateNotApproved,
    /// The ESP's mandate is past its three years.
    #[error("the mandate expired: ask the customer to renew it")]
    MandateExpired,
    /// The mandate is for day data only.
    #[error("the mandate covers day data only: interval data needs a mandate with interval data")]
    ScopeExcludesGranularity,
    /// The ESP holds no NRT consent in force on the point.
    #[error("there is no NRT consent in force for this point")]
    NoConsent,
    /// The requested stretch lies outside the grid user's occupancy.
    #[error("the requested period lies outside the time this grid user occupied the point")]
    OutsideOccupancy,
    /// A mandate or consent is in force, but the requested stretch lies outside what it covers.
    #[error("the requested period lies outside what the mandate or consent covers")]
    OutsidePeriod,
    /// The ESP's contract is not active, or the ESP is unknown.
    #[error("the ESP's data-access contract is not active")]
    EspNotActive,
    /// The ESP's contract names the portal as its channel: it reads nothing through the API.
    #[error("the ESP's data-access contract names the portal as its channel, not the API")]
    WrongChannel,
    /// No service of the ESP's catalogue needs this data (R-NRT-8), or the consent's service
    /// does not need near-real-time data.
    #[error("no service of the ESP's catalogue needs this data: only what a service needs is sent")]
    NotNeeded,
    /// The role never reads meter data.
    #[error("this role does not read meter data")]
    ForbiddenRole,
}

impl Refusal {
    /// Stable snake_case name.
    pub fn code(self) -> &'static str {
        match self {
            Self::UnknownPoint => "unknown_point",
            Self::NoMandate => "no_mandate",
            Self::MandateNotApproved => "mandate_not_approved",
            Self::MandateExpired => "mandate_expired",
            Self::ScopeExcludesGranularity => "scope_excludes_granularity",
            Self::NoConsent => "no_consent",
            Self::OutsideOccupancy => "outside_occupancy",
            Self::OutsidePeriod => "outside_period",
            Self::EspNotActive => "esp_not_active",
            Self::WrongChannel => "wrong_channel",
            Self::NotNeeded => "not_needed",
            Self::ForbiddenRole => "forbidden_role",
        }
    }
}

/// The answer to "may `who` read `what` of this point over `[from, to)`".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Whether anything may be served.
    pub allowed: bool,
    /// The parts of `[from, to)` that may be served: half-open, sorted, non-overlapping.
    pub windows: Vec<(Timestamp, Timestamp)>,
    /// The ground (the first mandate or consent used, for an ESP).
    pub basis: Option<Basis>,
    /// Why not, when nothing may be served.
    pub refusal: Option<Refusal>,
}

impl Decision {
    fn allow(windows: Vec<Window>, basis: Option<Basis>) -> Self {
        Self { allowed: true, windows, basis, refusal: None }
    }

    fn refuse(refusal: Refusal) -> Self {
        Self { allowed: false, windows: Vec::new(), basis: None, refusal: Some(refusal) }
    }

    /// The refusal's code, if refused.
    pub fn code(&self) -> Option<&'static str> {
        self.refusal.map(Refusal::code)
    }
}

/// How far a refused mandate got, so the most specific reason is reported.
fn rank(r: Refusal) -> u8 {
    match r {
        Refusal::ScopeExcludesGranularity => 4,
        Refusal::MandateExpired => 3,
        Refusal::MandateNotApproved => 2,
        _ => 1,
    }
}

impl Registers {
    /// Which parts of `[from, to)` of `point`'s `what` data `who` may read at `now`.
    ///
    /// `point` is a data service point, or an access point (then the mandates and consents on
    /// any of its data service points count).
    pub fn authorize(
        &self,
        who: &Party,
        point: &Ean,
        what: DataKind,
        from: Timestamp,
        to: Timestamp,
        now: Timestamp,
    ) -> Decision {
        let Some(ap) = self.access_point_of(point) else {
            return self.unknown_point(who, what);
        };
        let asked = normalize(vec![(from, to)]);
        match who {
            Party::Admin => Decision::allow(asked, Some(Basis::Admin)),
            Party::Operator => Decision::refuse(Refusal::ForbiddenRole),
            Party::GridUser(g) => {
                let windows = intersect(&self.occupancy_windows(ap, g), &asked);
                if windows.is_empty() {
                    Decision::refuse(Refusal::OutsideOccupancy)
                } else {
                    Decision::allow(windows, Some(Basis::Occupancy))
                }
            }
            Party::Esp(k) => {
                let Some(esp) = self.esps.get(k).filter(|e| e.status == ContractStatus::Active)
                else {
                    return Decision::refuse(Refusal::EspNotActive);
                };
                if let Some(r) = Self::contract_refusal(esp, what) {
                    return Decision::refuse(r);
                }
                match what {
                    DataKind::MandateStatus => Decision::allow(asked, None),
                    DataKind::Nrt => self.authorize_consent(k, point, ap, &asked, now),
                    DataKind::Day | DataKind::MonthPeak => {
                        self.authorize_mandate(k, point, ap, false, &asked, now)
                    }
                    DataKind::QuarterHour | DataKind::Hour => {
                        self.authorize_mandate(k, point, ap, true, &asked, now)
                    }
                }
            }
        }
    }

    /// What the ESP's contract itself rules out, whatever its mandates and consents: another
    /// channel than the API (every read here comes through the API), or data no service of
    /// its catalogue needs (R-NRT-8). Its own mandates' status is always its to read.
    fn contract_refusal(esp: &Esp, what: DataKind) -> Option<Refusal> {
        if esp.channel != Channel::Api {
            return Some(Refusal::WrongChannel);
        }
        let needed =
            what == DataKind::MandateStatus || esp.services.iter().any(|s| s.needs.contains(&what));
        (!needed).then_some(Refusal::NotNeeded)
    }

    /// The answer for a point that does not exist: staff learn so; anyone else gets exactly
    /// the refusal of a point that exists but is not theirs, so no answer tells whether an
    /// EAN is registered (an existence oracle).
    fn unknown_point(&self, who: &Party, what: DataKind) -> Decision {
        match who {
            Party::Admin => Decision::refuse(Refusal::UnknownPoint),
            Party::Operator => Decision::refuse(Refusal::ForbiddenRole),
            Party::GridUser(_) => Decision::refuse(Refusal::OutsideOccupancy),
            Party::Esp(k) => {
                let refusal = match self.esps.get(k) {
                    Some(e) if e.status == ContractStatus::Active => {
                        Self::contract_refusal(e, what).unwrap_or(match what {
                            DataKind::Nrt => Refusal::NoConsent,
                            _ => Refusal::NoMandate,
                        })
                    }
                    _ => Refusal::EspNotActive,
                };
                Decision::refuse(refusal)
            }
        }
    }

    fn authorize_mandate(
        &self,
        esp: &Kbo,
        point: &Ean,
        ap: &Ean,
        needs_interval: bool,
        asked: &[Window],
        now: Timestamp,
    ) -> Decision {
        let mut refusal = Refusal::NoMandate;
        let mut windows = Vec::new();
        let mut basis = None;
        let mut qualified = false;
        for m in self.mandates.iter().filter(|m| m.esp == *esp && mandate_on(m, point)) {
            let reason = match (m.state, m.valid_until, m.approved_at) {
                (MandateState::Requested, ..) => Some(Refusal::MandateNotApproved),
                (MandateState::Expired, ..) => Some(Refusal::MandateExpired),
                (MandateState::Approved, Some(until), _) if now >= until => {
                    Some(Refusal::MandateExpired)
                }
                (MandateState::Approved, ..) if needs_interval && m.scope == Scope::DayOnly => {
                    Some(Refusal::ScopeExcludesGranularity)
                }
                (MandateState::Approved, Some(_), Some(_)) => None,
                _ => Some(Refusal::NoMandate),
            };
            if let Some(r) = reason {
                if rank(r) > rank(refusal) {
                    refusal = r;
                }
                continue;
            }
            qualified = true;
            // Without history, only data from the approval on (R-MAN-6).
            let start = match (m.history, m.approved_at) {
                (false, Some(at)) => m.period_from.max(at),
                _ => m.period_from,
            };
            let period = normalize(vec![(start, end(m.period_to))]);
            // Only the granting grid user's own occupancy: never a previous or later
            // occupant's data (R-NRT-7), whatever period was asked for.
            let own = intersect(&period, &self.occupancy_windows(ap, &m.grid_user));
            let found = intersect(&own, asked);
            if !found.is_empty() {
                basis.get_or_insert_with(|| Basis::Mandate(m.id.clone()));
                windows.extend(found);
            }
        }
        if !qualified {
            return Decision::refuse(refusal);
        }
        if windows.is_empty() {
            return Decision::refuse(Refusal::OutsidePeriod);
        }
        Decision::allow(normalize(windows), basis)
    }

    fn authorize_consent(
        &self,
        esp: &Kbo,
        point: &Ean,
        ap: &Ean,
        asked: &[Window],
        now: Timestamp,
    ) -> Decision {
        let mut windows = Vec::new();
        let mut basis = None;
        let (mut live, mut needed) = (false, false);
        for c in self
            .consents
            .iter()
            .filter(|c| c.esp == *esp && c.is_live(now) && self.consent_on(c, point))
        {
            live = true;
            // A consent is to one service: it gives near-real-time data only if that service
            // needs it (R-NRT-8).
            let service = self.esps.get(esp).and_then(|e| e.service(&c.service));
            if !service.is_some_and(|s| s.needs.contains(&DataKind::Nrt)) {
                continue;
            }
            needed = true;
            let granted = normalize(vec![(c.granted_at, end(c.revoked_at))]);
            let own = intersect(&granted, &self.occupancy_windows(ap, &c.grid_user));
            let found = intersect(&own, asked);
            if !found.is_empty() {
                basis.get_or_insert_with(|| Basis::Consent(c.id.clone()));
                windows.extend(found);
            }
        }
        if !live {
            return Decision::refuse(Refusal::NoConsent);
        }
        if !needed {
            return Decision::refuse(Refusal::NotNeeded);
        }
        if windows.is_empty() {
            return Decision::refuse(Refusal::OutsidePeriod);
        }
        Decision::allow(normalize(windows), basis)
    }

    /// The stretches `grid_user` occupied access point `ap`, merged.
    pub(crate) fn occupancy_windows(&self, ap: &Ean, grid_user: &GridUserId) -> Vec<Window> {
        let stretches = self
            .occupancy
            .get(ap)
            .map(|tl| {
                tl.iter()
                    .filter(|o| o.grid_user.as_ref() == Some(grid_user))
                    .map(|o| (o.from, end(o.to)))
                    .collect()
            })
            .unwrap_or_default();
        normalize(stretches)
    }

    /// The ESPs that have access to the point's data now (R-ACC-5), with the mandate or
    /// consent that gives it, sorted by ESP. A mandate whose consumption period a market
    /// scenario ended still counts: the data before stays readable.
    pub fn parties_with_access(&self, point: &Ean, now: Timestamp) -> Vec<(Kbo, Basis)> {
        let active = |k: &Kbo| self.esps.get(k).is_some_and(|e| e.status == ContractStatus::Active);
        let mut out: Vec<(Kbo, Basis)> = self
            .mandates
            .iter()
            .filter(|m| {
                mandate_on(m, point)
                    && m.state == MandateState::Approved
                    && m.valid_until.is_some_and(|u| now < u)
                    && active(&m.esp)
            })
            .map(|m| (m.esp.clone(), Basis::Mandate(m.id.clone())))
            .chain(
                self.consents
                    .iter()
                    .filter(|c| c.is_live(now) && self.consent_on(c, point) && active(&c.esp))
                    .map(|c| (c.esp.clone(), Basis::Consent(c.id.clone()))),
            )
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}
