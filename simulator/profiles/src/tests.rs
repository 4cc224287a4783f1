use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, civil};
use proptest::prelude::*;
use rstest::rstest;

use super::*;
use crate::local::{DayInfo, days_from_civil};

fn brussels() -> TimeZone {
    TimeZone::get("Europe/Brussels").unwrap()
}

/// Local midnight in Brussels.
fn local_midnight(y: i16, m: i8, d: i8) -> Timestamp {
    civil::date(y, m, d).at(0, 0, 0, 0).to_zoned(brussels()).unwrap().timestamp()
}

fn spec(s: &str) -> ProfileSpec {
    s.parse().unwrap()
}

/// Sums of a simulated local calendar year in 900 s steps.
#[derive(Debug, Default)]
struct Year {
    consumption_kwh: f64,
    household_kwh: f64,
    business_kwh: f64,
    ev_kwh: f64,
    heat_pump_kwh: f64,
    pv_kwh: f64,
    gas_kwh: f64,
    gas_m3: f64,
    monthly_consumption_kwh: [f64; 12],
    monthly_pv_kwh: [f64; 12],
    monthly_gas_kwh: [f64; 12],
    /// Highest quarter-hour average consumption (kW) per month.
    monthly_peak_kw: [f64; 12],
    monthly_temp_c: [f64; 12],
    monthly_cloud: [f64; 12],
    steps: usize,
}

fn simulate_year(spec_text: &str, seed: u64, year: i16) -> Year {
    let tz = brussels();
    let mut home = Home::new(&spec(spec_text), seed);
    let mut t = local_midnight(year, 1, 1);
    let end = local_midnight(year + 1, 1, 1);
    let mut y = Year::default();
    let mut n_month = [0usize; 12];
    while t < end {
        let month = (t.to_zoned(tz.clone()).month() - 1) as usize;
        let f = home.step(t, 900);
        let h = 0.25; // hours per step
        y.consumption_kwh += f.consumption_w * h / 1e3;
        y.household_kwh += f.breakdown.household_w * h / 1e3;
        y.business_kwh += f.breakdown.business_w * h / 1e3;
        y.ev_kwh += f.breakdown.ev_w * h / 1e3;
        y.heat_pump_kwh += f.breakdown.heat_pump_w * h / 1e3;
        y.pv_kwh += f.production_w * h / 1e3;
        y.gas_kwh += f.gas_kwh();
        y.gas_m3 += f.gas_m3;
        y.monthly_consumption_kwh[month] += f.consumption_kwh();
        y.monthly_pv_kwh[month] += f.production_kwh();
        y.monthly_gas_kwh[month] += f.gas_kwh();
        y.monthly_peak_kw[month] = y.monthly_peak_kw[month].max(f.consumption_w / 1e3);
        y.monthly_temp_c[month] += f.outdoor_temp_c;
        y.monthly_cloud[month] += f.cloud_cover;
        n_month[month] += 1;
        y.steps += 1;
        t += SignedDuration::from_secs(900);
    }
    for (m, n) in n_month.iter().enumerate() {
        y.monthly_temp_c[m] /= *n as f64;
        y.monthly_cloud[m] /= *n as f64;
    }
    y
}

fn fmt_months(v: &[f64; 12]) -> String {
    v.iter().map(|x| format!("{x:.1}")).collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------- spec

#[rstest]
#[case("household", "household")]
#[case("household:3500", "household")]
#[case("household:3305", "household:3305")]
#[case("Household : 3500 + PV:4", "household+pv")]
#[case("household:3500+pv:4", "household+pv")]
#[case("household+pv:6+ev:11", "household+pv:6+ev:11")]
#[case("ev:7.4,3000", "ev:7.4,3000")]
#[case("pv:4,3.6", "pv:4,3.6")]
#[case("household+heatpump", "household+heatpump")]
#[case("household+heatpump:12000", "household+heatpump:12000")]
#[case("household+gas", "household+gas")]
#[case("business:50000", "business")]
#[case("business:20000+pv:10", "business:20000+pv:10")]
fn spec_parses_to_canonical_form(#[case] input: &str, #[case] canonical: &str) {
    let s: ProfileSpec = input.parse().unwrap();
    assert_eq!(s.to_string(), canonical);
    assert_eq!(canonical.parse::<ProfileSpec>().unwrap(), s);
}

#[test]
fn spec_resolves_defaults() {
    let s = spec("household+pv:6+ev:11");
    assert_eq!(s.components()[0], Component::Household { annual_kwh: 3_500.0 });
    assert_eq!(s.components()[1], Component::Pv { kwp: 6.0, inverter_kw: 6.0 / 1.1 });
    assert_eq!(s.components()[2], Component::Ev { charger_kw: 11.0, annual_kwh: 2_500.0 });
    assert_eq!(
        spec("ev").get(ComponentKind::Ev),
        Some(&Component::Ev { charger_kw: 7.4, annual_kwh: 2_500.0 })
    );
    assert_eq!(spec("gas").get(ComponentKind::Gas), Some(&Component::Gas { annual_kwh: 14_000.0 }));
}

#[rstest]
#[case("", "empty profile spec")]
#[case("  ", "empty profile spec")]
#[case("household++pv", "empty component")]
#[case("household+", "empty component")]
#[case("fridge", "unknown component `fridge`; valid components: household[:kWh/yr], business")]
#[case("household:lots", "`household`: kWh/yr `lots` is not a number")]
#[case("household:", "is not a number")]
#[case("household:100", "`household`: kWh/yr = 100 is outside 300..=30000")]
#[case("household:NaN", "is outside")]
#[case("pv:inf", "is outside")]
#[case("ev:50", "`ev`: charger kW = 50 is outside 1.4..=22")]
#[case(
    "household:3500,2",
    "`household` takes at most 1 parameter(s) (syntax: household[:kWh/yr]), got 2"
)]
#[case("pv:4+household+pv:2", "component `pv` appears more than once")]
#[case("household+heatpump+gas", "`heatpump` and `gas` cannot be combined")]
fn spec_errors_say_what_is_wrong(#[case] input: &str, #[case] message: &str) {
    let err = input.parse::<ProfileSpec>().unwrap_err().to_string();
    assert!(err.contains(message), "{input:?}: {err}");
}

#[test]
fn unknown_component_lists_every_valid_one() {
    let err = "solar:4".parse::<ProfileSpec>().unwrap_err();
    assert_eq!(err, SpecError::UnknownComponent { name: "solar".into() });
    let msg = err.to_string();
    for kind in ComponentKind::ALL {
        assert!(msg.contains(kind.name()), "{msg}");
    }
}

#[test]
fn catalogue_and_syntax_are_valid() {
    assert!(ProfileSpec::catalogue().len() >= 7);
    for (example, description) in ProfileSpec::catalogue() {
        let s: ProfileSpec = example.parse().unwrap_or_else(|e| panic!("{example}: {e}"));
        assert_eq!(s.to_string().parse::<ProfileSpec>().unwrap(), s, "{example}");
        assert!(!description.is_empty());
    }
    assert_eq!(ProfileSpec::syntax().len(), ComponentKind::ALL.len());
}

#[test]
fn spec_and_flow_serde_round_trip() {
    let s = spec("household:3000+pv:4,3.6+ev:11");
    let json = serde_json::to_string(&s).unwrap();
    assert_eq!(json, "\"household:3000+pv:4,3.6+ev:11\"");
    assert_eq!(serde_json::from_str::<ProfileSpec>(&json).unwrap(), s);
    assert!(serde_json::from_str::<ProfileSpec>("\"toaster\"").is_err());
    let mut home = Home::new(&s, 1);
    let f = home.step(local_midnight(2025, 6, 1) + SignedDuration::from_hours(12), 900);
    let back: Flow = serde_json::from_str(&serde_json::to_string(&f).unwrap()).unwrap();
    assert_eq!(back, f);
}

proptest! {
    #[test]
    fn display_round_trips(
        h in proptest::option::of(300.0f64..30_000.0),
        pv in proptest::option::of((0.1f64..1_000.0, proptest::option::of(0.1f64..1_000.0))),
        ev in proptest::option::of((1.4f64..22.0, 100.0f64..30_000.0)),
        gas in proptest::option::of(1_000.0f64..200_000.0),
    ) {
        let mut c = Vec::new();
        if let Some(annual_kwh) = h { c.push(Component::Household { annual_kwh }); }
        if let Some((kwp, inv)) = pv { c.push(Component::Pv { kwp, inverter_kw: inv.unwrap_or(kwp / 1.1) }); }
        if let Some((charger_kw, annual_kwh)) = ev { c.push(Component::Ev { charger_kw, annual_kwh }); }
        if let Some(annual_kwh) = gas { c.push(Component::Gas { annual_kwh }); }
        prop_assume!(!c.is_empty());
        let s = ProfileSpec::new(c).unwrap();
        prop_assert_eq!(s.to_string().parse::<ProfileSpec>().unwrap(), s);
    }
}

// ---------------------------------------------------------------- calendar and weather

#[rstest]
#[case(2025, 1, 1, true)]
#[case(2025, 4, 21, true)] // Easter Monday (Easter 20 April 2025)
#[case(2025, 5, 29, true)] // Ascension
#[case(2025, 6, 9, true)] // Whit Monday
#[case(2025, 7, 21, true)] // National Day (Monday)
#[case(2024, 4, 1, true)] // Easter Monday 2024
#[case(2025, 11, 11, true)]
#[case(2025, 4, 22, false)]
#[case(2025, 7, 22, false)]
#[case(2025, 7, 26, true)] // Saturday
fn belgian_rest_days(#[case] y: i64, #[case] m: u32, #[case] d: u32, #[case] rest: bool) {
    let day = DayInfo::new(days_from_civil(y, m, d));
    assert_eq!(day.rest_day, rest, "{y}-{m}-{d}");
    assert_eq!(day.month, m);
}

#[test]
fn weather_is_belgian_and_shared_by_seed() {
    let y = simulate_year("household", 5, 2025);
    eprintln!("monthly mean temperature (°C): {}", fmt_months(&y.monthly_temp_c));
    eprintln!(
        "monthly mean cloud cover: {}",
        y.monthly_cloud.iter().map(|c| format!("{c:.2}")).collect::<Vec<_>>().join(" ")
    );
    assert!((0.0..6.5).contains(&y.monthly_temp_c[0]), "January {}", y.monthly_temp_c[0]);
    assert!((15.0..21.5).contains(&y.monthly_temp_c[6]), "July {}", y.monthly_temp_c[6]);
    let winter = (y.monthly_cloud[0] + y.monthly_cloud[1] + y.monthly_cloud[11]) / 3.0;
    let summer = (y.monthly_cloud[5] + y.monthly_cloud[6] + y.monthly_cloud[7]) / 3.0;
    assert!(winter > summer + 0.05, "winter {winter} summer {summer}");

    // Same weather seed → same weather, whatever the home seed.
    let s = spec("household+pv:4");
    let mut a = Home::with_weather_seed(&s, 1, 77);
    let mut b = Home::with_weather_seed(&s, 2, 77);
    let mut c = Home::with_weather_seed(&s, 1, 78);
    let mut t = local_midnight(2025, 3, 1);
    let mut differs = false;
    for _ in 0..96 {
        let (fa, fb, fc) = (a.step(t, 900), b.step(t, 900), c.step(t, 900));
        assert_eq!(fa.outdoor_temp_c.to_bits(), fb.outdoor_temp_c.to_bits());
        assert_eq!(fa.cloud_cover.to_bits(), fb.cloud_cover.to_bits());
        differs |= fa.outdoor_temp_c != fc.outdoor_temp_c;
        t += SignedDuration::from_secs(900);
    }
    assert!(differs);

    // A standalone Weather agrees with the home's, and with one started much later.
    let mut w1 = Weather::new(9);
    let mut w2 = Weather::new(9);
    let t0 = local_midnight(2025, 1, 1);
    for i in 0..24 * 40 {
        w1.sample(t0 + SignedDuration::from_hours(i));
    }
    let probe = t0 + SignedDuration::from_hours(24 * 40);
    let (s1, s2) = (w1.sample(probe), w2.sample(probe));
    assert!((s1.temperature_c - s2.temperature_c).abs() < 1e-6, "{s1:?} {s2:?}");
    assert!((s1.cloud_cover - s2.cloud_cover).abs() < 1e-6, "{s1:?} {s2:?}");
}

#[test]
fn sun_and_clear_sky_over_brussels() {
    // Solar noon (≈ 11:43 UTC at 4.35 E in June, 12:10 UTC in March with the equation of time).
    let june = solar::sun_position("2025-06-21T11:43:00Z".parse().unwrap());
    assert!((june.elevation_deg - 62.6).abs() < 0.3, "{june:?}");
    let ghi = solar::clear_sky_ghi(june.cos_zenith);
    assert!((ghi - 846.5).abs() < 5.0, "{ghi}"); // pvlib Ineichen, dependencies.md §3.11
    let march = solar::sun_position("2025-03-20T12:10:00Z".parse().unwrap());
    assert!((march.elevation_deg - 39.2).abs() < 0.5, "{march:?}");
    let night = solar::sun_position("2025-06-21T23:00:00Z".parse().unwrap());
    assert!(night.elevation_deg < 0.0 && solar::clear_sky_ghi(night.cos_zenith) == 0.0);
    assert!(solar::cloudy_ghi(ghi, 1.0) < 0.3 * ghi);
}

#[test]
fn pv_is_dark_at_night_and_clipped_by_the_inverter() {
    let flows = run("pv:4,3", 5, local_midnight(2025, 6, 1), 96 * 30, 900);
    let max = flows.iter().map(|f| f.production_w).fold(0.0, f64::max);
    assert!(max <= 3_000.0 + 1e-9 && max > 2_500.0, "{max}");
    for (i, f) in flows.iter().enumerate() {
        let q = i % 96; // local quarter of the day (CEST)
        if !(4 * 4..23 * 4).contains(&q) {
            assert_eq!(f.production_w, 0.0, "quarter {q}");
        }
        assert_eq!(f.consumption_w, 0.0);
    }
}

#[test]
fn homes_can_move_between_threads() {
    fn check<T: Send + Sync>() {}
    check::<Home>();
    check::<Weather>();
    check::<Flow>();
    check::<ProfileSpec>();
}

// ---------------------------------------------------------------- determinism

fn run(spec_text: &str, seed: u64, start: Timestamp, steps: usize, dur_s: u32) -> Vec<Flow> {
    let mut home = Home::new(&spec(spec_text), seed);
    let mut t = start;
    (0..steps)
        .map(|_| {
            let f = home.step(t, dur_s);
            t += SignedDuration::from_secs(i64::from(dur_s));
            f
        })
        .collect()
}

fn bits(flows: &[Flow]) -> Vec<[u64; 9]> {
    flows
        .iter()
        .map(|f| {
            [
                f.consumption_w.to_bits(),
                f.production_w.to_bits(),
                f.gas_m3.to_bits(),
                f.breakdown.household_w.to_bits(),
                f.breakdown.business_w.to_bits(),
                f.breakdown.ev_w.to_bits(),
                f.breakdown.heat_pump_w.to_bits(),
                f.outdoor_temp_c.to_bits(),
                f.cloud_cover.to_bits(),
            ]
        })
        .collect()
}

#[rstest]
#[case("household+pv:4+ev:11")]
#[case("household+gas")]
#[case("household+heatpump")]
#[case("business")]
fn same_seed_same_flows_different_seed_different(#[case] s: &str) {
    let start = local_midnight(2025, 2, 10);
    let a = run(s, 42, start, 4 * 96, 900);
    let b = run(s, 42, start, 4 * 96, 900);
    let c = run(s, 43, start, 4 * 96, 900);
    assert_eq!(bits(&a), bits(&b));
    assert_ne!(bits(&a), bits(&c));
    let total = |v: &[Flow]| v.iter().map(|f| f.consumption_kwh() + f.gas_kwh()).sum::<f64>();
    assert_ne!(total(&a), total(&c));
}

#[test]
fn components_do_not_perturb_each_other() {
    let start = local_midnight(2025, 5, 3);
    let alone = run("household", 7, start, 2 * 96, 900);
    let with = run("ev:11+household+pv:6", 7, start, 2 * 96, 900);
    for (x, y) in alone.iter().zip(&with) {
        assert_eq!(x.breakdown.household_w.to_bits(), y.breakdown.household_w.to_bits());
    }
}

#[test]
fn bad_steps_are_refused_and_gaps_bridged() {
    let s = spec("household+ev");
    let t = local_midnight(2025, 3, 3);
    let mut home = Home::new(&s, 3);
    assert_eq!(home.try_step(t, 0), Err(StepError::ZeroDuration));
    assert!(home.next_start().is_none());
    home.step(t, 900);
    assert_eq!(home.next_start(), Some(t + SignedDuration::from_secs(900)));
    let err = home.try_step(t, 900).unwrap_err();
    assert!(matches!(err, StepError::Backwards { .. }), "{err}");
    assert!(err.to_string().contains("must move forward"), "{err}");

    // A forward gap draws the skipped hours, so what follows matches continuous stepping.
    let continuous = run("household+ev", 3, t, 96, 900);
    let mut gapped = Home::new(&s, 3);
    gapped.step(t, 900);
    let later = t + SignedDuration::from_hours(10);
    let f = gapped.step(later, 900);
    assert_eq!(bits(&[f]), bits(&continuous[40..41]));
}

#[test]
#[should_panic(expected = "must move forward")]
fn step_panics_going_back() {
    let mut home = Home::new(&spec("household"), 1);
    let t = local_midnight(2025, 3, 3);
    home.step(t, 60);
    home.step(t, 60);
}

// ---------------------------------------------------------------- step-size independence

/// Energies over one local day with `dur_s` steps: (consumption kWh, production kWh, gas kWh,
/// household, ev, heat pump, business kWh).
fn day_energy(spec_text: &str, seed: u64, day: Timestamp, dur_s: u32) -> [f64; 7] {
    let mut home = Home::new(&spec(spec_text), seed);
    let mut t = day;
    let end = day + SignedDuration::from_hours(24);
    let mut e = [0.0; 7];
    while t < end {
        let f = home.step(t, dur_s);
        let k = f64::from(dur_s) / 3.6e6;
        e[0] += f.consumption_w * k;
        e[1] += f.production_w * k;
        e[2] += f.gas_kwh();
        e[3] += f.breakdown.household_w * k;
        e[4] += f.breakdown.ev_w * k;
        e[5] += f.breakdown.heat_pump_w * k;
        e[6] += f.breakdown.business_w * k;
        t += SignedDuration::from_secs(i64::from(dur_s));
    }
    e
}

#[rstest]
#[case("household+pv:4+ev:11", 2025, 1, 15)]
#[case("household+pv:4+ev:11", 2025, 6, 21)]
#[case("household+gas", 2025, 1, 16)]
#[case("household+heatpump+pv:6", 2025, 2, 5)]
#[case("business+pv:20", 2025, 4, 2)]
#[case("household+ev", 2025, 3, 30)] // DST starts: a 23-hour local day
#[case("household+gas", 2025, 10, 26)] // DST ends: a 25-hour local day
fn one_second_and_quarter_hour_steps_agree(
    #[case] s: &str,
    #[case] y: i16,
    #[case] m: i8,
    #[case] d: i8,
) {
    let day = local_midnight(y, m, d);
    for seed in [11, 12] {
        let fine = day_energy(s, seed, day, 1);
        let coarse = day_energy(s, seed, day, 900);
        let hour = day_energy(s, seed, day, 3_600);
        eprintln!(
            "{s} {y}-{m}-{d} seed {seed}: 1 s {fine:.4?}\n{:>w$} 900 s {coarse:.4?}",
            "",
            w = s.len() + 19
        );
        for i in 0..7 {
            let tol = 0.01 * fine[i].abs().max(coarse[i].abs()) + 1e-3; // brief: 5 %; observed < 0.01 %
            assert!(
                (fine[i] - coarse[i]).abs() <= tol,
                "{s} [{i}]: 1 s {} vs 900 s {}",
                fine[i],
                coarse[i]
            );
            assert!(
                (hour[i] - coarse[i]).abs() <= tol,
                "{s} [{i}]: 3600 s {} vs 900 s {}",
                hour[i],
                coarse[i]
            );
        }
    }
}

// ---------------------------------------------------------------- yearly figures

#[rstest]
#[case(1)]
#[case(2)]
#[case(3)]
fn household_year_is_realistic(#[case] seed: u64) {
    let y = simulate_year("household", seed, 2025);
    eprintln!(
        "household seed {seed}: {:.0} kWh; monthly kWh {}; monthly peaks kW {}",
        y.consumption_kwh,
        fmt_months(&y.monthly_consumption_kwh),
        y.monthly_peak_kw.iter().map(|p| format!("{p:.2}")).collect::<Vec<_>>().join(" ")
    );
    assert_eq!(y.steps, 365 * 96);
    assert!((3_000.0..4_000.0).contains(&y.consumption_kwh), "{}", y.consumption_kwh);
    for (m, p) in y.monthly_peak_kw.iter().enumerate() {
        assert!((2.5..12.0).contains(p), "month {}: peak {p} kW", m + 1);
    }
    // Winter months use more than summer months (lighting, dryer, activity).
    assert!(y.monthly_consumption_kwh[0] > y.monthly_consumption_kwh[6]);
}

#[rstest]
#[case(1_500.0)]
#[case(6_000.0)]
fn household_target_scales(#[case] target: f64) {
    let y = simulate_year(&format!("household:{target}"), 4, 2025);
    eprintln!("household:{target}: {:.0} kWh", y.consumption_kwh);
    assert!((y.consumption_kwh / target - 1.0).abs() < 0.12, "{}", y.consumption_kwh);
}

#[rstest]
#[case(1)]
#[case(2)]
fn pv_year_yield(#[case] seed: u64) {
    let y = simulate_year("household:3500+pv:4", seed, 2025);
    eprintln!(
        "household:3500+pv:4 seed {seed}: PV {:.0} kWh ({:.0} kWh/kWp); monthly PV {}; household {:.0} kWh",
        y.pv_kwh,
        y.pv_kwh / 4.0,
        fmt_months(&y.monthly_pv_kwh),
        y.household_kwh
    );
    assert!((3_400.0..3_800.0).contains(&y.pv_kwh), "{}", y.pv_kwh);
    let summer = y.monthly_pv_kwh[5] + y.monthly_pv_kwh[6];
    let winter = y.monthly_pv_kwh[0] + y.monthly_pv_kwh[11];
    assert!(summer > 3.0 * winter, "summer {summer} winter {winter}");
    assert!((3_000.0..4_000.0).contains(&y.consumption_kwh));
}

#[rstest]
#[case(1)]
#[case(2)]
fn gas_year(#[case] seed: u64) {
    let y = simulate_year("household+gas", seed, 2025);
    eprintln!(
        "household+gas seed {seed}: gas {:.0} kWh = {:.0} m3; monthly gas kWh {}; electricity {:.0} kWh",
        y.gas_kwh,
        y.gas_m3,
        fmt_months(&y.monthly_gas_kwh),
        y.consumption_kwh
    );
    assert!((12_000.0..20_000.0).contains(&y.gas_kwh), "{}", y.gas_kwh);
    assert!(y.monthly_gas_kwh[0] > 5.0 * y.monthly_gas_kwh[6], "{:?}", y.monthly_gas_kwh);
    assert!((y.gas_m3 * GAS_KWH_PER_M3 - y.gas_kwh).abs() < 1e-6 * y.gas_kwh);
}

#[rstest]
#[case(1)]
#[case(2)]
fn heat_pump_year(#[case] seed: u64) {
    let y = simulate_year("household+heatpump", seed, 2025);
    eprintln!(
        "household+heatpump seed {seed}: heat pump {:.0} kWh, household {:.0} kWh; monthly total {}; peaks {}",
        y.heat_pump_kwh,
        y.household_kwh,
        fmt_months(&y.monthly_consumption_kwh),
        y.monthly_peak_kw.iter().map(|p| format!("{p:.2}")).collect::<Vec<_>>().join(" ")
    );
    assert!((2_500.0..6_000.0).contains(&y.heat_pump_kwh), "{}", y.heat_pump_kwh);
    assert!(y.monthly_consumption_kwh[0] > 1.5 * y.monthly_consumption_kwh[6]);
}

#[rstest]
#[case("household+ev", 1)]
#[case("household+pv:6+ev:11", 2)]
fn ev_year(#[case] s: &str, #[case] seed: u64) {
    let y = simulate_year(s, seed, 2025);
    eprintln!(
        "{s} seed {seed}: EV {:.0} kWh, household {:.0} kWh, PV {:.0} kWh; peaks {}",
        y.ev_kwh,
        y.household_kwh,
        y.pv_kwh,
        y.monthly_peak_kw.iter().map(|p| format!("{p:.2}")).collect::<Vec<_>>().join(" ")
    );
    assert!((1_500.0..3_500.0).contains(&y.ev_kwh), "{}", y.ev_kwh);
}

#[test]
fn business_year() {
    let y = simulate_year("business:50000", 1, 2025);
    eprintln!(
        "business:50000: {:.0} kWh; monthly {}; peaks {}",
        y.business_kwh,
        fmt_months(&y.monthly_consumption_kwh),
        y.monthly_peak_kw.iter().map(|p| format!("{p:.1}")).collect::<Vec<_>>().join(" ")
    );
    assert!((45_000.0..55_000.0).contains(&y.business_kwh), "{}", y.business_kwh);

    // A Tuesday: office hours draw far more than the night; the Sunday stays at base load.
    let flows = run("business:50000", 1, local_midnight(2025, 3, 4), 96 * 6, 900);
    let avg = |day: usize, h0: usize, h1: usize| {
        flows[day * 96 + h0 * 4..day * 96 + h1 * 4].iter().map(|f| f.consumption_w).sum::<f64>()
            / ((h1 - h0) * 4) as f64
    };
    assert!(avg(0, 10, 12) > 2.5 * avg(0, 1, 5), "{} vs {}", avg(0, 10, 12), avg(0, 1, 5));
    assert!(
        avg(5, 10, 12) < 1.2 * avg(0, 1, 5),
        "Sunday {} vs night {}",
        avg(5, 10, 12),
        avg(0, 1, 5)
    );
}

#[test]
fn household_follows_local_time() {
    // Evening (19–22 h local) well above the night (2–5 h local), in winter and in summer time.
    for (m, d) in [(1, 6), (7, 7)] {
        let flows = run("household", 8, local_midnight(2025, m, d), 96 * 14, 900);
        let mut evening = 0.0;
        let mut night = 0.0;
        for (i, f) in flows.iter().enumerate() {
            let q = i % 96;
            if (19 * 4..22 * 4).contains(&q) {
                evening += f.consumption_w;
            }
            if (2 * 4..5 * 4).contains(&q) {
                night += f.consumption_w;
            }
        }
        assert!(evening > 2.0 * night, "month {m}: evening {evening} night {night}");
    }
}

// ---------------------------------------------------------------- robustness

fn catalogue_spec(i: usize) -> ProfileSpec {
    let cat = ProfileSpec::catalogue();
    cat[i % cat.len()].0.parse().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn flows_are_finite_and_non_negative(
        seed in any::<u64>(),
        which in 0usize..100,
        start in 946_684_800i64..2_208_988_800, // 2000..2040
        durs in proptest::collection::vec(prop_oneof![Just(1u32), Just(7), Just(60), Just(900), Just(3_600), Just(86_400)], 1..60),
    ) {
        let s = catalogue_spec(which);
        let mut home = Home::new(&s, seed);
        let mut t = Timestamp::from_second(start).unwrap();
        for d in durs {
            let f = home.step(t, d);
            for v in [f.consumption_w, f.production_w, f.gas_m3, f.breakdown.household_w, f.breakdown.business_w,
                      f.breakdown.ev_w, f.breakdown.heat_pump_w, f.breakdown.pv_w, f.breakdown.gas_w] {
                prop_assert!(v.is_finite() && v >= 0.0, "{s} at {t}: {f:?}");
            }
            prop_assert!(f.outdoor_temp_c.is_finite() && (-30.0..45.0).contains(&f.outdoor_temp_c));
            prop_assert!((0.0..=1.0).contains(&f.cloud_cover));
            prop_assert_eq!(f.duration_s, d);
            t += SignedDuration::from_secs(i64::from(d));
        }
    }
}

// ---------------------------------------------------------------- timing note

/// One year of 900 s steps for one `household+pv:4+ev` home. Prints the time; asserts
/// nothing about it (machines differ).
#[test]
fn timing_one_year_quarter_hours() {
    let s = spec("household+pv:4+ev");
    let start = local_midnight(2025, 1, 1);
    let t0 = std::time::Instant::now();
    let _ = crate::stats::climate(); // computed once per process
    eprintln!("TIMING one-time climate statistics: {:.1} ms", t0.elapsed().as_secs_f64() * 1e3);
    let t0 = std::time::Instant::now();
    let mut home = Home::new(&s, 99);
    let mut t = start;
    let mut kwh = 0.0;
    for _ in 0..365 * 96 {
        kwh += home.step(t, 900).consumption_kwh();
        t += SignedDuration::from_secs(900);
    }
    let el = t0.elapsed();
    eprintln!(
        "TIMING household+pv:4+ev, 35,040 quarter-hour steps: {:.1} ms ({:.2} µs/step; {kwh:.0} kWh)",
        el.as_secs_f64() * 1e3,
        el.as_secs_f64() * 1e6 / 35_040.0
    );
}
