//! MQTT: the embedded broker (rumqttd) and the platform's subscriber (rumqttc), which
//! acknowledges each message only after its uploads are stored.

use crate::ingest::Ingest;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::collections::HashMap as StdHashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use wire::ingest::v1::{Batch, TOPIC_FILTER, Upload};

/// Which broker the platform uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerSpec {
    /// No MQTT ingest (REST only).
    None,
    /// The in-process broker on this port (0 picks a free one).
    Embedded {
        /// TCP port on 127.0.0.1.
        port: u16,
    },
    /// An external broker such as Mosquitto.
    External {
        /// Its address.
        addr: SocketAddr,
    },
}

impl std::str::FromStr for BrokerSpec {
    type Err = String;

    /// `none`, `embedded`, `embedded:PORT` or `mqtt://HOST:PORT`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("--mqtt {s}: use embedded, embedded:PORT, mqtt://HOST:PORT or none");
        match s {
            "none" => Ok(BrokerSpec::None),
            "embedded" => Ok(BrokerSpec::Embedded { port: 1883 }),
            _ => {
                if let Some(p) = s.strip_prefix("embedded:") {
                    return p.parse().map(|port| BrokerSpec::Embedded { port }).map_err(|_| bad());
                }
                let hostport = s.strip_prefix("mqtt://").ok_or_else(bad)?;
                let addr = std::net::ToSocketAddrs::to_socket_addrs(hostport)
                    .map_err(|_| bad())?
                    .next()
                    .ok_or_else(bad)?;
                Ok(BrokerSpec::External { addr })
            }
        }
    }
}

/// The in-process broker. rumqttd has no shutdown; it lives until the process ends.
pub struct EmbeddedBroker {
    addr: SocketAddr,
}

impl EmbeddedBroker {
    /// Starts rumqttd on 127.0.0.1:`port` (0 picks a free port first: rumqttd cannot report
    /// the port it bound).
    pub fn start(port: u16) -> Result<EmbeddedBroker, String> {
        let port = if port == 0 {
            let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
            l.local_addr().map_err(|e| e.to_string())?.port()
        } else {
            port
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let server = rumqttd::ServerSettings {
            name: "meterlab-v4".into(),
            listen: addr,
            tls: None,
            next_connection_delay_ms: 1,
            connections: rumqttd::ConnectionSettings {
                connection_timeout_ms: 10_000,
                max_payload_size: wire::ingest::v1::MAX_BODY,
                max_inflight_count: 500,
                auth: None,
                external_auth: None,
                dynamic_filters: true,
            },
        };
        // RouterConfig::default() is all zeros and makes the broker thread panic.
        let router = rumqttd::RouterConfig {
            max_connections: 10_010,
            max_outgoing_packet_count: 1_000,
            max_segment_size: 100 * 1024 * 1024,
            max_segment_count: 10,
            ..Default::default()
        };
        let mut v4 = StdHashMap::new();
        v4.insert("1".to_string(), server);
        let config = rumqttd::Config { id: 0, router, v4: Some(v4), ..Default::default() };
        let mut broker = rumqttd::Broker::new(config);
        std::thread::Builder::new()
            .name("mqtt-broker".into())
            .spawn(move || {
                if let Err(e) = broker.start() {
                    tracing::error!("embedded MQTT broker stopped: {e}");
                }
            })
            .map_err(|e| e.to_string())?;
        // Wait until it accepts connections, so callers can connect at once.
        for _ in 0..200 {
            if std::net::TcpStream::connect(addr).is_ok() {
                return Ok(EmbeddedBroker { addr });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err(format!("the embedded broker did not start on {addr} (port in use?)"))
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Subscribes to every dongle's uploads and feeds them to the pipeline. Messages are acked in
/// the order received (MQTT 3.1.1 §4.6), each only after its uploads are stored; a message
/// that fails to store is not acked, so the broker redelivers it.
pub(crate) fn subscribe(addr: SocketAddr, ingest: Arc<Ingest>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let id = format!("meterlab-platform-{}", std::process::id());
        let mut opts = MqttOptions::new(id, addr.ip().to_string(), addr.port());
        opts.set_keep_alive(Duration::from_secs(30));
        opts.set_manual_acks(true);
        // A persistent session: QoS 1 messages published while we were away are kept.
        opts.set_clean_session(false);
        opts.set_max_packet_size(
            wire::ingest::v1::MAX_BODY + 1024,
            wire::ingest::v1::MAX_BODY + 1024,
        );
        opts.set_inflight(500);
        let (client, mut events) = AsyncClient::new(opts, 1024);
        // Unbounded on purpose: the event loop must never wait on the acker, because the acks
        // themselves go out through the event loop (a bounded queue here deadlocked under
        // load). The broker's in-flight window bounds what can pile up.
        let (ack_tx, mut ack_rx) = tokio::sync::mpsc::unbounded_channel::<
            tokio::task::JoinHandle<Option<rumqttc::Publish>>,
        >();
        let acker = client.clone();
        tokio::spawn(async move {
            while let Some(job) = ack_rx.recv().await {
                if let Ok(Some(p)) = job.await {
                    let _ = acker.ack(&p).await;
                }
            }
        });
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    if let Err(e) = client.subscribe(TOPIC_FILTER, QoS::AtLeastOnce).await {
                        tracing::error!("MQTT subscribe failed: {e}");
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    ingest.counters.mqtt_subscribed.store(true, Ordering::Relaxed);
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    ingest.counters.mqtt_messages.fetch_add(1, Ordering::Relaxed);
                    let ingest = ingest.clone();
                    let job = tokio::spawn(async move { handle(&ingest, p).await });
                    if ack_tx.send(job).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!("MQTT connection to {addr}: {e}; reconnecting");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    })
}

/// Stores one message; returns it for acking when it may be acked.
async fn handle(ingest: &Ingest, p: rumqttc::Publish) -> Option<rumqttc::Publish> {
    let batch = match serde_json::from_slice::<Batch>(&p.payload) {
        Ok(b) => b,
        Err(_) => match serde_json::from_slice::<Upload>(&p.payload) {
            Ok(u) => Batch { uploads: vec![u] },
            Err(e) => {
                // Unparseable: counted, and acked so the broker does not redeliver it forever.
                tracing::warn!(topic = %p.topic, "malformed MQTT upload: {e}");
                ingest.count_malformed(supervision::Rejection::Malformed);
                return Some(p);
            }
        },
    };
    // Uploads on a topic must come from that topic's dongle.
    let topic_dongle = wire::ingest::v1::dongle_of_topic(&p.topic).map(str::to_owned);
    let batch = Batch {
        uploads: batch
            .uploads
            .into_iter()
            .filter(|u| {
                let ok = topic_dongle.as_deref() == Some(u.dongle.as_str());
                if !ok {
                    ingest.count_malformed(supervision::Rejection::Malformed);
                }
                ok
            })
            .collect(),
    };
    match ingest.submit(batch).await {
        Ok(_) => Some(p),
        Err(e) => {
            tracing::error!("MQTT upload not stored (will be redelivered): {e}");
            None
        }
    }
}
