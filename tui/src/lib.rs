//! The meterlab console: a ratatui front end for rigs and slots, live meters, dongles,
//! platform health, consents and scenario runs.
//!
//! The crate is state + update + render. [`App`] holds only UI state and turns keys into
//! [`Action`]s ([`App::update`]); [`render`] draws a [`Snapshot`] of the lab, read from its HTTP
//! API by the binary; [`run`] is the terminal loop and the only code that does I/O, through a
//! [`Source`] the binary supplies. Nothing reads the system clock to decide what to show: times
//! come from [`Snapshot::at`] and are shown in Brussels local time, so screens snapshot-test
//! byte for byte (see [`canned`]).

pub mod app;
pub mod canned;
pub mod model;
pub mod term;
pub mod ui;

pub use app::{Action, App, Screen};
pub use model::Snapshot;
pub use term::{Source, run};
pub use ui::render;
