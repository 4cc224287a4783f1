//! Market scenarios on an access point's occupancy timeline (R-MAN-5, R-ACC-2): who occupies
//! the point from when, the periods they cut and the consents they revoke.

use super::*;

impl Registers {
    pub(super) fn market_scenario(
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
    pub(super) fn truncate_periods(
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
    pub(super) fn revoke_consents_of(
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
}
