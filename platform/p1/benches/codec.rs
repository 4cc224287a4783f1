//! Encode and decode throughput, and our decoder against the `dsmr5` crate on the same
//! telegram in the same run. Run with `cargo bench -p p1 --bench codec`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use p1::{Decoder, Dialect, Reading, Telegram};
use std::hint::black_box;
use std::path::PathBuf;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/p1").join(name);
    std::fs::read(path).expect("fixture")
}

fn belgian(c: &mut Criterion) {
    let bytes = fixture("fluvius-emucs-1.7.1-3phase.txt");
    let telegram = Telegram::decode(&bytes).expect("valid fixture");
    let reading = Reading::from_telegram(&telegram);
    let mut g = c.benchmark_group("belgian-3phase");
    g.throughput(Throughput::Elements(1));
    g.bench_function("encode", |b| {
        let mut out = Vec::with_capacity(2048);
        b.iter(|| {
            out.clear();
            black_box(&telegram).encode_into(&mut out);
            black_box(out.len())
        })
    });
    g.bench_function("build+encode", |b| {
        let mut out = Vec::with_capacity(2048);
        b.iter(|| {
            out.clear();
            Dialect::EMucs171.build(&telegram.header, black_box(&reading)).encode_into(&mut out);
            black_box(out.len())
        })
    });
    g.bench_function("decode", |b| b.iter(|| Telegram::decode(black_box(&bytes))));
    g.bench_function("decode+reading", |b| {
        b.iter(|| Telegram::decode(black_box(&bytes)).map(|t| Reading::from_telegram(&t)))
    });
    g.bench_function("stream-decoder", |b| {
        let mut d = Decoder::new();
        b.iter(|| d.decode(black_box(&bytes)).count())
    });
    g.bench_function("crc16", |b| b.iter(|| p1::crc16(black_box(&bytes))));
    g.finish();
}

fn versus_dsmr5(c: &mut Criterion) {
    let bytes = fixture("dsmr-5.0-iskra-am550-3phase.txt");
    let mut g = c.benchmark_group("dutch-dsmr5.0");
    g.throughput(Throughput::Elements(1));
    g.bench_function("meterlab-p1/decode", |b| b.iter(|| Telegram::decode(black_box(&bytes))));
    g.bench_function("meterlab-p1/decode+reading", |b| {
        b.iter(|| Telegram::decode(black_box(&bytes)).map(|t| Reading::from_telegram(&t)))
    });
    g.bench_function("dsmr5/decode+state", |b| {
        b.iter(|| {
            let readout = dsmr5::Reader::new(black_box(&bytes).iter().map(|&b| Ok::<u8, ()>(b)))
                .next()
                .and_then(Result::ok)
                .expect("readout");
            let telegram = readout.to_telegram().expect("valid");
            let state: Result<dsmr5::state::State, _> = (&telegram).try_into();
            black_box(state.is_ok())
        })
    });
    g.finish();
}

criterion_group!(benches, belgian, versus_dsmr5);
criterion_main!(benches);
