//! Per-frame cost of the two largest screens with 1,000 meters and dongles.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::{Terminal, backend::TestBackend};
use tui::{App, Screen, canned, render};

fn bench_render(c: &mut Criterion) {
    let snap = canned::snapshot(1000);
    for screen in [Screen::Live, Screen::Dongles] {
        for (width, height) in [(200, 60), (80, 24)] {
            let mut app = App::new();
            app.set_screen(screen);
            let Ok(mut terminal) = Terminal::new(TestBackend::new(width, height));
            let name = format!("render/{}/{width}x{height}", screen.title().to_lowercase());
            c.bench_function(&name, |b| {
                b.iter(|| {
                    let Ok(frame) = terminal.draw(|f| render(f, &app, black_box(&snap)));
                    black_box(frame.area);
                });
            });
        }
    }
}

criterion_group!(benches, bench_render);
criterion_main!(benches);
