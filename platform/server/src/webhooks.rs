//! Push to ESPs: every notification for an ESP with a webhook URL becomes a delivery, signed
//! with HMAC-SHA256 over the body, retried with exponential backoff, and logged attempt by
//! attempt in the store (the ESP can read its own delivery log).

use crate::access::Access;
use clock::{Clock, Timestamp};
use hmac::{KeyInit, Mac};
use registers::Notification;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use store::{Record, Store, StoreError};

/// How deliveries retry.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// Wait before the second attempt; doubled for each further one.
    pub first_backoff: Duration,
    /// Per-attempt timeout.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 8,
            first_backoff: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
        }
    }
}

/// One notification on its way to an ESP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// `D…`, unique per platform.
    pub id: String,
    /// The ESP (KBO, 10 digits).
    pub esp: String,
    /// The event name (`consent_revoked`, `mandate_approved`, …).
    pub event: String,
    /// Where it goes.
    pub url: String,
    /// The exact body signed and sent.
    pub body: String,
    /// When it was created (platform clock).
    pub created: Timestamp,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    /// Every attempt so far.
    pub attempts: Vec<Attempt>,
}

/// One try.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// When (platform clock).
    pub at: Timestamp,
    /// The HTTP status, when an answer came.
    pub status: Option<u16>,
    /// The transport error, when none came.
    pub error: Option<String>,
}

/// The delivery worker.
pub(crate) struct Webhooks {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
    policy: RetryPolicy,
    next: AtomicU64,
}

/// How long an ESP's previous webhook secret still signs after a rotation (platform clock):
/// deliveries queued or retried meanwhile carry a signature under each, so an ESP that has not
/// switched yet, or one verifying a delivery made before it switched, still accepts them.
pub const SECRET_OVERLAP: clock::SignedDuration = clock::SignedDuration::from_hours(24);

/// An ESP's webhook signing secrets, as the `esp_secrets` record keeps them: the current one
/// and, until `previous_until`, the one before. Records written before rotation overlapped
/// hold the secret as plain text, and read as a current secret alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Secrets {
    pub(crate) current: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) previous: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) previous_until: Option<Timestamp>,
}

impl Secrets {
    pub(crate) fn parse(body: &str) -> Secrets {
        serde_json::from_str(body).unwrap_or_else(|_| Secrets {
            current: body.to_owned(),
            previous: None,
            previous_until: None,
        })
    }

    /// A rotation at `now` from `before` (if any) to `new`.
    pub(crate) fn rotated(before: Option<&Secrets>, new: String, now: Timestamp) -> Secrets {
        Secrets {
            current: new,
            previous: before.map(|b| b.current.clone()),
            previous_until: before.map(|_| now + SECRET_OVERLAP),
        }
    }

    /// The `X-Meterlab-Signature` value at `now`: `sha256=…` under the current secret, then,
    /// inside the overlap, `,sha256=…` under the previous one.
    pub(crate) fn header(&self, body: &[u8], now: Timestamp) -> String {
        let mut h = signature(&self.current, body);
        if let (Some(p), Some(until)) = (&self.previous, self.previous_until)
            && now < until
        {
            h.push(',');
            h.push_str(&signature(p, body));
        }
        h
    }
}

/// The signature header: `sha256=` and the hex HMAC of the body under the ESP's secret.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail; an empty signature would be refused.
    let Ok(mut mac) = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
    else {
        return String::new();
    };
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    format!("sha256={}", wire::hex(&tag))
}

impl Webhooks {
    /// A worker; pending deliveries of an earlier run are resumed by [`Webhooks::resume`].
    pub(crate) async fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        policy: RetryPolicy,
    ) -> Result<Arc<Webhooks>, StoreError> {
        let n = store.records(Record::Deliveries).await?.len() as u64;
        let http = reqwest::Client::builder()
            .timeout(policy.timeout)
            .build()
            .map_err(|e| StoreError::Corrupt(format!("HTTP client: {e}")))?;
        Ok(Arc::new(Webhooks { store, clock, http, policy, next: AtomicU64::new(n + 1) }))
    }

    /// Sends again what was pending when the platform stopped.
    pub(crate) async fn resume(self: &Arc<Self>) -> Result<(), StoreError> {
        for (_, body) in self.store.records(Record::Deliveries).await? {
            if let Ok(d) = serde_json::from_str::<Delivery>(&body)
                && d.state == "pending"
            {
                tokio::spawn(self.clone().run(d));
            }
        }
        Ok(())
    }

    /// The ESP's secrets, read at each attempt: a delivery retried after a rotation is signed
    /// under the new secret (and the old one, inside the overlap).
    pub(crate) async fn secrets(&self, esp: &str) -> Result<Secrets, StoreError> {
        self.store
            .records(Record::EspSecrets)
            .await?
            .into_iter()
            .find(|(id, _)| id == esp)
            .map(|(_, s)| Secrets::parse(&s))
            // Never sign with an empty key: an ESP without a secret gets nothing until one is
            // issued (POST /api/admin/v1/esps/{kbo}/credentials).
            .ok_or_else(|| StoreError::NotFound(format!("webhook secret of ESP {esp}")))
    }

    /// Queues a delivery per notification addressed to an ESP that has a webhook URL.
    pub(crate) async fn notify(self: &Arc<Self>, notes: &[Notification], access: &Access) {
        for n in notes {
            let Some(kbo) = &n.esp else { continue };
            let url = access.read(|r| r.esp(kbo).and_then(|e| e.webhook_url.clone())).await;
            let Some(url) = url else { continue };
            let id = format!("D{}", self.next.fetch_add(1, Ordering::Relaxed));
            let event = serde_json::to_value(n.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let body = serde_json::json!({
                "delivery": id,
                "event": event,
                "at": n.at,
                "esp": kbo.as_str().to_owned(),
                "mandate": n.mandate,
                "consent": n.consent,
                "point": n.point,
                "detail": n.detail,
            })
            .to_string();
            let d = Delivery {
                id,
                esp: kbo.as_str().to_owned(),
                event,
                url,
                body,
                created: self.clock.now(),
                state: "pending".into(),
                attempts: Vec::new(),
            };
            if let Err(e) = self.save(&d).await {
                tracing::error!("webhook {} not queued: {e}", d.id);
                continue;
            }
            tokio::spawn(self.clone().run(d));
        }
    }

    async fn save(&self, d: &Delivery) -> Result<(), StoreError> {
        let body =
            serde_json::to_string(d).map_err(|e| StoreError::Corrupt(format!("delivery: {e}")))?;
        self.store.put_record(Record::Deliveries, &d.id, &body).await
    }

    async fn run(self: Arc<Self>, mut d: Delivery) {
        let mut backoff = self.policy.first_backoff;
        while (d.attempts.len() as u32) < self.policy.attempts {
            // Nothing is sent unsigned: without its secrets the attempt fails with the cause
            // (none issued yet, or the store failed), and the retries come as usual.
            let res = match self.secrets(&d.esp).await {
                Err(e) => {
                    tracing::error!("webhook {} not signed: {e}", d.id);
                    Err(match e {
                        StoreError::NotFound(_) => "no webhook secret: issue one (POST /api/admin/v1/esps/{kbo}/credentials)".to_owned(),
                        _ => "the webhook secret could not be read: the store failed (see the platform's log)".to_owned(),
                    })
                }
                Ok(secrets) => {
                    let sig = secrets.header(d.body.as_bytes(), self.clock.now());
                    self.http
                        .post(&d.url)
                        .header("content-type", "application/json")
                        .header("x-meterlab-event", &d.event)
                        .header("x-meterlab-delivery", &d.id)
                        .header("x-meterlab-signature", &sig)
                        .body(d.body.clone())
                        .send()
                        .await
                        .map_err(|e| e.to_string())
                }
            };
            let at = self.clock.now();
            let ok = match res {
                Ok(r) => {
                    let status = r.status();
                    d.attempts.push(Attempt { at, status: Some(status.as_u16()), error: None });
                    status.is_success()
                }
                Err(e) => {
                    d.attempts.push(Attempt { at, status: None, error: Some(e) });
                    false
                }
            };
            if ok {
                d.state = "delivered".into();
            } else if d.attempts.len() as u32 >= self.policy.attempts {
                d.state = "failed".into();
            }
            if let Err(e) = self.save(&d).await {
                tracing::error!("delivery log of {}: {e}", d.id);
            }
            if d.state != "pending" {
                return;
            }
            // The lab's clock, not the wall's: under a simulated clock the retries come when
            // the lab's time reaches them, as they would for a real ESP.
            let wait =
                clock::SignedDuration::try_from(backoff).unwrap_or(clock::SignedDuration::MAX);
            let due = self.clock.now().checked_add(wait).unwrap_or(clock::Timestamp::MAX);
            self.clock.sleep_until(due).await;
            backoff = backoff.saturating_mul(2);
        }
    }

    /// The delivery log, optionally of one ESP, oldest first.
    pub(crate) async fn log(&self, esp: Option<&str>) -> Result<Vec<Delivery>, StoreError> {
        let mut out: Vec<Delivery> = self
            .store
            .records(Record::Deliveries)
            .await?
            .iter()
            .filter_map(|(_, b)| serde_json::from_str::<Delivery>(b).ok())
            .filter(|d| esp.is_none_or(|e| d.esp == e))
            .collect();
        out.sort_by_key(|d| d.id[1..].parse::<u64>().unwrap_or(u64::MAX));
        Ok(out)
    }
}
