use crate::{KEY, client, start, telegram, upload};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};
use server::BrokerSpec;
use std::time::Duration;
use wire::ingest::v1::{Batch, Receipt, RejectCode, Upload, receipt_topic, topic};

/// Publishes uploads 0..n of D1 at QoS 1 and waits for every PUBACK.
async fn publish(addr: std::net::SocketAddr, n: u64) {
    let mut opts = MqttOptions::new(
        format!("dongle-D1-{}", std::process::id()),
        addr.ip().to_string(),
        addr.port(),
    );
    opts.set_max_packet_size(300 * 1024, 300 * 1024);
    let (client, mut events) = AsyncClient::new(opts, 100);
    let pub_client = client.clone();
    tokio::spawn(async move {
        for s in 0..n {
            let body = serde_json::to_vec(&Batch { uploads: vec![upload("D1", s)] }).unwrap();
            pub_client.publish(topic("D1"), QoS::AtLeastOnce, false, body).await.unwrap();
        }
    });
    let mut acked = 0;
    while acked < n {
        match tokio::time::timeout(Duration::from_secs(20), events.poll()).await.unwrap() {
            Ok(Event::Incoming(Packet::PubAck(_))) => acked += 1,
            Ok(_) => {}
            Err(e) => panic!("MQTT: {e}"),
        }
    }
}

/// QoS 1 messages published before any subscription exists are not kept by the broker, so
/// the test waits for the platform's SUBACK first.
async fn wait_subscribed(app: &server::App) {
    for _ in 0..500 {
        if app.ingest.mqtt_subscribed() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the platform never subscribed");
}

async fn stored_eventually(app: &server::App, n: usize) {
    // The broker's PUBACK to the publisher does not wait for the platform; poll the store.
    for _ in 0..400 {
        if app.ingest.stored_sequences("D1").await.unwrap().len() == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("only {} of {n} uploads stored", app.ingest.stored_sequences("D1").await.unwrap().len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_ingest_through_the_embedded_broker() {
    let app = start("sqlite::memory:", BrokerSpec::Embedded { port: 0 }).await;
    wait_subscribed(&app).await;
    publish(app.mqtt.unwrap(), 300).await;
    stored_eventually(&app, 300).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_ingest_through_mosquitto() {
    let Ok(url) = std::env::var("MLAB_MQTT_URL") else {
        eprintln!(
            "\n*** SKIPPED: MLAB_MQTT_URL is not set; run `. ci/services.sh` to start Mosquitto ***\n"
        );
        return;
    };
    let spec: BrokerSpec = url.parse().unwrap();
    let app = start("sqlite::memory:", spec).await;
    wait_subscribed(&app).await;
    publish(app.mqtt.unwrap(), 300).await;
    stored_eventually(&app, 300).await;
}

/// Publishes `payload` on D1's upload topic and waits for the next receipt on D1's receipt
/// topic (`None` when none comes within 2 s).
async fn exchange(c: &AsyncClient, events: &mut EventLoop, payload: Vec<u8>) -> Option<Receipt> {
    c.publish(topic("D1"), QoS::AtLeastOnce, false, payload).await.unwrap();
    let wait = async {
        loop {
            if let Event::Incoming(Packet::Publish(p)) = events.poll().await.unwrap() {
                assert_eq!(p.topic, receipt_topic("D1"));
                return serde_json::from_slice::<Receipt>(&p.payload).unwrap();
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(2), wait).await.ok()
}

fn batch(uploads: Vec<Upload>) -> Vec<u8> {
    serde_json::to_vec(&Batch { uploads }).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_stored_mqtt_message_is_answered_on_the_dongles_receipt_topic() {
    let app = start("sqlite::memory:", BrokerSpec::Embedded { port: 0 }).await;
    wait_subscribed(&app).await;
    let addr = app.mqtt.unwrap();
    let (c, mut events) =
        AsyncClient::new(MqttOptions::new("receipts-D1", addr.ip().to_string(), addr.port()), 100);
    c.subscribe(receipt_topic("D1"), QoS::AtLeastOnce).await.unwrap();
    while !matches!(events.poll().await.unwrap(), Event::Incoming(Packet::SubAck(_))) {}

    let r = exchange(&c, &mut events, batch(vec![upload("D1", 0), upload("D1", 1)])).await;
    assert_eq!(r.unwrap().stored, [0, 1]);
    let r = exchange(&c, &mut events, batch(vec![upload("D1", 1)])).await.unwrap();
    assert_eq!((r.stored.len(), r.duplicates), (0, vec![1]));
    // A conflict: sequence 1 again, other content, properly signed.
    let mut conflict = upload("D1", 1);
    conflict.telegram = telegram(7);
    conflict.sign(KEY);
    let r = exchange(&c, &mut events, batch(vec![conflict])).await.unwrap();
    assert_eq!((r.rejected[0].seq, r.rejected[0].code), (1, RejectCode::Replay));
    let mut forged = upload("D1", 2);
    forged.sign(b"another key");
    let r = exchange(&c, &mut events, batch(vec![forged])).await.unwrap();
    assert_eq!((r.rejected[0].seq, r.rejected[0].code), (2, RejectCode::BadSignature));
    // Another dongle's upload on D1's topic is refused in D1's receipt; D1's own is stored.
    let r = exchange(&c, &mut events, batch(vec![upload("D2", 9), upload("D1", 3)])).await;
    let r = r.unwrap();
    assert_eq!((r.stored.clone(), r.rejected[0].seq), (vec![3], 9));
    assert_eq!(r.rejected[0].code, RejectCode::Malformed, "{}", r.rejected[0].message);
    // Not a batch: nothing to answer for, so no receipt; the next message gets its own.
    assert_eq!(exchange(&c, &mut events, b"{not json".to_vec()).await, None);
    assert_eq!(exchange(&c, &mut events, batch(vec![upload("D1", 4)])).await.unwrap().stored, [4]);

    let metrics =
        client().get(format!("{}/metrics", app.url())).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("meterlab_mqtt_receipts_total 6"), "{metrics}");
    assert!(metrics.contains("meterlab_mqtt_receipt_errors_total 0"), "{metrics}");
    // received = stored + duplicates + rejected: 4 + 1 + 3.
    assert!(metrics.contains("meterlab_ingest_received_total 8"), "{metrics}");
    assert!(metrics.contains("meterlab_ingest_rejected_total 3"), "{metrics}");
}
