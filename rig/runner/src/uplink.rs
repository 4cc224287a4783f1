//! How a dongle's uploads reach the platform: REST (batched POST) or MQTT (QoS 1).

use rumqttc::{Event, Packet};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use wire::ingest::v1::{Batch, Receipt, Upload};

/// An uplink failed; the dongle keeps the uploads and retries with backoff.
#[derive(Debug, thiserror::Error)]
pub enum UplinkError {
    /// Network or broker trouble.
    #[error("uplink: {0}")]
    Transport(String),
    /// The platform answered with an error status.
    #[error("platform answered {status}: {body}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The error body.
        body: String,
    },
}

/// A boxed future, so uplinks can be shared as `Arc<dyn Uplink>`.
pub type UplinkFuture<'a> = Pin<Box<dyn Future<Output = Result<Receipt, UplinkError>> + Send + 'a>>;

/// Carries uploads to the platform. `Ok` means the platform (or broker) took them.
pub trait Uplink: Send + Sync {
    /// Sends one batch.
    fn send<'a>(&'a self, uploads: &'a [Upload]) -> UplinkFuture<'a>;
}

/// `POST {base}/api/ingest/v1/uploads`.
#[derive(Debug, Clone)]
pub struct HttpUplink {
    client: reqwest::Client,
    url: String,
}

/// An HTTP client whose every request gives up after 10 s: a platform that stops answering
/// must fail a send (the dongle keeps the batch and retries), never hang it. A client that
/// cannot be built is an error, not a fallback to one without the timeout.
fn client() -> Result<reqwest::Client, UplinkError> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| UplinkError::Transport(format!("no HTTP client: {e}")))
}

impl HttpUplink {
    /// An uplink to the platform at `base` (`http://127.0.0.1:8080`).
    pub fn new(base: &str) -> Result<HttpUplink, UplinkError> {
        let url = format!("{}/api/ingest/v1/uploads", base.trim_end_matches('/'));
        Ok(HttpUplink { client: client()?, url })
    }
}

impl Uplink for HttpUplink {
    fn send<'a>(&'a self, uploads: &'a [Upload]) -> UplinkFuture<'a> {
        Box::pin(async move {
            let batch = Batch { uploads: uploads.to_vec() };
            let r = self
                .client
                .post(&self.url)
                .json(&batch)
                .send()
                .await
                .map_err(|e| UplinkError::Transport(e.to_string()))?;
            let status = r.status().as_u16();
            // 4xx answers carry a receipt too (what was refused and why): the dongle must not
            // retry those forever, so they count as delivered with rejections.
            if status == 200 || (400..500).contains(&status) && status != 413 && status != 429 {
                if let Ok(receipt) = r.json::<Receipt>().await {
                    return Ok(receipt);
                }
                return Err(UplinkError::Status { status, body: "no receipt".into() });
            }
            let body = r.text().await.unwrap_or_default();
            Err(UplinkError::Status { status, body })
        })
    }
}

/// Publishes each batch on the dongle's topic at QoS 1 and waits for the platform's receipt
/// on the dongle's receipt topic ([`wire::ingest::v1::receipt_topic`]): the same [`Receipt`]
/// as over REST, so the dongle hears of duplicates, conflicts and refusals alike. The broker's
/// PUBACK only says the broker has the message, not that the platform stored it.
pub struct MqttUplink {
    client: rumqttc::AsyncClient,
    dongle: String,
    receipts: tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<Result<Receipt, String>>>,
}

/// Small packets go out at once: a dongle waits for each receipt, so Nagle's algorithm would
/// add tens of milliseconds to every transmit.
fn no_delay() -> rumqttc::NetworkOptions {
    let mut net = rumqttc::NetworkOptions::new();
    net.set_tcp_nodelay(true);
    net
}

/// How long a send waits for its receipt, and [`MqttUplink::connect`] for its subscription.
const RECEIPT_WAIT: Duration = Duration::from_secs(10);

impl MqttUplink {
    /// Connects dongle `id` to the broker at `addr` and subscribes to its receipt topic;
    /// returns once the broker confirmed the subscription (a receipt published before that
    /// would be lost), or an error after 10 s.
    pub async fn connect(id: &str, addr: std::net::SocketAddr) -> Result<MqttUplink, UplinkError> {
        let mut opts =
            rumqttc::MqttOptions::new(format!("dongle-{id}"), addr.ip().to_string(), addr.port());
        opts.set_max_packet_size(
            wire::ingest::v1::MAX_BODY + 1024,
            wire::ingest::v1::MAX_BODY + 1024,
        );
        opts.set_keep_alive(Duration::from_secs(30));
        let (client, mut events) = rumqttc::AsyncClient::new(opts, 16);
        events.set_network_options(no_delay());
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let (subscribed_tx, subscribed) = tokio::sync::oneshot::channel();
        let topic = wire::ingest::v1::receipt_topic(id);
        let subscriber = client.clone();
        tokio::spawn(async move {
            let mut subscribed_tx = Some(subscribed_tx);
            // The task holds a client of its own (to subscribe again after a reconnect), so
            // the connection would outlive the uplink: it ends when the uplink is dropped.
            while !tx.is_closed() {
                let sent = match events.poll().await {
                    // A clean session: the subscription is made again at every (re)connect.
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        match subscriber.subscribe(&topic, rumqttc::QoS::AtLeastOnce).await {
                            Ok(()) => Ok(()),
                            Err(e) => tx.send(Err(format!("subscribing to {topic}: {e}"))),
                        }
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        if let Some(s) = subscribed_tx.take() {
                            let _ = s.send(());
                        }
                        Ok(())
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) if p.topic == topic => {
                        tx.send(serde_json::from_slice::<Receipt>(&p.payload).map_err(|e| {
                            format!("the platform's answer on {topic} is not a receipt: {e}")
                        }))
                    }
                    Ok(_) => Ok(()),
                    Err(e) => {
                        // Report the failure to a waiting send, then reconnect on the next poll.
                        let sent = tx.send(Err(e.to_string()));
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        sent
                    }
                };
                if sent.is_err() {
                    break; // the uplink is gone
                }
            }
        });
        match tokio::time::timeout(RECEIPT_WAIT, subscribed).await {
            Ok(Ok(())) => Ok(MqttUplink {
                client,
                dongle: id.to_owned(),
                receipts: tokio::sync::Mutex::new(rx),
            }),
            _ => Err(UplinkError::Transport(format!(
                "the broker at {addr} did not confirm dongle {id}'s receipt subscription within 10 s"
            ))),
        }
    }
}

impl Uplink for MqttUplink {
    fn send<'a>(&'a self, uploads: &'a [Upload]) -> UplinkFuture<'a> {
        Box::pin(async move {
            if uploads.is_empty() {
                return Ok(Receipt::default());
            }
            let seqs: Vec<u64> = uploads.iter().map(|u| u.seq).collect();
            // One batch in flight per dongle; what came before (a late receipt of a send that
            // timed out, an old connection error) is not this batch's answer.
            let mut receipts = self.receipts.lock().await;
            while receipts.try_recv().is_ok() {}
            let body = serde_json::to_vec(&Batch { uploads: uploads.to_vec() })
                .map_err(|e| UplinkError::Transport(e.to_string()))?;
            self.client
                .publish(
                    wire::ingest::v1::topic(&self.dongle),
                    rumqttc::QoS::AtLeastOnce,
                    false,
                    body,
                )
                .await
                .map_err(|e| UplinkError::Transport(e.to_string()))?;
            let answer = async {
                loop {
                    match receipts.recv().await {
                        Some(Ok(receipt)) if receipt.answers(&seqs) => return Ok(receipt),
                        // A receipt for an earlier message (redelivered by the broker).
                        Some(Ok(_)) => {}
                        Some(Err(e)) => return Err(UplinkError::Transport(e)),
                        None => {
                            return Err(UplinkError::Transport("the MQTT client stopped".into()));
                        }
                    }
                }
            };
            tokio::time::timeout(RECEIPT_WAIT, answer).await.unwrap_or_else(|_| {
                Err(UplinkError::Transport("no receipt from the platform within 10 s".into()))
            })
        })
    }
}

/// The grid operator's head-end for AMR meters (no P1 port): it reads their quarter hours and
/// delivers each day's records to the platform in one batch (R-DAT-2).
#[derive(Debug, Clone)]
pub struct HeadEnd {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl HeadEnd {
    /// A head-end posting to the platform at `base` with its bearer `token`.
    pub fn new(base: &str, token: &str) -> Result<HeadEnd, UplinkError> {
        Ok(HeadEnd {
            client: client()?,
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        })
    }

    /// Delivers one batch of quarter hours of `meter`; returns how many were new.
    pub async fn deliver(
        &self,
        meter: &str,
        records: &[meter::AmrQuarter],
    ) -> Result<u64, UplinkError> {
        let batch =
            wire::ingest::v1::AmrBatch { meter: meter.to_owned(), quarters: records.to_vec() };
        let r = self
            .client
            .post(format!("{}/api/ingest/v1/amr/{meter}", self.base))
            .bearer_auth(&self.token)
            .json(&batch)
            .send()
            .await
            .map_err(|e| UplinkError::Transport(e.to_string()))?;
        let status = r.status().as_u16();
        let body = r.text().await.map_err(|e| UplinkError::Transport(e.to_string()))?;
        if status != 200 {
            return Err(UplinkError::Status { status, body });
        }
        // The platform's typed answer; one without its count is an error, not "0 new".
        let stored: wire::api::v1::AmrStored = serde_json::from_str(&body).map_err(|e| {
            UplinkError::Transport(format!(
                "the platform's AMR answer {body:?} is not AmrStored: {e}"
            ))
        })?;
        Ok(stored.stored)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-shot HTTP server that answers 200 with `body`, whatever it is asked.
    async fn answering(body: &'static str) -> String {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = vec![0u8; 64 * 1024];
            let _ = s.read(&mut buf).await;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            s.write_all(head.as_bytes()).await.unwrap();
            s.write_all(body.as_bytes()).await.unwrap();
        });
        url
    }

    #[tokio::test]
    async fn a_head_end_answer_without_its_count_is_an_error_not_zero() {
        let url = answering("{}").await;
        let err = HeadEnd::new(&url, "t").unwrap().deliver("M1", &[]).await.unwrap_err();
        assert!(err.to_string().contains("AmrStored"), "{err}");
        let url = answering(r#"{"stored":3,"duplicates":1}"#).await;
        assert_eq!(HeadEnd::new(&url, "t").unwrap().deliver("M1", &[]).await.unwrap(), 3);
    }
}
