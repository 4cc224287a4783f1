use p1::smarty::{self, Keys, Security};
use p1::{Decoder, Dialect, Frame, Reading, Telegram, obis};
use rstest::rstest;
use std::path::PathBuf;

pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/p1").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub(crate) const PLAIN: &[&str] = &[
    "fluvius-emucs-1.7.1-3phase.txt",
    "fluvius-emucs-1.7.1-1phase.txt",
    "fluvius-emucs-1.5-1phase.txt",
    "fluvius-emucs-1.7.1-3phase-spec-example.txt",
    "dsmr-5.0-iskra-am550-3phase-2mbus.txt",
    "dsmr-5.0-iskra-am550-3phase.txt",
    "dsmr-5.0-landisgyr-e350-1phase.txt",
    "dsmr-4.2-kaifa-3phase-gas.txt",
    "dsmr-4.2-kaifa-3phase.txt",
    "dsmr-4.2-kaifa-1phase.txt",
    "dsmr-2.2-xmx-no-crc.txt",
    "smarty-lux5-2026-plain.txt",
    "smarty-lux5-2018-decrypted-plain.txt",
    "smarty-spec-v1.1.3-example-plain.txt",
];

#[test]
fn every_plain_fixture_decodes_and_reencodes_byte_identically() {
    for name in PLAIN {
        let bytes = fixture(name);
        let t = Telegram::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(t.has_crc, !name.contains("no-crc"), "{name}");
        assert!(t.lines.len() > 10, "{name}: only {} lines", t.lines.len());
        assert_eq!(t.encode(), bytes, "{name} does not re-encode byte for byte");
    }
}

/// The validator's formats are the meters' formats: no real or spec telegram breaks them.
#[test]
fn every_plain_fixture_keeps_to_the_spec_formats() {
    for name in PLAIN {
        let t = Telegram::decode(&fixture(name)).unwrap();
        let v: Vec<String> = p1::validate(&t).iter().map(|v| v.to_string()).collect();
        assert!(v.is_empty(), "{name}:\n{}", v.join("\n"));
    }
    let key = keys("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    let frame = fixture("smarty-format-synthetic-encrypted-sagemcom-t210.bin");
    let (_, inner) = smarty::decrypt(&frame, &key).unwrap();
    let v = p1::validate(&Telegram::decode(&inner).unwrap());
    assert!(v.is_empty(), "{v:#?}");
}

/// The Sagemcom T210-D-r writes whole Wh and W (`*Wh`, `*W`): its registers are read in Wh,
/// not as kWh a thousand times too high.
#[test]
fn a_meter_that_writes_wh_is_read_in_wh() {
    let key = keys("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    let frame = fixture("smarty-format-synthetic-encrypted-sagemcom-t210.bin");
    let (_, inner) = smarty::decrypt(&frame, &key).unwrap();
    let t = Telegram::decode(&inner).unwrap();
    let written = |code: &str| {
        let line = String::from_utf8_lossy(&inner)
            .lines()
            .find(|l| l.starts_with(code))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no {code}"));
        let value = line[line.find('(').unwrap() + 1..line.find('*').unwrap()].to_owned();
        assert!(line.ends_with("*Wh)") || line.ends_with("*W)"), "{line}");
        value.parse::<u64>().unwrap()
    };
    let r = Reading::from_telegram(&t);
    assert_eq!(r.import_wh[0], written("1-0:1.8.1("));
    assert_eq!(u64::from(r.power_import_w), written("1-0:1.7.0("));
}

#[test]
fn belgian_three_phase_values_are_read_with_their_meaning() {
    let t = Telegram::decode(&fixture("fluvius-emucs-1.7.1-3phase.txt")).unwrap();
    assert_eq!(Dialect::detect(&t), Some(Dialect::EMucs171));
    let r = Reading::from_telegram(&t);
    assert_eq!(r.equipment_id, "1SAG3100721326");
    assert_eq!(r.import_wh, [301_548, 270_014]);
    assert_eq!(r.export_wh, [5, 0]);
    assert_eq!(r.power_import_w, 338);
    assert_eq!(r.phases.len(), 3);
    assert_eq!(r.phases[0].voltage_dv, 2329);
    assert_eq!(r.phases[1].current_ca, 88);
    let d = r.demand.as_ref().unwrap();
    assert_eq!(d.average_w, 52);
    assert_eq!(d.month_peak.unwrap().w, 3064);
    assert_eq!(d.history.len(), 4);
    assert_eq!(d.history[0].peak, None, "the 632525252525W sentinel is an empty month");
    assert_eq!(d.history[3].peak.unwrap().w, 4927);
    assert_eq!(r.limiter_d, None, "999.9 kW means deactivated");
    assert_eq!(r.fuse_a, None, "999 A means deactivated");
    assert_eq!(r.mbus.len(), 2);
    assert_eq!(r.mbus[0].id, "7FLO2123088027");
    assert_eq!(r.mbus[0].litres, 92_287);
    assert_eq!(r.mbus[0].valve, Some(1));
    assert_eq!(r.mbus[1].medium, p1::Medium::Water);
    assert_eq!(r.mbus[1].litres, 8_579);
    // 231102121548W is 11:15:48 UTC.
    assert_eq!(r.time.to_unix(), Some(1_698_923_748));
    assert_eq!(t.value(obis::TIMESTAMP).unwrap().to_string(), "231102121548W");
}

/// The encoder writes each dialect in the order and formats real meters use: rebuilding a real
/// telegram from its meaning gives the same bytes.
#[rstest]
#[case("fluvius-emucs-1.7.1-3phase.txt", Dialect::EMucs171)]
#[case("fluvius-emucs-1.7.1-1phase.txt", Dialect::EMucs171)]
#[case("fluvius-emucs-1.5-1phase.txt", Dialect::EMucs15)]
#[case("dsmr-5.0-iskra-am550-3phase.txt", Dialect::Dsmr502)]
#[case("dsmr-5.0-landisgyr-e350-1phase.txt", Dialect::Dsmr502)]
#[case("dsmr-4.2-kaifa-3phase.txt", Dialect::Dsmr42)]
#[case("dsmr-4.2-kaifa-1phase.txt", Dialect::Dsmr42)]
#[case("dsmr-2.2-xmx-no-crc.txt", Dialect::Dsmr22)]
#[case("smarty-lux5-2026-plain.txt", Dialect::Smarty)]
fn dialect_builder_reproduces_real_meters(#[case] name: &str, #[case] dialect: Dialect) {
    let bytes = fixture(name);
    let t = Telegram::decode(&bytes).unwrap();
    assert_eq!(Dialect::detect(&t), Some(dialect), "{name}");
    let rebuilt = dialect.build(&t.header, &Reading::from_telegram(&t));
    assert_eq!(
        String::from_utf8_lossy(&rebuilt.encode()),
        String::from_utf8_lossy(&bytes),
        "{name}"
    );
}

fn keys(hex: &str) -> Keys {
    Keys::from_hex(hex).unwrap()
}

#[rstest]
#[case(
    "smarty-lux5-2018-encrypted.bin",
    "D491470F47126332B07D1923B3504188",
    Some("smarty-lux5-2018-decrypted-plain.txt")
)]
#[case(
    "smarty-format-synthetic-encrypted-sagemcom-t210.bin",
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    None
)]
fn smarty_frames_decrypt_and_reencrypt_byte_identically(
    #[case] name: &str,
    #[case] key: &str,
    #[case] plain: Option<&str>,
) {
    let frame = fixture(name);
    let (sec, inner) = smarty::decrypt(&frame, &keys(key)).unwrap();
    if let Some(plain) = plain {
        assert_eq!(inner, fixture(plain));
    }
    assert!(Telegram::decode(&inner).is_ok(), "inner CRC must hold");
    assert_eq!(smarty::encrypt(&inner, &keys(key), sec).unwrap(), frame);

    let mut d = Decoder::new().with_keys(keys(key));
    let frames: Vec<_> = d.decode(&frame).collect();
    assert!(matches!(&frames[..], [Frame::Ok { security: Some(s), .. }] if *s == sec));
}

#[test]
fn smarty_real_frame_header_is_read() {
    let frame = fixture("smarty-lux5-2018-encrypted.bin");
    let (sec, _) = smarty::decrypt(&frame, &keys("D491470F47126332B07D1923B3504188")).unwrap();
    assert_eq!(&sec.system_title[..3], b"SAG");
    assert_eq!(sec.frame_counter, 0x0005_A8E3);
}

#[test]
fn smarty_wrong_or_missing_key_is_reported_not_fatal() {
    let frame = fixture("smarty-lux5-2018-encrypted.bin");
    let mut d = Decoder::new().with_keys(keys("00000000000000000000000000000000"));
    let f: Vec<_> = d.decode(&frame).collect();
    assert!(matches!(
        &f[..],
        [Frame::Malformed {
            reason: p1::Malformed::Encrypted(smarty::SmartyError::Authentication),
            ..
        }]
    ));
    let mut d = Decoder::new();
    let f: Vec<_> = d.decode(&frame).collect();
    assert!(matches!(
        &f[..],
        [Frame::Malformed { reason: p1::Malformed::Encrypted(smarty::SmartyError::NoKey), .. }]
    ));
    // The decoder goes on with the next plain telegram.
    let plain = fixture("fluvius-emucs-1.7.1-1phase.txt");
    assert!(matches!(d.decode(&plain).collect::<Vec<_>>()[..], [Frame::Ok { .. }]));
}

#[test]
fn smarty_encrypt_then_decrypt_is_identity_for_any_counter() {
    let plain = fixture("smarty-lux5-2026-plain.txt");
    let k = keys("0123456789ABCDEF0123456789ABCDEF");
    for fc in [0, 1, 0x00FF_FFFF, u32::MAX] {
        let sec = Security { system_title: *b"SAG12345", frame_counter: fc };
        let frame = smarty::encrypt(&plain, &k, sec).unwrap();
        assert_eq!(smarty::decrypt(&frame, &k).unwrap(), (sec, plain.clone()));
    }
}
