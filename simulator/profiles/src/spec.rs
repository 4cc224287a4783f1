//! The profile specification language: `household:3500+pv:4+ev:11`.

use std::fmt;
use std::str::FromStr;

/// Component syntax, listed in errors and by [`ProfileSpec::syntax`].
const VALID_COMPONENTS: &str = "household[:kWh/yr], business[:kWh/yr], pv[:kWp[,inverter kW]], \
     ev[:charger kW[,kWh/yr]], heatpump[:space-heat kWh/yr], gas[:kWh/yr]";

/// Default annual consumption of `household`: the CREG/Eurostat "standard household" of
/// 3,500 kWh/yr. Flanders averaged 3,305 kWh per household access point in 2017 (vreg.be,
/// "Elektriciteitsverbruik van een gezin").
pub const DEFAULT_HOUSEHOLD_KWH: f64 = 3_500.0;
/// Default annual consumption of `business` (the catalogue example, a small office).
pub const DEFAULT_BUSINESS_KWH: f64 = 50_000.0;
/// Default PV peak power. *Assumption*: a typical Flemish residential roof (4–5 kWp).
pub const DEFAULT_PV_KWP: f64 = 4.0;
/// DC/AC ratio used for the default inverter size (`inverter kW = kWp / 1.1`).
/// *Assumption*: residential systems are commonly built with a DC/AC ratio of 1.1–1.2.
pub const DEFAULT_DC_AC_RATIO: f64 = 1.1;
/// Default EV charger power: 7.4 kW (single phase, 32 A at 230 V). 11 kW is 3 × 16 A.
pub const DEFAULT_EV_KW: f64 = 7.4;
/// Default annual EV charging at home. *Assumption*: ~15,000 km/yr at ~17 kWh/100 km,
/// mostly charged at home; the brief's target band is 2,000–3,000 kWh/yr.
pub const DEFAULT_EV_KWH: f64 = 2_500.0;
/// Default annual space-heating *heat* demand of a heat-pump home (thermal kWh, not
/// electricity). *Assumption*: the average Flemish gas household burns 14,132 kWh/yr (2019,
/// hln.be citing Mijnenergie.be), of which ~12 MWh space heating at ~90 % boiler
/// efficiency ≈ 10.8 MWh of heat; heat-pump homes are usually better insulated, so 8 MWh.
pub const DEFAULT_HEATPUMP_SPACE_HEAT_KWH: f64 = 8_000.0;
/// Default annual gas use of `gas` (kWh, gross calorific value). Flemish household average:
/// 14,132 kWh/yr in 2019, down from 17,755 kWh in 2009 (hln.be citing Mijnenergie.be).
pub const DEFAULT_GAS_KWH: f64 = 14_000.0;

/// The kind of a [`Component`], without its parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ComponentKind {
    /// `household`: base load, fridge, lighting and appliance events.
    Household,
    /// `business`: small office or shop, weekday office hours.
    Business,
    /// `pv`: rooftop photovoltaics.
    Pv,
    /// `ev`: electric-vehicle charging at home.
    Ev,
    /// `heatpump`: air/water heat pump for space heating and hot water.
    HeatPump,
    /// `gas`: gas combi boiler for space heating, hot water and a gas hob.
    Gas,
}

impl ComponentKind {
    /// Every kind, in the order the syntax help lists them.
    pub const ALL: [ComponentKind; 6] = [
        ComponentKind::Household,
        ComponentKind::Business,
        ComponentKind::Pv,
        ComponentKind::Ev,
        ComponentKind::HeatPump,
        ComponentKind::Gas,
    ];

    /// The name used in specs.
    pub fn name(self) -> &'static str {
        match self {
            ComponentKind::Household => "household",
            ComponentKind::Business => "business",
            ComponentKind::Pv => "pv",
            ComponentKind::Ev => "ev",
            ComponentKind::HeatPump => "heatpump",
            ComponentKind::Gas => "gas",
        }
    }

    fn syntax(self) -> &'static str {
        match self {
            ComponentKind::Household => "household[:kWh/yr]",
            ComponentKind::Business => "business[:kWh/yr]",
            ComponentKind::Pv => "pv[:kWp[,inverter kW]]",
            ComponentKind::Ev => "ev[:charger kW[,kWh/yr]]",
            ComponentKind::HeatPump => "heatpump[:space-heat kWh/yr]",
            ComponentKind::Gas => "gas[:kWh/yr]",
        }
    }

    /// Parameter names, ranges and defaults (`None`: depends on an earlier parameter).
    fn params(self) -> &'static [Param] {
        const HOUSEHOLD: &[Param] = &[Param::new("kWh/yr", 300.0, 30_000.0)];
        const BUSINESS: &[Param] = &[Param::new("kWh/yr", 1_000.0, 5_000_000.0)];
        const PV: &[Param] =
            &[Param::new("kWp", 0.1, 1_000.0), Param::new("inverter kW", 0.1, 1_000.0)];
        const EV: &[Param] =
            &[Param::new("charger kW", 1.4, 22.0), Param::new("kWh/yr", 100.0, 30_000.0)];
        const HEATPUMP: &[Param] = &[Param::new("space-heat kWh/yr", 500.0, 60_000.0)];
        const GAS: &[Param] = &[Param::new("kWh/yr", 1_000.0, 200_000.0)];
        match self {
            ComponentKind::Household => HOUSEHOLD,
            ComponentKind::Business => BUSINESS,
            ComponentKind::Pv => PV,
            ComponentKind::Ev => EV,
            ComponentKind::HeatPump => HEATPUMP,
            ComponentKind::Gas => GAS,
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        ComponentKind::ALL.into_iter().find(|k| k.name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for ComponentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

struct Param {
    name: &'static str,
    min: f64,
    max: f64,
}

impl Param {
    const fn new(name: &'static str, min: f64, max: f64) -> Self {
        Param { name, min, max }
    }
}

/// One component of a profile, with its parameters resolved (defaults filled in).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Component {
    /// Household electricity, scaled to `annual_kwh`.
    Household {
        /// Expected annual consumption (kWh).
        annual_kwh: f64,
    },
    /// Small business / office electricity, scaled to `annual_kwh`.
    Business {
        /// Expected annual consumption (kWh).
        annual_kwh: f64,
    },
    /// Rooftop PV.
    Pv {
        /// Peak DC power (kWp).
        kwp: f64,
        /// Inverter AC rating (kW); output is clipped to it.
        inverter_kw: f64,
    },
    /// EV charging at home.
    Ev {
        /// Charger power (kW).
        charger_kw: f64,
        /// Expected annual charged energy (kWh).
        annual_kwh: f64,
    },
    /// Air/water heat pump (space heating and hot water).
    HeatPump {
        /// Expected annual space-heating heat demand (thermal kWh).
        space_heat_kwh: f64,
    },
    /// Gas combi boiler (space heating, hot water) and gas hob.
    Gas {
        /// Expected annual gas use (kWh, gross calorific value).
        annual_kwh: f64,
    },
}

impl Component {
    /// The component's kind.
    pub fn kind(&self) -> ComponentKind {
        match self {
            Component::Household { .. } => ComponentKind::Household,
            Component::Business { .. } => ComponentKind::Business,
            Component::Pv { .. } => ComponentKind::Pv,
            Component::Ev { .. } => ComponentKind::Ev,
            Component::HeatPump { .. } => ComponentKind::HeatPump,
            Component::Gas { .. } => ComponentKind::Gas,
        }
    }

    /// Parameter values in spec order, and the defaults they would take if omitted.
    fn values_and_defaults(&self) -> ([f64; 2], [f64; 2], usize) {
        match *self {
            Component::Household { annual_kwh } => {
                ([annual_kwh, 0.0], [DEFAULT_HOUSEHOLD_KWH, 0.0], 1)
            }
            Component::Business { annual_kwh } => {
                ([annual_kwh, 0.0], [DEFAULT_BUSINESS_KWH, 0.0], 1)
            }
            Component::Pv { kwp, inverter_kw } => {
                ([kwp, inverter_kw], [DEFAULT_PV_KWP, kwp / DEFAULT_DC_AC_RATIO], 2)
            }
            Component::Ev { charger_kw, annual_kwh } => {
                ([charger_kw, annual_kwh], [DEFAULT_EV_KW, DEFAULT_EV_KWH], 2)
            }
            Component::HeatPump { space_heat_kwh } => {
                ([space_heat_kwh, 0.0], [DEFAULT_HEATPUMP_SPACE_HEAT_KWH, 0.0], 1)
            }
            Component::Gas { annual_kwh } => ([annual_kwh, 0.0], [DEFAULT_GAS_KWH, 0.0], 1),
        }
    }

    fn from_values(kind: ComponentKind, v: &[Option<f64>; 2]) -> Component {
        match kind {
            ComponentKind::Household => {
                Component::Household { annual_kwh: v[0].unwrap_or(DEFAULT_HOUSEHOLD_KWH) }
            }
            ComponentKind::Business => {
                Component::Business { annual_kwh: v[0].unwrap_or(DEFAULT_BUSINESS_KWH) }
            }
            ComponentKind::Pv => {
                let kwp = v[0].unwrap_or(DEFAULT_PV_KWP);
                Component::Pv { kwp, inverter_kw: v[1].unwrap_or(kwp / DEFAULT_DC_AC_RATIO) }
            }
            ComponentKind::Ev => Component::Ev {
                charger_kw: v[0].unwrap_or(DEFAULT_EV_KW),
                annual_kwh: v[1].unwrap_or(DEFAULT_EV_KWH),
            },
            ComponentKind::HeatPump => Component::HeatPump {
                space_heat_kwh: v[0].unwrap_or(DEFAULT_HEATPUMP_SPACE_HEAT_KWH),
            },
            ComponentKind::Gas => Component::Gas { annual_kwh: v[0].unwrap_or(DEFAULT_GAS_KWH) },
        }
    }

    fn validate(&self) -> Result<(), SpecError> {
        let kind = self.kind();
        let (values, _, n) = self.values_and_defaults();
        for (param, &value) in kind.params().iter().zip(&values[..n]) {
            if !(param.min..=param.max).contains(&value) {
                return Err(SpecError::OutOfRange {
                    component: kind.name(),
                    param: param.name,
                    value,
                    min: param.min,
                    max: param.max,
                });
            }
        }
        Ok(())
    }
}

impl fmt::Display for Component {
    /// Canonical form: trailing parameters equal to their defaults are omitted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind().name())?;
        let (values, defaults, n) = self.values_and_defaults();
        // Bitwise comparison on purpose: a value prints only if it would not come back
        // identical from the default.
        let shown = (0..n)
            .rev()
            .find(|&i| values[i].to_bits() != defaults[i].to_bits())
            .map_or(0, |i| i + 1);
        for (i, v) in values[..shown].iter().enumerate() {
            write!(f, "{}{v}", if i == 0 { ':' } else { ',' })?;
        }
        Ok(())
    }
}

/// What was wrong with a profile spec.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// The spec was empty.
    #[error(
        "empty profile spec: expected components joined by `+`, e.g. `household:3500+pv:4`; valid components: {}",
        VALID_COMPONENTS
    )]
    Empty,
    /// A `+` with nothing on one side.
    #[error(
        "empty component in `{spec}` (doubled or trailing `+`?); valid components: {}",
        VALID_COMPONENTS
    )]
    EmptyComponent {
        /// The whole spec.
        spec: String,
    },
    /// An unknown component name.
    #[error("unknown component `{name}`; valid components: {}", VALID_COMPONENTS)]
    UnknownComponent {
        /// The name as written.
        name: String,
    },
    /// A parameter that does not parse as a number.
    #[error("`{component}`: {param} `{value}` is not a number (syntax: {syntax})")]
    NotANumber {
        /// Component name.
        component: &'static str,
        /// Parameter name.
        param: &'static str,
        /// The text given.
        value: String,
        /// The component's syntax.
        syntax: &'static str,
    },
    /// A parameter outside its allowed range (also NaN and infinities).
    #[error("`{component}`: {param} = {value} is outside {min}..={max}")]
    OutOfRange {
        /// Component name.
        component: &'static str,
        /// Parameter name.
        param: &'static str,
        /// The value given.
        value: f64,
        /// Smallest allowed value.
        min: f64,
        /// Largest allowed value.
        max: f64,
    },
    /// More parameters than the component takes.
    #[error("`{component}` takes at most {max} parameter(s) (syntax: {syntax}), got {got}")]
    TooManyParams {
        /// Component name.
        component: &'static str,
        /// The component's syntax.
        syntax: &'static str,
        /// Parameters it takes.
        max: usize,
        /// Parameters given.
        got: usize,
    },
    /// The same component twice.
    #[error("component `{component}` appears more than once")]
    Duplicate {
        /// Component name.
        component: &'static str,
    },
    /// Two components that both model the space heating.
    #[error("components `{a}` and `{b}` cannot be combined: each models the whole space heating")]
    Conflict {
        /// First component.
        a: &'static str,
        /// Second component.
        b: &'static str,
    },
}

/// A parsed profile: one or more [`Component`]s, e.g. `household:3500+pv:4+ev:11`.
///
/// Grammar: components joined by `+`, each `name[:param[,param]]`; names are
/// case-insensitive, spaces around components are ignored. Each kind may appear once;
/// `heatpump` and `gas` exclude each other. [`Display`](fmt::Display) gives the canonical
/// form (defaults omitted), which parses back to an equal spec.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileSpec {
    components: Vec<Component>,
}

impl ProfileSpec {
    /// Builds a spec from components, checking ranges, duplicates and conflicts.
    pub fn new(components: Vec<Component>) -> Result<Self, SpecError> {
        if components.is_empty() {
            return Err(SpecError::Empty);
        }
        for (i, c) in components.iter().enumerate() {
            c.validate()?;
            if components[..i].iter().any(|p| p.kind() == c.kind()) {
                return Err(SpecError::Duplicate { component: c.kind().name() });
            }
        }
        let has = |k| components.iter().any(|c| c.kind() == k);
        if has(ComponentKind::HeatPump) && has(ComponentKind::Gas) {
            return Err(SpecError::Conflict { a: "heatpump", b: "gas" });
        }
        Ok(ProfileSpec { components })
    }

    /// The components, in spec order.
    pub fn components(&self) -> &[Component] {
        &self.components
    }

    /// The component of a kind, if present.
    pub fn get(&self, kind: ComponentKind) -> Option<&Component> {
        self.components.iter().find(|c| c.kind() == kind)
    }

    /// Example specs with a one-line description, for `meterlab sim --list-profiles`.
    pub fn catalogue() -> &'static [(&'static str, &'static str)] {
        &[
            (
                "household",
                "household, 3,500 kWh/yr (CREG/Eurostat standard household): base load, fridge, lighting, appliance events",
            ),
            ("household:3305", "average Flemish household access point, 3,305 kWh/yr (VREG, 2017)"),
            ("household:2000", "small household, ~2,000 kWh/yr (Brussels/Wallonia average)"),
            (
                "household:3500+pv:4",
                "standard household with 4 kWp rooftop PV (~3,600 kWh/yr produced)",
            ),
            (
                "household+pv:6+ev:11",
                "household with 6 kWp PV and an 11 kW EV charger (~2,500 kWh/yr charged)",
            ),
            ("household+ev", "household with a 7.4 kW single-phase EV charger"),
            (
                "household+heatpump",
                "all-electric home: air/water heat pump for space heating and hot water (~3,500 kWh/yr)",
            ),
            ("household+pv:6+heatpump", "heat-pump home with 6 kWp PV"),
            (
                "household+gas",
                "household with a gas combi boiler: heating by degree-days, hot water, hob (~14 MWh/yr, ~1,330 m3)",
            ),
            ("household+gas:20000+pv:4", "large gas-heated home (20 MWh/yr) with 4 kWp PV"),
            ("business:50000", "small business / office, 50 MWh/yr, weekdays 8-18 h"),
            ("business:50000+pv:20,17", "small business with 20 kWp PV on a 17 kW inverter"),
            ("pv:4,3.6", "PV only: 4 kWp with a 3.6 kW inverter"),
        ]
    }

    /// The syntax of each component with a description of its parameters.
    pub fn syntax() -> &'static [(&'static str, &'static str)] {
        &[
            (
                "household[:kWh/yr]",
                "household electricity; annual target, default 3500 (300..=30000)",
            ),
            (
                "business[:kWh/yr]",
                "office/shop electricity; annual target, default 50000 (1000..=5000000)",
            ),
            ("pv[:kWp[,inverter kW]]", "rooftop PV; default 4 kWp, inverter kWp/1.1"),
            (
                "ev[:charger kW[,kWh/yr]]",
                "EV charging; 7.4 (1-phase 32 A) or 11 (3x16 A) kW, default 7.4; 2500 kWh/yr",
            ),
            (
                "heatpump[:space-heat kWh/yr]",
                "air/water heat pump; annual space-heating heat demand, default 8000",
            ),
            (
                "gas[:kWh/yr]",
                "gas combi boiler (heating, hot water, hob); annual gas, default 14000",
            ),
        ]
    }
}

impl FromStr for ProfileSpec {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim().is_empty() {
            return Err(SpecError::Empty);
        }
        let mut components = Vec::new();
        for part in s.split('+') {
            let part = part.trim();
            if part.is_empty() {
                return Err(SpecError::EmptyComponent { spec: s.to_owned() });
            }
            let (name, params) = match part.split_once(':') {
                Some((n, p)) => (n.trim(), Some(p)),
                None => (part, None),
            };
            let kind = ComponentKind::from_name(name)
                .ok_or_else(|| SpecError::UnknownComponent { name: name.to_owned() })?;
            let defs = kind.params();
            let mut values = [None; 2];
            if let Some(params) = params {
                let texts: Vec<&str> = params.split(',').collect();
                if texts.len() > defs.len() {
                    return Err(SpecError::TooManyParams {
                        component: kind.name(),
                        syntax: kind.syntax(),
                        max: defs.len(),
                        got: texts.len(),
                    });
                }
                for (i, (text, def)) in texts.iter().zip(defs).enumerate() {
                    let text = text.trim();
                    let value = text.parse::<f64>().map_err(|_| SpecError::NotANumber {
                        component: kind.name(),
                        param: def.name,
                        value: text.to_owned(),
                        syntax: kind.syntax(),
                    })?;
                    values[i] = Some(value);
                }
            }
            components.push(Component::from_values(kind, &values));
        }
        ProfileSpec::new(components)
    }
}

impl fmt::Display for ProfileSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.components.iter().enumerate() {
            if i > 0 {
                f.write_str("+")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for ProfileSpec {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for ProfileSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
