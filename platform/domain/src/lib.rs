//! Identifiers and parties of the data platform, shared by the registers, the server and the
//! scenario suites: the EAN-18 of points ([`Ean`]), the enterprise number ([`Kbo`]) and
//! [`Gln`] of parties, access points and their data service points, ESPs with their contract
//! and service catalogue, and the dongle links of R-NRT-10.
//!
//! Identifiers are validated once, when they are parsed or deserialized, so a value of these
//! types is always well formed (a mistyped EAN must not name somebody else's point). The crate
//! is pure data: no I/O, no clock. Measured quantities ([`Energy`], [`Power`], [`Volume`],
//! [`Voltage`], [`Current`]) are fixed-scale integers, one type each (see [`quantity`]).

mod id;
mod model;
pub mod quantity;
mod schema;
#[cfg(test)]
mod tests;

pub use id::{Ean, Gln, IdError, Kbo};
pub use model::{
    AccessPoint, Channel, Commodity, ContractStatus, DataKind, DataServicePoint, DongleLink, Esp,
    GridUserId, Service, SupplierId, UnknownDataKind,
};
pub use quantity::{
    AmrQuarter, Current, Energy, GasFactor, Power, ReactiveEnergy, Voltage, Volume,
};
pub use schema::{LocalTime, Rfc3339, WALL_CLOCK};
