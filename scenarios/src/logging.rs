//! The binary's log: `tracing` events from every crate, filtered by `RUST_LOG` (default:
//! warnings, and the platform's own info lines), as text or JSON lines, to stderr or a file.
//! Without a subscriber nothing a library logs is ever seen (`storing uploads failed` was
//! lost that way).

use anyhow::{Context, Result};
use clap::ValueEnum;
use std::path::Path;
use std::sync::Mutex;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line (for log shippers).
    Json,
}

/// What is logged when `RUST_LOG` is unset.
const DEFAULT_FILTER: &str = "warn,server=info,scenarios=info";

/// Installs the subscriber; `file` appends to that file instead of stderr (the console owns
/// the terminal under `meterlab up`).
pub(crate) fn init(format: LogFormat, file: Option<&Path>) -> Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(f) if !f.trim().is_empty() => {
            EnvFilter::try_new(&f).with_context(|| format!("RUST_LOG={f}: not a log filter"))?
        }
        _ => EnvFilter::new(DEFAULT_FILTER),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false);
    let res = match (format, file) {
        (LogFormat::Text, None) => builder.with_writer(std::io::stderr).try_init(),
        (LogFormat::Json, None) => builder.json().with_writer(std::io::stderr).try_init(),
        (format, Some(path)) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {} for the log", dir.display()))?;
            }
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening the log file {}", path.display()))?;
            let w = Mutex::new(f);
            match format {
                LogFormat::Text => builder.with_writer(w).try_init(),
                LogFormat::Json => builder.json().with_writer(w).try_init(),
            }
        }
    };
    res.map_err(|e| anyhow::anyhow!("installing the log: {e}"))
}
