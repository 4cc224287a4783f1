//! Integration tests of the p1 crate against the real telegrams in fixtures/p1.
#![allow(clippy::unwrap_used)] // helpers in test binaries may unwrap, like the tests themselves

mod fixtures;
mod properties;
mod robustness;
