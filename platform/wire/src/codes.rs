//! Stable error codes as enums: the code's text exists only where it crosses the wire, and
//! everything inside matches on the variant.

/// An enum of stable codes, each with its wire name and meaning: `as_str`, `meaning`, `ALL`,
/// `Display`, `FromStr`, serde as the name (an unknown name is refused, never defaulted) and
/// a JSON Schema `enum`.
macro_rules! stable_codes {
    (
        $(#[$doc:meta])*
        $name:ident, $schema_doc:literal;
        $($variant:ident = $text:literal: $meaning:literal,)*
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $(
                #[doc = $meaning]
                $variant,
            )*
        }

        impl $name {
            /// Every code, in the documented order.
            pub const ALL: &[$name] = &[$($name::$variant),*];

            /// The code as it is written on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }

            /// What it means, for documents and people.
            pub fn meaning(self) -> &'static str {
                match self { $($name::$variant => $meaning,)* }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<$name, String> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|c| c.as_str() == s)
                    .ok_or_else(|| format!("unknown error code {s}"))
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                let s = std::borrow::Cow::<str>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }

        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                let names: Vec<&str> = $name::ALL.iter().map(|c| c.as_str()).collect();
                schemars::json_schema!({
                    "description": $schema_doc,
                    "type": "string",
                    "enum": names,
                })
            }
        }
    };
}

pub(crate) use stable_codes;
