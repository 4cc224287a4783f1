//! The console over canned data: `cargo run -p tui --example demo [meters]`.

use std::time::Duration;

fn main() -> std::io::Result<()> {
    let meters = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(200);
    let mut source = tui::canned::Demo::new(meters);
    tui::run(&mut source, Duration::from_secs(1))
}
