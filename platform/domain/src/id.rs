//! The three numbers that name things on the Belgian market: the EAN-18 of access and data
//! service points, the KBO enterprise number of a company, and the GLN of a market party.
//!
//! Each type can only hold a valid number, so code that has an [`Ean`] never checks it again.
//! Parsing is strict on digits and check digits (a mistyped EAN must not silently name another
//! customer's point) and lenient only where people really write numbers differently (the dots
//! and `BE` prefix of a KBO number).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why a text is not a valid identifier. [`IdError::code`] is a stable machine-readable name
/// for API error bodies.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum IdError {
    /// Not the expected number of digits.
    #[error("an EAN (GSRN) has {expected} digits, but '{given}' has {len}")]
    EanInvalidLength {
        /// The text given.
        given: String,
        /// Its length in characters.
        len: usize,
        /// The length expected (18, or 17 when a check digit is to be added).
        expected: usize,
    },
    /// A character other than an ASCII digit.
    #[error("an EAN (GSRN) is made of digits 0-9 only, but '{given}' is not")]
    EanNotDigits {
        /// The text given.
        given: String,
    },
    /// The last digit does not match the others.
    #[error(
        "EAN '{given}' ends in check digit {found}, but its first 17 digits need {expected}: \
         the number is mistyped"
    )]
    EanCheckDigit {
        /// The text given.
        given: String,
        /// The check digit computed from the first 17 digits.
        expected: u8,
        /// The last digit given.
        found: u8,
    },
    /// Not 10 digits (after removing dots, spaces and a `BE` prefix), or not starting 0 or 1.
    #[error(
        "an enterprise number (KBO) has 10 digits starting with 0 or 1, written like \
         0123.456.749, 0123456749 or BE0123456749, but '{given}' is not"
    )]
    KboInvalidLength {
        /// The text given.
        given: String,
    },
    /// A character other than a digit, dot, space or the `BE` prefix.
    #[error(
        "an enterprise number (KBO) holds digits, optionally with dots and a BE prefix, but \
         '{given}' is not"
    )]
    KboNotDigits {
        /// The text given.
        given: String,
    },
    /// The last two digits are not 97 minus the first eight modulo 97.
    #[error(
        "enterprise number '{given}' ends in {found:02}, but its first 8 digits need \
         {expected:02}: the number is mistyped"
    )]
    KboCheck {
        /// The text given.
        given: String,
        /// The check number computed from the first 8 digits.
        expected: u8,
        /// The last two digits given.
        found: u8,
    },
    /// Not the expected number of digits.
    #[error("a GLN has {expected} digits, but '{given}' has {len}")]
    GlnInvalidLength {
        /// The text given.
        given: String,
        /// Its length in characters.
        len: usize,
        /// The length expected (13, or 12 when a check digit is to be added).
        expected: usize,
    },
    /// A character other than an ASCII digit.
    #[error("a GLN is made of digits 0-9 only, but '{given}' is not")]
    GlnNotDigits {
        /// The text given.
        given: String,
    },
    /// The last digit does not match the others.
    #[error(
        "GLN '{given}' ends in check digit {found}, but its first 12 digits need {expected}: \
         the number is mistyped"
    )]
    GlnCheckDigit {
        /// The text given.
        given: String,
        /// The check digit computed from the first 12 digits.
        expected: u8,
        /// The last digit given.
        found: u8,
    },
}

impl IdError {
    /// Stable snake_case name of the error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::EanInvalidLength { .. } => "ean_invalid_length",
            Self::EanNotDigits { .. } => "ean_not_digits",
            Self::EanCheckDigit { .. } => "ean_check_digit",
            Self::KboInvalidLength { .. } => "kbo_invalid_length",
            Self::KboNotDigits { .. } => "kbo_not_digits",
            Self::KboCheck { .. } => "kbo_check",
            Self::GlnInvalidLength { .. } => "gln_invalid_length",
            Self::GlnNotDigits { .. } => "gln_not_digits",
            Self::GlnCheckDigit { .. } => "gln_check_digit",
        }
    }
}

/// The GS1 mod-10 check digit of `data` (ASCII digits): weights 3, 1, 3, … from the rightmost
/// data digit, and the digit that brings the weighted sum to a multiple of ten.
fn gs1_check_digit(data: &[u8]) -> u8 {
    let sum: u32 = data
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &c)| u32::from(c - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    // `sum % 10` is below 10, so the result fits a u8.
    ((10 - sum % 10) % 10) as u8
}

/// Which GS1 number is parsed, so one routine serves EAN-18 and GLN-13 with their own errors.
#[derive(Clone, Copy)]
enum Gs1 {
    Ean,
    Gln,
}

impl Gs1 {
    fn len(self) -> usize {
        match self {
            Self::Ean => 18,
            Self::Gln => 13,
        }
    }

    fn invalid_length(self, given: &str, expected: usize) -> IdError {
        let (given, len) = (given.to_owned(), given.chars().count());
        match self {
            Self::Ean => IdError::EanInvalidLength { given, len, expected },
            Self::Gln => IdError::GlnInvalidLength { given, len, expected },
        }
    }

    fn not_digits(self, given: &str) -> IdError {
        let given = given.to_owned();
        match self {
            Self::Ean => IdError::EanNotDigits { given },
            Self::Gln => IdError::GlnNotDigits { given },
        }
    }

    /// Checks the digits of a whole number (with its check digit) and returns it.
    fn parse(self, s: &str) -> Result<String, IdError> {
        let bytes = s.as_bytes();
        if !bytes.iter().all(u8::is_ascii_digit) {
            return Err(self.not_digits(s));
        }
        if bytes.len() != self.len() {
            return Err(self.invalid_length(s, self.len()));
        }
        let (data, last) = bytes.split_at(self.len() - 1);
        let expected = gs1_check_digit(data);
        let found = last.first().map_or(0, |c| c - b'0');
        if expected != found {
            let given = s.to_owned();
            return Err(match self {
                Self::Ean => IdError::EanCheckDigit { given, expected, found },
                Self::Gln => IdError::GlnCheckDigit { given, expected, found },
            });
        }
        Ok(s.to_owned())
    }

    /// Appends the check digit to the data digits.
    fn with_check_digit(self, data: &str) -> Result<String, IdError> {
        let bytes = data.as_bytes();
        if !bytes.iter().all(u8::is_ascii_digit) {
            return Err(self.not_digits(data));
        }
        if bytes.len() != self.len() - 1 {
            return Err(self.invalid_length(data, self.len() - 1));
        }
        Ok(format!("{data}{}", gs1_check_digit(bytes)))
    }
}

/// An EAN-18 (GS1 GSRN): the number of an access point or a data service point. Exactly 18
/// digits, the last a GS1 mod-10 check digit over the first 17. Belgian points start with `54`,
/// but that is not required (test fixtures and other markets use other prefixes).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ean(String);

impl Ean {
    /// Parses 18 digits with a valid check digit; no spaces or other characters.
    pub fn parse(s: &str) -> Result<Ean, IdError> {
        Gs1::Ean.parse(s).map(Ean)
    }

    /// The EAN made of these 17 digits and their check digit (for fixtures and tests).
    pub fn with_check_digit(first17: &str) -> Result<Ean, IdError> {
        Gs1::Ean.with_check_digit(first17).map(Ean)
    }

    /// The 18 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Ean {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Ean {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ean::parse(s)
    }
}

impl TryFrom<String> for Ean {
    type Error = IdError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Ean::parse(&s)
    }
}

impl From<Ean> for String {
    fn from(ean: Ean) -> String {
        ean.0
    }
}

/// A GLN (GS1 Global Location Number) of 13 digits, the last a GS1 mod-10 check digit: the
/// number a market party (an ESP) uses in market messages.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Gln(String);

impl Gln {
    /// Parses 13 digits with a valid check digit.
    pub fn parse(s: &str) -> Result<Gln, IdError> {
        Gs1::Gln.parse(s).map(Gln)
    }

    /// The GLN made of these 12 digits and their check digit (for fixtures and tests).
    pub fn with_check_digit(first12: &str) -> Result<Gln, IdError> {
        Gs1::Gln.with_check_digit(first12).map(Gln)
    }

    /// The 13 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Gln {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Gln {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Gln::parse(s)
    }
}

impl TryFrom<String> for Gln {
    type Error = IdError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Gln::parse(&s)
    }
}

impl From<Gln> for String {
    fn from(gln: Gln) -> String {
        gln.0
    }
}

/// A Belgian enterprise number (KBO/BCE, *ondernemingsnummer*): 10 digits, the first 0 or 1,
/// the last two equal to 97 minus the first eight modulo 97.
///
/// People write it as `0123.456.749`, `0123456749` or, as a VAT number, `BE0123456749`; all
/// are accepted and kept as the 10 digits, which is also the serde form and [`Kbo::as_str`]
/// (the form in URLs such as the step-plan link). [`fmt::Display`] uses the dotted form.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Kbo(String);

impl Kbo {
    /// Parses any of the usual written forms; spaces are ignored too.
    pub fn parse(s: &str) -> Result<Kbo, IdError> {
        let trimmed = s.trim();
        let body = trimmed
            .strip_prefix("BE")
            .or_else(|| trimmed.strip_prefix("be"))
            .or_else(|| trimmed.strip_prefix("Be"))
            .unwrap_or(trimmed);
        let mut digits = String::with_capacity(10);
        for c in body.chars() {
            match c {
                '0'..='9' => digits.push(c),
                '.' | ' ' => {}
                _ => return Err(IdError::KboNotDigits { given: s.to_owned() }),
            }
        }
        if digits.len() != 10 || !(digits.starts_with('0') || digits.starts_with('1')) {
            return Err(IdError::KboInvalidLength { given: s.to_owned() });
        }
        let (data, check) = digits.split_at(8);
        let expected = kbo_check(data);
        let found: u8 = check.parse().unwrap_or(u8::MAX);
        if expected != found {
            return Err(IdError::KboCheck { given: s.to_owned(), expected, found });
        }
        Ok(Kbo(digits))
    }

    /// The enterprise number made of these 8 digits and their check number (for fixtures and
    /// tests).
    pub fn with_check(first8: &str) -> Result<Kbo, IdError> {
        if !first8.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdError::KboNotDigits { given: first8.to_owned() });
        }
        if first8.len() != 8 || !(first8.starts_with('0') || first8.starts_with('1')) {
            return Err(IdError::KboInvalidLength { given: first8.to_owned() });
        }
        Ok(Kbo(format!("{first8}{:02}", kbo_check(first8))))
    }

    /// The 10 digits, without dots.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 97 minus the 8 digits modulo 97 (so 97, never 0, when the number is a multiple of 97).
fn kbo_check(first8: &str) -> u8 {
    let n: u32 = first8.parse().unwrap_or(0);
    // `n % 97` is below 97, so the result is 1..=97 and fits a u8.
    (97 - n % 97) as u8
}

impl fmt::Display for Kbo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.0;
        match (d.get(0..4), d.get(4..7), d.get(7..10)) {
            (Some(a), Some(b), Some(c)) => write!(f, "{a}.{b}.{c}"),
            _ => f.write_str(d),
        }
    }
}

impl FromStr for Kbo {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kbo::parse(s)
    }
}

impl TryFrom<String> for Kbo {
    type Error = IdError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Kbo::parse(&s)
    }
}

impl From<Kbo> for String {
    fn from(kbo: Kbo) -> String {
        kbo.0
    }
}
