//! The registers' state and how each command changes it.

use std::collections::BTreeMap;

use calendar::{SignedDuration, Timestamp, brussels};
use domain::{AccessPoint, DataServicePoint, DongleLink, Ean, Esp, GridUserId, Kbo, SupplierId};
use jiff::Span;
use serde::{Deserialize, Serialize};

use crate::command::Command;
use crate::error::{RegisterError, local};
use crate::model::{
    Consent, DSO_SOCIAL_SUPPLIER, EndReason, Mandate, MandateState, MandateView, Occupancy, Party,
    RevokeReason, Rules, ScenarioKind, Scope, TermsAcceptance,
};
use crate::notify::{Notification, NotificationKind};
use crate::window::end;

mod consents;
mod esps;
mod mandates;
mod market;

use mandates::MandateRequest;

/// The central registers: access points and who occupies them, ESPs, mandates, NRT consents,
/// terms acceptances and dongle links.
///
/// Event-sourced: the only way to change them is [`Registers::apply`], which is deterministic
/// in its command and `now` (ids come from counters in the state, never from a clock or a
/// random source). The server persists every accepted command with its `now` and replays them
/// at start; a refused command changes nothing, so it need not be persisted. A
/// [`Command::Tick`] that returns no notifications changed nothing either.
///
/// The whole state serializes, so two replays can be compared (`serde_json::to_value`) and a
/// snapshot can be stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Registers {
    pub(crate) rules: Rules,
    pub(crate) access_points: BTreeMap<Ean, AccessPoint>,
    pub(crate) data_service_points: BTreeMap<Ean, DataServicePoint>,
    pub(crate) esps: BTreeMap<Kbo, Esp>,
    pub(crate) occupancy: BTreeMap<Ean, Vec<Occupancy>>,
    /// In order of request; `mandates[n - 1]` is `Mn`.
    pub(crate) mandates: Vec<Mandate>,
    /// In order of grant; `consents[n - 1]` is `Cn`.
    pub(crate) consents: Vec<Consent>,
    pub(crate) terms: Vec<TermsAcceptance>,
    pub(crate) dongle_links: Vec<DongleLink>,
}

/// `n` from `{prefix}{n}`, for ids made by the registers (`M1`, `C12`).
fn index_of(id: &str, prefix: char) -> Option<usize> {
    let n: usize = id.strip_prefix(prefix)?.parse().ok()?;
    n.checked_sub(1)
}

/// Three calendar years later on the Brussels calendar (R-MAN-1): the same wall-clock time on
/// the same date, 29 February becoming 28 February.
fn three_years_after(ts: Timestamp) -> Timestamp {
    ts.to_zoned(brussels().clone())
        .checked_add(Span::new().years(3))
        .map_or(Timestamp::MAX, |z| z.timestamp())
}

fn minus(ts: Timestamp, d: SignedDuration) -> Timestamp {
    ts.saturating_sub(d).unwrap_or(Timestamp::MIN)
}

fn days(d: SignedDuration) -> i64 {
    d.as_secs() / 86_400
}

/// Splits the timeline so an occupancy starts at `at` and returns its index. An instant before
/// the first occupancy is taken as its start: the registers know nothing earlier.
fn split_at(timeline: &mut Vec<Occupancy>, at: Timestamp) -> usize {
    let Some(i) = timeline.iter().position(|o| o.contains(at)) else {
        return 0;
    };
    let Some(occ) = timeline.get_mut(i) else {
        return 0;
    };
    if occ.from == at {
        return i;
    }
    let tail = Occupancy { from: at, ..occ.clone() };
    occ.to = Some(at);
    timeline.insert(i + 1, tail);
    i + 1
}

/// Sets one attribute of the occupancy from `at` on, until the next recorded change of that
/// attribute (so a backdated scenario does not overwrite a later one), and returns the value
/// it had at `at`.
fn set_from<T: Clone + PartialEq>(
    timeline: &mut Vec<Occupancy>,
    at: Timestamp,
    field: fn(&mut Occupancy) -> &mut T,
    new: T,
) -> Option<T> {
    let start = split_at(timeline, at);
    let old = timeline.get_mut(start).map(|o| field(o).clone())?;
    for occ in timeline.iter_mut().skip(start) {
        let value = field(occ);
        if *value != old {
            break;
        }
        *value = new.clone();
    }
    Some(old)
}

fn grid_user_field(o: &mut Occupancy) -> &mut Option<GridUserId> {
    &mut o.grid_user
}

fn supplier_field(o: &mut Occupancy) -> &mut Option<SupplierId> {
    &mut o.supplier
}

impl Registers {
    /// Empty registers under `rules`.
    pub fn new(rules: Rules) -> Self {
        Self {
            rules,
            access_points: BTreeMap::new(),
            data_service_points: BTreeMap::new(),
            esps: BTreeMap::new(),
            occupancy: BTreeMap::new(),
            mandates: Vec::new(),
            consents: Vec::new(),
            terms: Vec::new(),
            dongle_links: Vec::new(),
        }
    }

    /// Registers rebuilt from a persisted command log, in order. Stops at the first refusal,
    /// which means the log does not come from these rules.
    pub fn replay<'a>(
        rules: Rules,
        log: impl IntoIterator<Item = (&'a Command, Timestamp)>,
    ) -> Result<Self, RegisterError> {
        let mut registers = Self::new(rules);
        for (cmd, now) in log {
            registers.apply(cmd.clone(), now)?;
        }
        Ok(registers)
    }

    /// The rules in force.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Applies a command at `now` and returns what to tell the parties. A refused command
    /// changes nothing.
    pub fn apply(
        &mut self,
        cmd: Command,
        now: Timestamp,
    ) -> Result<Vec<Notification>, RegisterError> {
        match cmd {
            Command::RegisterAccessPoint {
                access_point,
                data_service_points,
                grid_user,
                supplier,
                since,
            } => self.register_access_point(
                access_point,
                data_service_points,
                grid_user,
                supplier,
                since,
            ),
            Command::RegisterEsp { esp } => {
                self.esps.insert(esp.kbo.clone(), esp);
                Ok(Vec::new())
            }
            Command::SuspendEsp { esp, reason } => self.suspend_esp(&esp, &reason, now),
            Command::ReinstateEsp { esp } => self.reinstate_esp(&esp, now),
            Command::SetWebhook { esp, url } => self.set_webhook(&esp, url),
            Command::LinkDongle { link } => self.link_dongle(link),
            Command::RequestMandate {
                esp,
                data_service_point,
                customer,
                scope,
                period_from,
                period_to,
                history,
                renews,
            } => self.request_mandate(
                MandateRequest {
                    esp,
                    data_service_point,
                    customer,
                    scope,
                    period_from,
                    period_to,
                    history,
                    renews,
                },
                now,
            ),
            Command::ApproveMandate { mandate, by } => self.approve_mandate(&mandate, &by, now),
            Command::RejectMandate { mandate, by } => self.reject_mandate(&mandate, &by, now),
            Command::EndMandate { mandate, by } => self.end_mandate(&mandate, &by, now),
            Command::AcceptTerms { grid_user, access_point } => {
                self.accept_terms(grid_user, access_point, now)
            }
            Command::GrantConsent { grid_user, data_service_point, esp, service } => {
                self.grant_consent(grid_user, data_service_point, esp, service, now)
            }
            Command::RevokeConsent { consent, by } => self.revoke_consent(&consent, &by, now),
            Command::MarketScenario {
                access_point,
                kind,
                effective,
                new_grid_user,
                new_supplier,
            } => self.market_scenario(
                &access_point,
                kind,
                effective,
                new_grid_user,
                new_supplier,
                now,
            ),
            Command::Tick => Ok(self.tick(now)),
        }
    }

    // ----- commands -------------------------------------------------------------------------

    fn register_access_point(
        &mut self,
        mut access_point: AccessPoint,
        dsps: Vec<DataServicePoint>,
        grid_user: Option<GridUserId>,
        supplier: Option<SupplierId>,
        since: Timestamp,
    ) -> Result<Vec<Notification>, RegisterError> {
        let ap = access_point.ean.clone();
        if self.access_points.contains_key(&ap) {
            return Err(RegisterError::Duplicate { what: format!("access point {ap}") });
        }
        let invalid = |reason: String| RegisterError::InvalidPoint { point: ap.clone(), reason };
        for (i, dsp) in dsps.iter().enumerate() {
            if dsp.access_point != ap {
                return Err(invalid(format!(
                    "data service point {} names access point {}",
                    dsp.id, dsp.access_point
                )));
            }
            if dsp.commodity != access_point.commodity {
                return Err(invalid(format!(
                    "data service point {} is {:?} but the access point is {:?}",
                    dsp.id, dsp.commodity, access_point.commodity
                )));
            }
            if self.data_service_points.contains_key(&dsp.id)
                || dsps.iter().take(i).any(|d| d.id == dsp.id)
            {
                return Err(RegisterError::Duplicate {
                    what: format!("data service point {}", dsp.id),
                });
            }
        }
        if let Some(missing) =
            access_point.data_service_points.iter().find(|id| !dsps.iter().any(|d| d.id == **id))
        {
            return Err(invalid(format!(
                "it lists data service point {missing} but the command gives no record for it"
            )));
        }
        for dsp in &dsps {
            if !access_point.data_service_points.contains(&dsp.id) {
                access_point.data_service_points.push(dsp.id.clone());
            }
        }
        for dsp in dsps {
            self.data_service_points.insert(dsp.id.clone(), dsp);
        }
        self.occupancy
            .insert(ap.clone(), vec![Occupancy { grid_user, supplier, from: since, to: None }]);
        self.access_points.insert(ap, access_point);
        Ok(Vec::new())
    }

    fn link_dongle(&mut self, link: DongleLink) -> Result<Vec<Notification>, RegisterError> {
        if !self.data_service_points.contains_key(&link.data_service_point) {
            return Err(RegisterError::UnknownPoint {
                point: link.data_service_point,
                what: "data service point",
            });
        }
        if self.dongle_links.contains(&link) {
            return Err(RegisterError::Duplicate {
                what: format!("the link of dongle {}", link.dongle),
            });
        }
        // A dongle reads one meter at a time: a new link replaces its old one.
        self.dongle_links.retain(|l| l.dongle != link.dongle);
        self.dongle_links.push(link);
        Ok(Vec::new())
    }

    fn active_esp(&self, kbo: &Kbo) -> Result<&Esp, RegisterError> {
        let esp =
            self.esps.get(kbo).ok_or_else(|| RegisterError::UnknownEsp { esp: kbo.clone() })?;
        if esp.status != domain::ContractStatus::Active {
            return Err(RegisterError::EspNotActive { esp: kbo.clone() });
        }
        Ok(esp)
    }

    fn dsp_or_err(&self, point: &Ean) -> Result<&DataServicePoint, RegisterError> {
        self.data_service_points.get(point).ok_or_else(|| RegisterError::UnknownPoint {
            point: point.clone(),
            what: "data service point",
        })
    }

    /// The access point of an access point or data service point EAN.
    pub(crate) fn access_point_of(&self, point: &Ean) -> Option<&Ean> {
        if let Some(ap) = self.access_points.get(point) {
            return Some(&ap.ean);
        }
        self.data_service_points.get(point).map(|d| &d.access_point)
    }

    /// Whether `grid_user` accepted the NRT terms on access point `ap`.
    pub fn terms_accepted(&self, grid_user: &GridUserId, ap: &Ean) -> bool {
        self.terms.iter().any(|t| t.grid_user == *grid_user && t.access_point == *ap)
    }

    // ----- queries --------------------------------------------------------------------------

    /// The mandate with this id.
    pub fn mandate(&self, id: &str) -> Option<&Mandate> {
        self.mandate_or_err(id).ok()
    }

    /// Every mandate, in order of request.
    pub fn mandates(&self) -> &[Mandate] {
        &self.mandates
    }

    /// The mandates of an ESP, in order of request.
    pub fn mandates_of_esp(&self, esp: &Kbo) -> Vec<&Mandate> {
        self.mandates.iter().filter(|m| m.esp == *esp).collect()
    }

    /// The mandates on a data service point, or on every data service point of an access point.
    pub fn mandates_for_point(&self, point: &Ean) -> Vec<&Mandate> {
        self.mandates.iter().filter(|m| mandate_on(m, point)).collect()
    }

    /// For each point, the ESP's most relevant mandate on it (R-MAN-8): the latest approved,
    /// else the latest requested, else the latest of any state; `None` if it has none.
    pub fn mandate_status(&self, esp: &Kbo, points: &[Ean]) -> Vec<(Ean, Option<MandateView>)> {
        points
            .iter()
            .map(|p| {
                let mine: Vec<&Mandate> =
                    self.mandates.iter().filter(|m| m.esp == *esp && mandate_on(m, p)).collect();
                let pick = |state: MandateState| mine.iter().rev().find(|m| m.state == state);
                let best = pick(MandateState::Approved)
                    .or_else(|| pick(MandateState::Requested))
                    .or_else(|| mine.last());
                (p.clone(), best.map(|m| MandateView::from(*m)))
            })
            .collect()
    }

    /// The consent with this id.
    pub fn consent(&self, id: &str) -> Option<&Consent> {
        self.consent_index(id).ok().and_then(|i| self.consents.get(i))
    }

    /// The consents on a data service point, or on every data service point of an access point.
    pub fn consents_for_point(&self, point: &Ean) -> Vec<&Consent> {
        self.consents.iter().filter(|c| self.consent_on(c, point)).collect()
    }

    /// The consents given to an ESP.
    pub fn consents_of_esp(&self, esp: &Kbo) -> Vec<&Consent> {
        self.consents.iter().filter(|c| c.esp == *esp).collect()
    }

    pub(crate) fn consent_on(&self, c: &Consent, point: &Ean) -> bool {
        c.data_service_point == *point
            || self
                .data_service_points
                .get(&c.data_service_point)
                .is_some_and(|d| d.access_point == *point)
    }

    /// Every access point, by EAN.
    pub fn access_points(&self) -> impl Iterator<Item = &AccessPoint> {
        self.access_points.values()
    }

    /// The access point with this EAN.
    pub fn access_point(&self, ean: &Ean) -> Option<&AccessPoint> {
        self.access_points.get(ean)
    }

    /// The data service point with this EAN.
    pub fn data_service_point(&self, ean: &Ean) -> Option<&DataServicePoint> {
        self.data_service_points.get(ean)
    }

    /// The ESP with this enterprise number.
    pub fn esp(&self, kbo: &Kbo) -> Option<&Esp> {
        self.esps.get(kbo)
    }

    /// Every ESP, by enterprise number.
    pub fn esps(&self) -> impl Iterator<Item = &Esp> {
        self.esps.values()
    }

    /// The grid user of an access point (or of a data service point's access point) at `t`.
    pub fn grid_user_at(&self, ap: &Ean, t: Timestamp) -> Option<&GridUserId> {
        let ap = self.access_point_of(ap)?;
        self.occupancy.get(ap)?.iter().find(|o| o.contains(t))?.grid_user.as_ref()
    }

    /// The supplier of an access point (or of a data service point's access point) at `t`.
    pub fn supplier_at(&self, ap: &Ean, t: Timestamp) -> Option<&SupplierId> {
        let ap = self.access_point_of(ap)?;
        self.occupancy.get(ap)?.iter().find(|o| o.contains(t))?.supplier.as_ref()
    }

    /// The occupancy timeline of an access point (or of a data service point's access point);
    /// empty if unknown.
    pub fn occupancy(&self, ap: &Ean) -> &[Occupancy] {
        self.access_point_of(ap).and_then(|ap| self.occupancy.get(ap)).map_or(&[], Vec::as_slice)
    }

    /// The NRT terms acceptances, in order.
    pub fn terms(&self) -> &[TermsAcceptance] {
        &self.terms
    }

    /// Every dongle link, in order of linking.
    pub fn dongle_links(&self) -> &[DongleLink] {
        &self.dongle_links
    }

    /// The data service point a dongle's data belongs to.
    pub fn point_of_dongle(&self, dongle: &str) -> Option<&Ean> {
        self.dongle_links.iter().find(|l| l.dongle == dongle).map(|l| &l.data_service_point)
    }
}

/// Whether a mandate is on this data service point or on a data service point of this access
/// point.
pub(crate) fn mandate_on(m: &Mandate, point: &Ean) -> bool {
    m.data_service_point == *point || m.access_point == *point
}
