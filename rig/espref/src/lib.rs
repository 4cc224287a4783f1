//! The reference ESP (issue 16): an energy service provider's system as the Datacode expects
//! it, for the certification kit to certify and for ESP developers to read. It is a real
//! HTTP client of the platform's ESP API and a real webhook server:
//!
//! - it learns its mandates from the platform (`GET /api/esp/v1/mandates`, at once when a
//!   webhook says something changed) and checks their status (`POST …/mandates/status`) at
//!   start and when a renewal falls due;
//! - each poll it reads the last day of every approved mandate, inside the mandate's period
//!   and scope, quarter hours only under an interval mandate ([`plan`]);
//! - it opens the NRT stream of each consent it is told of, and drops it when revoked;
//! - it never asks again for what was refused, stops on `401`, waits out `Retry-After` on
//!   `429` and `503`, pauses while suspended, and takes only webhooks whose signature verifies
//!   (a delivery seen before is answered 200 and not acted on twice).
//!
//! Each [`Misbehaviour`] breaks one of these rules on purpose: the kit must fail exactly the
//! cases that rule is checked by.

pub mod hooks;
pub mod plan;

use calendar::Timestamp;
use clock::Stopwatch;
use domain::Ean;
use hooks::Pushed;
use plan::{Known, Read};
use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;
use wire::api::v1 as w;

/// A rule the reference breaks on purpose (`--misbehave NAME`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Misbehaviour {
    /// Ignores a mandate's end and a consent's revocation: keeps reading, reopens the stream.
    KeepsReadingAfterRevocation,
    /// Ignores a market scenario's cut: reads the last day as if the period were still open.
    ReadsPastCut,
    /// Polls on through `429` and `503` as if no `Retry-After` had been sent.
    IgnoresRetryAfter,
    /// Takes every webhook, signed or not.
    AcceptsForgedWebhooks,
    /// Also reads the point after each of its own (enumerating EANs).
    ReadsAnotherEspsPoint,
    /// Ignores renewal-due signals.
    NeverRenews,
    /// Reads quarter hours under day-only mandates too.
    ReadsBeyondGranularity,
    /// Also reads monthly figures, which no service of its catalogue needs.
    ReadsBeyondServiceNeeds,
}

impl Misbehaviour {
    /// Every variant.
    pub const ALL: [Misbehaviour; 8] = [
        Misbehaviour::KeepsReadingAfterRevocation,
        Misbehaviour::ReadsPastCut,
        Misbehaviour::IgnoresRetryAfter,
        Misbehaviour::AcceptsForgedWebhooks,
        Misbehaviour::ReadsAnotherEspsPoint,
        Misbehaviour::NeverRenews,
        Misbehaviour::ReadsBeyondGranularity,
        Misbehaviour::ReadsBeyondServiceNeeds,
    ];

    /// Its name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Misbehaviour::KeepsReadingAfterRevocation => "keeps-reading-after-revocation",
            Misbehaviour::ReadsPastCut => "reads-past-cut",
            Misbehaviour::IgnoresRetryAfter => "ignores-retry-after",
            Misbehaviour::AcceptsForgedWebhooks => "accepts-forged-webhooks",
            Misbehaviour::ReadsAnotherEspsPoint => "reads-another-esps-point",
            Misbehaviour::NeverRenews => "never-renews",
            Misbehaviour::ReadsBeyondGranularity => "reads-beyond-granularity",
            Misbehaviour::ReadsBeyondServiceNeeds => "reads-beyond-service-needs",
        }
    }

    /// Whether it asks again for what was refused (every variant that reads what it should
    /// not does: that is how the misbehaviour shows).
    fn repeats_refusals(self) -> bool {
        !matches!(
            self,
            Misbehaviour::IgnoresRetryAfter
                | Misbehaviour::AcceptsForgedWebhooks
                | Misbehaviour::NeverRenews
        )
    }
}

impl std::str::FromStr for Misbehaviour {
    type Err = String;

    fn from_str(s: &str) -> Result<Misbehaviour, String> {
        Misbehaviour::ALL.into_iter().find(|m| m.as_str() == s).ok_or_else(|| {
            let names: Vec<_> = Misbehaviour::ALL.iter().map(|m| m.as_str()).collect();
            format!("no misbehaviour {s:?}: one of {}", names.join(", "))
        })
    }
}

/// How to run it.
#[derive(Debug, Clone)]
pub struct Config {
    /// The platform's base URL (`http://127.0.0.1:8080`).
    pub platform: String,
    /// The API token the platform issued.
    pub token: String,
    /// The webhook signing secret the platform issued.
    pub webhook_secret: String,
    /// Where the webhook endpoint listens (any path is taken), if anywhere.
    pub webhook_listen: Option<SocketAddr>,
    /// Time between polls.
    pub poll: Duration,
    /// The rule it breaks, if any.
    pub misbehave: Option<Misbehaviour>,
}

/// Why it could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The webhook listener.
    #[error("cannot listen for webhooks on {addr} (pick another --webhook-listen)")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The HTTP client.
    #[error("HTTP client: {0}")]
    Client(String),
}

/// A running reference ESP; it stops when dropped.
pub struct Reference {
    /// Where its webhook endpoint listens.
    pub webhook: Option<SocketAddr>,
    esp: Arc<Esp>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Reference {
    /// Starts the webhook endpoint and the poll loop.
    pub async fn start(config: Config) -> Result<Reference, StartError> {
        let client = |timeout: Option<Duration>| {
            let b = reqwest::Client::builder().connect_timeout(Duration::from_secs(5));
            let b = if let Some(t) = timeout { b.timeout(t) } else { b };
            b.build().map_err(|e| StartError::Client(e.to_string()))
        };
        let esp = Arc::new(Esp {
            base: config.platform.trim_end_matches('/').to_owned(),
            token: config.token,
            secret: config.webhook_secret,
            bad: config.misbehave,
            http: client(Some(Duration::from_secs(10)))?,
            // Streams stay open as long as the platform keeps them.
            streaming: client(None)?,
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            streams: Mutex::new(BTreeMap::new()),
        });
        let mut tasks = Vec::new();
        let mut webhook = None;
        if let Some(addr) = config.webhook_listen {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::Listen { addr, source })?;
            webhook =
                Some(listener.local_addr().map_err(|source| StartError::Listen { addr, source })?);
            let app = axum::Router::new().fallback(hooks::receive).with_state(esp.clone());
            tasks.push(tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, app).await {
                    tracing::error!("webhook endpoint stopped: {e}");
                }
            }));
        }
        let looping = esp.clone();
        tasks.push(tokio::spawn(async move { looping.run(config.poll).await }));
        Ok(Reference { webhook, esp, tasks })
    }

    /// Why it stopped calling the platform, if it did (a `401`).
    pub fn stopped(&self) -> Option<String> {
        self.esp.state().stopped.clone()
    }

    /// Runs until the poll loop ends (it ends only when aborted).
    pub async fn wait(mut self) {
        if let Some(t) = self.tasks.pop() {
            let _ = t.await;
        }
    }
}

impl Drop for Reference {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        if let Ok(s) = self.esp.streams.lock() {
            for t in s.values() {
                t.abort();
            }
        }
    }
}

/// Deliveries remembered for de-duplication.
const SEEN: usize = 10_000;

#[derive(Default)]
struct State {
    mandates: BTreeMap<String, Known>,
    /// Mandates a webhook said ended (only the trusting variant takes that from a webhook).
    dropped: BTreeSet<String>,
    consents: BTreeMap<String, Ean>,
    suspended: bool,
    hold: Option<(Stopwatch, Duration)>,
    stopped: Option<String>,
    renewals: BTreeSet<Ean>,
    seen: HashSet<String>,
    seen_order: VecDeque<String>,
    refused: BTreeSet<(Ean, &'static str)>,
    status_checked: bool,
    platform_time: Option<(Timestamp, Stopwatch)>,
}

impl State {
    fn now(&self) -> Option<Timestamp> {
        let (at, since) = self.platform_time.as_ref()?;
        let passed = calendar::SignedDuration::try_from(since.elapsed()).ok()?;
        at.checked_add(passed).ok()
    }

    fn held(&self) -> bool {
        self.hold.as_ref().is_some_and(|(since, d)| !since.passed(*d))
    }
}

pub(crate) struct Esp {
    base: String,
    token: String,
    pub(crate) secret: String,
    pub(crate) bad: Option<Misbehaviour>,
    http: reqwest::Client,
    streaming: reqwest::Client,
    state: Mutex<State>,
    wake: Notify,
    streams: Mutex<BTreeMap<String, tokio::task::JoinHandle<()>>>,
}

/// What an answer told the ESP to do next.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    Go,
    /// Stop this poll: a 401, a 429 or 503 (wait), a suspension.
    Halt,
    /// Refused: not to be asked again.
    Refused,
}

impl Esp {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere poisons nothing this loop cannot go on with.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn run(self: Arc<Self>, poll: Duration) {
        loop {
            self.tick().await;
            tokio::select! {
                () = tokio::time::sleep(poll) => {}
                () = self.wake.notified() => {}
            }
        }
    }

    /// Reads what an answer says of the platform's time, its credentials and its load.
    fn answered(&self, status: u16, headers: &reqwest::header::HeaderMap, body: &str) -> Next {
        let mut s = self.state();
        if let Some(t) = headers
            .get("x-meterlab-time")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<Timestamp>().ok())
        {
            s.platform_time = Some((t, Stopwatch::start()));
        }
        let code = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["code"].as_str().map(str::to_owned))
            .unwrap_or_default();
        match status {
            200..=299 => Next::Go,
            401 => {
                tracing::error!(
                    "the platform refuses our token (401): stopping; ask for a new one"
                );
                s.stopped = Some(format!("401 {code}"));
                Next::Halt
            }
            429 | 503 => {
                if self.bad != Some(Misbehaviour::IgnoresRetryAfter) {
                    let secs = headers
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(1);
                    s.hold = Some((Stopwatch::start(), Duration::from_secs(secs)));
                }
                Next::Halt
            }
            403 if code == "esp_not_active" => {
                s.suspended = true;
                Next::Halt
            }
            _ => Next::Refused,
        }
    }

    async fn call(&self, req: reqwest::RequestBuilder) -> Option<(Next, String)> {
        let r = match req.bearer_auth(&self.token).send().await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("the platform did not answer: {e}");
                return None;
            }
        };
        let (status, headers) = (r.status().as_u16(), r.headers().clone());
        let body = r.text().await.unwrap_or_default();
        Some((self.answered(status, &headers, &body), body))
    }

    fn may_call(&self) -> bool {
        let s = self.state();
        s.stopped.is_none() && (!s.held() || self.bad == Some(Misbehaviour::IgnoresRetryAfter))
    }

    async fn tick(&self) {
        if !self.may_call() {
            return;
        }
        let url = format!("{}/api/esp/v1/mandates", self.base);
        let Some((Next::Go, body)) = self.call(self.http.get(&url)).await else { return };
        let Ok(list) = serde_json::from_str::<Vec<w::Mandate>>(&body) else {
            tracing::warn!("the mandate list is not what the contract says");
            return;
        };
        let (check, reads) = {
            let mut s = self.state();
            for m in list {
                match s.mandates.get_mut(&m.id) {
                    Some(k) => k.update(m, self.bad),
                    None => {
                        s.mandates.insert(m.id.clone(), Known::new(m));
                    }
                }
            }
            let mut check: Vec<Ean> = s.renewals.iter().cloned().collect();
            if !s.status_checked {
                check.extend(s.mandates.values().map(|k| k.now.data_service_point.clone()));
            }
            let reads = match (s.now(), s.suspended) {
                (Some(now), false) => self.plan(&s, now),
                _ => Vec::new(),
            };
            (check, reads)
        };
        if !check.is_empty() && !self.check_status(check).await {
            return;
        }
        for r in reads {
            let url = format!("{}{}", self.base, r.path());
            match self.call(self.http.get(&url)).await {
                Some((Next::Go, _)) | None => {}
                Some((Next::Halt, _)) => return,
                Some((Next::Refused, _)) => {
                    self.state().refused.insert((r.point, r.what));
                }
            }
        }
    }

    fn plan(&self, s: &State, now: Timestamp) -> Vec<Read> {
        let repeats = self.bad.is_some_and(Misbehaviour::repeats_refusals);
        let mut out: Vec<Read> = s
            .mandates
            .iter()
            .filter(|(id, _)| !s.dropped.contains(*id))
            .flat_map(|(_, k)| plan::reads(k, now, self.bad))
            .filter(|r| repeats || !s.refused.contains(&(r.point.clone(), r.what)))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Asks the status of `points` (at most 1000 a request, R-MAN-8); false when the answer
    /// says to stop this poll.
    async fn check_status(&self, points: Vec<Ean>) -> bool {
        let url = format!("{}/api/esp/v1/mandates/status", self.base);
        for chunk in points.chunks(1000) {
            let body = w::StatusRequest { points: chunk.iter().map(|p| p.to_string()).collect() };
            match self.call(self.http.post(&url).json(&body)).await {
                Some((Next::Go, _)) => {
                    let mut s = self.state();
                    s.status_checked = true;
                    for p in chunk {
                        s.renewals.remove(p);
                    }
                }
                Some((Next::Halt, _)) | None => return false,
                Some((Next::Refused, _)) => {}
            }
        }
        true
    }

    /// Remembers a delivery id; false when it was seen before.
    pub(crate) fn first_delivery(&self, id: &str) -> bool {
        let mut s = self.state();
        if !s.seen.insert(id.to_owned()) {
            return false;
        }
        s.seen_order.push_back(id.to_owned());
        while s.seen_order.len() > SEEN {
            if let Some(old) = s.seen_order.pop_front() {
                s.seen.remove(&old);
            }
        }
        true
    }

    /// Acts on a verified webhook (or any, for the trusting variant).
    pub(crate) async fn pushed(self: &Arc<Self>, p: Pushed) {
        let keeps = self.bad == Some(Misbehaviour::KeepsReadingAfterRevocation);
        {
            let mut s = self.state();
            match (p.event.as_str(), p.consent, p.point) {
                ("consent_granted", Some(c), Some(point)) => {
                    s.consents.insert(c.clone(), point.clone());
                    drop(s);
                    self.open_stream(c, point);
                }
                ("consent_revoked", Some(c), _) if !keeps => {
                    s.consents.remove(&c);
                    drop(s);
                    if let Some(t) = self.streams_lock().remove(&c) {
                        t.abort();
                    }
                }
                ("esp_suspended", ..) => s.suspended = true,
                ("esp_reinstated", ..) => s.suspended = false,
                ("renewal_due", _, Some(point)) if self.bad != Some(Misbehaviour::NeverRenews) => {
                    s.renewals.insert(point);
                }
                ("mandate_ended", ..) if self.bad == Some(Misbehaviour::AcceptsForgedWebhooks) => {
                    if let Some(m) = p.mandate {
                        s.dropped.insert(m);
                    }
                }
                _ => {}
            }
        }
        self.wake.notify_one();
    }

    fn streams_lock(&self) -> MutexGuard<'_, BTreeMap<String, tokio::task::JoinHandle<()>>> {
        self.streams.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn open_stream(self: &Arc<Self>, consent: String, point: Ean) {
        let mut streams = self.streams_lock();
        if streams.contains_key(&consent) {
            return;
        }
        let esp = self.clone();
        let c = consent.clone();
        streams.insert(consent, tokio::spawn(async move { esp.stream(c, point).await }));
    }

    /// Holds the point's NRT stream while the consent lives: reconnects after a drop, ends on
    /// a `revoked` event or a refusal.
    async fn stream(self: Arc<Self>, consent: String, point: Ean) {
        let keeps = self.bad == Some(Misbehaviour::KeepsReadingAfterRevocation);
        let url = format!("{}/api/esp/v1/points/{point}/stream", self.base);
        loop {
            while !self.may_call() || self.state().suspended {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let revoked = match self.streaming.get(&url).bearer_auth(&self.token).send().await {
                Ok(mut r) if r.status().is_success() => {
                    let mut revoked = false;
                    while let Ok(Some(chunk)) = r.chunk().await {
                        const REVOKED: &[u8] = b"event: revoked";
                        if chunk.windows(REVOKED.len()).any(|w| w == REVOKED) {
                            revoked = true;
                        }
                    }
                    revoked
                }
                Ok(r) => {
                    let (status, headers) = (r.status().as_u16(), r.headers().clone());
                    let body = r.text().await.unwrap_or_default();
                    self.answered(status, &headers, &body) == Next::Refused
                }
                Err(e) => {
                    tracing::warn!("stream of {point}: {e}");
                    false
                }
            };
            let gone = !self.state().consents.contains_key(&consent);
            if (revoked || gone) && !keeps {
                self.state().consents.remove(&consent);
                self.streams_lock().remove(&consent);
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}
