//! ESPs' contracts: suspension and reinstatement (R-ACC-2: access ends at once, for all the
//! points of a third party that no longer meets the conditions) and their webhook address.

use super::*;
use domain::ContractStatus;

impl Registers {
    fn esp_mut(&mut self, esp: &Kbo) -> Result<&mut Esp, RegisterError> {
        self.esps.get_mut(esp).ok_or_else(|| RegisterError::UnknownEsp { esp: esp.clone() })
    }

    pub(super) fn suspend_esp(
        &mut self,
        esp: &Kbo,
        reason: &str,
        now: Timestamp,
    ) -> Result<Vec<Notification>, RegisterError> {
        let e = self.esp_mut(esp)?;
        if e.status != ContractStatus::Active {
            let state = status_name(e.status);
            return Err(RegisterError::EspState { esp: esp.clone(), action: "suspended", state });
        }
        e.status = ContractStatus::Suspended;
        let detail = format!("the data-access contract of {} is suspended: {reason}", e.name);
        Ok(self.tell_esp_and_its_grid_users(esp, NotificationKind::EspSuspended, detail, now))
    }

    pub(super) fn reinstate_esp(
        &mut self,
        esp: &Kbo,
        now: Timestamp,
    ) -> Result<Vec<Notification>, RegisterError> {
        let e = self.esp_mut(esp)?;
        if e.status != ContractStatus::Suspended {
            let state = status_name(e.status);
            return Err(RegisterError::EspState { esp: esp.clone(), action: "reinstated", state });
        }
        e.status = ContractStatus::Active;
        let detail = format!("the data-access contract of {} is active again", e.name);
        Ok(self.tell_esp_and_its_grid_users(esp, NotificationKind::EspReinstated, detail, now))
    }

    pub(super) fn set_webhook(
        &mut self,
        esp: &Kbo,
        url: Option<String>,
    ) -> Result<Vec<Notification>, RegisterError> {
        self.esp_mut(esp)?.webhook_url = url;
        Ok(Vec::new())
    }

    /// The ESP, and each grid user with an approved mandate or a live consent of it (they are
    /// told who has access to their data, R-ACC-5), one notification each.
    fn tell_esp_and_its_grid_users(
        &self,
        esp: &Kbo,
        kind: NotificationKind,
        detail: String,
        now: Timestamp,
    ) -> Vec<Notification> {
        let note = |grid_user: Option<GridUserId>, esp: Option<Kbo>| Notification {
            at: now,
            esp,
            grid_user,
            kind,
            mandate: None,
            consent: None,
            point: None,
            detail: detail.clone(),
        };
        let mut users: Vec<GridUserId> = self
            .mandates
            .iter()
            .filter(|m| m.esp == *esp && m.state == MandateState::Approved)
            .map(|m| m.customer.clone())
            .chain(
                self.consents
                    .iter()
                    .filter(|c| c.esp == *esp && c.is_live(now))
                    .map(|c| c.grid_user.clone()),
            )
            .collect();
        users.sort();
        users.dedup();
        std::iter::once(note(None, Some(esp.clone())))
            .chain(users.into_iter().map(|g| note(Some(g), None)))
            .collect()
    }
}

fn status_name(s: ContractStatus) -> &'static str {
    match s {
        ContractStatus::Active => "active",
        ContractStatus::Suspended => "suspended",
        ContractStatus::Ended => "ended",
    }
}
