use crate::fixtures::{PLAIN, fixture};
use p1::{
    DEFAULT_MAX_LEN, DecodeError, Decoder, Frame, Line, Malformed, Num, Obis, Season, Telegram,
    Tst, Unit, Value,
};
use proptest::prelude::*;

fn all_fixtures_with_noise() -> (Vec<u8>, usize) {
    let mut stream = b"\x00\xffnoise before the first frame".to_vec();
    for name in PLAIN {
        stream.extend_from_slice(&fixture(name));
        stream.extend_from_slice(b"\r\n");
    }
    (stream, PLAIN.len())
}

#[test]
fn corrupt_crc_is_counted_not_fatal() {
    let mut bytes = fixture("fluvius-emucs-1.7.1-3phase.txt");
    let pos = bytes.windows(7).position(|w| w == b"000301.").unwrap();
    bytes[pos + 5] = b'2';
    assert!(matches!(Telegram::decode(&bytes), Err(DecodeError::Crc { expected: 0xC4B0, .. })));
    let mut d = Decoder::new();
    let good = fixture("fluvius-emucs-1.7.1-1phase.txt");
    let frames: Vec<_> = d.decode(&[bytes.as_slice(), &good].concat()).collect();
    assert!(matches!(frames[..], [Frame::CorruptCrc { expected: 0xC4B0, .. }, Frame::Ok { .. }]));
    assert_eq!((d.stats().corrupt_crc, d.stats().ok), (1, 1));
}

#[test]
fn truncated_telegram_is_reported_and_the_next_one_decodes() {
    let full = fixture("dsmr-5.0-iskra-am550-3phase.txt");
    let cut = &full[..full.len() / 2];
    let mut d = Decoder::new();
    let frames: Vec<_> = d.decode(&[cut, &full].concat()).collect();
    assert!(matches!(&frames[..], [Frame::Truncated { raw }, Frame::Ok { .. }] if raw == cut));
    assert_eq!(d.stats().truncated, 1);
}

#[test]
fn line_without_parentheses_is_malformed_with_its_line_number() {
    let t = b"/FLU5\\253770234_A\r\n\r\n0-0:96.1.4(50217)\r\n1-0:1.8.1 000330.621\r\n!";
    let crc = p1::crc16(t);
    let bytes = [&t[..], format!("{crc:04X}\r\n").as_bytes()].concat();
    let err = Telegram::decode(&bytes).unwrap_err();
    assert_eq!(
        err,
        DecodeError::Malformed(Malformed::BadLine { line: 4, what: "no '(' value group" })
    );
    assert_eq!(err.to_string(), "line 4: no '(' value group");
}

#[test]
fn ten_megabytes_without_an_end_are_dropped_in_bounded_memory() {
    let mut blob = vec![b'/'];
    blob.resize(10 * 1024 * 1024, b'7');
    let mut d = Decoder::new();
    let mut too_long = 0;
    for chunk in blob.chunks(4096) {
        for f in d.decode(chunk) {
            match f {
                Frame::Malformed { raw, reason: Malformed::TooLong { limit } } => {
                    assert!(raw.len() <= limit && limit == DEFAULT_MAX_LEN);
                    too_long += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!(too_long, 1, "one report, then the rest is noise until the next '/'");
    assert!(d.stats().garbage_bytes > 9 * 1024 * 1024);
    let good = fixture("fluvius-emucs-1.7.1-1phase.txt");
    assert!(matches!(d.decode(&good).collect::<Vec<_>>()[..], [Frame::Ok { .. }]));
}

#[test]
fn telegram_without_final_line_end_completes_on_the_next_start() {
    // DSMR 4.2.2 §5.12: every line "except the last one" ends in CR LF.
    let mut a = fixture("dsmr-4.2-kaifa-1phase.txt");
    a.truncate(a.len() - 2);
    let b = fixture("dsmr-4.2-kaifa-3phase.txt");
    let mut d = Decoder::new();
    let frames: Vec<_> = d.decode(&[a.as_slice(), &b].concat()).collect();
    assert!(matches!(frames[..], [Frame::Ok { .. }, Frame::Ok { .. }]), "{frames:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Any chunking of the same stream gives the same frames.
    #[test]
    fn chunking_does_not_change_the_frames(cuts in proptest::collection::vec(1usize..700, 1..40)) {
        let (stream, n) = all_fixtures_with_noise();
        let mut whole = Decoder::new();
        let expected: Vec<_> = whole.decode(&stream).collect();
        prop_assert_eq!(expected.len(), n);
        let all_ok = expected.iter().all(|f| matches!(f, Frame::Ok { .. }));
        prop_assert!(all_ok);

        let mut d = Decoder::new();
        let mut got = Vec::new();
        let mut rest = stream.as_slice();
        let mut i = 0;
        while !rest.is_empty() {
            let k = cuts[i % cuts.len()].min(rest.len());
            got.extend(d.decode(&rest[..k]));
            rest = &rest[k..];
            i += 1;
        }
        prop_assert_eq!(got, expected);
        prop_assert_eq!(d.stats(), whole.stats());
    }

    /// Arbitrary bytes never panic, and every byte is accounted for (consumed in finite steps).
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = Telegram::decode(&bytes).map(|t| p1::validate(&t));
        let mut d = Decoder::new().with_max_len(512);
        let n = d.decode(&bytes).count();
        let s = d.stats();
        prop_assert_eq!(n as u64, s.ok + s.corrupt_crc + s.truncated + s.malformed);
    }

    /// Byte soup built from P1 syntax (much likelier to reach deep parser states).
    #[test]
    fn p1_shaped_soup_never_panics(parts in proptest::collection::vec(
        prop_oneof![
            Just(&b"/"[..]), Just(&b"!"[..]), Just(&b"\r\n"[..]), Just(&b"("[..]), Just(&b")"[..]),
            Just(&b"1-0:1.8.1"[..]), Just(&b"*kWh"[..]), Just(&b"000123.456"[..]),
            Just(&b"231102121548W"[..]), Just(&b"ABCD"[..]), Just(&b"\xDB\x08SAG12345\x82\x00\x20\x30"[..]),
            Just(&b"-"[..]), Just(&b"."[..]), Just(&b"99999999999999999999"[..]),
        ], 0..200),
        key in any::<[u8; 16]>(),
    ) {
        let bytes = parts.concat();
        let _ = Telegram::decode(&bytes).map(|t| p1::validate(&t));
        let keys = p1::smarty::Keys { encryption: key, authentication: p1::smarty::SMARTY_AUTH_KEY };
        let mut d = Decoder::new().with_keys(keys);
        for chunk in bytes.chunks(7) {
            for f in d.decode(chunk) {
                if let Frame::Ok { telegram, raw, .. } = f {
                    let _ = p1::validate(&telegram);
                    // Whatever decodes must survive its own encoding; it re-encodes
                    // byte-identically when it was well-formed (one blank line after the
                    // header, none among the data lines: stray blank lines are skipped).
                    prop_assert_eq!(&Telegram::decode(&telegram.encode()).unwrap(), &telegram);
                    let header_end = raw.iter().position(|&b| b == b'\n').unwrap();
                    if well_formed_lines(&raw[header_end + 1..]) {
                        // A telegram may end without its final CR LF (DSMR 4.2.2 §5.12).
                        let trim = |b: &[u8]| b.strip_suffix(b"\r\n").unwrap_or(b).to_vec();
                        prop_assert_eq!(trim(&telegram.encode()), trim(&raw));
                    }
                }
            }
        }
    }
}

/// The body after the header line is one blank line, then data lines none of which is empty.
fn well_formed_lines(body: &[u8]) -> bool {
    let Some(lines) = body.strip_prefix(b"\r\n") else { return false };
    !(lines.starts_with(b"\r\n")
        || lines.starts_with(b"\n")
        || lines.windows(3).any(|w| w == b"\n\r\n")
        || lines.windows(2).any(|w| w == b"\n\n"))
}

/// A stray blank line among the data lines (found by the soup above) is skipped: the telegram
/// decodes, and its encoding is the well-formed one.
#[test]
fn stray_blank_lines_are_skipped_and_normalised() {
    let t = Telegram::decode(b"/-\r\n\r\n\r\n!").unwrap();
    assert!(t.lines.is_empty());
    let again = Telegram::decode(&t.encode()).unwrap();
    assert_eq!(again, t);
    assert!(well_formed_lines(b"\r\n1-0:1.8.1(1)\r\n!"));
    assert!(!well_formed_lines(b"\r\n\r\n!"));
    assert!(!well_formed_lines(b"\r\n1-0:1.8.1(1)\r\n\r\n!"));
}

fn any_value() -> impl Strategy<Value = Value> {
    let num = (any::<bool>(), any::<u64>(), any::<u8>(), any::<u8>())
        .prop_map(|(negative, digits, int_width, frac)| Num { negative, digits, int_width, frac });
    let unit = proptest::option::of(prop_oneof![
        Just(Unit::KWh),
        Just(Unit::Kw),
        Just(Unit::A),
        Just(Unit::M3),
        Just(Unit::S),
        ".{0,6}".prop_map(|s| Unit::Other(s.into())),
    ]);
    let season = prop_oneof![Just(Season::Summer), Just(Season::Winter)];
    let tst = (any::<[u8; 6]>(), season).prop_map(|(f, season)| Tst {
        yy: f[0],
        month: f[1],
        day: f[2],
        hour: f[3],
        minute: f[4],
        second: f[5],
        season,
    });
    prop_oneof![
        (num, unit).prop_map(|(n, u)| Value::Num(n, u)),
        tst.prop_map(Value::Time),
        ".{0,40}".prop_map(Value::text),
    ]
}

fn any_obis() -> impl Strategy<Value = Option<Obis>> {
    // Mostly codes the validator knows (so that every shape is reached), some it does not.
    let named =
        proptest::sample::select(p1::obis::NAMED.iter().map(|(o, _)| *o).collect::<Vec<_>>());
    let phase =
        (prop_oneof![Just(21u8), Just(22), Just(31), Just(32), Just(41), Just(72)], 0u8..40)
            .prop_map(|(c, d)| Obis::new(1, 0, c, d, 0));
    let channel = (named.clone(), 0u8..6).prop_map(|(o, b)| o.on_channel(b));
    proptest::option::of(prop_oneof![
        4 => named,
        2 => channel,
        1 => phase,
        1 => any::<[u8; 5]>().prop_map(|c| Obis::new(c[0], c[1], c[2], c[3], c[4])),
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// The validator reports, never panics, whatever a telegram's model holds: widths and
    /// decimals past any format, stamps of any numbers, any count of value groups.
    #[test]
    fn validate_never_panics_on_arbitrary_telegrams(lines in proptest::collection::vec(
        (any_obis(), proptest::collection::vec(any_value(), 0..45)), 0..30,
    )) {
        let t = Telegram {
            header: "TST5\\arbitrary".into(),
            lines: lines.into_iter().map(|(obis, values)| Line { obis, values: values.into() }).collect(),
            has_crc: true,
        };
        for v in p1::validate(&t) {
            prop_assert!(v.line >= 3 && v.line < t.lines.len() + 3);
            prop_assert!(!v.to_string().is_empty());
        }
    }
}

#[test]
fn bytes_outside_ascii_inside_a_frame_are_malformed_not_mangled() {
    // Found by `p1_shaped_soup_never_panics`: a frame whose header held a stray 0xDB decoded
    // with a replacement character and no longer re-encoded to its own bytes.
    let t = b"/\xdb\x08SAG12345\x82\x00 0\r\n\r\n!";
    let bytes = [&t[..], format!("{:04X}\r\n", p1::crc16(t)).as_bytes()].concat();
    assert_eq!(Telegram::decode(&bytes), Err(DecodeError::Malformed(Malformed::NotAscii)));
}
