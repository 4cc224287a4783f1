//! `meterlab platform`: the reference platform on its own.

use anyhow::{Context, Result};
use clap::Args;
use server::{App, BrokerSpec, Config};
use std::net::SocketAddr;
use std::process::ExitCode;

/// Where the platform listens and what it stores in: shared by `platform` and `up`.
#[derive(Args)]
pub(crate) struct PlatformOpts {
    /// HTTP listen address (port 0 picks a free port; the line `api: http://…` says which).
    #[arg(long, default_value = "127.0.0.1:8080", env = "MLAB_LISTEN")]
    pub(crate) listen: SocketAddr,
    /// Store: sqlite:PATH (embedded default, WAL), sqlite::memory:, or postgres://USER:PASS@HOST/DB.
    #[arg(long, default_value = "sqlite:meterlab.db", env = "MLAB_DATABASE")]
    pub(crate) database: String,
    /// MQTT ingest: embedded (in-process broker on 1883), embedded:PORT, mqtt://HOST:PORT
    /// (e.g. Mosquitto), or none.
    #[arg(long, default_value = "embedded", env = "MLAB_MQTT")]
    pub(crate) mqtt: String,
    /// A bearer token with the admin role (API, console, `rig attach`); change it for anything
    /// reachable from other machines. More tokens: POST /api/admin/v1/tokens.
    #[arg(long, default_value = "meterlab-admin-dev", env = "MLAB_ADMIN_TOKEN")]
    pub(crate) admin_token: String,
    /// The MQTT client id the platform subscribes with; keep it across restarts (the broker
    /// keeps what dongles publish meanwhile under it), and give a second platform on the same
    /// broker its own.
    #[arg(long, default_value = "meterlab-platform", env = "MLAB_MQTT_CLIENT_ID")]
    pub(crate) mqtt_client_id: String,
    /// HTTP connections served at once (at least 1); one more gets a 503 at once.
    #[arg(
        long,
        default_value_t = server::Limits::default().max_connections as u64,
        value_parser = clap::value_parser!(u64).range(1..),
        env = "MLAB_MAX_CONNECTIONS"
    )]
    pub(crate) max_connections: u64,
    /// Seconds a client has to send a request's headers: a client stalled mid-headers is
    /// dropped, and so is a keep-alive connection that sends no next request in that time.
    #[arg(
        long,
        default_value_t = server::Limits::default().header_read_timeout.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..),
        value_name = "SECONDS",
        env = "MLAB_HEADER_TIMEOUT"
    )]
    pub(crate) header_timeout: u64,
    /// Seconds without a byte either way after which a connection is closed: a client
    /// stalled mid-body or one that stopped reading (event streams send a keep-alive every
    /// 15 s).
    #[arg(
        long,
        default_value_t = server::Limits::default().idle_timeout.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..),
        value_name = "SECONDS",
        env = "MLAB_IDLE_TIMEOUT"
    )]
    pub(crate) idle_timeout: u64,
}

impl PlatformOpts {
    /// The platform configuration these options describe.
    pub(crate) fn config(&self) -> Result<Config> {
        Ok(Config {
            listen: self.listen,
            database: self.database.clone(),
            mqtt: self.mqtt.parse::<BrokerSpec>().map_err(anyhow::Error::msg)?,
            admin_token: self.admin_token.clone(),
            mqtt_client_id: self.mqtt_client_id.clone(),
            limits: server::Limits {
                max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
                header_read_timeout: std::time::Duration::from_secs(self.header_timeout),
                idle_timeout: std::time::Duration::from_secs(self.idle_timeout),
            },
            ..Config::default()
        })
    }
}

#[derive(Args)]
pub(crate) struct PlatformArgs {
    #[command(flatten)]
    opts: PlatformOpts,
    /// Bearer token the AMR head-end must send.
    #[arg(long, default_value = "meterlab-headend-dev", env = "MLAB_HEADEND_TOKEN")]
    headend_token: String,
    /// Register a dongle at start: ID:KEYHEX[:METER] (repeatable). Keys are at least 16 bytes.
    #[arg(long = "dongle", value_name = "ID:KEYHEX[:METER]")]
    dongles: Vec<String>,
}

pub(crate) fn run(args: PlatformArgs) -> Result<ExitCode> {
    let config = Config { headend_token: args.headend_token.clone(), ..args.opts.config()? };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let app = App::start(config)
            .await
            .with_context(|| format!("starting the platform on {}", args.opts.database))?;
        for d in &args.dongles {
            let mut parts = d.splitn(3, ':');
            let (Some(id), Some(key)) = (parts.next(), parts.next()) else {
                anyhow::bail!("--dongle {d}: use ID:KEYHEX[:METER]");
            };
            let key = wire::unhex(key).filter(|k| k.len() >= 16).with_context(|| {
                format!("--dongle {d}: the key must be at least 16 bytes of hex")
            })?;
            app.ingest.register_dongle(id, &key, parts.next()).await?;
        }
        println!("api: {}", app.url());
        if let Some(m) = app.mqtt {
            println!("mqtt: mqtt://{m}");
        }
        println!("store: {}", args.opts.database);
        println!("admin token: {}", args.opts.admin_token);
        // Log lines, not bare text: under --log-format json every stderr line is JSON.
        tracing::info!("running; Ctrl-C stops (uploads are acknowledged only once stored)");
        tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
        tracing::info!("stopping");
        Ok(ExitCode::SUCCESS)
    })
}
