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

    fn request_mandate(
        &mut self,
        req: MandateRequest,
        now: Timestamp,
    ) -> Result<Vec<Notification>, RegisterError> {
        self.active_esp(&req.esp)?;
        let ap = self.dsp_or_err(&req.data_service_point)?.access_point.clone();
        if let Some(to) = req.period_to
            && to <= req.period_from
        {
            return Err(RegisterError::PeriodReversed { from: req.period_from, to });
        }
        if let Some(old_id) = &req.renews {
            let old = self.mandate_or_err(old_id)?;
            if old.esp != req.esp || old.data_service_point != req.data_service_point {
                return Err(RegisterError::Forbidden {
                    reason: format!(
                        "mandate {old_id} is for another ESP or data service point; a renewal \
                         is for the same ESP and point"
                    ),
                });
            }
            if old.state != MandateState::Approved {
                return Err(RegisterError::AlreadyDecided {
                    what: format!("mandate {old_id}"),
                    state: old.state.as_str(),
                    next: "only an approved mandate can be renewed; request a new mandate \
                           without `renews`",
                });
            }
        }
        let Some(grid_user) = self.grid_user_at(&ap, now).cloned() else {
            return Err(RegisterError::NotGridUser { grid_user: None, access_point: ap });
        };
        if self.mandates.iter().any(|m| {
            m.state == MandateState::Requested
                && m.esp == req.esp
                && m.data_service_point == req.data_service_point
                && m.customer == req.customer
        }) {
            return Err(RegisterError::Duplicate {
                what: format!(
                    "a pending mandate request of {} for ESP {} on {}",
                    req.customer, req.esp, req.data_service_point
                ),
            });
        }
        let id = format!("M{}", self.mandates.len() + 1);
        let needs_co_consent = grid_user != req.customer;
        let mut notes = vec![Notification {
            at: now,
            esp: Some(req.esp.clone()),
            grid_user: Some(req.customer.clone()),
            kind: NotificationKind::MandateRequested,
            mandate: Some(id.clone()),
            consent: None,
            point: Some(req.data_service_point.clone()),
            detail: format!(
                "{} asks to grant ESP {} a mandate on {}",
                req.customer, req.esp, req.data_service_point
            ),
        }];
        if needs_co_consent {
            notes.push(Notification {
                at: now,
                esp: None,
                grid_user: Some(grid_user.clone()),
                kind: NotificationKind::MandateRequested,
                mandate: Some(id.clone()),
                consent: None,
                point: Some(req.data_service_point.clone()),
                detail: format!(
                    "{} asks to grant ESP {} a mandate on {}; as its grid user your consent is \
                     needed too",
                    req.customer, req.esp, req.data_service_point
                ),
            });
        }
        self.mandates.push(Mandate {
            id,
            esp: req.esp,
            data_service_point: req.data_service_point,
            access_point: ap,
            customer: req.customer,
            grid_user,
            needs_co_consent,
            customer_approved: false,
            grid_user_approved: false,
            scope: req.scope,
            period_from: req.period_from,
            period_to: req.period_to,
            history: req.history,
            requested_at: now,
            approved_at: None,
            valid_until: None,
            state: MandateState::Requested,
            renews: req.renews,
            renewal_signalled: false,
            ended_at: None,
        });
        Ok(notes)
    }

    fn mandate_index(&self, id: &str) -> Result<usize, RegisterError> {
        index_of(id, 'M')
            .filter(|&i| self.mandates.get(i).is_some_and(|m| m.id == id))
            .ok_or_else(|| RegisterError::UnknownMandate { mandate: id.to_owned() })
    }

    fn mandate_or_err(&self, id: &str) -> Result<&Mandate, RegisterError> {
        self.mandate_index(id).and_then(|i| {
            self.mandates
                .get(i)
                .ok_or_else(|| RegisterError::UnknownMandate { mandate: id.to_owned() })
        })
    }

    fn consent_index(&self, id: &str) -> Result<usize, RegisterError> {
        index_of(id, 'C')
            .filter(|&i| self.consents.get(i).is_some_and(|c| c.id == id))
            .ok_or_else(|| RegisterError::UnknownConsent { consent: id.to_owned() })
    }

    fn approve_mandate(
        &mut self,
        id: &str,
        by: &GridUserId,
        now: Timestamp,
    ) -> Result<Vec<Notification>, RegisterError> {
        let i = self.mandate_index(id)?;
        let m = self.mandate_or_err(id)?;
        let (is_customer, is_grid_user) = (*by == m.customer, *by == m.grid_user);
        // A stranger learns nothing, not even that the mandate exists.
        if !is_customer && !is_grid_user {
            return Err(RegisterError::UnknownMandate { mandate: id.to_owned() });
        }
        if m.state != MandateState::Requested {
            return Err(RegisterError::AlreadyDecided {
                what: format!("mandate {id}"),
                state: m.state.as_str(),
                next: "nothing to do",
            });
        }
        let customer_approved = m.customer_approved || is_customer;
        let grid_user_approved = m.grid_user_approved || is_grid_user;
        if customer_approved == m.customer_approved && grid_user_approved == m.grid_user_approved {
            return Err(RegisterError::AlreadyDecided {
                what: format!("mandate {id}"),
                state: "requested",
                next: "this person approved it already; it waits for the other approval \
                       (customer or grid user)",
            });
        }
        self.active_esp(&m.esp)?;
        let renews = m.renews.clone();
        let Some(m) = self.mandates.get_mut(i) else {
            return Err(RegisterError::UnknownMandate { mandate: id.to_owned() });
        };
        m.customer_approved = customer_approved;
        m.grid_user_approved = grid_user_approved;
        if !(customer_approved && grid_user_approved) {
            // Half of the consent is there; the other half was asked for at the request.
            return Ok(Vec::new());
        }
        let valid_until = three_years_after(now);
        m.state = MandateState::Approved;
        m.approved_at = Some(now);
        m.valid_until = Some(valid_until);
        let mut notes = vec![Notification {
            at: now,
            esp: Some(m.esp.clone()),
            grid_user: Some(m.customer.clone()),
            kind: NotificationKind::MandateApproved,
            mandate: Some(id.to_owned()),
            consent: None,
            point: Some(m.data_service_point.clone()),
            detail: format!("mandate {id} is approved and valid until {}", local(&valid_until)),
        }];
        if let Some(old_id) = renews
            && let Ok(j) = self.mandate_index(&old_id)
            && let Some(old) = self.mandates.get_mut(j)
            && old.state == MandateState::Approved
        {
            old.state = MandateState::Finished { reason: EndReason::Renewed };
            old.ended_at = Some(now);
            notes.push(Notification {
                at: now,
                esp: Some(old.esp.clone()),
                grid_user: Some(old.customer.clone()),
                kind: NotificationKind::MandateEnded,
                mandate: Some(old_id.clone()),
                consent: None,
                point: Some(old.data_service_point.clone()),
                detail: format!("mandate {old_id} is replaced by its renewal {id}"),
            });
        }
        Ok(notes)
    }

    fn reject_mandate(
        &mut self,
        id: &str,
        by: &GridUserId,
        now: Timestamp,
    ) -> Result<Vec<Notification>, RegisterError> {
        let i = self.mandate_index(id)?;
        let Some(m) = self.mandates.get_mut(i) else {
            return Err(RegisterError::UnknownMandate { mandate: id.to_owned() });
        };
        if *by != m.customer && *by != m.grid_user {
            return Err(RegisterError::UnknownMandate { mandate: id.to_owned() });
        }
        if m.state != MandateState::Requested {
            return Err(RegisterError::AlreadyDecided {
                what: format!("mandate {id}"),
                state: m.state.as_str(),
                next: "nothing to do",
            });
        }
        m.state = MandateState::Rejected;
        m.ended_at = Some(now);
        Ok(vec![Notification {
            at: now,
            esp: Some(m.esp.clone()),
            grid_user: Some(m.customer.clone()),
            kind: NotificationKind::MandateRejected,
            mandate: Some(id.to_owned()),
            consent: None,
            point: Some(m.data_service_point.clone()),
            detail: format!("{by} rejected mandate {id}"),
        }])
    }

    fn end_mandate(
        &mut self,
        id: &str,
        by: &Party,
        now: Timestamp,
    ) -> Result<Vec<Notification>, RegisterError> {
        let m = self.mandate_or_err(id)?;
        let forbidden = || RegisterError::Forbidden {
            reason: format!(
                "only the customer or the current grid user can end mandate {id}; an ESP \
                 cannot (R-MAN-4)"
            ),
        };
        // Only parties to the mandate learn that it exists: its ESP is told it may not end
        // it; any other ESP or grid user gets the answer for a mandate that does not exist.
        let unknown = || RegisterError::UnknownMandate { mandate: id.to_owned() };
        let g = match by {
            Party::GridUser(g) => g,
            Party::Esp(k) if *k == m.esp => return Err(forbidden()),
            Party::Esp(_) => return Err(unknown()),
            Party::Admin | Party::Operator => return Err(forbidden()),
        };
        let reason = if *g == m.customer {
            EndReason::Customer
        } else if self.grid_user_at(&m.access_point, now) == Some(g) {
            EndReason::GridUser
        } else {
            return Err(unknown());
        };
        if !m.state.is_open() {
            return Err(RegisterError::AlreadyDecided {
                what: format!("mandate {id}"),
                state: m.state.as_str(),
                next: "nothing to do",
            });
        }
        let i = self.mandate_index(id)?;
        let Some(m) = self.mandates.get_mut(i) else {
            return Err(RegisterError::UnknownMandate { mandate: id.to_owned() });
        };
        m.state = MandateState::Finished { reason };
        m.ended_at = Some(now);
        Ok(vec![Notification {
            at: now,
            esp: Some(m.esp.clone()),
            grid_user: Some(m.customer.clone()),
            kind: NotificationKind::MandateEnded,
            mandate: Some(id.to_owned()),
            consent: None,
            point: Some(m.data_service_point.clone()),
            detail: format!("{g} ended mandate {id}"),
        }])
    }

    /// The access point of an access point or data service point EAN.
    pub(crate) fn access_point_of(&self, point: &Ean) -> Option<&Ean> {
        if let Some(ap) = self.access_points.get(point) {
            return Some(&ap.ean);
        }
        self.data_service_points.get(point).map(|d| &d.access_point)
    }

    fn accept_terms(
        &mut self,
        grid_user: GridUserId,
        access_point: Ean,
        now: Timestamp,
    ) -> Result<Vec<Notification>, RegisterError> {
        if !self.access_points.contains_key(&access_point) {
            return Err(RegisterError::UnknownPoint { point: access_point, what: "access point" });
        }
        if self.grid_user_at(&access_point, now) != Some(&grid_user) {
            return Err(RegisterError::NotGridUser { grid_user: Some(grid_user), access_point });
        }
        if self.terms_accepted(&grid_user, &access_point) {
            return Err(RegisterError::Duplicate {
                what: format!("the acceptance of the terms by {grid_user} on {access_point}"),
            });
        }
        self.terms.push(TermsAcceptance { grid_user, access_point, at: now });
        Ok(Vec::new())
    }

    /// Whether `grid_user` accepted the NRT terms on access point `ap`.
    pub fn terms_accepted(&self, grid_user: &GridUserId, ap: &Ean) -> bool {
        self.terms.iter().any(|t| t.grid_user == *grid_user && t.access_point == *ap)
    }

    fn grant_consent(
        &mut self,
        grid_user: GridUserId,
        dsp: Ean,
        esp: Kbo,
        service: String,
        now: Timestamp,
    ) -> Result<Vec<Notification>, RegisterError> {
        let ap = self.dsp_or_err(&dsp)?.access_point.clone();
        let catalogue = self.active_esp(&esp)?;
        if catalogue.service(&service).is_none() {
            return Err(RegisterError::UnknownService {
                esp,
                service,
                known: catalogue.services.iter().map(|s| s.id.clone()).collect(),
            });
        }
        if self.grid_user_at(&ap, now) != Some(&grid_user) {
            return Err(RegisterError::NotGridUser {
                grid_user: Some(grid_user),
                access_point: ap,
            });
        }
        if !self.terms_accepted(&grid_user, &ap) {
            return Err(RegisterError::TermsNotAccepted { grid_user, access_point: ap });
        }
        if self.consents.iter().any(|c| {
            c.is_live(now)
                && c.grid_user == grid_user
                && c.data_service_point == dsp
                && c.esp == esp
                && c.service == service
        }) {
            return Err(RegisterError::Duplicate {
                what: format!("the consent of {grid_user} for {esp} service '{service}' on {dsp}"),
            });
        }
        let id = format!("C{}", self.consents.len() + 1);
        let note = Notification {
            at: now,
            esp: Some(esp.clone()),
            grid_user: Some(grid_user.clone()),
            kind: NotificationKind::ConsentGranted,
            mandate: None,
            consent: Some(id.clone()),
            point: Some(dsp.clone()),
            detail: format!("{grid_user} consents to share NRT data of {dsp} for '{service}'"),
        };
        self.consents.push(Consent {
            id,
            grid_user,
            data_service_point: dsp,
            esp,
            service,
            granted_at: now,
            revoked_at: None,
            revoke_reason: None,
        });
        Ok(vec![note])
    }

    fn revoke_consent(
        &mut self,
        id: &str,
        by: &GridUserId,
        now: Timestamp,
    ) -> Result<Vec<Notification>, RegisterError> {
        let i = self.consent_index(id)?;
        let Some(c) = self.consents.get_mut(i) else {
            return Err(RegisterError::UnknownConsent { consent: id.to_owned() });
        };
        // Another grid user learns nothing of the consent, not even whose it is.
        if c.grid_user != *by {
            return Err(RegisterError::UnknownConsent { consent: id.to_owned() });
        }
        if !c.is_live(now) {
            return Err(RegisterError::AlreadyDecided {
                what: format!("consent {id}"),
                state: "revoked",
                next: "nothing to do; the grid user can grant a new consent",
            });
        }
        c.revoked_at = Some(now);
        c.revoke_reason = Some(RevokeReason::GridUser);
        Ok(vec![Notification {
            at: now,
            esp: Some(c.esp.clone()),
            grid_user: Some(c.grid_user.clone()),
            kind: NotificationKind::ConsentRevoked,
            mandate: None,
            consent: Some(id.to_owned()),
            point: Some(c.data_service_point.clone()),
            detail: format!("{by} revoked consent {id}; stop using its data now"),
        }])
    }

    fn market_scenario(
        &mut self,
        ap: &Ean,
        kind: ScenarioKind,
        effective: Timestamp,
        new_grid_user: Option<GridUserId>,
        new_supplier: Option<SupplierId>,
        now: Timestamp,
    ) -> Result<Vec<Notification>, RegisterError> {
        if !self.access_points.contains_key(ap) {
            return Err(RegisterError::UnknownPoint { point: ap.clone(), what: "access point" });
        }
        let earliest = minus(now, self.rules.max_backdate);
        if effective < earliest {
            return Err(RegisterError::BackdateTooFar {
                effective,
                earliest,
                days: days(self.rules.max_backdate),
            });
        }
        let incomplete = |missing| RegisterError::ScenarioIncomplete { kind: kind.code(), missing };
        use ScenarioKind as K;
        // What the scenario sets from `effective` on: the grid user (outer None: unchanged) and
        // the supplier (likewise), and whether mandates' periods end at `effective` although
        // the grid user stays (drop).
        let (grid_user, supplier, truncate_anyway) = match kind {
            K::SupplierSwitch => {
                (None, Some(Some(new_supplier.ok_or_else(|| incomplete("a new supplier"))?)), false)
            }
            K::CustomerSwitch | K::MoveIn => {
                let g = new_grid_user.ok_or_else(|| incomplete("a new grid user"))?;
                // The supplier stays unless one is named (a move-in often brings one).
                (Some(Some(g)), new_supplier.map(Some), false)
            }
            K::CombinedSwitch => {
                let g = new_grid_user.ok_or_else(|| incomplete("a new grid user"))?;
                let s = new_supplier.ok_or_else(|| incomplete("a new supplier"))?;
                (Some(Some(g)), Some(Some(s)), false)
            }
            // The leaving grid user's supplier ends supply with the move-out; MOZA finds the
            // point without grid user or supplier. MOZA after an MO changes nothing more, so
            // it never extends a mandate; MOZA on an occupied point acts as the move-out.
            K::MoveOut | K::Moza => (Some(None), Some(None), false),
            K::EndOfContract => (None, Some(None), false),
            // Drop: the DSO becomes the social supplier; the grid user stays. Whether mandates'
            // periods end here is `Rules::drop_truncates` (the brief lists drop among the
            // scenarios that end them; strictly the grid user does not change).
            K::Drop => (
                None,
                Some(Some(SupplierId(DSO_SOCIAL_SUPPLIER.to_owned()))),
                self.rules.drop_truncates,
            ),
        };

        // Validated; from here on nothing fails.
        let Some(timeline) = self.occupancy.get_mut(ap) else {
            return Ok(Vec::new());
        };
        let mut left = None;
        if let Some(g) = grid_user {
            let old = set_from(timeline, effective, grid_user_field, g.clone()).flatten();
            if old != g {
                left = Some(old);
            }
        }
        if let Some(s) = supplier {
            set_from(timeline, effective, supplier_field, s);
        }
        if kind == K::Moza {
            // Record the regularisation as its own occupancy even when nothing changed.
            split_at(timeline, effective);
        }

        let mut notes = Vec::new();
        if left.is_some() || truncate_anyway {
            self.truncate_periods(ap, kind, effective, now, &mut notes);
        }
        if let Some(Some(old)) = left {
            // Revoke at once; when the scenario lies in the future, at its effective instant.
            // Consented reads are clipped to the consenting grid user's occupancy anyway, so a
            // backdated scenario cuts the windows at `effective` too.
            self.revoke_consents_of(ap, &old, kind, effective.max(now), now, &mut notes);
        }
        Ok(notes)
    }

    /// Sets the end of the consumption period of every open mandate on the access point to
    /// `effective` (R-MAN-5): the mandate stays, data before stays readable.
    fn truncate_periods(
        &mut self,
        ap: &Ean,
        kind: ScenarioKind,
        effective: Timestamp,
        now: Timestamp,
        notes: &mut Vec<Notification>,
    ) {
        for m in self.mandates.iter_mut().filter(|m| m.access_point == *ap && m.state.is_open()) {
            if end(m.period_to) <= effective {
                continue;
            }
            m.period_to = Some(effective);
            notes.push(Notification {
                at: now,
                esp: Some(m.esp.clone()),
                grid_user: Some(m.customer.clone()),
                kind: NotificationKind::PeriodTruncated,
                mandate: Some(m.id.clone()),
                consent: None,
                point: Some(m.data_service_point.clone()),
                detail: format!(
                    "a {} market scenario on access point {ap} ends the consumption period of \
                     mandate {} at {}; data before stays readable",
                    kind.code(),
                    m.id,
                    local(&effective)
                ),
            });
        }
    }

    /// Revokes the NRT consents of the grid user who left the access point (R-NRT-7).
    fn revoke_consents_of(
        &mut self,
        ap: &Ean,
        old: &GridUserId,
        kind: ScenarioKind,
        at: Timestamp,
        now: Timestamp,
        notes: &mut Vec<Notification>,
    ) {
        let points = &self.data_service_points;
        for c in self.consents.iter_mut().filter(|c| {
            c.grid_user == *old
                && points.get(&c.data_service_point).is_some_and(|d| d.access_point == *ap)
                && end(c.revoked_at) > at
        }) {
            c.revoked_at = Some(at);
            c.revoke_reason = Some(RevokeReason::MarketScenario);
            notes.push(Notification {
                at: now,
                esp: Some(c.esp.clone()),
                grid_user: Some(c.grid_user.clone()),
                kind: NotificationKind::ConsentRevoked,
                mandate: None,
                consent: Some(c.id.clone()),
                point: Some(c.data_service_point.clone()),
                detail: format!(
                    "a {} market scenario changed the grid user of access point {ap}: consent {} \
                     ends at {}",
                    kind.code(),
                    c.id,
                    local(&at)
                ),
            });
        }
    }

    fn tick(&mut self, now: Timestamp) -> Vec<Notification> {
        let notice = self.rules.renewal_notice;
        let mut notes = Vec::new();
        for m in self.mandates.iter_mut().filter(|m| m.state == MandateState::Approved) {
            let Some(valid_until) = m.valid_until else { continue };
            let note = |kind, detail| Notification {
                at: now,
                esp: Some(m.esp.clone()),
                grid_user: Some(m.customer.clone()),
                kind,
                mandate: Some(m.id.clone()),
                consent: None,
                point: Some(m.data_service_point.clone()),
                detail,
            };
            if now >= valid_until {
                notes.push(note(
                    NotificationKind::MandateExpired,
                    format!("mandate {} expired at {}", m.id, local(&valid_until)),
                ));
                m.state = MandateState::Expired;
                m.ended_at = Some(valid_until);
            } else if !m.renewal_signalled && now >= minus(valid_until, notice) {
                notes.push(note(
                    NotificationKind::RenewalDue,
                    format!(
                        "mandate {} expires at {}: ask the customer to renew it through the \
                         step plan",
                        m.id,
                        local(&valid_until)
                    ),
                ));
                m.renewal_signalled = true;
            }
        }
        notes
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

/// The fields of [`Command::RequestMandate`].
struct MandateRequest {
    esp: Kbo,
    data_service_point: Ean,
    customer: GridUserId,
    scope: Scope,
    period_from: Timestamp,
    period_to: Option<Timestamp>,
    history: bool,
    renews: Option<String>,
}
