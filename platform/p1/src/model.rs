//! The telegram model: a header, OBIS lines with typed values, and whether a CRC closes it.
//!
//! Values keep their wire format (digit counts, unit spelling), so a decoded telegram encodes
//! back to the same bytes. Typed accessors (`Num::to_f64`, `Tst::to_unix`) give the meaning.

use std::fmt;

/// An OBIS reduced ID `A-B:C.D.E` (value group F is never sent on P1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Obis {
    /// Medium (0 abstract, 1 electricity).
    pub a: u8,
    /// Channel (0 the meter itself, 1..4 M-Bus devices).
    pub b: u8,
    /// Quantity.
    pub c: u8,
    /// Processing.
    pub d: u8,
    /// Tariff / classification.
    pub e: u8,
}

impl Obis {
    /// Builds an OBIS code.
    pub const fn new(a: u8, b: u8, c: u8, d: u8, e: u8) -> Self {
        Obis { a, b, c, d, e }
    }

    /// The same object on another M-Bus channel (`0-n:…`).
    pub const fn on_channel(self, b: u8) -> Self {
        Obis { b, ..self }
    }

    /// Parses `A-B:C.D.E`; `None` if it is not exactly that shape.
    pub fn parse(s: &[u8]) -> Option<Obis> {
        let mut out = [0u8; 5];
        let seps = [b'-', b':', b'.', b'.'];
        let mut idx = 0;
        let mut val: u16 = 0;
        let mut digits = 0;
        for &b in s {
            match b {
                b'0'..=b'9' => {
                    val = val * 10 + u16::from(b - b'0');
                    digits += 1;
                    if val > 255 || digits > 3 {
                        return None;
                    }
                }
                _ if idx < 4 && b == seps[idx] && digits > 0 => {
                    out[idx] = val as u8;
                    idx += 1;
                    val = 0;
                    digits = 0;
                }
                _ => return None,
            }
        }
        if idx != 4 || digits == 0 {
            return None;
        }
        out[4] = val as u8;
        Some(Obis::new(out[0], out[1], out[2], out[3], out[4]))
    }
}

impl fmt::Display for Obis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}:{}.{}.{}", self.a, self.b, self.c, self.d, self.e)
    }
}

/// A fixed-point decimal exactly as written: `000301.548` is digits 301548, 6 integer digits, 3
/// decimals. Keeping the widths is what makes re-encoding byte-identical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Num {
    /// A leading `-` (Smarty's export current threshold `-040`).
    pub negative: bool,
    /// All digits as one integer, decimals included.
    pub digits: u64,
    /// Number of integer digits written (zero-padded).
    pub int_width: u8,
    /// Number of decimals written.
    pub frac: u8,
}

const POW10: [u64; 19] = {
    let mut p = [1u64; 19];
    let mut i = 1;
    while i < 19 {
        p[i] = p[i - 1] * 10;
        i += 1;
    }
    p
};

/// The most digits a [`Num`] holds; longer digit strings (hex identifiers) stay text.
pub const MAX_NUM_DIGITS: usize = 18;

impl Num {
    /// A number from a scaled integer: `Num::fixed(301_548, 6, 3)` is `000301.548`.
    ///
    /// Values wider than `int_width` are written in full, never cut; callers that model a
    /// register that rolls over (a meter's 6-digit kWh counter) wrap the value themselves.
    pub fn fixed(scaled: i64, int_width: u8, frac: u8) -> Self {
        let digits = scaled.unsigned_abs();
        let frac = frac.min(MAX_NUM_DIGITS as u8);
        // The width is what a decoder would read back: at least the digits the value needs.
        let int = digits / POW10[usize::from(frac)];
        let needed = if int == 0 { 1 } else { int.ilog10() as u8 + 1 };
        Num { negative: scaled < 0, digits, int_width: int_width.max(needed), frac }
    }

    /// An integer with a fixed width: `Num::int(1, 4)` is `0001`.
    pub fn int(v: i64, width: u8) -> Self {
        Num::fixed(v, width, 0)
    }

    /// The value scaled to `frac` decimals, rounding half away from zero when dropping digits.
    pub fn scaled(&self, frac: u8) -> i64 {
        let d = self.digits as i128;
        let v = if frac >= self.frac {
            d * POW10[usize::from(frac - self.frac).min(18)] as i128
        } else {
            let div = POW10[usize::from(self.frac - frac).min(18)] as i128;
            (d + div / 2) / div
        };
        let v = v.min(i64::MAX as i128) as i64;
        if self.negative { -v } else { v }
    }

    /// The value as a float (for display and statistics, never for registers).
    pub fn to_f64(&self) -> f64 {
        let v = self.digits as f64 / POW10[usize::from(self.frac).min(18)] as f64;
        if self.negative { -v } else { v }
    }

    pub(crate) fn parse(s: &[u8]) -> Option<Num> {
        let (negative, s) = match s.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, s),
        };
        if s.is_empty() || s.len() > MAX_NUM_DIGITS + 1 {
            return None;
        }
        let mut digits: u64 = 0;
        let mut int_width = 0u8;
        let mut frac = 0u8;
        let mut seen_dot = false;
        for &b in s {
            match b {
                b'0'..=b'9' => {
                    digits = digits * 10 + u64::from(b - b'0');
                    if seen_dot { frac += 1 } else { int_width += 1 }
                }
                b'.' if !seen_dot => seen_dot = true,
                _ => return None,
            }
        }
        if int_width == 0
            || (seen_dot && frac == 0)
            || usize::from(int_width + frac) > MAX_NUM_DIGITS
        {
            return None;
        }
        Some(Num { negative, digits, int_width, frac })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        if self.negative {
            out.push(b'-');
        }
        let p = POW10[usize::from(self.frac).min(18)];
        let int = self.digits / p;
        write_padded(out, int, self.int_width);
        if self.frac > 0 {
            out.push(b'.');
            write_padded(out, self.digits % p, self.frac);
        }
    }
}

/// Writes `v` in decimal, zero-padded to at least `width` digits.
pub(crate) fn write_padded(out: &mut Vec<u8>, mut v: u64, width: u8) {
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    while v > 0 {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let start = i.min(buf.len().saturating_sub(usize::from(width).min(20)));
    out.extend_from_slice(&buf[start..]);
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut v = Vec::with_capacity(24);
        self.write(&mut v);
        f.write_str(&String::from_utf8_lossy(&v))
    }
}

/// The DST flag of a P1 timestamp: `S` summer (UTC+2 in BE/NL/LU), `W` winter (UTC+1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Season {
    /// `S`: daylight saving time active.
    Summer,
    /// `W`: standard time.
    Winter,
}

/// A P1 timestamp `YYMMDDhhmmssX`, kept field by field because meters send sentinels that are
/// not dates (`632525252525W`, `000101000001W`); [`Tst::to_unix`] tells which ones are real.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Tst {
    /// Two-digit year (2000 + yy).
    pub yy: u8,
    /// Month 1..12 (or a sentinel).
    pub month: u8,
    /// Day of month.
    pub day: u8,
    /// Hour.
    pub hour: u8,
    /// Minute.
    pub minute: u8,
    /// Second.
    pub second: u8,
    /// The S/W suffix.
    pub season: Season,
}

impl Tst {
    /// The "no value" timestamp Belgian meters put in empty 13-month history slots.
    pub const NONE_BE: Tst = Tst {
        yy: 63,
        month: 25,
        day: 25,
        hour: 25,
        minute: 25,
        second: 25,
        season: Season::Winter,
    };

    /// Seconds since the Unix epoch, using the suffix as the UTC offset (S = +2 h, W = +1 h,
    /// true for every P1 country). `None` for sentinels and impossible dates.
    pub fn to_unix(&self) -> Option<i64> {
        let (y, m, d) = (2000 + i64::from(self.yy), u32::from(self.month), u32::from(self.day));
        if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
            return None;
        }
        if self.hour > 23 || self.minute > 59 || self.second > 59 {
            return None;
        }
        let days = days_from_civil(y, m, d);
        let offset = match self.season {
            Season::Summer => 7200,
            Season::Winter => 3600,
        };
        Some(
            days * 86_400
                + i64::from(self.hour) * 3600
                + i64::from(self.minute) * 60
                + i64::from(self.second)
                - offset,
        )
    }

    pub(crate) fn parse(s: &[u8]) -> Option<Tst> {
        if s.len() != 13 || !s[..12].iter().all(u8::is_ascii_digit) {
            return None;
        }
        let season = match s[12] {
            b'S' => Season::Summer,
            b'W' => Season::Winter,
            _ => return None,
        };
        let two = |i: usize| (s[i] - b'0') * 10 + (s[i + 1] - b'0');
        Some(Tst {
            yy: two(0),
            month: two(2),
            day: two(4),
            hour: two(6),
            minute: two(8),
            second: two(10),
            season,
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        for v in [self.yy, self.month, self.day, self.hour, self.minute, self.second] {
            out.push(b'0' + (v / 10) % 10);
            out.push(b'0' + v % 10);
        }
        out.push(match self.season {
            Season::Summer => b'S',
            Season::Winter => b'W',
        });
    }
}

impl fmt::Display for Tst {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut v = Vec::with_capacity(13);
        self.write(&mut v);
        f.write_str(&String::from_utf8_lossy(&v))
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A unit after `*`. The common ones are variants so decoding does not allocate.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Unit {
    /// kWh
    KWh,
    /// kW
    Kw,
    /// V
    V,
    /// A
    A,
    /// m3
    M3,
    /// s
    S,
    /// kvarh
    Kvarh,
    /// kvar
    Kvar,
    /// kVA
    Kva,
    /// GJ
    Gj,
    /// Anything else, spelled as received (some meters write `kVar`).
    Other(Box<str>),
}

impl Unit {
    fn from_bytes(s: &[u8]) -> Unit {
        match s {
            b"kWh" => Unit::KWh,
            b"kW" => Unit::Kw,
            b"V" => Unit::V,
            b"A" => Unit::A,
            b"m3" => Unit::M3,
            b"s" => Unit::S,
            b"kvarh" => Unit::Kvarh,
            b"kvar" => Unit::Kvar,
            b"kVA" => Unit::Kva,
            b"GJ" => Unit::Gj,
            other => Unit::Other(String::from_utf8_lossy(other).into()),
        }
    }

    /// The unit as written on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Unit::KWh => "kWh",
            Unit::Kw => "kW",
            Unit::V => "V",
            Unit::A => "A",
            Unit::M3 => "m3",
            Unit::S => "s",
            Unit::Kvarh => "kvarh",
            Unit::Kvar => "kvar",
            Unit::Kva => "kVA",
            Unit::Gj => "GJ",
            Unit::Other(s) => s,
        }
    }
}

/// One `(…)` group of a line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Value {
    /// A number, with its unit when one was written.
    Num(Num, Option<Unit>),
    /// A `YYMMDDhhmmssX` timestamp.
    Time(Tst),
    /// Anything else: hex-encoded strings, object references like `1-0:1.6.0`, `()`.
    Text(Box<str>),
}

impl Value {
    /// A number with a unit.
    pub fn num(n: Num, unit: Unit) -> Value {
        Value::Num(n, Some(unit))
    }

    /// A text value; P1 text is hex, so callers pass hex or plain ASCII without `()!/`.
    pub fn text(s: impl Into<Box<str>>) -> Value {
        Value::Text(s.into())
    }

    /// The number, if this is one.
    pub fn as_num(&self) -> Option<&Num> {
        match self {
            Value::Num(n, _) => Some(n),
            _ => None,
        }
    }

    /// The timestamp, if this is one.
    pub fn as_time(&self) -> Option<&Tst> {
        match self {
            Value::Time(t) => Some(t),
            _ => None,
        }
    }

    pub(crate) fn parse(s: &[u8]) -> Value {
        if let Some(star) = s.iter().position(|&b| b == b'*') {
            if let Some(n) = Num::parse(&s[..star]) {
                return Value::Num(n, Some(Unit::from_bytes(&s[star + 1..])));
            }
        } else if let Some(t) = Tst::parse(s) {
            return Value::Time(t);
        } else if let Some(n) = Num::parse(s) {
            return Value::Num(n, None);
        }
        Value::Text(String::from_utf8_lossy(s).into())
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        match self {
            Value::Num(n, unit) => {
                n.write(out);
                if let Some(u) = unit {
                    out.push(b'*');
                    out.extend_from_slice(u.as_str().as_bytes());
                }
            }
            Value::Time(t) => t.write(out),
            Value::Text(s) => out.extend_from_slice(s.as_bytes()),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut v = Vec::with_capacity(32);
        self.write(&mut v);
        f.write_str(&String::from_utf8_lossy(&v))
    }
}

/// The values of a line. Almost every line has one, so it is stored inline (no allocation).
pub type Values = smallvec::SmallVec<[Value; 1]>;

/// One data line: `OBIS(v)(v)…`, or a continuation line `(v)` (DSMR 2.2/3.0 gas profile).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Line {
    /// `None` for a continuation line.
    pub obis: Option<Obis>,
    /// The values in order.
    pub values: Values,
}

impl Line {
    /// A line with values.
    pub fn new(obis: Obis, values: impl Into<Values>) -> Line {
        Line { obis: Some(obis), values: values.into() }
    }

    /// A line with one value.
    pub fn single(obis: Obis, value: Value) -> Line {
        Line { obis: Some(obis), values: smallvec::smallvec![value] }
    }
}

/// A whole P1 telegram.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Telegram {
    /// The identification line without its leading `/`, e.g. `FLU5\253769484_A`: a 3-letter
    /// manufacturer flag, the baud-rate character `5`, then the meter's own identification.
    pub header: String,
    /// Data lines in the order they are sent (consumers must not rely on it; DSMR 5.0.2 §6.13).
    pub lines: Vec<Line>,
    /// Whether `!` is followed by a CRC (DSMR 2.2 and 3.0 telegrams have none).
    pub has_crc: bool,
}

impl Telegram {
    /// The first line with this OBIS code.
    pub fn line(&self, obis: Obis) -> Option<&Line> {
        self.lines.iter().find(|l| l.obis == Some(obis))
    }

    /// The values of the first line with this OBIS code.
    pub fn values(&self, obis: Obis) -> Option<&[Value]> {
        self.line(obis).map(|l| l.values.as_slice())
    }

    /// The first value of a line.
    pub fn value(&self, obis: Obis) -> Option<&Value> {
        self.values(obis).and_then(|v| v.first())
    }

    /// The 3-letter manufacturer flag (`FLU`, `ISK`, `KFM`, `Lux`).
    pub fn manufacturer(&self) -> &str {
        self.header.get(..3).unwrap_or(&self.header)
    }
}
