use crate::{start, upload};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use server::BrokerSpec;
use std::time::Duration;
use wire::ingest::v1::{Batch, topic};

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
