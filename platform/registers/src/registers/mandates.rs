//! Mandates: the step-plan request, approval by the customer (and the grid user when they
//! differ), refusal, ending, and the tick that signals renewals and expiries (R-MAN-1..6).

use super::*;

impl Registers {
    pub(super) fn request_mandate(
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

    pub(super) fn mandate_index(&self, id: &str) -> Result<usize, RegisterError> {
        index_of(id, 'M')
            .filter(|&i| self.mandates.get(i).is_some_and(|m| m.id == id))
            .ok_or_else(|| RegisterError::UnknownMandate { mandate: id.to_owned() })
    }

    pub(super) fn mandate_or_err(&self, id: &str) -> Result<&Mandate, RegisterError> {
        self.mandate_index(id).and_then(|i| {
            self.mandates
                .get(i)
                .ok_or_else(|| RegisterError::UnknownMandate { mandate: id.to_owned() })
        })
    }

    pub(super) fn approve_mandate(
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

    pub(super) fn reject_mandate(
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

    pub(super) fn end_mandate(
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

    pub(super) fn tick(&mut self, now: Timestamp) -> Vec<Notification> {
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
}

/// The fields of [`Command::RequestMandate`].
pub(super) struct MandateRequest {
    pub(super) esp: Kbo,
    pub(super) data_service_point: Ean,
    pub(super) customer: GridUserId,
    pub(super) scope: Scope,
    pub(super) period_from: Timestamp,
    pub(super) period_to: Option<Timestamp>,
    pub(super) history: bool,
    pub(super) renews: Option<String>,
}
