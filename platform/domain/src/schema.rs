//! JSON Schemas of the identifiers and of instants, for the API's OpenAPI document. The
//! patterns say what is well formed; the check digits (GS1 for EAN and GLN, mod 97 for KBO)
//! are rules no pattern can hold, so a well-formed value can still be refused (422).

use crate::{Ean, Gln, Kbo};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use std::borrow::Cow;

impl JsonSchema for Ean {
    fn schema_name() -> Cow<'static, str> {
        "Ean".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[0-9]{18}$",
            "description": "EAN-18 (GSRN) of an access or data service point; the last digit is the GS1 check digit",
            "examples": ["541448900000000011"],
        })
    }
}

impl JsonSchema for Gln {
    fn schema_name() -> Cow<'static, str> {
        "Gln".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[0-9]{13}$",
            "description": "GLN-13 of a party; the last digit is the GS1 check digit",
        })
    }
}

impl JsonSchema for Kbo {
    fn schema_name() -> Cow<'static, str> {
        "Kbo".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^(BE)?[01][0-9]{3}\\.?[0-9]{3}\\.?[0-9]{3}$",
            "description": "Belgian enterprise number: 10 digits, dots and a BE prefix allowed; the last two digits are 97 minus the first eight mod 97",
            "examples": ["0123.456.749", "BE0123456749"],
        })
    }
}

/// An instant in RFC 3339 (`2026-06-01T08:00:00Z`), as the API writes and reads
/// `Timestamp`s: use it as `#[schemars(with = "domain::Rfc3339")]`.
pub struct Rfc3339;

impl JsonSchema for Rfc3339 {
    fn schema_name() -> Cow<'static, str> {
        "Rfc3339".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "format": "date-time" })
    }
}

/// A time as the API's periods take it: a Brussels day (`2026-06-01`), a Brussels wall-clock
/// time (`2026-06-01T10:00:00`) or RFC 3339.
pub struct LocalTime;

/// A wall-clock time without an offset (`2026-06-01T10:00`, seconds and a fraction optional),
/// which RFC 3339's `date-time` format does not admit.
pub const WALL_CLOCK: &str =
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?$";

impl JsonSchema for LocalTime {
    fn schema_name() -> Cow<'static, str> {
        "LocalTime".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "a Brussels day (2026-06-01), a Brussels wall-clock time (2026-06-01T10:00:00) or RFC 3339",
            "anyOf": [
                { "type": "string", "format": "date" },
                { "type": "string", "pattern": WALL_CLOCK },
                { "type": "string", "format": "date-time" },
            ],
        })
    }
}
