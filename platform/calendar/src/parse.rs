//! Parsing of the durations and instants that CLI flags and scenario files use.

use jiff::civil::{Date, DateTime};
use jiff::tz::AmbiguousOffset;
use jiff::{SignedDuration, Timestamp};

use crate::calendar::{brussels, day_start};

/// Why [`parse_duration`] rejected its input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseDurationError {
    /// Nothing but whitespace.
    #[error("empty duration; write e.g. `22h`, `90s`, `7d` or `1h30m`")]
    Empty,
    /// A character that cannot start or continue a `<number><unit>` part.
    #[error("unexpected `{found}`; write whole numbers with units d, h, m, s, e.g. `1h30m`")]
    Unexpected {
        /// The offending character.
        found: char,
    },
    /// A number at the end of the input with no unit after it.
    #[error("`{number}` has no unit; add y, d, h, m, s or ms")]
    MissingUnit {
        /// The digits without a unit.
        number: String,
    },
    /// Letters that are not one of `y`, `d`, `h`, `m`, `s`.
    #[error("unknown unit `{unit}`; use y, d, h, m, s or ms")]
    UnknownUnit {
        /// The letters found.
        unit: String,
    },
    /// A unit used twice, or after a smaller one (`30m1h`).
    #[error(
        "unit `{unit}` is repeated or out of order; write the largest first, each once, e.g. `1h30m`"
    )]
    Order {
        /// The unit out of place.
        unit: String,
    },
    /// The total does not fit in a [`SignedDuration`].
    #[error("duration is too large")]
    TooLarge,
}

/// Parses CLI durations such as `22h`, `90s`, `15m`, `7d`, `365d` or `1h30m`.
///
/// The input is one or more `<digits><unit>` parts with units `y`, `d`, `h`, `m`, `s`, `ms`,
/// largest first and each used at most once. Surrounding whitespace is ignored. `d` means
/// exactly 24 h of elapsed time, not a calendar day: `--for 7d` across a DST change ends at a
/// different local hour than it started; `y` is 365 such days (moving a simulated clock three
/// years on: `3y`).
pub fn parse_duration(input: &str) -> Result<SignedDuration, ParseDurationError> {
    let mut rest = input.trim();
    if rest.is_empty() {
        return Err(ParseDurationError::Empty);
    }
    let mut total = SignedDuration::ZERO;
    let mut previous_unit_ms = i64::MAX;
    while let Some(first) = rest.chars().next() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(ParseDurationError::Unexpected { found: first });
        }
        let (number, tail) = rest.split_at(digits);
        let letters = tail.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(letters);
        let unit_ms = match unit {
            "y" => 365 * 86_400_000,
            "d" => 86_400_000,
            "h" => 3_600_000,
            "m" => 60_000,
            "s" => 1_000,
            "ms" => 1,
            "" => {
                return Err(match tail.chars().next() {
                    Some(found) => ParseDurationError::Unexpected { found },
                    None => ParseDurationError::MissingUnit { number: number.to_owned() },
                });
            }
            _ => return Err(ParseDurationError::UnknownUnit { unit: unit.to_owned() }),
        };
        if unit_ms >= previous_unit_ms {
            return Err(ParseDurationError::Order { unit: unit.to_owned() });
        }
        previous_unit_ms = unit_ms;
        // `number` is all ASCII digits, so overflow is the only way parsing can fail.
        let part = number
            .parse::<i64>()
            .ok()
            .and_then(|n| n.checked_mul(unit_ms))
            .ok_or(ParseDurationError::TooLarge)?;
        total = total
            .checked_add(SignedDuration::from_millis(part))
            .ok_or(ParseDurationError::TooLarge)?;
        rest = tail;
    }
    Ok(total)
}

/// Why [`parse_date_or_time`] rejected its input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseTimeError {
    /// Not a date, a local date-time or an RFC 3339 timestamp.
    #[error(
        "`{input}` is not a date (2026-03-29), a Brussels local time (2026-03-29T01:59:00) \
         or a timestamp with offset (2026-03-29T01:59:00+01:00)"
    )]
    Invalid {
        /// The rejected input.
        input: String,
    },
    /// A local time skipped when clocks go forward.
    #[error("{local} does not exist in Brussels (clocks go forward that night); give an offset")]
    Skipped {
        /// The local time that does not exist.
        local: DateTime,
    },
    /// A local time that happens twice when clocks go back.
    #[error(
        "{local} happens twice in Brussels; add +02:00 for the first (summer time) \
         or +01:00 for the second (winter time)"
    )]
    Ambiguous {
        /// The local time that happens twice.
        local: DateTime,
    },
}

/// Parses an instant for CLI flags and scenario files:
/// - `2026-03-29`: local midnight in Brussels;
/// - `2026-03-29T01:59:00`: Brussels wall-clock time. A time that falls in the spring gap or the
///   autumn repeated hour is rejected, never guessed;
/// - `2026-03-29T01:59:00+01:00` or `…Z`: RFC 3339, taken as is.
pub fn parse_date_or_time(input: &str) -> Result<Timestamp, ParseTimeError> {
    let s = input.trim();
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Ok(ts);
    }
    // jiff's `Date` parser accepts a date-time and drops the time, so check for a time first.
    if !s.contains(['T', 't', ' '])
        && let Ok(date) = s.parse::<Date>()
    {
        return Ok(day_start(date));
    }
    let invalid = || ParseTimeError::Invalid { input: input.to_owned() };
    let local = s.parse::<DateTime>().map_err(|_| invalid())?;
    match brussels().to_ambiguous_timestamp(local).offset() {
        AmbiguousOffset::Unambiguous { offset } => {
            offset.to_timestamp(local).map_err(|_| invalid())
        }
        AmbiguousOffset::Gap { .. } => Err(ParseTimeError::Skipped { local }),
        AmbiguousOffset::Fold { .. } => Err(ParseTimeError::Ambiguous { local }),
    }
}
