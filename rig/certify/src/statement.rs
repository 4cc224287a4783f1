//! The ESP's statement: who it is and what its system claims to do. Cases that need a claim
//! the statement does not make are `not-applicable`, never `passed`.

use calendar::SignedDuration;
use domain::{Kbo, Service};
use serde::{Deserialize, Serialize};

/// What an ESP's system can be judged on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Claim {
    /// It reads day volumes under mandates.
    DayData,
    /// It reads quarter-hour (electricity) or hourly (gas) volumes under interval mandates.
    QuarterHourData,
    /// It reads the near-real-time stream under consents.
    NrtStream,
    /// It receives webhooks and acts on them.
    Webhooks,
    /// It follows market scenarios (switches, moves).
    MarketEvents,
    /// It asks customers to renew mandates before they expire.
    Renewal,
}

impl Claim {
    /// Every claim, in order.
    pub const ALL: [Claim; 6] = [
        Claim::DayData,
        Claim::QuarterHourData,
        Claim::NrtStream,
        Claim::Webhooks,
        Claim::MarketEvents,
        Claim::Renewal,
    ];

    /// The statement's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Claim::DayData => "day-data",
            Claim::QuarterHourData => "quarter-hour-data",
            Claim::NrtStream => "nrt-stream",
            Claim::Webhooks => "webhooks",
            Claim::MarketEvents => "market-events",
            Claim::Renewal => "renewal",
        }
    }
}

/// `esp.yaml`: the ESP under test and what it claims.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    /// Its company name.
    pub name: String,
    /// Its enterprise number.
    pub kbo: Kbo,
    /// Where its webhook endpoint listens (absolute http or https), if it takes webhooks.
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// Its service catalogue: what each service needs (R-NRT-8).
    pub services: Vec<Service>,
    /// What its system does.
    pub claims: Vec<Claim>,
    /// The longest it takes to act on an event (stop reading after a revocation, answer a
    /// webhook), e.g. `30s`.
    pub max_reaction: String,
}

/// Why a statement was refused: the field, and what to write instead.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StatementError {
    /// Not YAML of the statement's shape (the message names the field and the line).
    #[error("the statement is not valid: {0}")]
    Shape(String),
    /// A field breaks a rule.
    #[error("the statement's {field} {problem}")]
    Field {
        /// The field.
        field: &'static str,
        /// What is wrong with it, and what to write.
        problem: String,
    },
}

impl Statement {
    /// Reads and checks a statement.
    pub fn parse(yaml: &str) -> Result<Statement, StatementError> {
        let s: Statement =
            serde_saphyr::from_str(yaml).map_err(|e| StatementError::Shape(e.to_string()))?;
        s.check()?;
        Ok(s)
    }

    fn check(&self) -> Result<(), StatementError> {
        let field = |field, problem: &str| StatementError::Field { field, problem: problem.into() };
        if self.name.trim().is_empty() {
            return Err(field("name", "is empty: give the ESP's company name"));
        }
        if self.services.is_empty() {
            return Err(field("services", "is empty: list each service with the data it needs"));
        }
        if self.claims.contains(&Claim::Webhooks) {
            match &self.webhook_url {
                Some(u) if u.starts_with("http://") || u.starts_with("https://") => {}
                Some(_) => return Err(field("webhook_url", "is not an http or https URL")),
                None => {
                    return Err(field("webhook_url", "is missing: the webhooks claim needs one"));
                }
            }
        }
        let reaction = self.reaction().map_err(|e| StatementError::Field {
            field: "max_reaction",
            problem: format!("{e}: use 30s or 2m"),
        })?;
        if !reaction.is_positive() || reaction > SignedDuration::from_mins(10) {
            return Err(field("max_reaction", "must be more than 0 and at most 10m"));
        }
        Ok(())
    }

    /// The longest reaction the ESP claims.
    pub fn reaction(&self) -> Result<SignedDuration, calendar::ParseDurationError> {
        calendar::parse_duration(&self.max_reaction)
    }
}
