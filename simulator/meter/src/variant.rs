//! Meter variants as data: `variants.yaml` is embedded, and users may load their own file.

use p1::{Dialect, Medium};
use serde::Deserialize;

/// The built-in catalogue (every variant of the lab's rigs, R-LAB-1).
const BUILTIN: &str = include_str!("../variants.yaml");

/// An M-Bus device a variant carries.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MbusSpec {
    /// Channel 1..4.
    pub channel: u8,
    /// `gas` or `water`.
    #[serde(deserialize_with = "medium")]
    pub medium: Medium,
    /// Equipment id (plain ASCII).
    pub id: String,
}

fn medium<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Medium, D::Error> {
    match String::deserialize(d)?.as_str() {
        "gas" => Ok(Medium::Gas),
        "water" => Ok(Medium::Water),
        "heat" => Ok(Medium::Heat),
        other => Err(serde::de::Error::custom(format!(
            "unknown medium `{other}`: use gas, water or heat"
        ))),
    }
}

/// What a variant speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A digital meter with a P1 port.
    P1(Dialect),
    /// An AMR meter: quarter-hour data through the head-end, no P1 port.
    Amr,
}

/// One meter model as installed on a rig.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// Stable id (`fluvius-t211-1.7.1`).
    pub id: String,
    /// One line for listings.
    pub description: String,
    /// `emucs-1.7.1`, `emucs-1.5`, `dsmr-5.0.2`, `dsmr-4.2`, `dsmr-2.2`, `smarty` or `amr`.
    pub dialect: String,
    /// The identification line without `/`.
    pub header: String,
    /// Equipment identifier (plain ASCII).
    pub equipment_id: String,
    /// Firmware / version string (R-LAB-4: agreement holders are told when it changes).
    pub firmware: String,
    /// Serial speed of the P1 port (8N1); 0 for meters without one.
    pub baud: u32,
    /// Seconds between telegrams (quarter-hour records for AMR).
    pub interval_s: u32,
    /// 1 or 3.
    pub phases: u8,
    /// M-Bus devices.
    #[serde(default)]
    pub mbus: Vec<MbusSpec>,
    /// Smarty encryption key (32 hex digits); frames are sent encrypted when set.
    #[serde(default)]
    pub encryption_key: Option<String>,
    /// Smarty system title (8 ASCII characters).
    #[serde(default)]
    pub system_title: Option<String>,
}

impl Variant {
    /// What the variant speaks; an unknown dialect name is an error naming the valid ones.
    pub fn kind(&self) -> Result<Kind, VariantError> {
        if self.dialect == "amr" {
            return Ok(Kind::Amr);
        }
        Dialect::ALL.into_iter().find(|d| d.name() == self.dialect).map(Kind::P1).ok_or_else(|| {
            VariantError::UnknownDialect { variant: self.id.clone(), dialect: self.dialect.clone() }
        })
    }
}

/// A catalogue problem.
#[derive(Debug, thiserror::Error)]
pub enum VariantError {
    /// The YAML does not parse.
    #[error("variant file: {0}")]
    Yaml(String),
    /// A variant names a dialect that does not exist.
    #[error(
        "variant {variant}: unknown dialect `{dialect}` (use emucs-1.7.1, emucs-1.5, dsmr-5.0.2, dsmr-4.2, dsmr-2.2, smarty or amr)"
    )]
    UnknownDialect {
        /// The variant id.
        variant: String,
        /// What it said.
        dialect: String,
    },
    /// A variant is invalid for another reason.
    #[error("variant {variant}: {what}")]
    Invalid {
        /// The variant id.
        variant: String,
        /// What is wrong.
        what: String,
    },
    /// No variant has this id.
    #[error("no variant `{0}`; `meterlab sim --list` shows them")]
    NotFound(String),
}

/// A set of variants.
#[derive(Debug, Clone)]
pub struct Catalogue {
    variants: Vec<Variant>,
}

impl Catalogue {
    /// The variants built into meterlab.
    pub fn builtin() -> Catalogue {
        // The embedded file is checked by a test; a broken build-in catalogue cannot ship.
        Catalogue::from_yaml(BUILTIN).unwrap_or(Catalogue { variants: Vec::new() })
    }

    /// Parses and checks a variant file.
    pub fn from_yaml(yaml: &str) -> Result<Catalogue, VariantError> {
        let variants: Vec<Variant> =
            serde_saphyr::from_str(yaml).map_err(|e| VariantError::Yaml(e.to_string()))?;
        for v in &variants {
            v.kind()?;
            let invalid =
                |what: &str| VariantError::Invalid { variant: v.id.clone(), what: what.to_owned() };
            if v.phases != 1 && v.phases != 3 {
                return Err(invalid("phases must be 1 or 3"));
            }
            if v.interval_s == 0 {
                return Err(invalid("interval_s must be at least 1"));
            }
            if v.mbus.iter().any(|m| !(1..=4).contains(&m.channel)) {
                return Err(invalid("M-Bus channels are 1 to 4"));
            }
            if let Some(k) = &v.encryption_key {
                p1::smarty::Keys::from_hex(k).map_err(|e| invalid(&e.to_string()))?;
            }
            if v.system_title.as_ref().is_some_and(|t| t.len() != 8) {
                return Err(invalid("system_title must be 8 characters"));
            }
        }
        Ok(Catalogue { variants })
    }

    /// All variants in file order.
    pub fn all(&self) -> &[Variant] {
        &self.variants
    }

    /// One variant by id.
    pub fn get(&self, id: &str) -> Result<&Variant, VariantError> {
        self.variants.iter().find(|v| v.id == id).ok_or_else(|| VariantError::NotFound(id.into()))
    }
}
