//! An AMR meter: no P1 port; quarter-hour records read by the operator's head-end (R-DAT-2).

use crate::meter::MeterError;
use crate::variant::{Kind, Variant};
use calendar::{SignedDuration, Timestamp};
use profiles::{Home, ProfileSpec};

/// One closed quarter hour of an AMR meter, energies in Wh and varh.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QuarterRecord {
    /// Start of the quarter (UTC).
    pub start: Timestamp,
    /// Active offtake.
    pub active_import_wh: f64,
    /// Active injection.
    pub active_export_wh: f64,
    /// Reactive offtake.
    pub reactive_import_varh: f64,
    /// Reactive injection.
    pub reactive_export_varh: f64,
    /// Active production (on-site generation, metered separately).
    pub production_wh: f64,
    /// Auxiliary consumption of the production unit.
    pub auxiliary_wh: f64,
}

/// A simulated AMR meter.
#[derive(Debug)]
pub struct AmrMeter {
    variant: Variant,
    home: Home,
    /// Start of the quarter not yet closed.
    at: Timestamp,
}

impl AmrMeter {
    /// An AMR meter of `variant` fed by `profile`; quarters start at the first boundary after
    /// `start`.
    pub fn new(
        variant: &Variant,
        profile: &ProfileSpec,
        seed: u64,
        start: Timestamp,
    ) -> Result<AmrMeter, MeterError> {
        if variant.kind()? != Kind::Amr {
            return Err(MeterError::Variant(crate::VariantError::Invalid {
                variant: variant.id.clone(),
                what: "not an AMR variant".into(),
            }));
        }
        let q = calendar::quarter_start(start);
        let at = if q == start { q } else { calendar::next_quarter(start) };
        Ok(AmrMeter { variant: variant.clone(), home: Home::new(profile, seed), at })
    }

    /// The variant.
    pub fn variant(&self) -> &Variant {
        &self.variant
    }

    /// Closes every quarter that ended at or before `now`.
    pub fn tick(&mut self, now: Timestamp) -> Vec<QuarterRecord> {
        let mut out = Vec::new();
        while self.at + SignedDuration::from_secs(900) <= now {
            // Five 3-minute steps: netting inside the quarter, as the meter does.
            let mut rec = QuarterRecord {
                start: self.at,
                active_import_wh: 0.0,
                active_export_wh: 0.0,
                reactive_import_varh: 0.0,
                reactive_export_varh: 0.0,
                production_wh: 0.0,
                auxiliary_wh: 0.0,
            };
            for k in 0..5 {
                let t = self.at + SignedDuration::from_secs(k * 180);
                let f = self.home.step(t, 180);
                let h = 180.0 / 3600.0;
                let net = f.consumption_w - f.production_w;
                rec.active_import_wh += net.max(0.0) * h;
                rec.active_export_wh += (-net).max(0.0) * h;
                // Businesses run near cos φ 0.9 (tan φ ≈ 0.48); inverters inject a little.
                rec.reactive_import_varh += f.consumption_w * 0.48 * h;
                rec.reactive_export_varh += f.production_w * 0.05 * h;
                rec.production_wh += f.production_w * h;
                // Inverter and transformer standby: about 1 % of nameplate-level production
                // plus 15 W at night.
                rec.auxiliary_wh += (15.0 + f.production_w * 0.01) * h;
            }
            out.push(rec);
            self.at += SignedDuration::from_secs(900);
        }
        out
    }
}
