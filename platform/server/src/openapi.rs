//! The OpenAPI 3.1 document served at `/openapi.json`, built from one table whose request
//! bodies are the handlers' own serde types (their JSON Schemas derived by `schemars`, so a
//! renamed field changes the document too). A test checks that the table and the router list
//! the same routes, so the document cannot drift.

use schemars::{JsonSchema, Schema, SchemaGenerator};

/// The JSON Schema of a request body.
pub(crate) type BodySchema = fn(&mut SchemaGenerator) -> Schema;

/// `T`'s schema, for [`Op::body`].
pub(crate) fn body<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// What a query parameter holds.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    /// A Brussels day, a Brussels wall-clock time or RFC 3339.
    Time,
    /// An EAN-18.
    Ean,
    /// Free text.
    Text,
    /// One of these words.
    OneOf(&'static [&'static str]),
}

/// One query parameter: name, description, required, what it holds.
pub(crate) type Param = (&'static str, &'static str, bool, Kind);

/// One documented operation.
pub(crate) struct Op {
    pub(crate) method: &'static str,
    pub(crate) path: &'static str,
    pub(crate) tag: &'static str,
    pub(crate) summary: &'static str,
    /// Who may call it (`public`, `admin`, `operator`, `grid-user`, `esp`, `dongle`, `head-end`).
    pub(crate) roles: &'static [&'static str],
    /// Query parameters.
    pub(crate) query: &'static [Param],
    /// The JSON body's schema, when it takes one.
    pub(crate) body: Option<BodySchema>,
    /// Success status.
    pub(crate) ok: u16,
}

const PERIOD: &[Param] = &[
    (
        "from",
        "start of the half-open period [from, to): 2026-06-01 (a Brussels day), 2026-06-01T10:00:00 (Brussels) or RFC 3339",
        true,
        Kind::Time,
    ),
    ("to", "end of the period, exclusive", true, Kind::Time),
];

const ENERGY: &[Param] = &[
    (
        "granularity",
        "day | quarter-hour (electricity) | hour (gas); default quarter-hour",
        false,
        Kind::OneOf(&["day", "quarter-hour", "hour"]),
    ),
    (
        "from",
        "start of the half-open period [from, to); a Brussels day has 92, 96 or 100 quarters",
        true,
        Kind::Time,
    ),
    (
        "to",
        "end of the period, exclusive; at most 31 days for quarter-hour/hour, 367 for day",
        true,
        Kind::Time,
    ),
    ("format", "json (default) or csv", false, Kind::OneOf(&["json", "csv"])),
];

pub(crate) const OPS: &[Op] = &[
    Op {
        method: "GET",
        path: "/health",
        tag: "platform",
        summary: "Liveness, store backend and platform time",
        roles: &["public"],
        query: &[],
        body: None,
        ok: 200,
    },
    Op {
        method: "GET",
        path: "/metrics",
        tag: "platform",
        summary: "Prometheus metrics: ingest counters and supervision",
        roles: &["public"],
        query: &[],
        body: None,
        ok: 200,
    },
    Op {
        method: "GET",
        path: "/openapi.json",
        tag: "platform",
        summary: "This document",
        roles: &["public"],
        query: &[],
        body: None,
        ok: 200,
    },
    Op {
        method: "POST",
        path: "/api/ingest/v1/uploads",
        tag: "ingest",
        summary: "A batch of HMAC-signed dongle uploads (R-NRT-2)",
        roles: &["dongle"],
        query: &[],
        body: Some(body::<wire::ingest::v1::Batch>),
        ok: 200,
    },
    Op {
        method: "POST",
        path: "/api/ingest/v1/amr/{meter}",
        tag: "ingest",
        summary: "AMR quarter hours from the head-end (R-DAT-2)",
        roles: &["head-end"],
        query: &[],
        body: Some(body::<wire::ingest::v1::AmrBatch>),
        ok: 200,
    },
    Op {
        method: "POST",
        path: "/api/admin/v1/dongles",
        tag: "supervision",
        summary: "Register a dongle with its key, meter and interval (R-NRT-10)",
        roles: &["admin", "operator"],
        query: &[],
        body: Some(body::<crate::http::NewDongle>),
        ok: 201,
    },
    Op {
        method: "GET",
        path: "/api/admin/v1/dongles",
        tag: "supervision",
        summary: "Dongle connection status, frequency and quality (R-NRT-9)",
        roles: &["admin", "operator"],
        query: &[],
        body: None,
        ok: 200,
    },
    Op {
        method: "GET",
        path: "/api/admin/v1/incidents",
        tag: "supervision",
        summary: "The incident register",
        roles: &["admin", "operator"],
        query: &[],
        body: None,
        ok: 200,
    },
    Op {
        method: "POST",
        path: "/api/admin/v1/incidents/{id}/notes",
        tag: "supervision",
        summary: "Add a note to an incident",
        roles: &["admin", "operator"],
        query: &[],
        body: Some(body::<crate::http::Note>),
        ok: 204,
    },
    Op {
        method: "GET",
        path: "/api/admin/v1/kpis",
        tag: "supervision",
        summary: "Availability, latency, success rate, regularity over a period",
        roles: &["admin", "operator"],
        query: PERIOD,
        body: None,
        ok: 200,
    },
    Op {
        method: "GET",
        path: "/api/admin/v1/sla",
        tag: "supervision",
        summary: "R-SLA-1/2 per dongle: daily data within 5 days, monthly within 15, from stored receive times",
        roles: &["admin", "operator"],
        query: &[
            ("from", "first day", true, Kind::Time),
            ("to", "day after the last", true, Kind::Time),
            ("dongle", "one dongle", false, Kind::Text),
            (
                "count",
                "calendar (default, seed 000) or working (Belgian working days)",
                false,
                Kind::OneOf(&["calendar", "working"]),
            ),
        ],
        body: None,
        ok: 200,
    },
    Op {
        method: "GET",
        path: "/api/admin/v1/dongles/{id}/quarter-hours",
        tag: "supervision",
        summary: "Derived quarter hours of a dongle",
        roles: &["admin", "operator"],
        query: PERIOD,
        body: None,
        ok: 200,
    },
    Op {
        method: "GET",
        path: "/api/admin/v1/dongles/{id}/days",
        tag: "supervision",
        summary: "Derived days of a dongle",
        roles: &["admin", "operator"],
        query: PERIOD,
        body: None,
        ok: 200,
    },
    Op {
        method: "GET",
        path: "/api/admin/v1/dongles/{id}/months",
        tag: "supervision",
        summary: "Monthly volumes and peaks of a dongle",
        roles: &["admin", "operator"],
        query: PERIOD,
        body: None,
        ok: 200,
    },
    Op {
        method: "GET",
        path: "/api/admin/v1/dongles/{id}/uploads/{seq}",
        tag: "supervision",
        summary: "One stored upload, raw telegram included",
        roles: &["admin", "operator"],
        query: &[],
        body: None,
        ok: 200,
    },
    Op {
        method: "POST",
        path: "/api/admin/v1/tokens",
        tag: "admin",
        summary: "Issue a token for a party (stored hashed)",
        roles: &["admin"],
        query: &[],
        body: Some(body::<crate::api::NewToken>),
        ok: 201,
    },
    Op {
        method: "POST",
        path: "/api/admin/v1/esps",
        tag: "admin",
        summary: "Onboard an ESP: contract, API token, webhook secret (R-ACC-4)",
        roles: &["admin"],
        query: &[],
        body: Some(body::<crate::api::NewEsp>),
        ok: 201,
    },
    Op {
        method: "POST",
        path: "/api/admin/v1/esps/{kbo}/credentials",
        tag: "admin",
        summary: "Issue an ESP a new API token (old ones stop at once) and/or webhook secret; repairs a half-onboarded ESP",
        roles: &["admin"],
        query: &[],
        body: Some(body::<crate::api::Rotate>),
        ok: 201,
    },
    Op {
        method: "POST",
        path: "/api/admin/v1/access-points",
        tag: "admin",
        summary: "Register an access point, its data service points and grid user",
        roles: &["admin"],
        query: &[],
        body: Some(body::<crate::api::NewPoint>),
        ok: 201,
    },
    Op {
        method: "POST",
        path: "/api/admin/v1/links",
        tag: "admin",
        summary: "Link a dongle to a meter and data service point (R-NRT-10)",
        roles: &["admin", "operator"],
        query: &[],
        body: Some(body::<crate::api::NewLink>),
        ok: 201,
    },
    Op {
        method: "POST",
        path: "/api/admin/v1/market-scenarios",
        tag: "admin",
        summary: "Apply a market scenario: SS, CS, CCSS, MI, MO, MOZA, EOC, DROP (R-MAN-5, R-NRT-7)",
        roles: &["admin"],
        query: &[],
        body: Some(body::<crate::api::NewScenario>),
        ok: 201,
    },
    Op {
        method: "POST",
        path: "/api/admin/v1/outage",
        tag: "admin",
        summary: "Declare or end an unplanned outage (R-SLA-3)",
        roles: &["admin"],
        query: &[],
        body: Some(body::<crate::api::Outage>),
        ok: 200,
    },
    Op {
        method: "GET",
        path: "/api/admin/v1/access-log",
        tag: "admin",
        summary: "The whole access register (R-ACC-1)",
        roles: &["admin"],
        query: &[
            ("point", "a data service point", false, Kind::Ean),
            ("party", "esp:KBO, grid-user:ID, admin", false, Kind::Text),
        ],
        body: None,
        ok: 200,
    },
    Op {
        method: "GET",
        path: "/api/admin/v1/registers",
        tag: "admin",
        summary: "Every access point with its mandates, consents and occupancy",
        roles: &["admin"],
        query: &[],
        body: None,
        ok: 200,
    },
    Op {
        method: "GET",
        path: "/api/admin/v1/deliveries",
        tag: "admin",
        summary: "Every webhook delivery and its attempts",
        roles: &["admin"],
        query: &[],
        body: None,
        ok: 200,
    },
    Op {
        method: "POST",
        path: "/api/registers/v1/dienstverlener/{kbo}/stappenplan",
        tag: "registers",
        summary: "Grant a mandate through the ESP's step-plan link (R-MAN-2, R-MAN-7)",
        roles: &["grid-user"],
        query: &[],
        body: Some(body::<crate::api::MandateRequest>),
        ok: 201,
    },
    Op {
        method: "POST",
        path: "/api/registers/v1/mandates/{id}/approve",
        tag: "registers",
        summary: "Approve a mandate (customer) or co-consent (grid user, R-MAN-3)",
        roles: &["grid-user"],
        query: &[],
        body: None,
        ok: 200,
    },
    Op {
        method: "POST",
        path: "/api/registers/v1/mandates/{id}/reject",
        tag: "registers",
        summary: "Reject a requested mandate",
        roles: &["grid-user"],
        query: &[],
        body: None,
        ok: 200,
    },
    Op {
        method: "POST",
        path: "/api/registers/v1/mandates/{id}/end",
        tag: "registers",
        summary: "End a mandate: customer or grid user only (R-MAN-4)",
        roles: &["grid-user"],
        query: &[],
        body: None,
        ok: 200,
    },
    Op {
        method: "POST",
        path: "/api/registers/v1/terms",
        tag: "registers",
        summary: "Accept the terms for NRT data collection (R-NRT-5)",
        roles: &["grid-user"],
        query: &[],
        body: Some(body::<crate::api::Terms>),
        ok: 200,
    },
    Op {
        method: "POST",
        path: "/api/registers/v1/consents",
        tag: "registers",
        summary: "Consent to an ESP service from the catalogue (R-NRT-5, R-NRT-8)",
        roles: &["grid-user"],
        query: &[],
        body: Some(body::<crate::api::NewConsent>),
        ok: 201,
    },
    Op {
        method: "POST",
        path: "/api/registers/v1/consents/{id}/revoke",
        tag: "registers",
        summary: "Revoke a consent, effective at once (R-NRT-6)",
        roles: &["grid-user"],
        query: &[],
        body: None,
        ok: 200,
    },
    Op {
        method: "GET",
        path: "/api/registers/v1/points/{ean}",
        tag: "registers",
        summary: "A point's mandates, consents and occupancy (own only for grid users)",
        roles: &["admin", "grid-user"],
        query: &[],
        body: None,
        ok: 200,
    },
    Op {
        method: "GET",
        path: "/api/registers/v1/points/{ean}/access-log",
        tag: "registers",
        summary: "Who accessed this point's data, during your occupancy (R-ACC-5)",
        roles: &["admin", "grid-user"],
        query: &[],
        body: None,
        ok: 200,
    },
    Op {
        method: "GET",
        path: "/api/registers/v1/points/{ean}/parties",
        tag: "registers",
        summary: "Third parties with access now (R-ACC-5)",
        roles: &["admin", "grid-user"],
        query: &[],
        body: None,
        ok: 200,
    },
    Op {
        method: "GET",
        path: "/api/esp/v1/points/{ean}/energy",
        tag: "esp",
        summary: "Energy of a data service point: only the mandated or owned part of the period (R-DAT-1, R-DAT-5)",
        roles: &["esp", "grid-user", "admin"],
        query: ENERGY,
        body: None,
        ok: 200,
    },
    Op {
        method: "GET",
        path: "/api/esp/v1/points/{ean}/months",
        tag: "esp",
        summary: "Monthly volumes and peaks (R-DAT-3)",
        roles: &["esp", "grid-user", "admin"],
        query: PERIOD,
        body: None,
        ok: 200,
    },
    Op {
        method: "GET",
        path: "/api/esp/v1/points/{ean}/stream",
        tag: "esp",
        summary: "Near-real-time samples as server-sent events for a consented service (R-NRT-5, R-NRT-6)",
        roles: &["esp", "grid-user", "admin"],
        query: &[],
        body: None,
        ok: 200,
    },
    Op {
        method: "POST",
        path: "/api/esp/v1/mandates/status",
        tag: "esp",
        summary: "Mandate status of many data service points (R-MAN-8)",
        roles: &["esp"],
        query: &[],
        body: Some(body::<crate::api::StatusRequest>),
        ok: 200,
    },
    Op {
        method: "GET",
        path: "/api/esp/v1/mandates",
        tag: "esp",
        summary: "Your mandates, with renewal-due signals (R-MAN-1)",
        roles: &["esp"],
        query: &[],
        body: None,
        ok: 200,
    },
    Op {
        method: "GET",
        path: "/api/esp/v1/deliveries",
        tag: "esp",
        summary: "Your webhook deliveries and their attempts",
        roles: &["esp"],
        query: &[],
        body: None,
        ok: 200,
    },
];

/// Error codes a client can rely on, with their meaning.
pub(crate) const ERROR_CODES: &[(&str, &str)] = &[
    ("unauthorized", "no or unknown bearer token"),
    ("forbidden_role", "the token's role may not use this operation or point"),
    ("rate_limited", "too many requests; see Retry-After"),
    ("unplanned_outage", "the service is (partly) unavailable; see Retry-After (R-SLA-3)"),
    ("unavailable", "the store failed; retry"),
    ("nul_character", "a path (404), query or body (422) holds a NUL character"),
    ("bad_dongle_id", "the dongle id is empty"),
    ("malformed", "the body is not JSON, or an upload's text holds a NUL character"),
    (
        "invalid_body",
        "the body is JSON of the wrong shape or breaks a rule (a check digit, an unknown value)",
    ),
    ("unsupported_media_type", "send Content-Type: application/json"),
    ("bad_time", "a time could not be read"),
    ("period_missing", "from/to missing"),
    ("period_reversed", "to is not after from"),
    ("period_too_long", "the period exceeds the maximum for the granularity"),
    ("granularity_unknown", "granularity is not day, quarter-hour or hour"),
    ("granularity_not_for_commodity", "quarter hours are electricity, hours gas"),
    ("format_unknown", "format is not json or csv"),
    ("ean_invalid_length", "an EAN has 18 digits"),
    ("ean_not_digits", "an EAN is digits only"),
    ("ean_check_digit", "the EAN's GS1 check digit is wrong"),
    ("kbo_invalid_length", "a KBO number has 10 digits"),
    ("kbo_not_digits", "a KBO number is digits (dots and BE allowed)"),
    ("kbo_check", "the KBO number's mod-97 check fails"),
    ("unknown_point", "no such data service point"),
    ("no_mandate", "no approved mandate of yours covers this point"),
    ("mandate_not_approved", "the mandate is not approved (yet)"),
    ("mandate_expired", "the mandate passed its three years (R-MAN-1)"),
    ("scope_excludes_granularity", "the mandate covers day data only (R-MAN-2)"),
    ("no_consent", "no live NRT consent for this point"),
    ("outside_occupancy", "the period is outside your occupancy of the point (R-NRT-7)"),
    ("esp_not_active", "your data-access contract is not active"),
    ("outside_period", "a mandate or consent exists but covers none of the period asked"),
    ("esp_exists", "the ESP is onboarded already: rotate its credentials instead"),
    ("nothing_to_rotate", "a credentials request that asks for neither token nor webhook secret"),
    ("bad_request", "the path or query could not be read"),
    ("not_found", "no such route"),
    ("method_not_allowed", "the route does not take that method"),
    ("too_large", "the body is larger than the limit"),
    ("internal", "the platform failed; the answer carries a request_id to quote"),
    ("unknown_esp", "no ESP with that KBO number"),
    ("unknown_mandate", "no such mandate"),
    ("unknown_consent", "no such consent"),
    ("already_decided", "the mandate was approved, rejected or ended already"),
    ("not_grid_user", "you are not the grid user of that point"),
    ("terms_not_accepted", "accept the terms for the access point first (R-NRT-5)"),
    (
        "forbidden",
        "the registers refuse this party the action (e.g. an ESP ending a mandate, R-MAN-4)",
    ),
    ("duplicate", "the same grant exists already"),
];

/// The schema of a path parameter of `path`, by its name.
fn path_param(path: &str, name: &str, g: &mut SchemaGenerator) -> serde_json::Value {
    let schema = match name {
        "ean" => g.subschema_for::<domain::Ean>(),
        "kbo" => g.subschema_for::<domain::Kbo>(),
        // Sequence and incident numbers: what a JSON number holds exactly.
        "seq" => integer(),
        "id" if path.contains("/incidents/") => integer(),
        _ => schemars::json_schema!({ "type": "string", "minLength": 1 }),
    };
    serde_json::to_value(schema).unwrap_or_default()
}

fn integer() -> Schema {
    schemars::json_schema!({ "type": "integer", "minimum": 0, "maximum": 9_007_199_254_740_991_u64 })
}

fn query_param(kind: Kind) -> serde_json::Value {
    match kind {
        Kind::Time => serde_json::json!({ "anyOf": [
            { "type": "string", "format": "date" },
            { "type": "string", "format": "date-time" },
        ] }),
        Kind::Ean => serde_json::json!({ "type": "string", "pattern": "^[0-9]{18}$" }),
        Kind::Text => serde_json::json!({ "type": "string" }),
        Kind::OneOf(words) => serde_json::json!({ "type": "string", "enum": words }),
    }
}

/// Every status an operation can answer besides its success: each is an error body with a
/// stable code.
const ERROR_STATUSES: [&str; 10] =
    ["400", "401", "403", "404", "409", "413", "415", "422", "429", "503"];

fn op_json(op: &Op, g: &mut SchemaGenerator) -> serde_json::Value {
    let mut params: Vec<serde_json::Value> = op
        .path
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            let schema = path_param(op.path, name, g);
            serde_json::json!({ "name": name, "in": "path", "required": true, "schema": schema })
        })
        .collect();
    params.extend(op.query.iter().map(|(name, desc, required, kind)| {
        serde_json::json!({
            "name": name, "in": "query", "required": required, "description": desc,
            "schema": query_param(*kind),
        })
    }));
    let mut responses = serde_json::Map::new();
    responses.insert(op.ok.to_string(), serde_json::json!({ "description": "success" }));
    let error = serde_json::json!({
        "description": "error with a stable code (see x-error-codes)",
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ApiError" } } },
    });
    // Ingest answers a refused upload with its receipt (what was stored, what was refused).
    let error = if op.path == "/api/ingest/v1/uploads" {
        serde_json::json!({
            "description": "an error with a stable code, or the batch's receipt listing the refused uploads",
            "content": { "application/json": { "schema": { "anyOf": [
                { "$ref": "#/components/schemas/ApiError" },
                serde_json::to_value(g.subschema_for::<wire::ingest::v1::Receipt>()).unwrap_or_default(),
            ] } } },
        })
    } else {
        error
    };
    for code in ERROR_STATUSES {
        responses.insert(code.into(), error.clone());
    }
    let mut v = serde_json::json!({
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": params,
        "responses": responses,
        "x-roles": op.roles,
    });
    if !op.roles.contains(&"public") && !op.roles.contains(&"dongle") {
        v["security"] = serde_json::json!([{ "bearer": [] }]);
    }
    if let Some(body) = op.body {
        let schema = serde_json::to_value(body(g)).unwrap_or_default();
        // Rotating credentials takes no body for "both" (the common case).
        let required = !op.path.ends_with("/credentials");
        v["requestBody"] = serde_json::json!({
            "required": required,
            "content": { "application/json": { "schema": schema } },
        });
    }
    v
}

/// The document.
pub(crate) fn document() -> serde_json::Value {
    let mut g = schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| s.definitions_path = "/components/schemas".into())
        .into_generator();
    g.subschema_for::<wire::ApiError>();
    let mut paths = serde_json::Map::new();
    for op in OPS {
        let entry = paths.entry(op.path).or_insert_with(|| serde_json::json!({}));
        entry[op.method.to_lowercase()] = op_json(op, &mut g);
    }
    let schemas = g.take_definitions(true);
    serde_json::json!({
        "openapi": "3.1.0",
        "info": {
            "title": "meterlab reference data platform",
            "version": "1",
            "description": "Ingest, registers (mandates, NRT consents, market scenarios), the ESP API and the access register. Periods are half-open [from, to) in Europe/Brussels; every refusal is recorded in the access register. Errors: 400 a body or parameter that cannot be read, 422 one that breaks a rule no schema can hold (a check digit, a reversed period), 404 a path that names nothing (or nothing of yours).",
        },
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": schemas,
        },
        "x-error-codes": ERROR_CODES.iter().map(|(c, m)| (c.to_string(), serde_json::Value::from(*m))).collect::<serde_json::Map<_, _>>(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    #[test]
    fn the_document_lists_exactly_the_routes_the_router_serves() {
        let routed: BTreeSet<(&str, &str)> =
            crate::http::all_routes().iter().map(|(m, p, _)| (*m, *p)).collect();
        let documented: BTreeSet<(&str, &str)> =
            super::OPS.iter().map(|o| (o.method, o.path)).collect();
        assert_eq!(routed.len(), crate::http::all_routes().len(), "a route is listed twice");
        assert_eq!(documented.len(), super::OPS.len(), "an operation is documented twice");
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        let unrouted: Vec<_> = documented.difference(&routed).collect();
        assert!(
            undocumented.is_empty(),
            "routes missing from the OpenAPI document: {undocumented:?}"
        );
        assert!(unrouted.is_empty(), "documented but not routed: {unrouted:?}");
    }

    #[test]
    fn every_body_has_a_schema_and_every_reference_resolves() {
        let doc = super::document();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        fn refs(v: &serde_json::Value, out: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(o) => {
                    if let Some(r) = o.get("$ref").and_then(|r| r.as_str()) {
                        out.push(r.to_owned());
                    }
                    o.values().for_each(|v| refs(v, out));
                }
                serde_json::Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(!all.is_empty());
        for r in all {
            let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("{r}"));
            assert!(schemas.contains_key(name), "{r} does not resolve");
        }
        for op in super::OPS.iter().filter(|o| o.body.is_some()) {
            let body = &doc["paths"][op.path][op.method.to_lowercase()]["requestBody"];
            let schema = &body["content"]["application/json"]["schema"];
            assert!(schema.is_object() && schema != &serde_json::json!({}), "{}", op.path);
        }
        // The onboarding body names its fields (the optional ones not required), with the
        // KBO's pattern.
        let esp = &schemas["Esp"];
        let required: Vec<&str> =
            esp["required"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
        assert_eq!(required, ["kbo", "name", "channel", "status", "services"], "{esp}");
        assert!(schemas["Kbo"]["pattern"].is_string());
    }

    #[test]
    fn every_operation_names_who_may_call_it_and_its_path_parameters() {
        let doc = super::document();
        for op in super::OPS {
            assert!(!op.roles.is_empty(), "{} {}", op.method, op.path);
            let v = &doc["paths"][op.path][op.method.to_lowercase()];
            let params = v["parameters"].as_array().unwrap();
            for seg in op.path.split('/').filter(|s| s.starts_with('{')) {
                let name = seg.trim_matches(|c| c == '{' || c == '}');
                assert!(
                    params.iter().any(|p| p["name"] == name && p["in"] == "path"),
                    "{}",
                    op.path
                );
            }
        }
    }
}
