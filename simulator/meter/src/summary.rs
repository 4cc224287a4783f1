//! Long runs without telegrams: a meter's months, and quarter-hour series of many homes.

use crate::meter::Meter;
use calendar::{SignedDuration, Timestamp};
use profiles::{Home, ProfileSpec};

/// One calendar month of a simulated meter.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MonthSummary {
    /// First day of the month (Brussels).
    pub month: jiff::civil::Date,
    /// Offtake (import register increase), kWh.
    pub import_kwh: f64,
    /// Injection (export register increase), kWh.
    pub export_kwh: f64,
    /// All consumption behind the meter, kWh.
    pub consumption_kwh: f64,
    /// PV production, kWh.
    pub pv_kwh: f64,
    /// Gas, m³.
    pub gas_m3: f64,
    /// Highest quarter-hour average import, W (the capacity-tariff peak, R-DAT-3).
    pub peak_w: u32,
    /// Start of that quarter hour.
    pub peak_at: Option<Timestamp>,
}

/// Runs `meter` from its start to `until` in quarter-hour steps (no telegrams) and sums each
/// month. `progress` is called with the fraction done after each simulated day.
///
/// Quarter-hour steps net consumption and production per quarter: a meter that nets per second
/// books a little more of both import and export. Peaks are quarter averages either way.
pub fn summarize(
    meter: &mut Meter,
    from: Timestamp,
    until: Timestamp,
    mut progress: impl FnMut(f64),
) -> Vec<MonthSummary> {
    let mut months: Vec<MonthSummary> = Vec::new();
    let total = (until.as_second() - from.as_second()).max(1) as f64;
    let mut t = from;
    let mut last_day = calendar::local_date(from);
    while t < until {
        let next = calendar::next_quarter(t).min(until);
        let (imp0, exp0) = meter.registers_wh();
        meter.advance(next);
        let (imp1, exp1) = meter.registers_wh();
        let f = *meter.flow();
        let month = calendar::local_date(t).first_of_month();
        if months.last().is_none_or(|m| m.month != month) {
            months.push(MonthSummary {
                month,
                import_kwh: 0.0,
                export_kwh: 0.0,
                consumption_kwh: 0.0,
                pv_kwh: 0.0,
                gas_m3: 0.0,
                peak_w: 0,
                peak_at: None,
            });
        }
        if let Some(m) = months.last_mut() {
            let h = (next.as_second() - t.as_second()) as f64 / 3600.0;
            m.import_kwh += (imp1[0] + imp1[1] - imp0[0] - imp0[1]) / 1000.0;
            m.export_kwh += (exp1[0] + exp1[1] - exp0[0] - exp0[1]) / 1000.0;
            m.consumption_kwh += f.consumption_w * h / 1000.0;
            m.pv_kwh += f.production_w * h / 1000.0;
            m.gas_m3 += f.gas_m3;
            // The quarter's average import: energy over the whole 15 minutes, as 1-0:1.4.0.
            let quarter_w = ((imp1[0] + imp1[1] - imp0[0] - imp0[1]) * 4.0).round() as u32;
            if quarter_w > m.peak_w {
                m.peak_w = quarter_w;
                m.peak_at = Some(calendar::quarter_start(t));
            }
        }
        t = next;
        let day = calendar::local_date(t);
        if day != last_day {
            last_day = day;
            progress((t.as_second() - from.as_second()) as f64 / total);
        }
    }
    months
}

/// Offtake and injection (kWh) per quarter hour of one home, computed at quarter-hour steps
/// without a meter or telegrams: the fast path for exporting thousands of homes.
pub fn quarter_series(
    spec: &ProfileSpec,
    seed: u64,
    weather_seed: u64,
    from: Timestamp,
    quarters: usize,
) -> Vec<(f32, f32)> {
    let mut home = Home::with_weather_seed(spec, seed, weather_seed);
    let mut out = Vec::with_capacity(quarters);
    let mut t = from;
    for _ in 0..quarters {
        let f = home.step(t, 900);
        let net_kwh = (f.consumption_w - f.production_w) * 0.25 / 1000.0;
        out.push((net_kwh.max(0.0) as f32, (-net_kwh).max(0.0) as f32));
        t += SignedDuration::from_secs(900);
    }
    out
}
