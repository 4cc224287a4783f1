//! The platform HTTP API, by version.

pub mod v1;
