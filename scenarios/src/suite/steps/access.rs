//! Data access: points and grid users, ESPs, mandates, NRT consents, market scenarios, the
//! access register and webhooks — all through the platform's HTTP API (R-MAN-*, R-NRT-4..8,
//! R-ACC-*).

use super::{bxl, bxl_all, local};
use crate::suite::{LabWorld, lab};
use ::clock::Timestamp;
use cucumber::{given, then, when};
use domain::Energy;
use wire::api::v1 as w;

#[given(expr = "{word} is the grid user of the {word} meter's access point")]
async fn grid_user(w: &mut LabWorld, g: String, variant: String) {
    lab(w.lab().await.add_point(&variant, &g).await);
}

#[given(expr = "ESP {word} is onboarded with a webhook endpoint")]
async fn onboarded(w: &mut LabWorld, esp: String) {
    let n = w.lab().await.access.esps.len() as u64 + 1;
    lab(w.lab().await.access.add_esp(&esp, n, true).await.map(|_| ()));
}

#[given(
    expr = "{word} has granted ESP {word} a quarter-hour mandate on the {word} meter from {word}"
)]
async fn mandate(w: &mut LabWorld, g: String, esp: String, variant: String, from: String) {
    let id =
        lab(w.lab().await.access.grant_mandate(&g, &esp, &variant, true, local(&from), None).await);
    w.mandates.insert(esp, id);
}

#[given(expr = "{word} has consented to ESP {word}'s live service on the {word} meter")]
async fn consented(w: &mut LabWorld, g: String, esp: String, variant: String) {
    let id = lab(w.lab().await.access.grant_consent(&g, &esp, &variant).await);
    w.consents.insert(esp, id);
}

#[when(expr = "ESP {word} opens the live stream of the {word} meter")]
async fn open_stream(w: &mut LabWorld, esp: String, variant: String) {
    let (status, code, events) = lab(w.lab().await.access.open_stream(&esp, &variant).await);
    w.last_status = Some(status);
    w.last_code = Some(code);
    if status == 200 {
        w.streams.insert(esp, events);
    }
}

fn events(w: &LabWorld, esp: &str) -> Vec<String> {
    let Some(e) = w.streams.get(esp) else {
        panic!("ESP {esp} opened no stream (an `opens the live stream` step comes first)")
    };
    e.lock().map(|e| e.clone()).unwrap_or_default()
}

/// Waits (real time, up to 5 s) for the stream task to catch up with what the lab sent.
async fn settle(w: &LabWorld, esp: &str, until: impl Fn(&[String]) -> bool) -> Vec<String> {
    for _ in 0..100 {
        let e = events(w, esp);
        if until(&e) {
            return e;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    events(w, esp)
}

#[then(expr = "ESP {word} has received live samples")]
async fn received_samples(w: &mut LabWorld, esp: String) {
    let e = settle(w, &esp, |e| e.iter().filter(|x| x.starts_with("sample@")).count() >= 5).await;
    let samples = e.iter().filter(|x| x.starts_with("sample@")).count();
    assert!(samples >= 5, "ESP {esp} received {samples} samples: {e:?}");
}

#[when(expr = "{word} revokes the consent of ESP {word}")]
async fn revoke(w: &mut LabWorld, g: String, esp: String) {
    let Some(consent) = w.consents.get(&esp).cloned() else {
        panic!("{g} gave ESP {esp} no consent in this scenario")
    };
    let lab_ = w.lab().await;
    let at = lab_.now();
    let a = lab(lab_.access.revoke_consent(&g, &consent).await);
    assert_eq!(a.status, 200, "revoking {consent}: {:?}", a.body);
    w.revoked_at = Some(at);
}

#[then(
    expr = "the live stream of ESP {word} has ended without a sample captured after the revocation"
)]
async fn stream_ended(w: &mut LabWorld, esp: String) {
    let Some(revoked) = w.revoked_at else { panic!("no revocation in this scenario") };
    let e = settle(w, &esp, |e| e.iter().any(|x| x == "closed")).await;
    assert!(e.iter().any(|x| x == "revoked"), "no `revoked` event: {e:?}");
    assert_eq!(e.last().map(String::as_str), Some("closed"), "{e:?}");
    // R-NRT-6: effective at once. The lab revokes after its second `revoked` has run, so a
    // sample captured in that second was consented data, already on its way; nothing captured
    // later is sent.
    for x in &e {
        if let Some(at) = x.strip_prefix("sample@") {
            let at: Timestamp = at.parse().unwrap_or_else(|err| panic!("{x}: {err}"));
            assert!(
                at <= revoked,
                "a sample captured at {}, after the revocation at {}",
                bxl(at),
                bxl(revoked)
            );
        }
    }
}

#[then(expr = "ESP {word} was notified of {word} with a valid signature")]
async fn notified(w: &mut LabWorld, esp: String, event: String) {
    let mut got = Vec::new();
    for _ in 0..100 {
        got = lab(w.lab().await.access.webhooks(&esp));
        if got.iter().any(|r| r.event == event) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let Some(hook) = got.iter().find(|r| r.event == event) else {
        panic!(
            "ESP {esp} received no {event}: {:?}",
            got.iter().map(|r| &r.event).collect::<Vec<_>>()
        )
    };
    let secret = lab(w
        .lab()
        .await
        .access
        .esps
        .get(&esp)
        .map(|e| e.secret.clone())
        .ok_or_else(|| anyhow::anyhow!("no ESP {esp}")));
    assert_eq!(hook.signature, server::signature(&secret, hook.body.as_bytes()), "{event}");
}

#[then(expr = "the access register shows the stream of ESP {word} ending at the revocation")]
async fn register_shows_end(w: &mut LabWorld, esp: String) {
    let Some(revoked) = w.revoked_at else { panic!("no revocation in this scenario") };
    let _ = esp;
    let Some(variant) = first_point(w) else { panic!("no point in this scenario") };
    let rows = lab(w.lab().await.access.access_log(&variant).await);
    let ended: Vec<&serde_json::Value> = rows
        .iter()
        .filter(|r| r["what"].as_str().is_some_and(|x| x.contains("stream (ended)")))
        .collect();
    assert_eq!(ended.len(), 1, "{rows:?}");
    let at: Timestamp = ended[0]["at"].as_str().and_then(|s| s.parse().ok()).unwrap_or_default();
    // The stream ends with the first sample after the revocation: within a second or two.
    let lag = at.duration_since(revoked);
    assert!(
        !lag.is_negative() && lag.as_secs() <= 2,
        "ended at {}, revoked at {}",
        bxl(at),
        bxl(revoked)
    );
}

/// The KBO number of a lab ESP.
fn kbo_of(lab_: &crate::Lab, esp: &str) -> String {
    lab(lab_
        .access
        .esps
        .get(esp)
        .map(|e| e.kbo.as_str().to_owned())
        .ok_or_else(|| anyhow::anyhow!("no ESP {esp}")))
}

fn first_point(w: &LabWorld) -> Option<String> {
    w.lab.as_ref().and_then(|l| l.access.points.keys().next().cloned())
}

#[then(expr = "ESP {word}'s stream is refused with {word}")]
async fn stream_refused(w: &mut LabWorld, esp: String, code: String) {
    assert!(!w.streams.contains_key(&esp), "ESP {esp}'s stream was opened");
    assert_eq!(w.last_status, Some(403), "expected a refusal");
    assert_eq!(w.last_code.as_deref(), Some(code.as_str()));
}

#[then(expr = "the access register shows a refused {word} request of ESP {word} based on {word}")]
async fn register_refused(w: &mut LabWorld, what: String, esp: String, code: String) {
    let Some(variant) = first_point(w) else { panic!("no point in this scenario") };
    let lab_ = w.lab().await;
    let kbo = kbo_of(lab_, &esp);
    let rows = lab(lab_.access.access_log(&variant).await);
    assert!(
        rows.iter().any(|r| r["party"] == format!("esp:{kbo}")
            && r["allowed"] == false
            && r["basis"] == code.as_str()
            && r["what"].as_str().is_some_and(|x| x.starts_with(&what))),
        "no refused {what} of esp:{kbo} based on {code}: {rows:?}"
    );
}

#[then(expr = "{word} sees ESP {word} among the parties with access to the {word} meter")]
async fn sees_party(w: &mut LabWorld, g: String, esp: String, variant: String) {
    let lab_ = w.lab().await;
    let kbo = kbo_of(lab_, &esp);
    let a = lab(lab_.access.parties(&g, &variant).await);
    assert_eq!(a.status, 200, "{:?}", a.body);
    let listed = a.body.as_array().cloned().unwrap_or_default();
    assert!(listed.iter().any(|p| p["esp"] == kbo.as_str()), "{listed:?}");
}

#[when(
    expr = "a {word} takes effect on the access point of the {word} meter at {word} with new grid user {word}"
)]
async fn scenario(w: &mut LabWorld, kind: String, variant: String, at: String, g: String) {
    let new = (g != "nobody").then_some(g.as_str());
    // CCSS changes the supplier too; a CS may name one.
    let supplier = matches!(kind.as_str(), "CCSS" | "SS").then_some("supplier-2");
    let a =
        lab(w.lab().await.access.market_scenario(&variant, &kind, local(&at), new, supplier).await);
    assert_eq!(a.status, 201, "{kind}: {:?}", a.body);
}

async fn reads_as(w: &mut LabWorld, party: String, n: usize, variant: &str, from: &str, to: &str) {
    let a = lab(w
        .lab()
        .await
        .access
        .energy(&party, variant, "quarter-hour", local(from), local(to))
        .await);
    assert!(a.status == 200 || a.status == 403, "{party}: {} {:?}", a.status, a.body);
    let values = if a.status == 403 { Vec::new() } else { electricity(&a) };
    assert_eq!(values.len(), n, "{party} reads {} quarter hours: {:?}", values.len(), a.body);
    // Measured values with their quality, never gaps filled in.
    for v in values {
        assert!(v.offtake_wh.is_some() && v.injection_wh.is_some(), "{v:?}");
        assert_eq!(v.quality, w::Quality::Measured, "{v:?}");
    }
}

/// The electricity values of an energy answer, read as the API's own type (a document that
/// is not one fails the step).
fn electricity(a: &crate::access::Answer) -> Vec<w::ElectricityValue> {
    let doc: w::Energy = serde_json::from_value(a.body.clone())
        .unwrap_or_else(|e| panic!("not an energy document ({e}): {}", a.body));
    doc.values
        .into_iter()
        .map(|v| match v {
            w::EnergyValue::Electricity(e) => e,
            w::EnergyValue::Gas(g) => panic!("gas where electricity was asked: {g:?}"),
        })
        .collect()
}

#[then(expr = "ESP {word} reads {int} quarter hours of the {word} meter from {word} to {word}")]
async fn esp_reads(
    w: &mut LabWorld,
    esp: String,
    n: usize,
    variant: String,
    from: String,
    to: String,
) {
    reads_as(w, format!("esp:{esp}"), n, &variant, &from, &to).await;
}

#[then(expr = "{word} reads {int} quarter hours of the {word} meter from {word} to {word}")]
async fn grid_user_reads(
    w: &mut LabWorld,
    g: String,
    n: usize,
    variant: String,
    from: String,
    to: String,
) {
    // `nobody`: an access point without a grid user has no one to read it.
    if g != "nobody" {
        reads_as(w, g, n, &variant, &from, &to).await;
    }
}

#[then(expr = "ESP {word} is refused quarter hours of the {word} meter with {word}")]
async fn refused_quarters(w: &mut LabWorld, esp: String, variant: String, code: String) {
    let now = w.lab().await.now();
    let from = now - ::clock::SignedDuration::from_hours(24);
    let a = lab(w
        .lab()
        .await
        .access
        .energy(&format!("esp:{esp}"), &variant, "quarter-hour", from, now)
        .await);
    assert_eq!((a.status, a.code()), (403, code.as_str()), "{:?}", a.body);
}

#[when(expr = "ESP {word} tries to end its mandate")]
async fn esp_ends(w: &mut LabWorld, esp: String) {
    let Some(m) = w.mandates.get(&esp).cloned() else { panic!("ESP {esp} has no mandate here") };
    let a = lab(w.lab().await.access.end_mandate(&format!("esp:{esp}"), &m).await);
    w.last_status = Some(a.status);
    w.last_code = Some(a.code().to_owned());
}

#[then(expr = "it is refused with {word}")]
async fn it_refused(w: &mut LabWorld, code: String) {
    assert_eq!(w.last_status, Some(403));
    assert_eq!(w.last_code.as_deref(), Some(code.as_str()));
}

#[when(expr = "{word} renews the mandate of ESP {word} on the {word} meter")]
async fn renews(w: &mut LabWorld, g: String, esp: String, variant: String) {
    let Some(old) = w.mandates.get(&esp).cloned() else { panic!("ESP {esp} has no mandate here") };
    let from = local("2026-05-01");
    let id =
        lab(w.lab().await.access.grant_mandate(&g, &esp, &variant, true, from, Some(&old)).await);
    w.mandates.insert(esp, id);
}

#[when("the registers signal what fell due")]
async fn registers_tick(w: &mut LabWorld) {
    lab(w.lab().await.tick_registers().await);
}

#[then(expr = "ESP {word} sees its mandate on the {word} meter {word}")]
async fn status(w: &mut LabWorld, esp: String, variant: String, state: String) {
    let Some(id) = w.mandates.get(&esp).cloned() else { panic!("ESP {esp} has no mandate here") };
    let m = lab(w.lab().await.access.mandate_status(&esp, &variant).await);
    assert_eq!(m["id"], id.as_str(), "{m}");
    assert_eq!(m["state"]["status"], state.as_str(), "{m}");
}

#[when("the platform declares an unplanned outage")]
async fn outage(w: &mut LabWorld) {
    lab(w.lab().await.access.outage(true).await);
}

#[then(expr = "ESP {word} is answered 503 {word} for the {word} meter")]
async fn answered_503(w: &mut LabWorld, esp: String, code: String, variant: String) {
    let now = w.lab().await.now();
    let from = now - ::clock::SignedDuration::from_hours(1);
    let a = lab(w
        .lab()
        .await
        .access
        .energy(&format!("esp:{esp}"), &variant, "quarter-hour", from, now)
        .await);
    assert_eq!((a.status, a.code()), (503, code.as_str()), "{:?}", a.body);
}

#[given(
    expr = "{word} asks for a quarter-hour mandate for ESP {word} on the {word} meter from {word}"
)]
async fn asks(w: &mut LabWorld, customer: String, esp: String, variant: String, from: String) {
    let from = local(&from);
    let id =
        lab(w.lab().await.access.grant_mandate(&customer, &esp, &variant, true, from, None).await);
    w.mandates.insert(esp, id);
}

#[when(expr = "{word} co-consents to the mandate of ESP {word}")]
async fn co_consents(w: &mut LabWorld, g: String, esp: String) {
    let Some(m) = w.mandates.get(&esp).cloned() else { panic!("ESP {esp} has no mandate here") };
    let a = lab(w.lab().await.access.approve(&g, &m).await);
    assert_eq!(a.status, 200, "{:?}", a.body);
}

/// Quarter hours and the day of a local date as ESP `esp` reads them.
async fn day_and_quarters(
    w: &mut LabWorld,
    esp: &str,
    variant: &str,
    day: &str,
) -> (Option<Energy>, Vec<Energy>) {
    let (from, to) = ::clock::day_bounds(::clock::local_date(local(day)));
    let party = format!("esp:{esp}");
    let q = lab(w.lab().await.access.energy(&party, variant, "quarter-hour", from, to).await);
    let d = lab(w.lab().await.access.energy(&party, variant, "day", from, to).await);
    assert_eq!((q.status, d.status), (200, 200), "{:?} {:?}", q.body, d.body);
    let quarters = electricity(&q).iter().filter_map(|v| v.offtake_wh).collect();
    let day = electricity(&d).first().and_then(|v| v.offtake_wh);
    (day, quarters)
}

#[then(
    expr = "the day volume ESP {word} reads for {word} on the {word} meter equals the sum of its quarter hours"
)]
async fn day_is_sum(w: &mut LabWorld, esp: String, day: String, variant: String) {
    let (volume, quarters) = day_and_quarters(w, &esp, &variant, &day).await;
    assert_eq!(quarters.len(), 96, "a summer day has 96 quarters");
    let sum: Energy = quarters.iter().copied().sum();
    // Both are register differences, each boundary read once: they add up to the Wh.
    assert_eq!(volume, Some(sum), "the day against the sum of its quarters");
    assert!(sum > Energy::wh(1000), "a household draws more than 1 kWh a day: {sum}");
}

#[then(
    expr = "the June 2026 peak ESP {word} reads on the {word} meter is its highest quarter hour of {word}"
)]
async fn month_peak(w: &mut LabWorld, esp: String, variant: String, day: String) {
    let (_, quarters) = day_and_quarters(w, &esp, &variant, &day).await;
    let highest = quarters.iter().copied().max().expect("quarter hours of the day");
    let a = lab(w.lab().await.access.months(&esp, &variant, "2026-06-01", "2026-07-01").await);
    assert_eq!(a.status, 200, "{:?}", a.body);
    let month: w::MonthFigures = serde_json::from_value(a.body["months"][0].clone())
        .unwrap_or_else(|e| panic!("not a month ({e}): {}", a.body));
    let e = month.electricity;
    let peak = e.offtake_peak.expect("a peak").power_w;
    // R-DAT-3: the peak is the highest quarter-hour value, as power (Wh × 4, exactly).
    assert_eq!(peak.as_w(), highest.as_wh() * 4, "peak against the highest quarter {highest}");
    // A month with missing days has no volume: a partial sum would read as a small month.
    assert_eq!(e.offtake_wh, None, "{e:?}");
}

#[then(
    expr = "the CSV ESP {word} downloads for {word} on the {word} meter has the same quarter hours"
)]
async fn csv_matches(w: &mut LabWorld, esp: String, day: String, variant: String) {
    let (_, quarters) = day_and_quarters(w, &esp, &variant, &day).await;
    let (from, to) = ::clock::day_bounds(::clock::local_date(local(&day)));
    let csv = lab(w.lab().await.access.energy_csv(&esp, &variant, "quarter-hour", from, to).await);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("start,end,offtake_kwh,injection_kwh,quality"));
    let values: Vec<&str> = lines.map(|l| l.split(',').nth(2).unwrap_or("")).collect();
    assert_eq!(values.len(), quarters.len());
    // kWh with three decimals: the JSON's whole Wh, written exactly.
    for (c, j) in values.iter().zip(&quarters) {
        assert_eq!(*c, j.kwh_text(), "CSV {c} vs JSON {j}");
    }
}

#[then(expr = "the live samples ESP {word} received are {int} second(s) apart")]
async fn samples_apart(w: &mut LabWorld, esp: String, secs: i64) {
    let times: Vec<Timestamp> = events(w, &esp)
        .iter()
        .filter_map(|x| x.strip_prefix("sample@"))
        .filter_map(|t| t.parse().ok())
        .collect();
    assert!(times.len() >= 5, "{}", bxl_all(&times));
    // R-NRT-1: granularity down to the second, every sample, in order.
    for pair in times.windows(2) {
        assert_eq!(pair[1].duration_since(pair[0]).as_secs(), secs, "{}", bxl_all(&times));
    }
}
