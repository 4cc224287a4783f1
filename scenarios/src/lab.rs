//! Wiring shared by the commands that run rigs against a platform.

use anyhow::{Context, Result, bail};
use clock::Timestamp;
use std::sync::Arc;

/// A simulated dongle for a rig meter: a fresh key, registered with the platform (its admin
/// API keeps the dongle ↔ meter link, R-NRT-10), uploading over REST.
pub(crate) async fn dongle_for(
    platform: &str,
    token: &str,
    rig: &str,
    meter_name: &str,
    index: u64,
    variant: &meter::Variant,
    start: Timestamp,
) -> Result<(dongle::Dongle, Arc<dyn runner::Uplink>)> {
    use std::io::Read;
    let mut key = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .context("reading /dev/urandom")?;
    let id = format!("{rig}-{meter_name}");
    let r = reqwest::Client::new()
        .post(format!("{}/api/admin/v1/dongles", platform.trim_end_matches('/')))
        .bearer_auth(token)
        .json(&serde_json::json!({
            "id": id,
            "key_hex": wire::hex(&key),
            "meter": variant.equipment_id,
            "interval_s": variant.interval_s,
        }))
        .send()
        .await
        .with_context(|| {
            format!("registering dongle {id} at {platform}: is the platform running?")
        })?;
    if r.status() == reqwest::StatusCode::UNAUTHORIZED
        || r.status() == reqwest::StatusCode::FORBIDDEN
    {
        bail!(
            "registering dongle {id}: the platform refused the token ({}); pass its admin or operator token with --token or MLAB_TOKEN",
            r.status()
        );
    }
    if !r.status().is_success() {
        bail!("registering dongle {id}: the platform answered {}", r.status());
    }
    let config = scenarios::dongle_config(id, key.to_vec(), index, variant)?;
    let uplink: Arc<dyn runner::Uplink> = Arc::new(runner::HttpUplink::new(platform)?);
    Ok((dongle::Dongle::new(config, start), uplink))
}
