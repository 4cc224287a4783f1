//! The lab API (`meterlab up`), by version.

pub mod v1;
