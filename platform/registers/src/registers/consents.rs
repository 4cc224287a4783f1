//! NRT consents: the terms a grid user accepts, grants per service and revocation at once
//! (R-NRT-5..7).

use super::*;

impl Registers {
    pub(super) fn consent_index(&self, id: &str) -> Result<usize, RegisterError> {
        index_of(id, 'C')
            .filter(|&i| self.consents.get(i).is_some_and(|c| c.id == id))
            .ok_or_else(|| RegisterError::UnknownConsent { consent: id.to_owned() })
    }

    pub(super) fn accept_terms(
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

    pub(super) fn grant_consent(
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

    pub(super) fn revoke_consent(
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
}
