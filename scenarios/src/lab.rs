//! Wiring shared by the commands that run rigs against a platform.

use anyhow::{Context, Result, bail};
use std::sync::Arc;

/// A dongle for a rig meter, registered with the platform under a fresh key (the admin API
/// keeps the dongle ↔ meter link, R-NRT-10): its id and key, for [`runner::Station::build`],
/// and its REST uplink.
pub(crate) async fn register_dongle(
    platform: &str,
    token: &str,
    rig: &str,
    meter_name: &str,
    variant: &meter::Variant,
) -> Result<((String, Vec<u8>), Arc<dyn runner::Uplink>)> {
    use std::io::Read;
    let mut key = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .context("reading /dev/urandom")?;
    let id = format!("{rig}-{meter_name}");
    let body = wire::api::v1::NewDongle {
        id: id.clone(),
        key_hex: wire::hex(&key),
        meter: Some(variant.equipment_id.clone()),
        interval_s: Some(variant.interval_s),
    };
    let r = reqwest::Client::new()
        .post(format!("{}/api/admin/v1/dongles", platform.trim_end_matches('/')))
        .bearer_auth(token)
        .json(&body)
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
    let uplink: Arc<dyn runner::Uplink> = Arc::new(runner::HttpUplink::new(platform)?);
    Ok(((id, key.to_vec()), uplink))
}
