//! A year of homes in accelerated time lands in the ranges the sources give.

use crate::local;
use meter::{Catalogue, Meter, summarize};

fn year(profile: &str, seed: u64) -> Vec<meter::MonthSummary> {
    let cat = Catalogue::builtin();
    let from = local("2026-01-01T00:00:00");
    let to = local("2027-01-01T00:00:00");
    let mut m =
        Meter::new(cat.get("fluvius-t211-1.7.1").unwrap(), &profile.parse().unwrap(), seed, from)
            .unwrap();
    summarize(&mut m, from, to, |_| {})
}

#[test]
fn a_household_year_with_pv_lands_in_realistic_ranges() {
    for seed in [1, 2, 3] {
        let months = year("household:3500+pv:4", seed);
        assert_eq!(months.len(), 12);
        let consumption: f64 = months.iter().map(|m| m.consumption_kwh).sum();
        let pv: f64 = months.iter().map(|m| m.pv_kwh).sum();
        // CREG/Eurostat standard household 3,500 kWh; Flanders 3,305 kWh (VREG 2017).
        assert!((3000.0..=4000.0).contains(&consumption), "seed {seed}: {consumption} kWh");
        // ~850–950 kWh per kWp per year in Belgium (eha.be).
        assert!((3300.0..=3900.0).contains(&pv), "seed {seed}: PV {pv} kWh for 4 kWp");
        assert!(months[5].pv_kwh > 3.0 * months[11].pv_kwh, "June ≫ December");
        for m in &months {
            // Capacity tariff: monthly peaks of homes between the 2.5 kW floor and ~12 kW.
            let kw = f64::from(m.peak_w) / 1000.0;
            assert!((2.0..=12.0).contains(&kw), "seed {seed} {}: peak {kw} kW", m.month);
            let peak_month = calendar::local_date(m.peak_at.unwrap()).first_of_month();
            assert_eq!(peak_month, m.month);
        }
        // Registers agree with the flows: offtake − injection = consumption − production.
        let import: f64 = months.iter().map(|m| m.import_kwh).sum();
        let export: f64 = months.iter().map(|m| m.export_kwh).sum();
        assert!(((import - export) - (consumption - pv)).abs() < 1.0);
    }
}

#[test]
fn gas_heating_uses_12_to_20_mwh_mostly_in_winter() {
    let months = year("household+gas", 4);
    let m3: f64 = months.iter().map(|m| m.gas_m3).sum();
    let kwh = m3 * profiles::GAS_KWH_PER_M3;
    assert!((12_000.0..=20_000.0).contains(&kwh), "{kwh} kWh ({m3} m³)");
    assert!(months[0].gas_m3 > 4.0 * months[6].gas_m3, "January ≫ July");
}
