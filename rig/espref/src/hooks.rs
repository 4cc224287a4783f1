//! The reference ESP's webhook endpoint: a real HTTP listener that verifies each delivery's
//! signature (HMAC-SHA256 of the body under the ESP's secret; during a rotation the header
//! carries one per secret and either may match), answers a delivery it has seen before with
//! 200 without acting again, and hands the events to the poll loop.

use crate::{Esp, Misbehaviour};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{KeyInit, Mac};
use std::sync::Arc;

/// An event the platform pushed, as the reference reads it.
#[derive(Debug, Clone, serde::Deserialize)]
pub(crate) struct Pushed {
    pub(crate) delivery: String,
    pub(crate) event: String,
    #[serde(default)]
    pub(crate) mandate: Option<String>,
    #[serde(default)]
    pub(crate) consent: Option<String>,
    #[serde(default)]
    pub(crate) point: Option<domain::Ean>,
}

/// Whether one of the header's `sha256=…` values is the body's HMAC under `secret`
/// (compared in constant time by the MAC itself).
pub fn verify(secret: &str, body: &[u8], header: &str) -> bool {
    header.split(',').filter_map(|v| v.trim().strip_prefix("sha256=")).any(|hex| {
        let Some(tag) = wire::unhex(hex) else { return false };
        let Ok(mut mac) = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        else {
            return false;
        };
        mac.update(body);
        mac.verify_slice(&tag).is_ok()
    })
}

pub(crate) async fn receive(
    State(esp): State<Arc<Esp>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let signature = headers.get("x-meterlab-signature").and_then(|v| v.to_str().ok()).unwrap_or("");
    let trusting = esp.bad == Some(Misbehaviour::AcceptsForgedWebhooks);
    if !trusting && !verify(&esp.secret, &body, signature) {
        tracing::warn!("webhook refused: its signature does not verify under our secret");
        return (StatusCode::UNAUTHORIZED, "signature does not verify");
    }
    let Ok(p) = serde_json::from_slice::<Pushed>(&body) else {
        return (StatusCode::BAD_REQUEST, "not a webhook body");
    };
    if !esp.first_delivery(&p.delivery) {
        return (StatusCode::OK, "seen before");
    }
    esp.pushed(p).await;
    (StatusCode::OK, "ok")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, body: &[u8]) -> String {
        let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
            .expect("any key length");
        mac.update(body);
        format!("sha256={}", wire::hex(&mac.finalize().into_bytes()))
    }

    #[test]
    fn either_signature_of_a_rotation_verifies_and_nothing_else_does() {
        let body = br#"{"delivery":"D1"}"#;
        let good = sign("s1", body);
        assert!(verify("s1", body, &good));
        assert!(verify("s1", body, &format!("{},{good}", sign("s0", body))));
        assert!(!verify("s2", body, &good));
        assert!(!verify("s1", b"{}", &good), "another body");
        for garbage in ["", "sha256=", "sha256=zz", "sha256=abc", "md5=00", &good[..20]] {
            assert!(!verify("s1", body, garbage), "{garbage:?}");
        }
    }
}
