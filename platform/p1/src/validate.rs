//! Whether a decoded telegram keeps to the value formats of the P1 specifications.
//!
//! Decoding is deliberately lenient: it keeps whatever is between the parentheses, so that a
//! telegram re-encodes byte for byte and a reader can look at odd meters. [`validate`] is the
//! strict side, for `meterlab p1 check`: each object this crate knows by meaning (the lines of
//! [`Dialect::build`](crate::Dialect::build)) must carry numbers in its format `Fn(x,y)`
//! (DSMR 5.0.2 Table 5-1: n digits, x to y of them decimals), the unit of its quantity, and
//! timestamps that are dates. Where real meters differ from the spec text (fixtures/p1: the
//! 2018 Smarty firmware without units, the Iskra empty M-Bus slot `(00000000)`, the
//! `632525252525W` "no value" stamp, the Sagemcom T210-D-r's whole Wh and W), the rule follows
//! the meters: a check that fails real meters would only teach people to ignore it.
//!
//! Objects it does not know are not judged, apart from two things that are wrong in any P1
//! object: a `value*unit` whose value is not a number (`-1.#INF*kW`) and a `YYMMDDhhmmssX`
//! stamp that is no date.

use crate::model::{Line, Num, Obis, Telegram, Tst, Value};
use std::fmt;

/// A value that breaks its object's format.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Violation {
    /// 1-based line of the telegram as encoded: the header is line 1, the blank line 2, the
    /// first object line 3. For a telegram received with extra blank lines the count differs
    /// from the received bytes by those lines.
    pub line: usize,
    /// The line's OBIS code; `None` for a continuation line (DSMR 2.2 gas profile).
    pub obis: Option<Obis>,
    /// What is wrong, quoting the value as written.
    pub problem: String,
    /// What the specification expects there.
    pub expected: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.obis {
            Some(o) => {
                write!(f, "line {} ({o}): {}; expected {}", self.line, self.problem, self.expected)
            }
            None => write!(
                f,
                "line {} (continuation line): {}; expected {}",
                self.line, self.problem, self.expected
            ),
        }
    }
}

/// Checks every value of a telegram against its object's format; empty when all conform.
/// Never panics, whatever the telegram holds.
pub fn validate(t: &Telegram) -> Vec<Violation> {
    let mut out = Vec::new();
    for (i, line) in t.lines.iter().enumerate() {
        // Header, blank line, then the objects: what `Telegram::encode` writes.
        let mut v = LineCheck { line: i + 3, obis: line.obis, out: &mut out };
        match line.obis.and_then(shape) {
            Some(Shape::Values(wants)) => v.values(line, wants),
            Some(Shape::PeakHistory) => v.peak_history(line),
            Some(Shape::FailureLog) => v.failure_log(line),
            Some(Shape::Lenient) | None => {
                for value in &line.values {
                    v.any(value);
                }
            }
        }
    }
    out
}

/// A number format `Fn(x,y)`: at most `n` digits in all, `x` to `y` of them decimals. Integers
/// (`In`, `Fn(0,0)`) have `x = y = 0`. Fewer integer digits than the format's are tolerated:
/// the format bounds the value, and meters zero-pad anyway.
#[derive(Debug, Clone, Copy)]
struct Fmt {
    n: u8,
    x: u8,
    y: u8,
}

const fn f(n: u8, x: u8, y: u8) -> Fmt {
    Fmt { n, x, y }
}

impl Fmt {
    fn fits(self, num: &Num) -> bool {
        (self.x..=self.y).contains(&num.frac)
            && u16::from(num.int_width) + u16::from(num.frac) <= u16::from(self.n)
    }
}

impl fmt::Display for Fmt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "F{}({},{})", self.n, self.x, self.y)
    }
}

/// What one value group must hold.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// A number.
    Num(NumSpec),
    /// A `YYMMDDhhmmssX` timestamp; `sentinel` admits `632525252525X`, which meters write in
    /// empty history and M-Bus slots (fixtures/p1) but never as the telegram's own time.
    Time { sentinel: bool },
    /// An octet string written as hex (identifiers): an even number of at most this many hex
    /// digits.
    Hex(usize),
    /// Free text of at most this many characters (messages).
    Text(usize),
}

/// One way of writing a number: a format and the units that go with it.
type Form = (Fmt, &'static [&'static str]);

#[derive(Debug, Clone, Copy)]
struct NumSpec {
    /// Any of these formats, each with any of its units (empty: no unit).
    forms: &'static [Form],
    /// Whether the unit may be left out (seen on real meters).
    unit_optional: bool,
    /// Whether a leading `-` is allowed.
    signed: bool,
    /// The largest value, for enumerations (breaker and valve states).
    max: Option<u64>,
    /// A conforming value, for the message.
    example: &'static str,
}

const fn num(forms: &'static [Form], example: &'static str) -> Want {
    Want::Num(NumSpec { forms, unit_optional: false, signed: false, max: None, example })
}

const fn int(digits: u8, example: &'static str) -> Want {
    let forms: &'static [Form] = match digits {
        1 => const { &[(f(1, 0, 0), &[])] },
        2 => const { &[(f(2, 0, 0), &[])] },
        3 => const { &[(f(3, 0, 0), &[])] },
        4 => const { &[(f(4, 0, 0), &[])] },
        _ => const { &[(f(5, 0, 0), &[])] },
    };
    num(forms, example)
}

const fn unit_optional(w: Want) -> Want {
    match w {
        Want::Num(s) => Want::Num(NumSpec { unit_optional: true, ..s }),
        other => other,
    }
}

const fn at_most(w: Want, max: u64) -> Want {
    match w {
        Want::Num(s) => Want::Num(NumSpec { max: Some(max), ..s }),
        other => other,
    }
}

// The formats of DSMR 5.0.2 Table 6-3 / e-MUCS 1.7.1 Tables 4-6 / Smarty Table 3.1 as
// `Dialect::build` writes them (reading.rs); each alternative says where it comes from.
// The Sagemcom T210-D-r (dsmr_parser's `TELEGRAM_SAGEMCOM_T210_D_R`, the plaintext of
// fixtures/p1/smarty-format-synthetic-encrypted-sagemcom-t210.bin) writes whole Wh, W, varh
// and var as F9(0,0).
const F9_WHOLE: Fmt = f(9, 0, 0);
/// Energy registers, F9(3,3) kWh: 6 integer digits; DSMR 2.2 writes 5 (fixtures/p1).
const KWH: Want = num(&[(f(9, 3, 3), &["kWh"]), (F9_WHOLE, &["Wh"])], "000301.548*kWh");
/// Reactive energy (Smarty); some Landis+Gyr meters spell the unit `kVarh` (esphome fields.h).
const KVARH: Want =
    num(&[(f(9, 3, 3), &["kvarh", "kVarh"]), (F9_WHOLE, &["varh"])], "000462.590*kvarh");
/// Power F5(3,3) kW: 1 W resolution up to 99.999 kW.
const KW: Want = num(&[(f(5, 3, 3), &["kW"])], "00.338*kW");
/// Net power: F5(3,3), or F6(2,2) in DSMR 2.2 (10 W resolution), or whole W.
const KW_NET: Want =
    num(&[(f(5, 3, 3), &["kW"]), (f(6, 2, 2), &["kW"]), (F9_WHOLE, &["W"])], "00.338*kW");
const KVAR: Want = num(&[(f(5, 3, 3), &["kvar", "kVar"])], "00.154*kvar");
/// Net reactive power; the 2018 Smarty firmware writes it without unit (fixtures/p1).
const KVAR_NET: Want =
    unit_optional(num(&[(f(5, 3, 3), &["kvar", "kVar"]), (F9_WHOLE, &["var"])], "00.154*kvar"));
const KVA: Want = num(&[(f(5, 3, 3), &["kVA"])], "00.913*kVA");
/// Voltage F4(1,1).
const VOLT: Want = num(&[(f(4, 1, 1), &["V"])], "232.9*V");
/// Current: F3(0,0) whole amperes (NL, LU), F5(2,2) in Belgium since e-MUCS 1.4.
const AMP: Want = num(&[(f(3, 0, 0), &["A"]), (f(5, 2, 2), &["A"])], "000.27*A");
/// Limiter threshold: F4(1,1) kW (BE) or kVA (LU); the 2018 Smarty firmware writes F5(3,3)
/// without a unit (`77.376`, fixtures/p1), as does e-MUCS 2.1.1 with kW (`99.999*kW`).
const LIMITER: Want =
    unit_optional(num(&[(f(4, 1, 1), &["kW", "kVA"]), (f(5, 3, 3), &["kW", "kVA"])], "999.9*kW"));
/// Fuse threshold F3(0,0) A; e-MUCS 2.1.1 examples write F5(2,2) (`999.99*A`).
const FUSE: Want = num(&[(f(3, 0, 0), &["A"]), (f(5, 2, 2), &["A"])], "999*A");
/// Smarty's import/export current thresholds: signed F3(0,0) A.
const CURRENT_LIMIT: Want = Want::Num(NumSpec {
    forms: &[(f(3, 0, 0), &["A"])],
    unit_optional: false,
    signed: true,
    max: None,
    example: "-040*A",
});
/// M-Bus reading F8(3,3) or F8(2,2) m³ (GJ for heat); meters write empty slots without unit
/// (`00000.000`, Smarty spec) or as `00000000` (Iskra AM550, fixtures/p1).
const MBUS_READING: Want = unit_optional(num(
    &[(f(8, 3, 3), &["m3", "GJ"]), (f(8, 2, 2), &["m3", "GJ"]), (f(8, 0, 0), &["m3", "GJ"])],
    "00092.287*m3",
));
const STAMP: Want = Want::Time { sentinel: true };
const TELEGRAM_TIME: Want = Want::Time { sentinel: false };
/// `1-3:0.2.8`, S2: `50`, `42`, `40`.
const DSMR_VERSION: Want = int(2, "50");
/// `0-0:96.1.4`, S5: `XXXYY`.
const BE_VERSION: Want = int(5, "50217");
/// Tariff indicator, S4.
const TARIFF: Want = int(4, "0001");
/// M-Bus device type F3(0,0) (DSMR 2.2 writes 2 digits).
const DEVICE_TYPE: Want = int(3, "003");
/// Message code (DSMR 2.2-4.x): Sn, n ≤ 128 (e-MUCS 1.7.1 Table 3).
const MESSAGE_CODE: Want = Want::Text(128);
/// Per-phase event counters and failure counts, F5(0,0).
const COUNT5: Want = int(5, "00004");
/// Breaker, relay and valve states, I1: 0 disconnected, 1 connected, 2 ready.
const STATE: Want = at_most(int(1, "1"), 2);
/// Identifiers: hex of ASCII, Sn with n ≤ 96 (e-MUCS Table 4, DSMR 5.0.2 Table 6-3).
const ID: Want = Want::Hex(96);
/// Text messages: Sn, n = 0..2048 (DSMR 5.0.2 Table 6-3).
const MESSAGE: Want = Want::Text(2048);
/// Failure durations: F10(0,0) seconds.
const SECONDS: Want = num(&[(f(10, 0, 0), &["s"])], "0000000240*s");

enum Shape {
    /// Exactly these values.
    Values(&'static [Want]),
    /// `0-0:98.1.0(N)(1-0:1.6.0)(1-0:1.6.0)` then N × `(TST)(TST)(F5(3,3)*kW)`, N ≤ 13.
    PeakHistory,
    /// `1-0:99.97.0(z)(0-0:96.7.19)` then z × `(TST)(F10(0,0)*s)`, z ≤ 10.
    FailureLog,
    /// Known, but its layout varies (DSMR 2.2 gas profile): only the rules for any value.
    Lenient,
}

/// The shape of an object this crate knows, by OBIS code.
fn shape(o: Obis) -> Option<Shape> {
    let values = |w: &'static [Want]| Some(Shape::Values(w));
    match (o.a, o.b, o.c, o.d, o.e) {
        (1, 3, 0, 2, 8) => values(&[DSMR_VERSION]),
        (0, 0, 96, 1, 4) => values(&[BE_VERSION]),
        (0, 0, 96, 1, 1) | (0, 0, 42, 0, 0) => values(&[ID]),
        (0, 0, 1, 0, 0) => values(&[TELEGRAM_TIME]),
        (1, 0, 1 | 2, 8, 0..=2) => values(&[KWH]),
        (1, 0, 3 | 4, 8, 0..=2) => values(&[KVARH]),
        (0, 0, 96, 14, 0) => values(&[TARIFF]),
        (1, 0, 1, 4, 0) => values(&[KW]),
        (1, 0, 1, 6, 0) => values(&[STAMP, KW]),
        (0, 0, 98, 1, 0) => Some(Shape::PeakHistory),
        (1, 0, 1 | 2, 7, 0) => values(&[KW_NET]),
        (1, 0, 3 | 4, 7, 0) => values(&[KVAR_NET]),
        (1, 0, 9 | 10, 7, 0) => values(&[KVA]),
        (1, 0, 21 | 41 | 61 | 22 | 42 | 62, 7, 0) => values(&[KW]),
        (1, 0, 23 | 43 | 63 | 24 | 44 | 64, 7, 0) => values(&[KVAR]),
        (1, 0, 32 | 52 | 72, 7, 0) => values(&[VOLT]),
        (1, 0, 31 | 51 | 71, 7, 0) => values(&[AMP]),
        (1, 0, 32 | 52 | 72, 32 | 36, 0) => values(&[COUNT5]),
        (0, 0, 96, 7, 21 | 9) => values(&[COUNT5]),
        (1, 0, 99, 97, 0) => Some(Shape::FailureLog),
        (0, 0..=4, 96, 3, 10) => values(&[STATE]),
        (0, 0, 17, 0, 0) => values(&[LIMITER]),
        (1, 0, 31, 4, 0) => values(&[FUSE]),
        (1, 1, 31, 4, 0) => values(&[CURRENT_LIMIT, CURRENT_LIMIT]),
        (0, 0, 96, 13, 0 | 2..=5) => values(&[MESSAGE]),
        (0, 0, 96, 13, 1) => values(&[MESSAGE_CODE]),
        (0, 1..=4, 24, 1, 0) => values(&[DEVICE_TYPE]),
        (0, 1..=4, 96, 1, 0 | 1) => values(&[ID]),
        (0, 1..=4, 24, 4, 0) => values(&[STATE]),
        (0, 1..=4, 24, 2, 1 | 3) => values(&[STAMP, MBUS_READING]),
        (0, 1..=4, 24, 3, 0) => Some(Shape::Lenient),
        _ => None,
    }
}

/// Collects the violations of one line.
struct LineCheck<'a> {
    line: usize,
    obis: Option<Obis>,
    out: &'a mut Vec<Violation>,
}

impl LineCheck<'_> {
    fn report(&mut self, problem: String, expected: String) {
        self.out.push(Violation { line: self.line, obis: self.obis, problem, expected });
    }

    fn values(&mut self, line: &Line, wants: &[Want]) {
        if line.values.len() != wants.len() {
            let expected = wants.iter().map(describe).collect::<Vec<_>>().join(", then ");
            let n = wants.len();
            let problem = format!("{} value group(s) where there should be {n}", line.values.len());
            self.report(problem, format!("{n} value group(s): {expected}"));
        }
        for (value, want) in line.values.iter().zip(wants) {
            self.check(value, *want);
        }
        for value in line.values.get(wants.len()..).unwrap_or(&[]) {
            self.any(value);
        }
    }

    /// `(N)(1-0:1.6.0)(1-0:1.6.0)` then N entries of capture time, peak time, peak.
    fn peak_history(&mut self, line: &Line) {
        let entry = [STAMP, STAMP, KW];
        let expected = "(N)(1-0:1.6.0)(1-0:1.6.0) with N ≤ 13, then N times \
                        (capture TST)(peak TST)(F5(3,3)*kW), or () when N is 0";
        self.list(line, 13, 2, &entry, expected);
    }

    /// `(z)(0-0:96.7.19)` then z entries of end time and duration.
    fn failure_log(&mut self, line: &Line) {
        let expected = "(z)(0-0:96.7.19) with z ≤ 10, then z times (end TST)(F10(0,0)*s)";
        self.list(line, 10, 1, &[STAMP, SECONDS], expected);
    }

    /// A DLMS profile as P1 writes it: a count up to `max`, `refs` object references, then
    /// the entries.
    fn list(&mut self, line: &Line, max: u64, refs: usize, entry: &[Want], expected: &str) {
        let v = line.values.as_slice();
        let Some((count, rest)) = v.split_first() else {
            return self.report("no value group".into(), expected.into());
        };
        self.check(count, at_most(int(2, "2"), max));
        let entries = rest.get(refs..).unwrap_or(&[]);
        for r in rest.iter().take(refs) {
            self.any(r);
        }
        let n = count.as_num().filter(|n| !n.negative && n.frac == 0).map(|n| n.digits);
        let empty = entries.is_empty() || matches!(entries, [Value::Text(t)] if t.is_empty());
        let fits = match n {
            Some(0) => empty,
            Some(n) => {
                usize::try_from(n).is_ok_and(|n| Some(entries.len()) == n.checked_mul(entry.len()))
            }
            None => true, // the count itself was reported
        };
        if rest.len() < refs || !fits {
            let problem = format!(
                "({count}) announces {} entries of {} value groups, but {} value group(s) follow",
                n.map_or_else(|| "?".to_string(), |n| n.to_string()),
                entry.len(),
                entries.len()
            );
            // The entries are not where the count says; judging them would only add noise.
            return self.report(problem, expected.into());
        }
        if !empty {
            for chunk in entries.chunks(entry.len()) {
                for (value, want) in chunk.iter().zip(entry) {
                    self.check(value, *want);
                }
            }
        }
    }

    fn check(&mut self, value: &Value, want: Want) {
        let bad = match want {
            Want::Num(spec) => check_num(value, &spec),
            Want::Time { sentinel } => match value {
                Value::Time(t) if is_date(t) || sentinel && is_sentinel(t) => None,
                Value::Time(t) if is_sentinel(t) => {
                    Some(format!("({value}) is the \"no value\" stamp {t}, not a time"))
                }
                Value::Time(_) => Some(format!("({value}) is not a date and time")),
                _ => Some(format!("({value}) is not a timestamp")),
            },
            Want::Hex(max) => {
                let s = value.to_string();
                let hex = s.bytes().all(|b| b.is_ascii_hexdigit()) && s.len().is_multiple_of(2);
                if !hex {
                    Some(format!("({s}) is not hex-encoded octets"))
                } else if s.len() > max {
                    Some(format!("the identifier has {} hex digits", s.len()))
                } else {
                    None
                }
            }
            Want::Text(max) => {
                let n = value.to_string().len();
                (n > max).then(|| format!("the text has {n} characters"))
            }
        };
        if let Some(problem) = bad {
            self.report(problem, describe(&want));
        }
    }

    /// What is wrong in any P1 value, known object or not.
    fn any(&mut self, value: &Value) {
        match value {
            // `Value::parse` makes `x*unit` a number whenever `x` is one.
            Value::Text(s) if s.contains('*') => self.report(
                format!("({s}) is not a number"),
                "a decimal number before '*unit', like 000301.548*kWh".into(),
            ),
            Value::Time(t) if !is_date(t) && !is_sentinel(t) => self.report(
                format!("({t}) is not a date and time"),
                describe(&Want::Time { sentinel: true }),
            ),
            _ => {}
        }
    }
}

fn check_num(value: &Value, spec: &NumSpec) -> Option<String> {
    let Value::Num(n, unit) = value else {
        return Some(format!("({value}) is not a number"));
    };
    if n.negative && !spec.signed {
        return Some(format!("({value}) is negative"));
    }
    let mut fitting = spec.forms.iter().filter(|(fmt, _)| fmt.fits(n)).peekable();
    if fitting.peek().is_none() {
        return Some(format!(
            "({value}) has {} integer digit(s) and {} decimal(s)",
            n.int_width, n.frac
        ));
    }
    if let Some(max) = spec.max
        && n.digits > max
    {
        return Some(format!("({value}) is out of range 0..={max}"));
    }
    let unit_fits = |units: &[&str]| match unit {
        None => units.is_empty() || spec.unit_optional,
        Some(u) => units.contains(&u.as_str()),
    };
    if fitting.any(|(_, units)| unit_fits(units)) {
        return None;
    }
    Some(match unit {
        None => format!("({value}) has no unit"),
        Some(u) if spec.forms.iter().all(|(_, units)| units.is_empty()) => {
            format!("({value}) has a unit, {}", u.as_str())
        }
        Some(u) if spec.forms.iter().any(|(_, units)| units.contains(&u.as_str())) => {
            format!("({value}): {} does not go with {} decimal(s)", u.as_str(), n.frac)
        }
        Some(u) => format!("({value}) has the unit {}, which is not this object's", u.as_str()),
    })
}

/// What a value group must hold, for messages.
fn describe(want: &Want) -> String {
    match want {
        Want::Num(s) => {
            let units = |units: &[&str]| match units {
                [] => " without unit".to_string(),
                units => format!(" *{}", units.join(" or *")),
            };
            // Formats that share their units are said once: "F5(3,3) or F6(2,2) *kW".
            let mut groups: Vec<(Vec<String>, &[&str])> = Vec::new();
            for (fmt, u) in s.forms {
                match groups.last_mut() {
                    Some((fmts, last)) if last == u => fmts.push(fmt.to_string()),
                    _ => groups.push((vec![fmt.to_string()], u)),
                }
            }
            let mut forms = groups
                .iter()
                .map(|(fmts, u)| format!("{}{}", fmts.join(" or "), units(u)))
                .collect::<Vec<_>>()
                .join(", or ");
            if s.unit_optional {
                forms.push_str(" (or no unit)");
            }
            let sign = if s.signed { "signed " } else { "" };
            let range = s.max.map_or_else(String::new, |m| format!(" in 0..={m}"));
            format!("{sign}{forms}{range}, like ({})", s.example)
        }
        Want::Time { sentinel: false } => {
            "a timestamp YYMMDDhhmmssX with a real date and time and X = S or W, \
             like (231102121548W)"
                .into()
        }
        Want::Time { sentinel: true } => {
            "a timestamp YYMMDDhhmmssX with a real date and time and X = S or W, like \
             (231102121548W), or the \"no value\" stamp (632525252525W)"
                .into()
        }
        Want::Hex(max) => format!("hex-encoded octets, at most {max} hex digits"),
        Want::Text(max) => format!("at most {max} characters"),
    }
}

fn is_date(t: &Tst) -> bool {
    t.to_unix().is_some()
}

fn is_sentinel(t: &Tst) -> bool {
    Tst { season: t.season, ..Tst::NONE_BE } == *t
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A telegram without CRC (as DSMR 2.2 sends them) with these object lines: line 3 is the
    /// first of them.
    fn telegram(lines: &[&str]) -> Telegram {
        let mut bytes = b"/TST5\\probe\r\n\r\n".to_vec();
        for l in lines {
            bytes.extend_from_slice(l.as_bytes());
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(b"!\r\n");
        Telegram::decode(&bytes).unwrap()
    }

    fn messages(lines: &[&str]) -> Vec<String> {
        validate(&telegram(lines)).iter().map(Violation::to_string).collect()
    }

    #[test]
    fn values_of_the_outside_probe_are_refused_with_line_code_and_format() {
        // Issue 14: each of these passed `p1 check` and read as 0.
        let v = messages(&[
            "0-0:96.1.4(50217)",
            "0-0:1.0.0(231302121548W)",
            "1-0:1.8.1(99999999999999999999999.999*kWh)",
            "1-0:1.7.0(-1.#INF*kW)",
        ]);
        assert_eq!(
            v,
            [
                "line 4 (0-0:1.0.0): (231302121548W) is not a date and time; expected a \
                 timestamp YYMMDDhhmmssX with a real date and time and X = S or W, like \
                 (231102121548W)",
                "line 5 (1-0:1.8.1): (99999999999999999999999.999*kWh) is not a number; \
                 expected F9(3,3) *kWh, or F9(0,0) *Wh, like (000301.548*kWh)",
                "line 6 (1-0:1.7.0): (-1.#INF*kW) is not a number; expected F5(3,3) or F6(2,2) \
                 *kW, or F9(0,0) *W, like (00.338*kW)",
            ]
        );
    }

    #[test]
    fn digits_beyond_the_format_are_refused() {
        let v = validate(&telegram(&[
            "1-0:1.8.2(1000000.000*kWh)",
            "1-0:2.8.1(000301.5*kWh)",
            "1-0:32.7.0(2301.0*V)",
            "1-0:31.7.0(0002*A)",
            "0-0:96.7.21(123456)",
        ]));
        let lines: Vec<_> = v.iter().map(|v| (v.line, v.obis.unwrap().to_string())).collect();
        assert_eq!(
            lines,
            [
                (3, "1-0:1.8.2".into()),
                (4, "1-0:2.8.1".into()),
                (5, "1-0:32.7.0".into()),
                (6, "1-0:31.7.0".into()),
                (7, "0-0:96.7.21".into())
            ]
        );
        assert_eq!(v[0].problem, "(1000000.000*kWh) has 7 integer digit(s) and 3 decimal(s)");
    }

    #[test]
    fn units_must_belong_to_the_object() {
        let v = messages(&[
            "1-0:1.8.1(000301.548*kW)",
            "1-0:1.8.2(000301.548)",
            "1-0:1.7.0(00.338*kWh)",
            "0-0:96.7.21(00004*s)",
            "1-0:4.8.0(000002.745*kvarh)",
            "1-0:1.8.0(006545766*Wh)",
            "1-0:2.8.0(006545.766*Wh)",
        ]);
        assert_eq!(v.len(), 5, "{v:#?}");
        assert!(
            v[0].contains("has the unit kW, which is not this object's; expected F9(3,3) *kWh")
        );
        assert!(v[1].contains("(000301.548) has no unit"));
        assert!(v[2].contains("line 5 (1-0:1.7.0)"));
        assert!(v[3].contains("has a unit, s; expected F5(0,0) without unit"));
        // Whole Wh are a format of their own (Sagemcom T210-D-r), not kWh with another unit.
        assert!(v[4].contains("line 9 (1-0:2.8.0): (006545.766*Wh): Wh does not go with 3 dec"));
    }

    #[test]
    fn timestamps_need_a_real_date_and_the_sentinel_only_where_meters_use_it() {
        for bad in ["230230121548W", "231102241548W", "231102126048S", "231102121560W"] {
            let v = validate(&telegram(&[&format!("0-0:1.0.0({bad})")]));
            assert_eq!(v.len(), 1, "{bad}");
        }
        // Not `S` or `W`: not a timestamp at all.
        assert!(messages(&["0-0:1.0.0(231102121548X)"])[0].contains("is not a timestamp"));
        assert!(messages(&["0-0:1.0.0(632525252525W)"])[0].contains("\"no value\" stamp"));
        // Leap day, and the sentinel in an M-Bus slot and a peak history (fixtures/p1).
        assert_eq!(
            messages(&[
                "0-0:1.0.0(240229235959S)",
                "0-2:24.2.1(632525252525S)(00000.000)",
                "0-0:98.1.0(1)(1-0:1.6.0)(1-0:1.6.0)(230801000000S)(632525252525W)(00.000*kW)",
            ]),
            Vec::<String>::new()
        );
        // A stamp that is no date is wrong in any object, known or not.
        assert_eq!(validate(&telegram(&["0-0:96.99.9(991399999999W)"])).len(), 1);
    }

    #[test]
    fn signs_enumerations_and_identifiers() {
        let v = messages(&[
            "1-0:1.8.1(-000301.548*kWh)",
            "1-1:31.4.0(040*A)(-040*A)",
            "0-0:96.3.10(3)",
            "0-1:24.4.0(1)",
            "0-0:96.1.1(31534G)",
            "0-1:96.1.0(315)",
        ]);
        assert_eq!(v.len(), 4, "{v:#?}");
        assert!(v[0].contains("line 3 (1-0:1.8.1): (-000301.548*kWh) is negative"));
        assert!(v[1].contains("(3) is out of range 0..=2"));
        assert!(v[2].contains("(31534G) is not hex-encoded octets"));
        assert!(v[3].contains("line 8 (0-1:96.1.0): (315) is not hex-encoded octets"));
    }

    #[test]
    fn profiles_must_hold_as_many_entries_as_they_announce() {
        let v = messages(&[
            "0-0:98.1.0(2)(1-0:1.6.0)(1-0:1.6.0)(230801000000S)(230731181500S)(01.862*kW)",
            "1-0:99.97.0(1)(0-0:96.7.19)(180824143702S)(0000005600*s)(0000005600*s)",
            "0-0:98.1.0(0)(1-0:1.6.0)(1-0:1.6.0)()",
            "1-0:99.97.0(0)(0-0:96.7.19)",
            "1-0:99.97.0(11)(0-0:96.7.19)",
            "0-0:98.1.0(1)(1-0:1.6.0)(1-0:1.6.0)(230801000000S)(230731181500S)(100.000*kW)",
        ]);
        assert_eq!(v.len(), 5, "{v:#?}");
        assert!(v[0].contains(
            "line 3 (0-0:98.1.0): (2) announces 2 entries of 3 value groups, but 3 value group(s) \
             follow; expected (N)(1-0:1.6.0)(1-0:1.6.0) with N ≤ 13"
        ));
        assert!(v[1].contains("(1) announces 1 entries of 2 value groups, but 3 value group(s)"));
        assert!(v[2].contains("line 7 (1-0:99.97.0): (11) is out of range 0..=10"));
        assert!(v[3].contains("(11) announces 11 entries of 2 value groups, but 0 value group(s)"));
        assert!(v[4].contains("line 8 (0-0:98.1.0): (100.000*kW) has 3 integer digit(s)"));
    }

    #[test]
    fn value_group_count_is_checked() {
        let v =
            messages(&["1-0:1.8.1(000301.548*kWh)(000301.548*kWh)", "0-1:24.2.1(00092.287*m3)"]);
        assert_eq!(v.len(), 3, "{v:#?}");
        assert!(v[0].starts_with("line 3 (1-0:1.8.1): 2 value group(s) where there should be 1"));
        assert!(v[1].starts_with("line 4 (0-1:24.2.1): 1 value group(s) where there should be 2"));
        assert!(v[2].contains("(00092.287*m3) is not a timestamp"));
    }

    #[test]
    fn unknown_objects_are_free_but_not_a_unit_after_text() {
        assert_eq!(messages(&["1-0:94.32.1(400)", "0-0:96.1.2(ABCD)", "0-9:1.2.3(x)(y)"]).len(), 0);
        let v = messages(&["1-0:94.32.1(-1.#INF*kW)", "(1e3*m3)"]);
        assert_eq!(v.len(), 2, "{v:#?}");
        assert!(v[1].starts_with("line 4 (continuation line): (1e3*m3) is not a number"));
    }
}
