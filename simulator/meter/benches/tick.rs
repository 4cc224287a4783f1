//! Simulated meter-seconds per second per core: a meter tick (registers, peaks, M-Bus) plus
//! building and encoding its telegram. Run with `cargo bench -p meter --bench tick`.

use calendar::{SignedDuration, Timestamp};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use meter::{Catalogue, Meter};
use std::hint::black_box;

fn meter_seconds(c: &mut Criterion) {
    let cat = Catalogue::builtin();
    let start: Timestamp = "2026-06-01T10:00:00Z".parse().expect("timestamp");
    let mut g = c.benchmark_group("meter-second");
    g.throughput(Throughput::Elements(1));
    for id in ["fluvius-t211-1.7.1", "iskra-am550-dsmr-5.0.2", "sagemcom-smarty"] {
        let variant = cat.get(id).expect("variant");
        let profile = "household:3500+pv:4+ev".parse().expect("profile");
        let mut m = Meter::new(variant, &profile, 1, start).expect("meter");
        m.open_port();
        let mut t = start;
        g.bench_function(id, |b| {
            b.iter(|| {
                t += SignedDuration::from_secs(1);
                black_box(m.tick(t).map(|bytes| bytes.len()))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, meter_seconds);
criterion_main!(benches);
