//! The ESP certification kit's model (issue 16): the versioned [`catalogue`] of cases, each
//! with a stable id, the requirement IDs it checks, what the kit does and when the ESP
//! passes; the ESP's [`Statement`] (what it claims to do), which rules cases out as
//! `not-applicable`; and the [`Verdict`]s a campaign gives. Pure data: the kit that drives a
//! platform and judges an ESP builds on it.
//!
//! The catalogue follows the shape of the Open Charge Alliance's test tool: the kit plays the
//! counterpart (the platform, the grid users, the market), each case names its preconditions,
//! events and pass criterion, and every allowed operation is paired with a refused one (a
//! read inside a mandate with one outside it): negative cases are where integrations fail.

mod catalogue;
mod statement;

pub use catalogue::{CATALOGUE_VERSION, Case, Maturity, catalogue};
pub use statement::{Claim, Statement, StatementError};

use serde::{Deserialize, Serialize};

/// A case's outcome in a campaign.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The ESP did what the case requires.
    Passed,
    /// The ESP did something the case forbids, or not what it requires.
    Failed,
    /// The ESP's statement rules the case out: never counted as passed.
    NotApplicable,
    /// The case could not judge (the ESP did not answer in time, the lab failed): never a pass.
    Inconclusive,
}

impl Verdict {
    /// The name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
            Verdict::NotApplicable => "not-applicable",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// The verdict a campaign gives when a case is ruled out by the statement, or judged.
pub fn applicable(case: &Case, statement: &Statement) -> bool {
    case.needs.iter().all(|c| statement.claims.contains(c))
}

#[cfg(test)]
mod tests;
