//! Version 1 of the platform's HTTP API: one serde type per request and response body.
//! The server answers with these types, the lab and the console read them, and the OpenAPI
//! document's schemas are derived from them, so a renamed field changes all of them at once.

mod admin;
mod data;
mod error;
mod esp;
mod registers;
mod supervision;

pub use admin::*;
pub use data::*;
pub use error::{ApiError, Code};
pub use esp::*;
pub use registers::*;
pub use supervision::*;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use std::borrow::Cow;

/// The schema of a `SignedDuration`: ISO 8601 as jiff writes it (`PT1S`, `-PT0.5S`).
pub struct Duration;

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "description": "ISO 8601 duration, e.g. PT1S", "pattern": "^-?P" })
    }
}

/// The schema of a civil date (`2026-06-01`).
pub struct IsoDate;

impl JsonSchema for IsoDate {
    fn schema_name() -> Cow<'static, str> {
        "IsoDate".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "format": "date" })
    }
}
