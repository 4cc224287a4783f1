//! A rig end to end: meters on ptys and TCP ports, simulated dongles on their P1 ports,
//! uploads over REST into the platform, on an accelerated clock; then the hard stop.
#![allow(clippy::unwrap_used)]

use clock::{Clock, SimClock, Timestamp};
use server::{App, BrokerSpec, Config};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rig_meters_reach_the_platform_through_their_dongles_until_the_hard_stop() {
    let app = App::start(Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database: "sqlite::memory:".into(),
        mqtt: BrokerSpec::None,
        ..Config::default()
    })
    .await
    .unwrap();
    let start: Timestamp = "2026-06-01T10:00:00Z".parse().unwrap();
    // ×30: two simulated minutes in about four real seconds.
    let clock = Arc::new(SimClock::accelerated(start, 30.0).unwrap());
    let catalogue = meter::Catalogue::builtin();
    let mut setups = Vec::new();
    let ids = ["fluvius-t211-1.7.1", "iskra-am550-dsmr-5.0.2", "sagemcom-smarty"];
    for (i, id) in ids.iter().enumerate() {
        let v = catalogue.get(id).unwrap();
        let key = format!("rig-test-key-{i:02}-0123456789abcdef").into_bytes();
        let dongle_id = format!("rig-a-meter-{i:02}");
        app.ingest.register_dongle(&dongle_id, &key, Some(&v.equipment_id)).await.unwrap();
        let profile = "household+pv:4".parse().unwrap();
        let dongle = Some((dongle_id, key));
        let uplink: Arc<dyn runner::Uplink> =
            Arc::new(runner::HttpUplink::new(&app.url()).unwrap());
        setups.push(runner::MeterSetup {
            station: runner::Station::build(
                format!("meter-{i:02}"),
                v,
                &profile,
                i as u64,
                start,
                dongle,
                true,
            )
            .unwrap(),
            pty: Some(None),
            tcp: Some(0),
            uplink: Some(uplink),
        });
    }
    let end = start + clock::SignedDuration::from_secs(120);
    let rig = runner::serve(setups, clock.clone(), Some(end), false).await.unwrap();
    assert!(rig.endpoints.iter().all(|e| e.pty.is_some() && e.tcp.is_some()));
    // Wait for the hard stop at `end` (the meters' tasks finish by themselves).
    clock.sleep_until(end).await;
    let stats = rig.stats.clone();
    rig.stop().await;
    // Let the last uploads in flight land.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let telegrams = stats.telegrams.load(std::sync::atomic::Ordering::Relaxed);
    // 120 s: two meters at 1 Hz and one at 0.1 Hz.
    assert!((250..=252).contains(&telegrams), "{telegrams}");
    for (i, expected) in [(0, 120), (1, 120), (2, 12)] {
        let seqs = app.ingest.stored_sequences(&format!("rig-a-meter-{i:02}")).await.unwrap();
        assert!(seqs.len() + 2 >= expected, "meter {i}: {} of {expected} stored", seqs.len());
        assert!(
            seqs.windows(2).all(|w| w[1] == w[0] + 1),
            "meter {i}: contiguous sequence numbers"
        );
    }
    // After the hard stop nothing more arrives.
    let before = app.ingest.stored_sequences("rig-a-meter-00").await.unwrap().len();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(app.ingest.stored_sequences("rig-a-meter-00").await.unwrap().len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dongles_upload_over_mqtt_and_the_head_end_delivers_amr_days() {
    let app = App::start(Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database: "sqlite::memory:".into(),
        mqtt: BrokerSpec::Embedded { port: 0 },
        ..Config::default()
    })
    .await
    .unwrap();
    while !app.ingest.mqtt_subscribed() {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let start: Timestamp = "2026-06-01T10:00:00Z".parse().unwrap();
    let clock = Arc::new(SimClock::accelerated(start, 20.0).unwrap());
    let catalogue = meter::Catalogue::builtin();
    let v = catalogue.get("fluvius-s211-1.7.1").unwrap();
    let key = b"mqtt-dongle-key-0123456789abcdef".to_vec();
    app.ingest.register_dongle("mqtt-d1", &key, None).await.unwrap();
    let uplink: Arc<dyn runner::Uplink> =
        Arc::new(runner::MqttUplink::connect("mqtt-d1", app.mqtt.unwrap()).await.unwrap());
    let end = start + clock::SignedDuration::from_secs(60);
    let profile = "household".parse().unwrap();
    let dongle = Some(("mqtt-d1".to_owned(), key));
    let tap = Arc::new(LastStats::default());
    let station = runner::Station::build("meter-01", v, &profile, 5, start, dongle, true).unwrap();
    let setup = runner::MeterSetup {
        station: station.with_tap(tap.clone()),
        pty: None,
        tcp: None,
        uplink: Some(uplink),
    };
    let rig = runner::serve(vec![setup], clock.clone(), Some(end), false).await.unwrap();
    clock.sleep_until(end).await;
    rig.stop().await;
    // The hard stop leaves what the dongle still buffers unsent, and how much that is depends
    // on how fast receipts came back on a loaded machine; so the check is the accounting,
    // not a count: every upload the dongle made was stored or was still in its hands.
    let s = tap.0.lock().unwrap().expect("the dongle's counters");
    assert!(s.uploads_created >= 59, "{s:?}");
    assert_eq!((s.rejected, s.dropped), (0, 0), "{s:?}");
    let mut n = 0;
    for _ in 0..200 {
        n = app.ingest.stored_sequences("mqtt-d1").await.unwrap().len() as u64;
        if n + s.buffered >= s.uploads_created {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(n >= s.acknowledged, "{n} stored, fewer than the {} acknowledged", s.acknowledged);
    assert!(n + s.buffered >= s.uploads_created, "{n} stored of {s:?}");
    assert!(n >= 40, "only {n} of 60 uploads arrived over MQTT: {s:?}");

    // An AMR meter has no P1 port: the head-end delivers its day in one batch (R-DAT-2).
    let amr = catalogue.get("amr-business").unwrap();
    let (from, to) = clock::day_bounds("2026-06-01".parse().unwrap());
    let mut meter =
        meter::AmrMeter::new(amr, &"business:50000+pv:20".parse().unwrap(), 1, from).unwrap();
    let day = meter.tick(to);
    let head_end = runner::HeadEnd::new(&app.url(), "meterlab-headend-dev").unwrap();
    assert_eq!(head_end.deliver(&amr.equipment_id, &day).await.unwrap(), 96);
    assert_eq!(
        head_end.deliver(&amr.equipment_id, &day).await.unwrap(),
        0,
        "a redelivery stores nothing twice"
    );
}

/// The dongle's counters as of its station's last step.
#[derive(Default)]
struct LastStats(std::sync::Mutex<Option<dongle::Stats>>);

impl runner::Tap for LastStats {
    fn telegram(&self, _: Timestamp, _: &[u8]) -> Option<Vec<u8>> {
        None
    }

    fn dongle(&self, _: Timestamp, stats: &dongle::Stats) {
        *self.0.lock().unwrap() = Some(*stats);
    }

    fn command(&self) -> Option<runner::DongleCommand> {
        None
    }
}

/// One dongle's transmit through `uplink`, at its deadline but not before `at`: the receipt
/// goes back to the dongle as a runner hands it over, or is lost on the way (`lost`), as on a
/// broken connection.
async fn transmit(
    d: &mut dongle::Dongle,
    uplink: &runner::MqttUplink,
    at: Timestamp,
    lost: bool,
) -> Vec<u64> {
    use runner::Uplink;
    let now = d.next_deadline().expect("something to send").max(at);
    let tx = d.poll_transmit(now).expect("a transmit at its deadline");
    let receipt = uplink.send(&tx.uploads).await.unwrap();
    let outcome =
        if lost { dongle::TransmitOutcome::Failed } else { dongle::TransmitOutcome::Ok(receipt) };
    d.on_transmit_result(now, tx.id, outcome);
    tx.seqs()
}

/// A duplicate, a conflict and a forged upload, each sent over MQTT by the dongle state
/// machine, reach that dongle as such through the platform's receipt.
async fn mqtt_verdicts_reach_the_dongle(spec: BrokerSpec) {
    let app = App::start(Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database: "sqlite::memory:".into(),
        mqtt: spec,
        // Its own session at the broker: a shared Mosquitto keeps sessions between tests.
        mqtt_client_id: format!("meterlab-verdicts-{}", std::process::id()),
        ..Config::default()
    })
    .await
    .unwrap();
    while !app.ingest.mqtt_subscribed() {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let id = format!("verdicts-{}", std::process::id());
    let key = b"verdict-dongle-key-0123456789abc".to_vec();
    app.ingest.register_dongle(&id, &key, None).await.unwrap();
    let uplink = runner::MqttUplink::connect(&id, app.mqtt.unwrap()).await.unwrap();
    let fixture = |name: &str| {
        std::fs::read(format!("{}/../fixtures/p1/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    };
    let telegram = fixture("fluvius-emucs-1.7.1-3phase.txt");
    let t0: Timestamp = "2026-06-01T10:00:00Z".parse().unwrap();

    // Stored, then a duplicate: the receipt of the second transmit is lost on the way, so
    // the dongle sends those uploads again and the platform answers "already stored".
    let mut d = dongle::Dongle::new(dongle::Config::new(&id, key.clone()), t0);
    for _ in 0..3 {
        d.on_serial_bytes(t0, &telegram);
    }
    assert_eq!(transmit(&mut d, &uplink, t0, false).await.len(), 3);
    let t1 = t0 + clock::SignedDuration::from_secs(60);
    d.on_serial_bytes(t1, &telegram);
    d.on_serial_bytes(t1, &telegram);
    let lost = transmit(&mut d, &uplink, t1, true).await;
    let again = transmit(&mut d, &uplink, t1, false).await;
    assert_eq!(lost, again, "the same uploads, sent again");
    let s = d.stats();
    assert_eq!((s.acknowledged, s.duplicates, s.rejected, s.buffered), (5, 2, 0, 0), "{s:?}");

    // A conflict: a clone of the dongle (same id and key) numbers its uploads from 0 again,
    // with other content.
    let mut clone = dongle::Dongle::new(dongle::Config::new(&id, key.clone()), t1);
    clone.on_serial_bytes(t1, &fixture("fluvius-emucs-1.7.1-1phase.txt"));
    transmit(&mut clone, &uplink, t1, false).await;
    let s = clone.stats();
    assert_eq!((s.acknowledged, s.rejected, s.conflicts, s.unauthorized), (0, 1, 1, 0), "{s:?}");

    // A forged upload: signed with another key, on the dongle's own topic.
    let forged =
        dongle::Config { first_seq: 1_000, ..dongle::Config::new(&id, b"not-the-key".to_vec()) };
    let mut forger = dongle::Dongle::new(forged, t1);
    forger.on_serial_bytes(t1, &telegram);
    transmit(&mut forger, &uplink, t1, false).await;
    let s = forger.stats();
    assert_eq!((s.acknowledged, s.rejected, s.conflicts, s.unauthorized), (0, 1, 0, 1), "{s:?}");

    // The platform kept what it should: five uploads, none of the clone's or the forger's.
    assert_eq!(app.ingest.stored_sequences(&id).await.unwrap(), [0, 1, 2, 3, 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_verdicts_reach_the_dongle_through_the_embedded_broker() {
    mqtt_verdicts_reach_the_dongle(BrokerSpec::Embedded { port: 0 }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_verdicts_reach_the_dongle_through_mosquitto() {
    let Ok(url) = std::env::var("MLAB_MQTT_URL") else {
        eprintln!(
            "\n*** SKIPPED: MLAB_MQTT_URL is not set; run `. ci/services.sh` to start Mosquitto ***\n"
        );
        return;
    };
    mqtt_verdicts_reach_the_dongle(url.parse().unwrap()).await;
}
