//! The OpenAPI 3.1 document served at `/openapi.json`, built from one table whose request and
//! response bodies are `wire::api::v1`'s serde types (their JSON Schemas derived by
//! `schemars`, so a renamed field changes the document too), and whose error responses list,
//! per status, the [`Code`]s the route can answer. Tests check that the table and the router
//! list the same routes, that every body has a schema, and that every example reads back
//! into its type; the CI probes validate the examples and every live answer against the
//! schemas with outside validators (jsonschema, schemathesis).

use schemars::{JsonSchema, Schema, SchemaGenerator};
use std::collections::{BTreeMap, BTreeSet};
use wire::api::v1::{self as w, Code};

/// The JSON Schema of a body.
pub(crate) type BodySchema = fn(&mut SchemaGenerator) -> Schema;

/// `T`'s schema.
pub(crate) fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// A request body: its schema, and how a document of it reads back into its type (which
/// every documented example must).
#[derive(Clone, Copy)]
pub(crate) struct Body {
    pub(crate) schema: BodySchema,
    // Read by the tests (every documented example must read back), not by the server.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) reads_back: fn(serde_json::Value) -> Result<(), String>,
}

/// The body of type `T`.
pub(crate) const fn body<T: JsonSchema + serde::de::DeserializeOwned>() -> Body {
    Body { schema: schema::<T>, reads_back: reads_back::<T> }
}

fn reads_back<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<(), String> {
    serde_json::from_value::<T>(v).map(|_| ()).map_err(|e| e.to_string())
}

/// What a successful answer carries.
#[derive(Clone, Copy)]
pub(crate) enum Answer {
    /// A JSON body of this schema.
    Json(BodySchema),
    /// JSON of this schema, or CSV with `format=csv`.
    JsonOrCsv(BodySchema),
    /// Server-sent events whose `sample` events carry JSON of this schema.
    Events(BodySchema),
    /// Text of a media type, described.
    Text(&'static str, &'static str),
    /// No body (204).
    Empty,
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
    /// The JSON body, when it takes one (its example is in [`crate::examples`]).
    pub(crate) body: Option<Body>,
    /// Success status.
    pub(crate) ok: u16,
    /// The success answer.
    pub(crate) answer: Answer,
    /// The refusals particular to this route (those every route of its kind can answer,
    /// such as 401 or a body's 400, are added by [`refusals`]).
    pub(crate) errors: &'static [(u16, Code)],
}

/// A period's refusals.
const PERIOD_ERRORS: &[(u16, Code)] = &[
    (400, Code::PeriodMissing),
    (422, Code::BadTime),
    (422, Code::PeriodReversed),
    (422, Code::PeriodTooLong),
];

/// What the registers can refuse a command for (every variant, with its status).
const REGISTER_ERRORS: &[(u16, Code)] = &[
    (404, Code::UnknownEsp),
    (404, Code::UnknownPoint),
    (404, Code::UnknownMandate),
    (404, Code::UnknownConsent),
    (404, Code::UnknownService),
    (403, Code::Forbidden),
    (403, Code::NotGridUser),
    (409, Code::AlreadyDecided),
    (409, Code::Duplicate),
    (422, Code::EspNotActive),
    (422, Code::InvalidPoint),
    (422, Code::PeriodReversed),
    (422, Code::TermsNotAccepted),
    (422, Code::BackdateTooFar),
    (422, Code::ScenarioIncomplete),
    (409, Code::EspState),
    (422, Code::BadTime),
    (422, Code::EanInvalidLength),
    (422, Code::EanNotDigits),
    (422, Code::EanCheckDigit),
    (422, Code::KboInvalidLength),
    (422, Code::KboNotDigits),
    (422, Code::KboCheck),
];

/// The access decision's refusals, which every route reading a point's data can answer
/// (with the period's, [`PERIOD_ERRORS`]): added by [`refusals`].
const DECISION_ERRORS: &[(u16, Code)] = &[
    (404, Code::UnknownPoint),
    (403, Code::NoMandate),
    (403, Code::MandateNotApproved),
    (403, Code::MandateExpired),
    (403, Code::ScopeExcludesGranularity),
    (403, Code::NoConsent),
    (403, Code::OutsideOccupancy),
    (403, Code::OutsidePeriod),
    (403, Code::EspNotActive),
    (403, Code::WrongChannel),
    (403, Code::NotNeeded),
    (403, Code::Forbidden),
];

/// The energy route's own: its granularity and format.
const ENERGY_ERRORS: &[(u16, Code)] = &[
    (400, Code::GranularityUnknown),
    (400, Code::FormatUnknown),
    (422, Code::GranularityNotForCommodity),
];

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
        answer: Answer::Json(schema::<w::Health>),
        errors: &[],
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
        answer: Answer::Text("text/plain", "Prometheus text exposition format 0.0.4"),
        errors: &[],
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
        answer: Answer::Text("application/json", "this OpenAPI 3.1 document"),
        errors: &[],
    },
    Op {
        method: "POST",
        path: "/api/ingest/v1/uploads",
        tag: "ingest",
        summary: "A batch of HMAC-signed dongle uploads (R-NRT-2)",
        roles: &["dongle"],
        query: &[],
        body: Some(body::<wire::ingest::v1::Batch>()),
        ok: 200,
        answer: Answer::Json(schema::<wire::ingest::v1::Receipt>),
        errors: &[
            (400, Code::Malformed),
            (422, Code::InvalidBody),
            (413, Code::TooLarge),
            (503, Code::Unavailable),
        ],
    },
    Op {
        method: "POST",
        path: "/api/ingest/v1/amr/{meter}",
        tag: "ingest",
        summary: "AMR quarter hours from the head-end (R-DAT-2)",
        roles: &["head-end"],
        query: &[],
        body: Some(body::<wire::ingest::v1::AmrBatch>()),
        ok: 200,
        answer: Answer::Json(schema::<w::AmrStored>),
        errors: &[
            (401, Code::Unauthorized),
            (400, Code::Malformed),
            (422, Code::InvalidBody),
            (422, Code::MeterMismatch),
            (422, Code::NotAQuarter),
            (413, Code::TooLarge),
            (503, Code::Unavailable),
        ],
    },
    Op {
        method: "POST",
        path: "/api/admin/v1/dongles",
        tag: "supervision",
        summary: "Register a dongle with its key, meter and interval (R-NRT-10)",
        roles: &["admin", "operator"],
        query: &[],
        body: Some(body::<w::NewDongle>()),
        ok: 201,
        answer: Answer::Json(schema::<w::DongleRegistered>),
        errors: &[(422, Code::BadDongleId), (422, Code::BadKey)],
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
        answer: Answer::Json(schema::<Vec<w::DongleStatus>>),
        errors: &[],
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
        answer: Answer::Json(schema::<Vec<w::Incident>>),
        errors: &[],
    },
    Op {
        method: "POST",
        path: "/api/admin/v1/incidents/{id}/notes",
        tag: "supervision",
        summary: "Add a note to an incident",
        roles: &["admin", "operator"],
        query: &[],
        body: Some(body::<w::NewNote>()),
        ok: 204,
        answer: Answer::Empty,
        errors: &[(404, Code::NoIncident)],
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
        answer: Answer::Json(schema::<w::Kpis>),
        errors: PERIOD_ERRORS,
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
        answer: Answer::Json(schema::<Vec<w::DongleSla>>),
        errors: PERIOD_ERRORS,
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
        answer: Answer::Json(schema::<Vec<w::Interval>>),
        errors: PERIOD_ERRORS,
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
        answer: Answer::Json(schema::<Vec<w::DayVolume>>),
        errors: PERIOD_ERRORS,
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
        answer: Answer::Json(schema::<Vec<w::MonthFigures>>),
        errors: PERIOD_ERRORS,
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
        answer: Answer::Json(schema::<w::StoredUpload>),
        errors: &[(404, Code::NoUpload)],
    },
    Op {
        method: "POST",
        path: "/api/admin/v1/tokens",
        tag: "admin",
        summary: "Issue a token for a party (stored hashed)",
        roles: &["admin"],
        query: &[],
        body: Some(body::<w::NewToken>()),
        ok: 201,
        answer: Answer::Json(schema::<w::TokenIssued>),
        errors: &[],
    },
    Op {
        method: "POST",
        path: "/api/admin/v1/esps",
        tag: "admin",
        summary: "Onboard an ESP: contract, API token, webhook secret (R-ACC-4)",
        roles: &["admin"],
        query: &[],
        body: Some(body::<w::NewEsp>()),
        ok: 201,
        answer: Answer::Json(schema::<w::EspOnboarded>),
        errors: &[(409, Code::EspExists)],
    },
    Op {
        method: "POST",
        path: "/api/admin/v1/esps/{kbo}/credentials",
        tag: "admin",
        summary: "Issue an ESP a new API token (old ones stop at once) and/or webhook secret; repairs a half-onboarded ESP",
        roles: &["admin"],
        query: &[],
        body: Some(body::<w::Rotate>()),
        ok: 201,
        answer: Answer::Json(schema::<w::CredentialsIssued>),
        errors: &[(404, Code::UnknownEsp), (422, Code::NothingToRotate)],
    },
    Op {
        method: "PATCH",
        path: "/api/admin/v1/esps/{kbo}",
        tag: "admin",
        summary: "Change an ESP's webhook URL (null stops webhooks)",
        roles: &["admin"],
        query: &[],
        body: Some(body::<w::EspUpdate>()),
        ok: 200,
        answer: Answer::Json(schema::<domain::Esp>),
        errors: &[(404, Code::UnknownEsp), (422, Code::InvalidBody)],
    },
    Op {
        method: "POST",
        path: "/api/admin/v1/esps/{kbo}/suspend",
        tag: "admin",
        summary: "Suspend an ESP's contract: its access ends at once on every point (R-ACC-2)",
        roles: &["admin"],
        query: &[],
        body: Some(body::<w::Suspension>()),
        ok: 200,
        answer: Answer::Json(schema::<w::Notifications>),
        errors: &[(404, Code::UnknownEsp), (409, Code::EspState), (422, Code::InvalidBody)],
    },
    Op {
        method: "POST",
        path: "/api/admin/v1/esps/{kbo}/reinstate",
        tag: "admin",
        summary: "Reinstate a suspended ESP",
        roles: &["admin"],
        query: &[],
        body: None,
        ok: 200,
        answer: Answer::Json(schema::<w::Notifications>),
        errors: &[(404, Code::UnknownEsp), (409, Code::EspState)],
    },
    Op {
        method: "POST",
        path: "/api/admin/v1/access-points",
        tag: "admin",
        summary: "Register an access point, its data service points and grid user",
        roles: &["admin"],
        query: &[],
        body: Some(body::<w::NewPoint>()),
        ok: 201,
        answer: Answer::Json(schema::<w::Notifications>),
        errors: REGISTER_ERRORS,
    },
    Op {
        method: "POST",
        path: "/api/admin/v1/links",
        tag: "admin",
        summary: "Link a dongle to a meter and data service point (R-NRT-10)",
        roles: &["admin", "operator"],
        query: &[],
        body: Some(body::<w::NewLink>()),
        ok: 201,
        answer: Answer::Json(schema::<w::Notifications>),
        errors: REGISTER_ERRORS,
    },
    Op {
        method: "POST",
        path: "/api/admin/v1/market-scenarios",
        tag: "admin",
        summary: "Apply a market scenario: SS, CS, CCSS, MI, MO, MOZA, EOC, DROP (R-MAN-5, R-NRT-7)",
        roles: &["admin"],
        query: &[],
        body: Some(body::<w::NewScenario>()),
        ok: 201,
        answer: Answer::Json(schema::<w::Notifications>),
        errors: REGISTER_ERRORS,
    },
    Op {
        method: "POST",
        path: "/api/admin/v1/outage",
        tag: "admin",
        summary: "Declare or end an unplanned outage (R-SLA-3)",
        roles: &["admin"],
        query: &[],
        body: Some(body::<w::Outage>()),
        ok: 200,
        answer: Answer::Json(schema::<w::OutageState>),
        errors: &[],
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
        answer: Answer::Json(schema::<Vec<w::AccessEntry>>),
        errors: &[],
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
        answer: Answer::Json(schema::<w::RegistersView>),
        errors: &[],
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
        answer: Answer::Json(schema::<Vec<w::Delivery>>),
        errors: &[],
    },
    Op {
        method: "POST",
        path: "/api/registers/v1/dienstverlener/{kbo}/stappenplan",
        tag: "registers",
        summary: "Grant a mandate through the ESP's step-plan link (R-MAN-2, R-MAN-7)",
        roles: &["grid-user"],
        query: &[],
        body: Some(body::<w::MandateRequest>()),
        ok: 201,
        answer: Answer::Json(schema::<w::Notifications>),
        errors: REGISTER_ERRORS,
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
        answer: Answer::Json(schema::<w::Notifications>),
        errors: REGISTER_ERRORS,
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
        answer: Answer::Json(schema::<w::Notifications>),
        errors: REGISTER_ERRORS,
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
        answer: Answer::Json(schema::<w::Notifications>),
        errors: REGISTER_ERRORS,
    },
    Op {
        method: "POST",
        path: "/api/registers/v1/terms",
        tag: "registers",
        summary: "Accept the terms for NRT data collection (R-NRT-5)",
        roles: &["grid-user"],
        query: &[],
        body: Some(body::<w::Terms>()),
        ok: 200,
        answer: Answer::Json(schema::<w::Notifications>),
        errors: REGISTER_ERRORS,
    },
    Op {
        method: "POST",
        path: "/api/registers/v1/consents",
        tag: "registers",
        summary: "Consent to an ESP service from the catalogue (R-NRT-5, R-NRT-8)",
        roles: &["grid-user"],
        query: &[],
        body: Some(body::<w::NewConsent>()),
        ok: 201,
        answer: Answer::Json(schema::<w::Notifications>),
        errors: REGISTER_ERRORS,
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
        answer: Answer::Json(schema::<w::Notifications>),
        errors: REGISTER_ERRORS,
    },
    Op {
        method: "GET",
        path: "/api/registers/v1/notifications",
        tag: "registers",
        summary: "What the registers told you: co-consent requests (R-MAN-3), revocations, suspended ESPs",
        roles: &["grid-user"],
        query: &[],
        body: None,
        ok: 200,
        answer: Answer::Json(schema::<w::Notifications>),
        errors: &[],
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
        answer: Answer::Json(schema::<w::PointRegisters>),
        errors: &[(404, Code::UnknownPoint)],
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
        answer: Answer::Json(schema::<Vec<w::AccessEntry>>),
        errors: &[(404, Code::UnknownPoint)],
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
        answer: Answer::Json(schema::<Vec<w::PartyWithAccess>>),
        errors: &[(404, Code::UnknownPoint)],
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
        answer: Answer::JsonOrCsv(schema::<w::Energy>),
        errors: ENERGY_ERRORS,
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
        answer: Answer::Json(schema::<w::Months>),
        errors: &[],
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
        answer: Answer::Events(schema::<w::LiveSample>),
        errors: &[],
    },
    Op {
        method: "POST",
        path: "/api/esp/v1/mandates/status",
        tag: "esp",
        summary: "Mandate status of many data service points (R-MAN-8)",
        roles: &["esp"],
        query: &[],
        body: Some(body::<w::StatusRequest>()),
        ok: 200,
        answer: Answer::Json(schema::<Vec<w::PointStatus>>),
        errors: &[(422, Code::TooManyPoints)],
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
        answer: Answer::Json(schema::<Vec<w::Mandate>>),
        errors: &[],
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
        answer: Answer::Json(schema::<Vec<w::Delivery>>),
        errors: &[],
    },
    Op {
        method: "PATCH",
        path: "/api/esp/v1/profile",
        tag: "esp",
        summary: "Change your webhook URL (null stops webhooks)",
        roles: &["esp"],
        query: &[],
        body: Some(body::<w::EspUpdate>()),
        ok: 200,
        answer: Answer::Json(schema::<domain::Esp>),
        errors: &[(422, Code::InvalidBody)],
    },
    Op {
        method: "POST",
        path: "/api/esp/v1/credentials",
        tag: "esp",
        summary: "Rotate your API token (the old one stops at once) and/or webhook secret (the old one signs along for a day)",
        roles: &["esp"],
        query: &[],
        body: Some(body::<w::Rotate>()),
        ok: 201,
        answer: Answer::Json(schema::<w::CredentialsIssued>),
        errors: &[(422, Code::NothingToRotate)],
    },
];

/// The schema of a path parameter of `path`, by its name.
fn path_param(path: &str, name: &str, g: &mut SchemaGenerator) -> serde_json::Value {
    let schema = match name {
        "ean" => g.subschema_for::<domain::Ean>(),
        "kbo" => g.subschema_for::<domain::Kbo>(),
        // Sequence and incident numbers: what a JSON number holds exactly.
        _ if integer_param(path, name) => integer(),
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
            { "type": "string", "pattern": domain::WALL_CLOCK },
            { "type": "string", "format": "date-time" },
        ] }),
        Kind::Ean => serde_json::json!({ "type": "string", "pattern": "^[0-9]{18}$" }),
        Kind::Text => serde_json::json!({ "type": "string" }),
        Kind::OneOf(words) => serde_json::json!({ "type": "string", "enum": words }),
    }
}

/// Every refusal an operation can answer, by status: its own ([`Op::errors`]) and those of
/// its kind (the edge's 401 and NUL checks, a body's 400/415/422, a path's 404, a data
/// route's outage).
pub(crate) fn refusals(op: &Op) -> BTreeMap<u16, BTreeSet<Code>> {
    let mut m: BTreeMap<u16, BTreeSet<Code>> = BTreeMap::new();
    let mut add = |status: u16, code: Code| {
        m.entry(status).or_default().insert(code);
    };
    for (status, code) in op.errors {
        add(*status, *code);
    }
    add(500, Code::Internal);
    let api = op.path.starts_with("/api/") && !op.path.starts_with("/api/ingest/");
    if api {
        add(401, Code::Unauthorized);
        add(403, Code::ForbiddenRole);
        add(503, Code::Unavailable);
        if op.roles.iter().any(|r| !matches!(*r, "admin" | "operator")) {
            add(429, Code::RateLimited);
        }
    }
    // The data routes, refused during an unplanned outage (R-SLA-3).
    let data = op.path.starts_with("/api/esp/") && !op.path.ends_with("/deliveries");
    if data {
        add(503, Code::UnplannedOutage);
    }
    // An ESP whose contract names the portal is refused every ESP route.
    if op.roles.contains(&"esp") {
        add(403, Code::WrongChannel);
    }
    // A point's data: decided and recorded per request, over a period (the stream's period
    // is from now on, so it has no period parameters to refuse).
    if data && op.path.contains("/points/{ean}/") {
        DECISION_ERRORS.iter().for_each(|(s, c)| add(*s, *c));
        if !op.query.is_empty() {
            PERIOD_ERRORS.iter().for_each(|(s, c)| add(*s, *c));
        }
    }
    for name in path_params(op.path) {
        add(404, Code::NotFound);
        add(404, Code::NulCharacter);
        match name {
            "ean" => EAN.iter().for_each(|c| add(404, *c)),
            "kbo" => KBO.iter().for_each(|c| add(404, *c)),
            _ if integer_param(op.path, name) => add(400, Code::BadRequest),
            _ => (),
        }
    }
    if !op.query.is_empty() {
        add(400, Code::BadRequest);
        add(422, Code::NulCharacter);
    }
    if op.query.iter().any(|q| matches!(q.3, Kind::Ean)) {
        EAN.iter().for_each(|c| add(422, *c));
    }
    if op.body.is_some() {
        add(400, Code::Malformed);
        add(413, Code::TooLarge);
        add(415, Code::UnsupportedMediaType);
        add(422, Code::InvalidBody);
        add(422, Code::NulCharacter);
    }
    m
}

const EAN: [Code; 3] = [Code::EanInvalidLength, Code::EanNotDigits, Code::EanCheckDigit];
const KBO: [Code; 3] = [Code::KboInvalidLength, Code::KboNotDigits, Code::KboCheck];

fn path_params(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

/// Sequence and incident numbers.
fn integer_param(path: &str, name: &str) -> bool {
    name == "seq" || (name == "id" && path.contains("/incidents/"))
}

fn answer_json(answer: Answer, ok: u16, g: &mut SchemaGenerator) -> serde_json::Value {
    let json =
        |f: BodySchema, g: &mut SchemaGenerator| serde_json::to_value(f(g)).unwrap_or_default();
    match answer {
        Answer::Json(f) => serde_json::json!({
            "description": "success",
            "content": { "application/json": { "schema": json(f, g) } },
        }),
        Answer::JsonOrCsv(f) => serde_json::json!({
            "description": "success: JSON, or CSV with format=csv (start,end,offtake_kwh,injection_kwh,quality)",
            "content": {
                "application/json": { "schema": json(f, g) },
                "text/csv": { "schema": { "type": "string" } },
            },
        }),
        Answer::Events(f) => serde_json::json!({
            "description": format!(
                "server-sent events: `sample` events whose data is {}, and a last `revoked` event when access ends",
                "the schema x-event-data gives"
            ),
            "content": { "text/event-stream": { "schema": { "type": "string" } } },
            "x-event-data": json(f, g),
        }),
        Answer::Text(media, what) => serde_json::json!({
            "description": what,
            "content": { media: { "schema": if media == "application/json" { serde_json::json!({ "type": "object" }) } else { serde_json::json!({ "type": "string" }) } } },
        }),
        Answer::Empty => {
            debug_assert_eq!(ok, 204);
            serde_json::json!({ "description": "done; no body" })
        }
    }
}

fn op_json(op: &Op, g: &mut SchemaGenerator) -> serde_json::Value {
    let mut params: Vec<serde_json::Value> = path_params(op.path)
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
    responses.insert(op.ok.to_string(), answer_json(op.answer, op.ok, g));
    let receipt =
        serde_json::to_value(g.subschema_for::<wire::ingest::v1::Receipt>()).unwrap_or_default();
    for (status, codes) in refusals(op) {
        let names: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
        let error = serde_json::json!({ "allOf": [
            { "$ref": "#/components/schemas/ApiError" },
            { "properties": { "code": { "enum": names } } },
        ] });
        // Ingest answers a refused upload with its receipt (what was stored, what was refused).
        let schema = if op.path == "/api/ingest/v1/uploads" {
            serde_json::json!({ "anyOf": [error, receipt] })
        } else {
            error
        };
        responses.insert(
            status.to_string(),
            serde_json::json!({
                "description": format!("refused: {}", names.join(", ")),
                "content": { "application/json": { "schema": schema } },
            }),
        );
    }
    if op.path == "/api/ingest/v1/uploads" {
        for status in ["401", "409"] {
            responses.insert(
                status.into(),
                serde_json::json!({
                    "description": "the batch's receipt: what was stored and what was refused (unknown_dongle, bad_signature: 401; replay, conflict: 409)",
                    "content": { "application/json": { "schema": receipt } },
                }),
            );
        }
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
        let schema = serde_json::to_value((body.schema)(g)).unwrap_or_default();
        // Rotating credentials takes no body for "both" (the common case).
        let required = !op.path.ends_with("/credentials");
        let mut media = serde_json::json!({ "schema": schema });
        if let Some(example) = crate::examples::request(op.method, op.path) {
            media["example"] = example;
        }
        v["requestBody"] = serde_json::json!({
            "required": required,
            "content": { "application/json": media },
        });
    }
    v
}

/// The document.
pub(crate) fn document() -> serde_json::Value {
    let mut g = schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| s.definitions_path = "/components/schemas".into())
        .into_generator();
    g.subschema_for::<w::ApiError>();
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
            "description": "Ingest, registers (mandates, NRT consents, market scenarios), the ESP API and the access register. Periods are half-open [from, to) in Europe/Brussels; every refusal is recorded in the access register. Errors: 400 a body or parameter that cannot be read, 422 one that breaks a rule no schema can hold (a check digit, a reversed period), 404 a path that names nothing (or nothing of yours). Each error response lists the codes it can carry; x-error-codes says what each means.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": schemas,
        },
        "x-error-codes": Code::ALL.iter().map(|c| (c.as_str().to_owned(), serde_json::Value::from(c.meaning()))).collect::<serde_json::Map<_, _>>(),
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

    #[test]
    fn every_answer_has_a_schema_and_every_refusal_its_codes() {
        let doc = super::document();
        for op in super::OPS {
            let v = &doc["paths"][op.path][op.method.to_lowercase()]["responses"];
            let ok = &v[op.ok.to_string()];
            let json = &ok["content"]["application/json"]["schema"];
            match op.answer {
                super::Answer::Json(_) | super::Answer::JsonOrCsv(_) => assert!(
                    json.get("$ref").is_some() || json.get("type").is_some_and(|t| t != "object"),
                    "{} {}: the answer has no schema: {ok}",
                    op.method,
                    op.path
                ),
                super::Answer::Events(_) => assert!(ok["x-event-data"].is_object()),
                super::Answer::Text(..) | super::Answer::Empty => (),
            }
            for (status, r) in v.as_object().unwrap().iter().filter(|(s, _)| s.as_str() >= "400") {
                let text = r.to_string();
                assert!(
                    text.contains("ApiError") || text.contains("Receipt"),
                    "{} {} {status}: no error schema",
                    op.method,
                    op.path
                );
            }
            assert!(v.get("500").is_some(), "{} {}", op.method, op.path);
        }
    }

    #[test]
    fn every_request_body_has_an_example_that_reads_back_into_its_type() {
        let doc = super::document();
        for op in super::OPS {
            let Some(body) = op.body else { continue };
            let media = &doc["paths"][op.path][op.method.to_lowercase()]["requestBody"]["content"]
                ["application/json"];
            let example = media.get("example").unwrap_or_else(|| {
                panic!("{} {}: the request body has no example", op.method, op.path)
            });
            if let Err(e) = (body.reads_back)(example.clone()) {
                panic!("{} {}: the example does not read back: {e}\n{example}", op.method, op.path);
            }
        }
        // And the check can fail: an example of one body is not another's.
        let notes = super::OPS.iter().find(|o| o.path.ends_with("/notes")).unwrap();
        let dongle = crate::examples::request("POST", "/api/admin/v1/dongles").unwrap();
        assert!((notes.body.unwrap().reads_back)(dongle).is_err());
    }

    #[test]
    fn a_route_without_an_answer_schema_is_caught() {
        // The check above must be able to fail: a JSON answer documented as a bare object.
        let bare = serde_json::json!({ "type": "object" });
        assert!(!(bare.get("$ref").is_some() || bare.get("type").is_some_and(|t| t != "object")));
    }
}
