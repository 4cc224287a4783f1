//! One documented example per request body of the OpenAPI document: what a client would
//! send. The document carries each under its media type; a test reads each back into the
//! body's `wire` type, and the CI probe validates each against the document's schema with an
//! outside validator (jsonschema-rs).

use serde_json::{Value, json};

/// A grid operator's EAN-18 (GS1 check digit valid): an access point, and its electricity
/// data service point.
const ACCESS_POINT: &str = "541448800000000017";
const DSP: &str = "541448800000000024";
/// A KBO number with a valid mod-97 check.
const KBO: &str = "0123456749";

/// The example body of `method path`, if it takes one.
pub(crate) fn request(method: &str, path: &str) -> Option<Value> {
    let v = match (method, path) {
        ("POST", "/api/ingest/v1/uploads") => json!({ "uploads": [{
            "dongle": "rig-a-meter-01",
            "seq": 4711,
            "captured_at": "2026-06-01T08:00:00.412Z",
            "telegram": "/FLU5\\253769484_A\r\n\r\n0-0:96.1.4(50217)\r\n0-0:1.0.0(260601100000S)\r\n1-0:1.8.1(000123.456*kWh)\r\n1-0:1.7.0(01.193*kW)\r\n!6A1B\r\n",
            "crc_ok": true,
            "sig": "5e3c0a8d2b7f41c69e0d3a1b8c4f7e2d9a6b3c0f1e4d7a2b5c8f0e3d6a9b2c5f",
        }]}),
        ("POST", "/api/ingest/v1/amr/{meter}") => json!({
            "meter": "AMR-0001",
            "quarters": [{
                "start": "2026-06-01T08:00:00Z",
                "active_import_wh": 1250,
                "active_export_wh": 0,
                "reactive_import_varh": 310,
                "reactive_export_varh": 0,
                "production_wh": 0,
                "auxiliary_wh": 13,
            }],
        }),
        ("POST", "/api/admin/v1/dongles") => json!({
            "id": "rig-a-meter-01",
            "key_hex": "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
            "meter": "1SAG3100042002",
            "interval_s": 1,
        }),
        ("POST", "/api/admin/v1/incidents/{id}/notes") => {
            json!({ "text": "dongle power-cycled on site; uploads resumed" })
        }
        ("POST", "/api/admin/v1/tokens") => json!({
            "party": { "role": "grid_user", "id": "gu-0042" },
            "label": "portal login of gu-0042",
        }),
        ("POST", "/api/admin/v1/esps") => json!({ "esp": {
            "kbo": KBO,
            "gln": null,
            "name": "Watt Insights",
            "channel": "api",
            "status": "active",
            "webhook_url": "https://esp.example/meterlab/webhooks",
            "services": [{ "id": "live", "name": "Live power", "needs": ["nrt"] }],
        }}),
        ("POST", "/api/admin/v1/esps/{kbo}/credentials") => {
            json!({ "token": true, "webhook_secret": false })
        }
        ("POST", "/api/esp/v1/credentials") => json!({ "token": false, "webhook_secret": true }),
        ("PATCH", "/api/admin/v1/esps/{kbo}") | ("PATCH", "/api/esp/v1/profile") => {
            json!({ "webhook_url": "https://esp.example/hooks/meterlab" })
        }
        ("POST", "/api/admin/v1/esps/{kbo}/suspend") => {
            json!({ "reason": "the yearly certification check failed (case ESP-NRT-03)" })
        }
        ("POST", "/api/admin/v1/access-points") => json!({
            "access_point": {
                "ean": ACCESS_POINT,
                "commodity": "electricity",
                "address": "Kerkstraat 1, 9000 Gent",
                "data_service_points": [DSP],
            },
            "data_service_points": [{
                "id": DSP,
                "access_point": ACCESS_POINT,
                "commodity": "electricity",
                "meter": "1SAG3100042002",
            }],
            "grid_user": "gu-0042",
            "supplier": "supplier-1",
            "since": "2025-06-01T00:00:00+02:00",
        }),
        ("POST", "/api/admin/v1/links") => json!({ "link": {
            "dongle": "rig-a-meter-01",
            "meter": "1SAG3100042002",
            "data_service_point": DSP,
            "since": "2026-06-01T00:00:00+02:00",
        }}),
        ("POST", "/api/admin/v1/market-scenarios") => json!({
            "access_point": ACCESS_POINT,
            "kind": "MI",
            "effective": "2026-07-01T00:00:00",
            "new_grid_user": "gu-0043",
            "new_supplier": "supplier-2",
        }),
        ("POST", "/api/admin/v1/outage") => {
            json!({ "active": true, "reason": "planned database maintenance" })
        }
        ("POST", "/api/registers/v1/dienstverlener/{kbo}/stappenplan") => json!({
            "data_service_point": DSP,
            "scope": "with_interval",
            "period_from": "2026-06-01",
            "period_to": "2027-06-01",
            "history": true,
        }),
        ("POST", "/api/registers/v1/terms") => json!({ "access_point": ACCESS_POINT }),
        ("POST", "/api/registers/v1/consents") => {
            json!({ "data_service_point": DSP, "esp": KBO, "service": "live" })
        }
        ("POST", "/api/esp/v1/mandates/status") => json!({ "points": [DSP] }),
        _ => return None,
    };
    Some(v)
}
