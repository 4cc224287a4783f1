//! The Gherkin suites in `features/`, run by `cargo test` (`cargo test -p scenarios --test
//! gherkin`; cucumber binaries do not speak nextest's protocol). The world, the steps and the
//! runner live in `scenarios::suite`, shared with `meterlab test`; this runs every suite with
//! the default options and fails when a scenario fails or hits a lab error.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let features = concat!(env!("CARGO_MANIFEST_DIR"), "/../features");
    let opts = scenarios::suite::Options {
        paths: vec![features.into()],
        source: Some("features/".into()),
        ..Default::default()
    };
    match scenarios::suite::run(&opts).await {
        Ok(report) => report.exit_code(),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
