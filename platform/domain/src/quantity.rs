//! Measured quantities as fixed-scale integers, one type per quantity: the scale is the
//! meters' own resolution (a P1 register counts Wh, a gas register dm³, a voltage decivolts),
//! so a value goes from the decoded telegram through the store and the derivations to the API
//! without rounding, floats or text on the way. On the wire each is a plain JSON integer in
//! the unit its field name ends with (`offtake_wh`, `volume_dm3`, `power_w`).
//!
//! Arithmetic is explicit: sums saturate (a register of 2^64 Wh is no meter's), differences
//! are checked (a register that goes backwards is the caller's case to handle), and the only
//! conversions to a float are for display and statistics, named as such.

use calendar::{SignedDuration, Timestamp};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

macro_rules! quantity {
    ($(#[$doc:meta])* $name:ident($repr:ty), $unit:literal, $new:ident, $get:ident) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize,
            Deserialize, JsonSchema,
        )]
        #[serde(transparent)]
        pub struct $name($repr);

        impl $name {
            /// Zero.
            pub const ZERO: $name = $name(0);

            #[doc = concat!("A value in ", $unit, ".")]
            pub const fn $new(v: $repr) -> $name {
                $name(v)
            }

            #[doc = concat!("The value in ", $unit, ".")]
            pub const fn $get(self) -> $repr {
                self.0
            }

            /// `self + other`, saturating.
            #[must_use]
            pub const fn plus(self, other: $name) -> $name {
                $name(self.0.saturating_add(other.0))
            }

            /// `self − other`, or `None` when `other` is larger.
            pub const fn minus(self, other: $name) -> Option<$name> {
                match self.0.checked_sub(other.0) {
                    Some(v) => Some($name(v)),
                    None => None,
                }
            }
        }

        impl std::iter::Sum for $name {
            fn sum<I: Iterator<Item = $name>>(iter: I) -> $name {
                iter.fold($name::ZERO, $name::plus)
            }
        }
    };
}

quantity!(
    /// Active energy, in Wh (a P1 register's resolution: kWh with three decimals).
    Energy(u64), "Wh", wh, as_wh
);
quantity!(
    /// Reactive energy, in varh.
    ReactiveEnergy(u64), "varh", varh, as_varh
);
quantity!(
    /// Active power, in W.
    Power(u64), "W", w, as_w
);
quantity!(
    /// Volume (gas, water), in dm³ (litres; a P1 M-Bus register's resolution: m³ with three
    /// decimals).
    Volume(u64), "dm³", dm3, as_dm3
);
quantity!(
    /// Voltage, in dV (230.1 V is 2301).
    Voltage(u32), "dV", dv, as_dv
);
quantity!(
    /// Current, in cA (Belgian meters' resolution; 4.35 A is 435).
    Current(u32), "cA", ca, as_ca
);

/// `n × num / den`, rounded half up, in 128 bits (no intermediate overflow).
const fn scale(n: u64, num: u64, den: u64) -> u64 {
    let v = (n as u128 * num as u128 + den as u128 / 2) / den as u128;
    if v > u64::MAX as u128 { u64::MAX } else { v as u64 }
}

impl Energy {
    /// In kWh, for display and statistics (never for a register).
    pub fn kwh_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// The average power of this energy spread over `span` (rounded half up to a W), or
    /// `None` for a span that is not positive.
    pub fn over(self, span: SignedDuration) -> Option<Power> {
        let nanos = u64::try_from(span.as_nanos()).ok().filter(|n| *n > 0)?;
        Some(Power(scale(self.0, 3_600_000_000_000, nanos)))
    }

    /// As text in kWh with the three decimals a register shows (`1.234`): exact, for CSV.
    pub fn kwh_text(self) -> String {
        format!("{}.{:03}", self.0 / 1000, self.0 % 1000)
    }
}

impl std::fmt::Display for Energy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} kWh", self.kwh_text())
    }
}

impl Power {
    /// In kW, for display and statistics.
    pub fn kw_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }
}

impl Volume {
    /// In m³, for display and statistics.
    pub fn m3_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// The energy of this gas volume at `factor` (rounded half up to a Wh).
    pub const fn energy(self, factor: GasFactor) -> Energy {
        Energy(scale(self.0, factor.wh_per_m3 as u64, 1000))
    }
}

impl Voltage {
    /// In V, for display and statistics.
    pub fn volts_f64(self) -> f64 {
        f64::from(self.0) / 10.0
    }
}

impl Current {
    /// In A, for display and statistics.
    pub fn amperes_f64(self) -> f64 {
        f64::from(self.0) / 100.0
    }
}

/// The energy of a cubic metre of gas, in Wh per m³ (the grid operator's monthly conversion
/// factor: calorific value × volume correction; 10 550 is a typical Belgian rich-gas value).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GasFactor {
    /// Wh per m³.
    pub wh_per_m3: u32,
}

impl GasFactor {
    /// 10.55 kWh/m³: an assumption where the real monthly factor is not known.
    pub const TYPICAL: GasFactor = GasFactor { wh_per_m3: 10_550 };
}

/// One closed quarter hour of an AMR meter (R-DAT-2): what the meter records, what the
/// head-end sends in a batch, what the store keeps and what the API gives back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AmrQuarter {
    /// Start of the quarter.
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub start: Timestamp,
    /// Active offtake, Wh.
    pub active_import_wh: Energy,
    /// Active injection, Wh.
    pub active_export_wh: Energy,
    /// Reactive offtake, varh.
    pub reactive_import_varh: ReactiveEnergy,
    /// Reactive injection, varh.
    pub reactive_export_varh: ReactiveEnergy,
    /// Production (on-site generation, metered separately), Wh.
    pub production_wh: Energy,
    /// Auxiliary consumption of the production unit, Wh.
    pub auxiliary_wh: Energy,
}
