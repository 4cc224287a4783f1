//! Why the registers refused a command. A refused command changes nothing.

use calendar::{Timestamp, brussels};
use domain::{Ean, GridUserId, Kbo};
use thiserror::Error;

/// A refusal. Messages say what to do next; [`RegisterError::code`] is a stable
/// machine-readable name for API error bodies.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum RegisterError {
    /// No ESP with that enterprise number.
    #[error("no ESP is registered with enterprise number {esp}: register it first")]
    UnknownEsp {
        /// The number given.
        esp: Kbo,
    },
    /// The ESP's contract is suspended or ended.
    #[error(
        "the data-access contract of ESP {esp} is not active: it cannot collect mandates or \
         consents until the contract is active again"
    )]
    EspNotActive {
        /// The ESP.
        esp: Kbo,
    },
    /// No such point.
    #[error("{point} is not a registered {what}: check the EAN, or register the access point")]
    UnknownPoint {
        /// The EAN given.
        point: Ean,
        /// What was expected ("access point" or "data service point").
        what: &'static str,
    },
    /// The access point's records do not fit together.
    #[error("access point {point} cannot be registered: {reason}")]
    InvalidPoint {
        /// The access point.
        point: Ean,
        /// What is wrong.
        reason: String,
    },
    /// No such mandate.
    #[error("there is no mandate {mandate}: list the mandates of the point to find its id")]
    UnknownMandate {
        /// The id given.
        mandate: String,
    },
    /// No such consent.
    #[error("there is no consent {consent}: list the consents of the point to find its id")]
    UnknownConsent {
        /// The id given.
        consent: String,
    },
    /// The period ends before it starts.
    #[error("the period ends at {} before it starts at {}: swap them", local(.to), local(.from))]
    PeriodReversed {
        /// Its start.
        from: Timestamp,
        /// Its end.
        to: Timestamp,
    },
    /// The party may not do this.
    #[error("not allowed: {reason}")]
    Forbidden {
        /// Who may.
        reason: String,
    },
    /// NRT consent needs the terms accepted first.
    #[error(
        "{grid_user} has not accepted the terms to collect near-real-time data on access point \
         {access_point}: accept them first, then consent"
    )]
    TermsNotAccepted {
        /// The grid user.
        grid_user: GridUserId,
        /// The access point.
        access_point: Ean,
    },
    /// The service is not in the ESP's catalogue.
    #[error("ESP {esp} offers no service '{service}': choose one of {}", .known.join(", "))]
    UnknownService {
        /// The ESP.
        esp: Kbo,
        /// The id given.
        service: String,
        /// The ids it offers.
        known: Vec<String>,
    },
    /// The party is not the grid user of the access point now.
    #[error("{}", not_grid_user(.grid_user, .access_point))]
    NotGridUser {
        /// Who asked (`None`: the point has no grid user to consent).
        grid_user: Option<GridUserId>,
        /// The access point.
        access_point: Ean,
    },
    /// The mandate or consent is past the stage the command acts on.
    #[error("{what} is {state}: {next}")]
    AlreadyDecided {
        /// The mandate or consent (`mandate M1`).
        what: String,
        /// Its state.
        state: &'static str,
        /// What to do instead.
        next: &'static str,
    },
    /// The scenario's effective date is too far in the past.
    #[error(
        "a market scenario may take effect at most {days} days in the past, so not at {}: \
         the earliest is {}",
        local(.effective),
        local(.earliest)
    )]
    BackdateTooFar {
        /// The date given.
        effective: Timestamp,
        /// The earliest allowed.
        earliest: Timestamp,
        /// The limit in days.
        days: i64,
    },
    /// The scenario lacks the new grid user or supplier.
    #[error("a {kind} scenario needs {missing}")]
    ScenarioIncomplete {
        /// The scenario code.
        kind: &'static str,
        /// What is missing.
        missing: &'static str,
    },
    /// The thing exists already.
    #[error("{what} already exists")]
    Duplicate {
        /// What.
        what: String,
    },
    /// The ESP's contract is not in a state the action applies to.
    #[error("ESP {esp} cannot be {action}: its data-access contract is {state}")]
    EspState {
        /// The ESP.
        esp: Kbo,
        /// What was asked (`suspended`, `reinstated`).
        action: &'static str,
        /// Its state now.
        state: &'static str,
    },
}

impl RegisterError {
    /// Stable snake_case name of the refusal.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownEsp { .. } => "unknown_esp",
            Self::EspNotActive { .. } => "esp_not_active",
            Self::UnknownPoint { .. } => "unknown_point",
            Self::InvalidPoint { .. } => "invalid_point",
            Self::UnknownMandate { .. } => "unknown_mandate",
            Self::UnknownConsent { .. } => "unknown_consent",
            Self::PeriodReversed { .. } => "period_reversed",
            Self::Forbidden { .. } => "forbidden",
            Self::TermsNotAccepted { .. } => "terms_not_accepted",
            Self::UnknownService { .. } => "unknown_service",
            Self::NotGridUser { .. } => "not_grid_user",
            Self::AlreadyDecided { .. } => "already_decided",
            Self::BackdateTooFar { .. } => "backdate_too_far",
            Self::ScenarioIncomplete { .. } => "scenario_incomplete",
            Self::Duplicate { .. } => "duplicate",
            Self::EspState { .. } => "esp_state",
        }
    }
}

/// An instant on the Brussels wall clock with its zone abbreviation.
pub(crate) fn local(ts: &Timestamp) -> String {
    ts.to_zoned(brussels().clone()).strftime("%Y-%m-%dT%H:%M %Z").to_string()
}

fn not_grid_user(who: &Option<GridUserId>, ap: &Ean) -> String {
    match who {
        Some(g) => format!(
            "{g} is not the grid user of access point {ap} now: only the current grid user can \
             do this"
        ),
        None => format!(
            "access point {ap} has no grid user now, so nobody can consent for it: wait until a \
             grid user is registered"
        ),
    }
}
