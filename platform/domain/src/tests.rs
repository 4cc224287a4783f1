use proptest::prelude::*;
use rstest::rstest;

use super::*;

#[rstest]
#[case("541448820000000015")]
#[case("541449200000000014")]
#[case("000000000000000000")]
fn valid_eans_parse(#[case] s: &str) {
    let ean = Ean::parse(s).unwrap();
    assert_eq!(ean.as_str(), s);
    assert_eq!(ean.to_string(), s);
}

#[rstest]
#[case("54144882000000001", "ean_invalid_length")]
#[case("5414488200000000151", "ean_invalid_length")]
#[case("", "ean_invalid_length")]
#[case("54144882000000001a", "ean_not_digits")]
#[case(" 541448820000000015", "ean_not_digits")]
#[case("541448820000000016", "ean_check_digit")]
fn invalid_eans_are_refused(#[case] s: &str, #[case] code: &str) {
    assert_eq!(Ean::parse(s).unwrap_err().code(), code);
}

#[test]
fn ean_check_digit_is_gs1_mod10() {
    // 17 data digits 54144882000000001: weights 3,1,3,… from the right.
    let ean = Ean::with_check_digit("54144882000000001").unwrap();
    assert_eq!(ean.as_str(), "541448820000000015");
    assert_eq!(Ean::with_check_digit("5414488200000000").unwrap_err().code(), "ean_invalid_length");
    assert_eq!(Ean::with_check_digit("5414488200000000x").unwrap_err().code(), "ean_not_digits");
}

#[test]
fn ean_messages_say_what_is_expected() {
    let msg = Ean::parse("541448820000000016").unwrap_err().to_string();
    assert!(msg.contains("check digit 6") && msg.contains("need 5"), "{msg}");
    let msg = Ean::parse("123").unwrap_err().to_string();
    assert!(msg.contains("18 digits") && msg.contains("has 3"), "{msg}");
}

#[test]
fn ean_serde_is_a_validated_string() {
    let ean = Ean::parse("541448820000000015").unwrap();
    assert_eq!(serde_json::to_string(&ean).unwrap(), "\"541448820000000015\"");
    let back: Ean = serde_json::from_str("\"541448820000000015\"").unwrap();
    assert_eq!(back, ean);
    assert!(serde_json::from_str::<Ean>("\"541448820000000016\"").is_err());
}

proptest! {
    #[test]
    fn with_check_digit_always_parses(data in "[0-9]{17}") {
        let ean = Ean::with_check_digit(&data).unwrap();
        prop_assert_eq!(Ean::parse(ean.as_str()).unwrap(), ean);
    }

    #[test]
    fn changing_one_digit_fails_the_check(data in "[0-9]{17}", pos in 0usize..18, delta in 1u8..10) {
        let ean = Ean::with_check_digit(&data).unwrap();
        let mut bytes = ean.as_str().as_bytes().to_vec();
        bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
        let changed = String::from_utf8(bytes).unwrap();
        prop_assert_eq!(Ean::parse(&changed).unwrap_err().code(), "ean_check_digit");
    }

    #[test]
    fn gln_with_check_digit_always_parses(data in "[0-9]{12}") {
        let gln = Gln::with_check_digit(&data).unwrap();
        prop_assert_eq!(Gln::parse(gln.as_str()).unwrap(), gln);
    }

    #[test]
    fn kbo_with_check_always_parses_in_every_form(data in "[01][0-9]{7}") {
        let kbo = Kbo::with_check(&data).unwrap();
        prop_assert_eq!(Kbo::parse(kbo.as_str()).unwrap(), kbo.clone());
        prop_assert_eq!(Kbo::parse(&kbo.to_string()).unwrap(), kbo.clone());
        prop_assert_eq!(Kbo::parse(&format!("BE{}", kbo.as_str())).unwrap(), kbo);
    }
}

#[rstest]
#[case("0123.456.749")]
#[case("0123456749")]
#[case("BE0123456749")]
#[case("BE 0123.456.749")]
fn kbo_accepts_the_usual_forms(#[case] s: &str) {
    let kbo = Kbo::parse(s).unwrap();
    assert_eq!(kbo.as_str(), "0123456749");
    assert_eq!(kbo.to_string(), "0123.456.749");
    assert_eq!(serde_json::to_string(&kbo).unwrap(), "\"0123456749\"");
}

#[rstest]
#[case("0123.456.748", "kbo_check")]
#[case("012345674", "kbo_invalid_length")]
#[case("01234567490", "kbo_invalid_length")]
#[case("2123456749", "kbo_invalid_length")]
#[case("0123-456-749", "kbo_not_digits")]
#[case("NL0123456749", "kbo_not_digits")]
fn invalid_kbos_are_refused(#[case] s: &str, #[case] code: &str) {
    assert_eq!(Kbo::parse(s).unwrap_err().code(), code);
}

#[test]
fn kbo_check_is_97_minus_mod_97() {
    assert_eq!(Kbo::with_check("01234567").unwrap().as_str(), "0123456749");
    // A multiple of 97 has check number 97, never 00.
    assert_eq!(Kbo::with_check("00000097").unwrap().as_str(), "0000009797");
    assert!(Kbo::parse("0000009700").is_err());
    assert_eq!(Kbo::with_check("21234567").unwrap_err().code(), "kbo_invalid_length");
}

/// Published GTIN-13 examples (same GS1 mod-10 check as a GLN).
#[rstest]
#[case("4006381333931")]
#[case("5901234123457")]
fn valid_glns_parse(#[case] s: &str) {
    let gln = Gln::parse(s).unwrap();
    assert_eq!(gln.as_str(), s);
    assert_eq!(Gln::with_check_digit(&s[..12]).unwrap(), gln);
}

#[rstest]
#[case("541448800000", "gln_invalid_length")]
#[case("541448800000a", "gln_not_digits")]
fn invalid_glns_are_refused(#[case] s: &str, #[case] code: &str) {
    assert_eq!(Gln::parse(s).unwrap_err().code(), code);
}

#[test]
fn gln_wrong_check_digit_is_refused() {
    let gln = Gln::with_check_digit("541448800000").unwrap();
    let last = gln.as_str().as_bytes()[12] - b'0';
    let wrong = format!("541448800000{}", (last + 1) % 10);
    assert_eq!(Gln::parse(&wrong).unwrap_err().code(), "gln_check_digit");
}

#[test]
fn data_kind_names_round_trip() {
    for kind in DataKind::ALL {
        assert_eq!(kind.as_str().parse::<DataKind>().unwrap(), kind);
        assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{}\"", kind.as_str()));
    }
    let err = "minute".parse::<DataKind>().unwrap_err();
    assert_eq!(err.code(), "granularity_unknown");
    assert!(err.to_string().contains("quarter-hour"));
}

#[test]
fn step_plan_path_uses_the_ten_digits() {
    let esp = Esp {
        kbo: Kbo::parse("BE0123.456.749").unwrap(),
        gln: None,
        name: "Sunny".into(),
        channel: Channel::Api,
        status: ContractStatus::Active,
        webhook_url: None,
        services: vec![Service { id: "pv".into(), name: "PV".into(), needs: vec![DataKind::Nrt] }],
    };
    assert_eq!(esp.step_plan_path(), "/dienstverlener/0123456749/stappenplan");
    assert!(esp.service("pv").is_some());
    let json = serde_json::to_value(&esp).unwrap();
    assert_eq!(json["channel"], "api");
    assert_eq!(json["services"][0]["needs"][0], "nrt");
    let back: Esp = serde_json::from_value(json).unwrap();
    assert_eq!(back, esp);
}

mod quantities {
    use crate::{Energy, GasFactor, Power, Volume};

    #[test]
    fn quantities_are_plain_integers_on_the_wire() {
        assert_eq!(serde_json::to_string(&Energy::wh(1234)).unwrap(), "1234");
        assert_eq!(serde_json::from_str::<Volume>("250").unwrap(), Volume::dm3(250));
        assert!(serde_json::from_str::<Energy>("1.5").is_err(), "no fractions of a Wh");
        assert!(serde_json::from_str::<Energy>("-1").is_err(), "no negative energy");
        let schema = serde_json::to_value(schemars::schema_for!(Energy)).unwrap();
        assert_eq!(schema["type"], "integer", "{schema}");
    }

    #[test]
    fn energy_text_is_exact_and_power_rounds_half_up() {
        assert_eq!(Energy::wh(1_234_567).kwh_text(), "1234.567");
        assert_eq!(Energy::wh(5).to_string(), "0.005 kWh");
        // 250 Wh over a quarter hour is 1 kW; 1 Wh over 7 s is 514.28… W.
        let secs = calendar::SignedDuration::from_secs;
        assert_eq!(Energy::wh(250).over(secs(900)), Some(Power::w(1000)));
        assert_eq!(Energy::wh(1).over(secs(7)), Some(Power::w(514)));
        assert_eq!(Energy::wh(1).over(secs(0)), None);
        assert_eq!(Energy::wh(1).over(secs(-5)), None);
        assert_eq!(Energy::wh(u64::MAX).over(secs(1)), Some(Power::w(u64::MAX)));
    }

    #[test]
    fn sums_saturate_and_differences_are_checked() {
        assert_eq!(Energy::wh(u64::MAX).plus(Energy::wh(1)), Energy::wh(u64::MAX));
        assert_eq!(Energy::wh(3).minus(Energy::wh(5)), None);
        assert_eq!(Energy::wh(5).minus(Energy::wh(3)), Some(Energy::wh(2)));
        let total: Energy = [1, 2, 3].into_iter().map(Energy::wh).sum();
        assert_eq!(total, Energy::wh(6));
    }

    #[test]
    fn gas_energy_uses_the_factor_in_whole_wh() {
        // 1.234 m³ at 10.55 kWh/m³ = 13.0187 kWh.
        assert_eq!(Volume::dm3(1234).energy(GasFactor::TYPICAL), Energy::wh(13_019));
        assert_eq!(Volume::dm3(0).energy(GasFactor::TYPICAL), Energy::ZERO);
    }
}
