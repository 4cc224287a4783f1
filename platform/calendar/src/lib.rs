//! The Europe/Brussels calendar the whole lab reckons in, as pure functions of instants:
//! quarter hours, local days (92, 96 or 100 quarters), months, the P1 DST flag, Belgian
//! holidays and working days, and the parsers of the command line's instants and durations.
//!
//! Models depend on this crate and never on a runtime: they get `now` as an argument. The
//! runtime clocks ([`Clock`](../clock/trait.Clock.html), simulated or system) live in `clock`,
//! which re-exports everything here.
//!
//! Invariants:
//! - Instants are [`Timestamp`]s (UTC). Local Brussels time appears only as [`civil`] values
//!   computed from an instant here; nothing stores local time.
//! - Calendar intervals are half-open `[start, end)`.
//! - Brussels rules come from the tz database bundled in the binary, never from the host.
//! - Nothing here reads the system time or keeps global mutable state.
#![deny(missing_docs)]

mod calendar;
mod holidays;
mod parse;
#[cfg(test)]
mod tests;

pub use calendar::{
    brussels, day_bounds, day_start, hours_in_day, is_dst, local_date, local_datetime, month_start,
    next_month_start, next_quarter, quarter_start, quarters_in_day,
};
pub use holidays::{belgian_holidays, easter_sunday, is_belgian_holiday, is_working_day};
pub use jiff::{SignedDuration, Timestamp, civil};
pub use parse::{ParseDurationError, ParseTimeError, parse_date_or_time, parse_duration};
