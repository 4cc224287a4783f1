//! The platform for a caller in the same process: the lab API of `meterlab up` reads the
//! supervision and the registers and acts on them here, not over its own HTTP listener. Each
//! operation runs the code its admin route runs, so the answers and the refusals (the same
//! [`ApiError`] codes and statuses) are the route's; what is left out is only the edge: the
//! caller is trusted (it holds the platform itself, so no token is checked) and the call is
//! not counted in the HTTP figures of /metrics.

use crate::api::{Failure, admin, supervision};
use crate::http::Ctx;
use clock::Timestamp;
use domain::GridUserId;
use registers::{Command, Party};
use wire::api::v1::{self as w, ApiError};

/// The admin API's operations, in process (from [`crate::App::in_process`]).
#[derive(Clone)]
pub struct InProcess {
    ctx: Ctx,
}

/// A refusal: the HTTP status the route would have answered and its error body.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    /// The status (4xx for the caller's mistakes, 5xx for the platform's).
    pub status: u16,
    /// The stable code and the message.
    pub error: ApiError,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.error.code.as_str(), self.error.message)
    }
}

impl std::error::Error for Refused {}

impl From<Failure> for Refused {
    fn from(f: Failure) -> Refused {
        let (status, error) = f.into_parts();
        Refused { status: status.as_u16(), error }
    }
}

type Answer<T> = Result<T, Refused>;

impl InProcess {
    pub(crate) fn new(ctx: Ctx) -> InProcess {
        InProcess { ctx }
    }

    /// `GET /api/admin/v1/dongles`.
    pub fn dongles(&self) -> Answer<Vec<w::DongleStatus>> {
        Ok(supervision::dongle_states(&self.ctx)?)
    }

    /// `GET /api/admin/v1/incidents`.
    pub fn incidents(&self) -> Answer<Vec<w::Incident>> {
        Ok(supervision::incident_list(&self.ctx)?)
    }

    /// `GET /api/admin/v1/kpis?from&to`.
    pub fn kpis(&self, from: Timestamp, to: Timestamp) -> Answer<w::Kpis> {
        Ok(supervision::kpi_figures(&self.ctx, from, to)?)
    }

    /// `GET /api/admin/v1/sla?from&to` over every dongle, days counted by the calendar.
    pub async fn sla(&self, from: Timestamp, to: Timestamp) -> Answer<Vec<w::DongleSla>> {
        let count = ::supervision::sla::DayCount::Calendar;
        Ok(supervision::service_levels(&self.ctx, from, to, None, count).await?)
    }

    /// `GET /api/admin/v1/registers`.
    pub async fn registers(&self) -> w::RegistersView {
        admin::view(&self.ctx).await
    }

    /// `GET /api/admin/v1/access-log`, whole.
    pub async fn access_log(&self) -> Answer<Vec<w::AccessEntry>> {
        Ok(admin::entries(&self.ctx, None, None).await?)
    }

    /// `POST /api/admin/v1/market-scenarios`.
    pub async fn market_scenario(&self, b: w::NewScenario) -> Answer<w::Notifications> {
        Ok(admin::scenario(&self.ctx, b).await?.0)
    }

    /// `POST /api/registers/v1/consents/{id}/revoke` as the grid user `by` (the registers
    /// refuse when the consent is not theirs).
    pub async fn revoke_consent(&self, by: GridUserId, id: &str) -> Answer<w::Notifications> {
        let cmd = Command::RevokeConsent { consent: id.to_owned(), by: by.clone() };
        Ok(admin::run(&self.ctx, &Party::GridUser(by), cmd).await?.0)
    }
}
