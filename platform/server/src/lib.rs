//! The reference data platform: an embeddable [`App`] (and the `meterlab platform` command)
//! that ingests dongle uploads over MQTT and REST, verifies and decodes them, stores them
//! (SQLite or PostgreSQL), derives quarter-hour, day and month values, and supervises the
//! dongles (R-NRT-1, R-NRT-2, R-NRT-9, R-DAT-1..3).
//!
//! This is the only platform crate with a runtime, sockets and JSON framing; the logic lives
//! in `store`, `derive` and `supervision`. Invariant: an upload is acknowledged (HTTP 200 or
//! MQTT PUBACK) only after the store committed it, and an MQTT message's receipt (the same
//! `Receipt` as the REST answer) is published on the dongle's receipt topic before its PUBACK.

mod access;
mod api;
mod edge;
mod examples;
mod http;
mod ingest;
mod inproc;
mod mqtt;
mod openapi;
mod read;
mod serve;
#[cfg(test)]
mod tests;
mod webhooks;

pub use access::{Access, AccessError, Principal, RateLimit, party_name};
pub use edge::Exchange;
pub use ingest::{Ingest, IngestError, Live};
pub use inproc::{InProcess, Refused};
pub use mqtt::{BrokerSpec, EmbeddedBroker};
pub use serve::Limits;
pub use webhooks::{Attempt, Delivery, RetryPolicy, SECRET_OVERLAP, signature};

use clock::{Clock, SystemClock};
use std::net::SocketAddr;
use std::sync::Arc;
use store::Store;

/// How to run the platform.
#[derive(Debug, Clone)]
pub struct Config {
    /// HTTP listen address (`127.0.0.1:8080`; port 0 picks one).
    pub listen: SocketAddr,
    /// `sqlite:PATH`, `sqlite::memory:` or `postgres://…`.
    pub database: String,
    /// The broker: embedded on a port, an external one, or none.
    pub mqtt: BrokerSpec,
    /// Bearer token of the AMR head-end (`POST /api/ingest/v1/amr/{meter}`).
    pub headend_token: String,
    /// Supervision thresholds.
    pub supervision: supervision::Config,
    /// A bearer token with the admin role that always works (not stored); more tokens are
    /// issued through `POST /api/admin/v1/tokens`.
    pub admin_token: String,
    /// Requests per token.
    pub rate_limit: RateLimit,
    /// Rules of the registers (renewal notice, the drop scenario, backdating).
    pub rules: registers::Rules,
    /// Webhook retries.
    pub webhooks: RetryPolicy,
    /// HTTP connection cap and timeouts.
    pub limits: Limits,
    /// The MQTT client id the platform subscribes with: the same across restarts, so the
    /// broker's persistent session (uploads queued while the platform was down) is resumed.
    /// Two platforms on one broker need different ids.
    pub mqtt_client_id: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database: "sqlite:meterlab.db".into(),
            mqtt: BrokerSpec::Embedded { port: 1883 },
            headend_token: "meterlab-headend-dev".into(),
            supervision: supervision::Config::default(),
            admin_token: "meterlab-admin-dev".into(),
            rate_limit: RateLimit::default(),
            rules: registers::Rules::default(),
            webhooks: RetryPolicy::default(),
            limits: Limits::default(),
            mqtt_client_id: "meterlab-platform".into(),
        }
    }
}

/// Why the platform could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The HTTP listener.
    // The cause is the error's source, which anyhow prints after the message: naming it here
    // too printed "Address already in use" twice.
    #[error("cannot listen on {addr} (is another platform running? pick another --listen)")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The broker.
    #[error("MQTT: {0}")]
    Mqtt(String),
}

/// A running platform.
pub struct App {
    /// The HTTP address it listens on.
    pub addr: SocketAddr,
    /// The MQTT broker address it subscribes to, when there is one.
    pub mqtt: Option<SocketAddr>,
    /// The ingest pipeline (for in-process uplinks and tests).
    pub ingest: Arc<Ingest>,
    /// Data access: registers, tokens, the access register (for in-process callers).
    pub access: Arc<Access>,
    ctx: http::Ctx,
    _broker: Option<EmbeddedBroker>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl App {
    /// Starts the platform on the system clock.
    pub async fn start(config: Config) -> Result<App, StartError> {
        App::start_with_clock(config, Arc::new(SystemClock)).await
    }

    /// Starts the platform on a given clock (a `SimClock` in scenarios).
    pub async fn start_with_clock(
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<App, StartError> {
        let store: Arc<dyn Store> = Arc::new(store::open(&config.database).await?);
        let ingest =
            Ingest::start(store.clone(), clock.clone(), config.supervision.clone()).await?;
        let hooks = webhooks::Webhooks::new(store.clone(), clock.clone(), config.webhooks).await?;
        let access = Access::start(
            store.clone(),
            clock,
            &config.admin_token,
            config.rate_limit,
            config.rules,
            hooks.clone(),
        )
        .await?;
        hooks.resume().await?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartError::Listen { addr: config.listen, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| StartError::Listen { addr: config.listen, source })?;
        let conns = Arc::new(serve::ConnStats::default());
        let read = Arc::new(read::Reader::new(store, access.clone()));
        let ctx = http::Ctx::new(
            ingest.clone(),
            access.clone(),
            read,
            config.headend_token.clone(),
            conns.clone(),
        );
        let router = http::router(ctx.clone());
        let mut tasks = vec![tokio::spawn(serve::serve(listener, router, config.limits, conns))];
        let (broker, mqtt) = match &config.mqtt {
            BrokerSpec::None => (None, None),
            BrokerSpec::Embedded { port } => {
                let b = EmbeddedBroker::start(*port).map_err(StartError::Mqtt)?;
                let addr = b.addr();
                (Some(b), Some(addr))
            }
            BrokerSpec::External { addr } => (None, Some(*addr)),
        };
        if let Some(addr) = mqtt {
            tasks.push(mqtt::subscribe(addr, config.mqtt_client_id.clone(), ingest.clone()));
        }
        tasks.push(ingest::spawn_ticker(ingest.clone()));
        tasks.push(tokio::spawn(renewals(access.clone())));
        Ok(App { addr, mqtt, ingest, access, ctx, _broker: broker, tasks })
    }

    /// The base URL of the HTTP API.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The admin API's operations for a caller in this process.
    pub fn in_process(&self) -> InProcess {
        InProcess::new(self.ctx.clone())
    }
}

/// Signals mandate renewals and expiries as they fall due (R-MAN-1), once a platform-clock
/// second (so a simulated clock drives it too).
async fn renewals(access: Arc<Access>) {
    loop {
        let next = access.clock.now() + clock::SignedDuration::from_secs(1);
        access.clock.sleep_until(next).await;
        if let Err(e) = access.tick().await {
            tracing::warn!("register tick: {e}");
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
