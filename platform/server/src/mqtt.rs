//! MQTT: the embedded broker (rumqttd) and the platform's subscriber (rumqttc), which
//! answers each message with a receipt on the dongle's receipt topic and acknowledges it only
//! after its uploads are stored.

use crate::ingest::Ingest;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::collections::HashMap as StdHashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use wire::ingest::v1::{Batch, Receipt, TOPIC_FILTER, Upload, receipt_topic};

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
    ///
    /// rumqttd binds in a thread of its own and only logs a failure, and a bare TCP connect
    /// cannot tell it from another program on the port. So the port is bound here first (a
    /// port another process holds is a clear error at once), and after the start an MQTT
    /// message sent to the port must reach an in-process subscriber of this broker: only then
    /// is the broker on the port ours (that also catches a process that took the port in the
    /// instant between the check and rumqttd's bind).
    pub fn start(port: u16) -> Result<EmbeddedBroker, String> {
        let port = if port == 0 {
            let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
            l.local_addr().map_err(|e| e.to_string())?.port()
        } else {
            port
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        // Released at once: rumqttd binds the port itself.
        drop(std::net::TcpListener::bind(addr).map_err(|e| port_taken(addr, &e.to_string()))?);
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
        // Subscribed before the listener exists, so the router has the subscription before
        // any message can arrive from the network.
        let topic = format!("meterlab/probe/{}-{port}", std::process::id());
        let (mut probe_tx, mut probe_rx) =
            broker.link(&format!("meterlab-probe-{port}")).map_err(|e| e.to_string())?;
        probe_tx.subscribe(topic.clone()).map_err(|e| e.to_string())?;
        std::thread::Builder::new()
            .name("mqtt-broker".into())
            .spawn(move || {
                if let Err(e) = broker.start() {
                    tracing::error!("embedded MQTT broker stopped: {e}");
                }
            })
            .map_err(|e| e.to_string())?;
        // Wait until it accepts MQTT connections, so callers can connect at once.
        let waited = clock::Stopwatch::start();
        loop {
            match probe(addr, &topic) {
                Ok(()) => break,
                Err(e) if waited.passed(Duration::from_secs(2)) => {
                    return Err(port_taken(addr, &format!("no MQTT broker answers there ({e})")));
                }
                Err(_) => clock::pause(Duration::from_millis(10)),
            }
        }
        // The broker that answered is ours only if our own subscriber got the message.
        let deadline = clock::Stopwatch::start().deadline(Duration::from_secs(2));
        let ours = loop {
            match probe_rx.recv_deadline(deadline) {
                Ok(Some(rumqttd::Notification::Forward(f))) if f.publish.topic == topic => {
                    break true;
                }
                Ok(_) => {}
                Err(_) => break false,
            }
        };
        let _ = probe_tx.unsubscribe(topic);
        if !ours {
            return Err(port_taken(addr, "another MQTT broker answers there"));
        }
        Ok(EmbeddedBroker { addr })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Why the embedded broker cannot have `addr`, and what to do about it.
fn port_taken(addr: SocketAddr, why: &str) -> String {
    let port = addr.port();
    format!(
        "the embedded broker cannot listen on {addr}: {why}. Another process holds port \
         {port} (another meterlab, or a Mosquitto?): pick a free port with --mqtt \
         embedded:PORT (embedded:0 picks one), or send the uploads to that broker with --mqtt \
         mqtt://127.0.0.1:{port}"
    )
}

/// One MQTT 3.1.1 exchange on a plain socket: CONNECT, wait for a CONNACK that accepts it,
/// PUBLISH `topic` at QoS 0, then close (the broker logs a closed connection at info level).
fn probe(addr: SocketAddr, topic: &str) -> std::io::Result<()> {
    use std::io::{Error, Read, Write};
    let timeout = Duration::from_millis(500);
    let mut s = std::net::TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let client = format!("meterlab-probe-{}", std::process::id());
    let field = |out: &mut Vec<u8>, b: &[u8]| {
        out.extend((b.len() as u16).to_be_bytes());
        out.extend(b);
    };
    // Variable header: protocol name, level 4, clean session, keep-alive 10 s; the client id.
    let mut connect = Vec::new();
    field(&mut connect, b"MQTT");
    connect.extend([4, 0x02, 0, 10]);
    field(&mut connect, client.as_bytes());
    let mut publish = Vec::new();
    field(&mut publish, topic.as_bytes());
    publish.extend(b"probe");
    // Both stay under 128 bytes, so the remaining length is one byte.
    if connect.len() > 127 || publish.len() > 127 {
        return Err(Error::other("probe packet too long"));
    }
    s.write_all(&[&[0x10, connect.len() as u8][..], &connect].concat())?;
    let mut connack = [0u8; 4];
    s.read_exact(&mut connack)?;
    if connack[0] != 0x20 || connack[3] != 0 {
        return Err(Error::other(format!("not an MQTT CONNACK: {connack:02x?}")));
    }
    s.write_all(&[&[0x30, publish.len() as u8][..], &publish].concat())?;
    s.flush()
}

/// Subscribes to every dongle's uploads and feeds them to the pipeline. Messages are acked in
/// the order received (MQTT 3.1.1 §4.6), each only after its uploads are stored and its
/// receipt is published on the dongle's [`receipt_topic`]; a message that fails to store is not
/// acked, so the broker redelivers it.
///
/// `client_id` must stay the same across restarts: the broker keeps the persistent session's
/// queue under it, so what dongles published while the platform was down (or in flight when it
/// died) is delivered when it is back. A new id each start orphaned that session: its queued
/// uploads were never stored, and it grew at the broker forever.
pub(crate) fn subscribe(
    addr: SocketAddr,
    client_id: String,
    ingest: Arc<Ingest>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut opts = MqttOptions::new(client_id, addr.ip().to_string(), addr.port());
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
        // A receipt is a small write answered at once; Nagle's algorithm would hold it back
        // until the broker acknowledges the previous one (tens of milliseconds per upload).
        let mut net = rumqttc::NetworkOptions::new();
        net.set_tcp_nodelay(true);
        events.set_network_options(net);
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
                    let (ingest, client) = (ingest.clone(), client.clone());
                    let job = tokio::spawn(async move { handle(&ingest, &client, p).await });
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

/// Stores one message and publishes its receipt; returns the message for acking when it may
/// be acked.
async fn handle(
    ingest: &Ingest,
    client: &AsyncClient,
    p: rumqttc::Publish,
) -> Option<rumqttc::Publish> {
    let batch = match serde_json::from_slice::<Batch>(&p.payload) {
        Ok(b) => b,
        Err(_) => match serde_json::from_slice::<Upload>(&p.payload) {
            Ok(u) => Batch { uploads: vec![u] },
            Err(e) => {
                // Unparseable: counted, and acked so the broker does not redeliver it forever.
                // No receipt: there is no sequence number to answer for.
                tracing::warn!(topic = %p.topic, "malformed MQTT upload: {e}");
                ingest.count_malformed(supervision::Rejection::Malformed);
                return Some(p);
            }
        },
    };
    // The filter only delivers topics of the form `…/dongles/{id}/uploads`.
    let Some(dongle) = wire::ingest::v1::dongle_of_topic(&p.topic).map(str::to_owned) else {
        tracing::warn!(topic = %p.topic, "MQTT upload on a topic that names no dongle");
        ingest.count_malformed(supervision::Rejection::Malformed);
        return Some(p);
    };
    // Uploads on a topic must come from that topic's dongle; the others are refused in the
    // receipt, so the publisher learns of them.
    let (own, foreign): (Vec<Upload>, Vec<Upload>) =
        batch.uploads.into_iter().partition(|u| u.dongle == dongle);
    let mut receipt = match ingest.submit(Batch { uploads: own }).await {
        Ok(receipt) => receipt,
        Err(e) => {
            tracing::error!("MQTT upload not stored (will be redelivered): {e}");
            return None;
        }
    };
    receipt.rejected.extend(foreign.iter().map(|u| ingest.foreign(u, &dongle)));
    answer(ingest, client, &dongle, &receipt).await;
    Some(p)
}

/// Publishes `receipt` on the dongle's receipt topic. What is stored stays stored when that
/// fails (counted and logged): the dongle hears nothing, times out and sends again, and the
/// platform answers the resend with duplicates.
async fn answer(ingest: &Ingest, client: &AsyncClient, dongle: &str, receipt: &Receipt) {
    let sent = match serde_json::to_vec(receipt) {
        Ok(body) => client
            // At most once: see `receipt_topic` (a lost receipt costs a resend, not data).
            .publish(receipt_topic(dongle), QoS::AtMostOnce, false, body)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match sent {
        Ok(()) => ingest.counters.mqtt_receipts.fetch_add(1, Ordering::Relaxed),
        Err(e) => {
            tracing::error!(dongle, "MQTT receipt not published: {e}");
            ingest.counters.mqtt_receipt_errors.fetch_add(1, Ordering::Relaxed)
        }
    };
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_port_another_process_holds_is_a_clear_error() {
        // Another program listening on the port (a Mosquitto, another meterlab).
        let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = other.local_addr().unwrap().port();
        let err = EmbeddedBroker::start(port).err().expect("started on a port that is taken");
        assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
        assert!(err.contains("--mqtt embedded:PORT"), "{err}");
        assert!(err.contains(&format!("mqtt://127.0.0.1:{port}")), "{err}");
    }

    #[test]
    fn the_broker_on_the_port_is_ours() {
        let broker = EmbeddedBroker::start(0).unwrap();
        // Ours, and it holds the port now: a second one on the same port is refused.
        let err = EmbeddedBroker::start(broker.addr().port()).err().expect("started twice");
        assert!(err.contains("Another process holds port"), "{err}");
    }
}
