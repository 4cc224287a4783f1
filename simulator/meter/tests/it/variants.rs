use crate::{decode_all, local, meter, run};
use meter::{Catalogue, Kind, Meter};
use p1::Dialect;
use proptest::prelude::*;

#[test]
fn builtin_catalogue_has_every_variant_the_issue_names() {
    let cat = Catalogue::builtin();
    let ids: Vec<&str> = cat.all().iter().map(|v| v.id.as_str()).collect();
    assert_eq!(ids.len(), 8, "{ids:?}");
    let dialects: Vec<Kind> = cat.all().iter().map(|v| v.kind().unwrap()).collect();
    for d in
        [Dialect::EMucs171, Dialect::EMucs15, Dialect::Dsmr502, Dialect::Dsmr42, Dialect::Smarty]
    {
        assert!(dialects.contains(&Kind::P1(d)), "{d:?} missing");
    }
    assert!(dialects.contains(&Kind::Amr));
    assert!(cat.all().iter().any(|v| v.phases == 1) && cat.all().iter().any(|v| v.phases == 3));
    assert!(cat.get("nope").unwrap_err().to_string().contains("meterlab sim --list"));
}

#[test]
fn bad_variant_files_are_refused_with_the_reason() {
    let e = Catalogue::from_yaml("- id: x\n  description: d\n  dialect: dsmr-9\n  header: H\n  equipment_id: E\n  firmware: F\n  baud: 1\n  interval_s: 1\n  phases: 1\n").unwrap_err();
    assert!(e.to_string().contains("unknown dialect `dsmr-9`"), "{e}");
    let e = Catalogue::from_yaml("- id: x\n  phases: fast\n").unwrap_err();
    assert!(e.to_string().contains("line 2"), "{e}");
}

#[test]
fn same_seed_same_bytes_and_another_seed_other_bytes() {
    let start = local("2026-06-10T11:59:00");
    for v in Catalogue::builtin().all().iter().filter(|v| v.kind().unwrap() != Kind::Amr) {
        let a = run(&mut meter(&v.id, "household+pv:4", 7, start), start, 120);
        let b = run(&mut meter(&v.id, "household+pv:4", 7, start), start, 120);
        let c = run(&mut meter(&v.id, "household+pv:4", 8, start), start, 120);
        assert_eq!(a, b, "{}", v.id);
        assert_ne!(a, c, "{}", v.id);
        let expected = 120 / i64::from(v.interval_s) + 1;
        assert_eq!(a.len() as i64, expected, "{}: one telegram per {} s", v.id, v.interval_s);
    }
}

#[test]
fn the_user_port_is_closed_by_default() {
    // R-LAB-6: the user port is closed until activated.
    let cat = Catalogue::builtin();
    let start = local("2026-06-10T12:00:00");
    let mut m =
        Meter::new(cat.get("fluvius-t211-1.7.1").unwrap(), &"household".parse().unwrap(), 1, start)
            .unwrap();
    assert!(run(&mut m, start, 30).is_empty());
    m.open_port();
    assert_eq!(run(&mut m, start + jiff::SignedDuration::from_secs(31), 9).len(), 10);
}

#[test]
fn smarty_frames_are_encrypted_with_the_variant_key_and_count_up() {
    let start = local("2026-06-10T12:00:00");
    let mut m = meter("sagemcom-smarty", "household", 3, start);
    let frames = run(&mut m, start, 60);
    assert!(frames.iter().all(|f| f[0] == 0xDB));
    let key = p1::smarty::Keys::from_hex(m.variant().encryption_key.as_ref().unwrap()).unwrap();
    let counters: Vec<u32> =
        frames.iter().map(|f| p1::smarty::decrypt(f, &key).unwrap().0.frame_counter).collect();
    assert!(counters.windows(2).all(|w| w[1] == w[0] + 1), "{counters:?}");
    assert_eq!(decode_all(&m, &frames).len(), 7);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Every telegram the simulator emits passes the decoder with a valid CRC.
    #[test]
    fn every_emitted_telegram_decodes_with_a_valid_crc(
        seed in any::<u64>(),
        variant in 0usize..7,
        day in 0i64..365,
        second in 0i64..86_400,
        profile in prop_oneof![Just("household"), Just("household:3500+pv:6+ev:11"), Just("household+heatpump"), Just("household+gas")],
    ) {
        let cat = Catalogue::builtin();
        let v = &cat.all()[variant];
        let start = local("2026-01-01T00:00:00") + jiff::SignedDuration::from_secs(day * 86_400 + second);
        let mut m = meter(&v.id, profile, seed, start);
        let frames = run(&mut m, start, 40);
        let decoded = decode_all(&m, &frames);
        prop_assert!(!decoded.is_empty());
        for (t, r) in &decoded {
            prop_assert_eq!(p1::Dialect::detect(t), v.kind().ok().and_then(|k| match k { Kind::P1(d) => Some(d), Kind::Amr => None }));
            prop_assert_eq!(r.phases.len(), usize::from(v.phases));
        }
    }
}
