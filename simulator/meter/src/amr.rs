//! An AMR meter: no P1 port; quarter-hour records read by the operator's head-end (R-DAT-2).

use crate::meter::MeterError;
use crate::variant::{Kind, Variant};
use calendar::{SignedDuration, Timestamp};
use domain::{AmrQuarter, Energy, ReactiveEnergy};
use profiles::{Home, ProfileSpec};

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
    pub fn tick(&mut self, now: Timestamp) -> Vec<AmrQuarter> {
        let mut out = Vec::new();
        while self.at + SignedDuration::from_secs(900) <= now {
            // Five 3-minute steps: netting inside the quarter, as the meter does. The flows are
            // physics (floats); the record is what the meter counts, whole Wh and varh.
            let mut rec = Flows::default();
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
            out.push(rec.counted(self.at));
            self.at += SignedDuration::from_secs(900);
        }
        out
    }
}

/// A quarter's flows before the meter counts them.
#[derive(Default)]
struct Flows {
    active_import_wh: f64,
    active_export_wh: f64,
    reactive_import_varh: f64,
    reactive_export_varh: f64,
    production_wh: f64,
    auxiliary_wh: f64,
}

impl Flows {
    /// The record the meter keeps: each register rounded to its resolution.
    fn counted(&self, start: Timestamp) -> AmrQuarter {
        // Flows are never negative (`max(0.0)` and non-negative profiles), so the cast only
        // rounds.
        let whole = |v: f64| v.max(0.0).round() as u64;
        AmrQuarter {
            start,
            active_import_wh: Energy::wh(whole(self.active_import_wh)),
            active_export_wh: Energy::wh(whole(self.active_export_wh)),
            reactive_import_varh: ReactiveEnergy::varh(whole(self.reactive_import_varh)),
            reactive_export_varh: ReactiveEnergy::varh(whole(self.reactive_export_varh)),
            production_wh: Energy::wh(whole(self.production_wh)),
            auxiliary_wh: Energy::wh(whole(self.auxiliary_wh)),
        }
    }
}
