//! The case catalogue: stable ids, the requirements each case checks (the IDs of
//! REQUIREMENTS.md), what the kit does, and when the ESP passes. Ids never change meaning; a
//! case that changes gets a new id and the version moves.

use crate::statement::Claim;
use serde::Serialize;

/// The catalogue's version, written into every report.
pub const CATALOGUE_VERSION: &str = "2026.12.2";

/// How settled a case is (as OCTT's watchlist marks cases few implementations exercised).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Maturity {
    /// Exercised against the reference ESP and every misbehaving variant meant to fail it.
    Stable,
    /// New: its verdicts get a second look before a certificate rests on them.
    Watchlist,
}

/// One case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Case {
    /// `ESP-MAN-01`: family, then number.
    pub id: &'static str,
    /// What it checks, in a line.
    pub title: &'static str,
    /// The requirement IDs it checks.
    pub requirements: &'static [&'static str],
    /// What the kit does (as the platform, a grid user, the market).
    pub events: &'static str,
    /// When the ESP passes.
    pub criterion: &'static str,
    /// The statement's claims the case needs; without them it is `not-applicable`.
    pub needs: &'static [Claim],
    /// How settled it is.
    pub maturity: Maturity,
}

use Claim::{DayData, MarketEvents, NrtStream, QuarterHourData, Renewal, Webhooks};
use Maturity::{Stable, Watchlist};

/// Every case, by id.
pub fn catalogue() -> &'static [Case] {
    CASES
}

const CASES: &[Case] = &[
    Case {
        id: "ESP-ONB-01",
        title: "The ESP calls the API with the token it was issued",
        requirements: &["R-ACC-4"],
        events: "onboard the ESP; hand it its token and webhook secret",
        criterion: "its first requests carry the token and are answered 200; none is 401",
        needs: &[],
        maturity: Stable,
    },
    Case {
        id: "ESP-ONB-02",
        title: "A revoked token is not hammered",
        requirements: &["R-ACC-4"],
        events: "the platform issues the ESP a new token (the old one answers 401 unauthorized); the last case",
        criterion: "after the first 401 at most three requests (those in flight) with the old token",
        needs: &[],
        maturity: Watchlist,
    },
    Case {
        id: "ESP-MAN-01",
        title: "Day data inside an approved mandate is read",
        requirements: &["R-MAN-2", "R-DAT-1", "R-ACC-1"],
        events: "a grid user grants a day mandate through the step plan and approves it",
        criterion: "the ESP reads day volumes of the mandate's period and point (200), no other",
        needs: &[DayData],
        maturity: Stable,
    },
    Case {
        id: "ESP-MAN-02",
        title: "Interval data under a day-only mandate is refused, and not asked again",
        requirements: &["R-MAN-2"],
        events: "a day-only mandate; the ESP's quarter-hour read is answered 403 scope_excludes_granularity",
        criterion: "no quarter-hour read of that point after the refusal",
        needs: &[QuarterHourData],
        maturity: Stable,
    },
    Case {
        id: "ESP-MAN-03",
        title: "A quarter-hour mandate's interval data is read",
        requirements: &["R-MAN-2", "R-DAT-1"],
        events: "a grid user grants an interval mandate and approves it",
        criterion: "the ESP reads quarter hours inside the mandate's period (200)",
        needs: &[QuarterHourData],
        maturity: Stable,
    },
    Case {
        id: "ESP-MAN-04",
        title: "No data before the grid user's co-consent",
        requirements: &["R-MAN-3"],
        events: "a customer who is not the grid user grants a mandate; the grid user co-consents later",
        criterion: "no successful read before the co-consent; reads after it succeed",
        needs: &[DayData],
        maturity: Stable,
    },
    Case {
        id: "ESP-MAN-05",
        title: "Without history, nothing from before the approval",
        requirements: &["R-MAN-6"],
        events: "a mandate without history; reads before its approval are refused outside_period",
        criterion: "the ESP does not ask again for the refused stretch",
        needs: &[DayData],
        maturity: Stable,
    },
    Case {
        id: "ESP-MAN-06",
        title: "A refused mandate gives nothing",
        requirements: &["R-MAN-2", "R-ACC-1"],
        events: "a grid user rejects a requested mandate (mandate_rejected)",
        criterion: "no read of the point after the rejection",
        needs: &[DayData],
        maturity: Stable,
    },
    Case {
        id: "ESP-MAN-07",
        title: "The ESP cannot end a mandate; the customer can, and it stops",
        requirements: &["R-MAN-4", "R-ACC-2"],
        events: "the customer ends the mandate (mandate_ended)",
        criterion: "no read of the point within the reaction time after the end; no end attempted by the ESP",
        needs: &[DayData],
        maturity: Stable,
    },
    Case {
        id: "ESP-MAN-08",
        title: "Renewal due is acted on before expiry",
        requirements: &["R-MAN-1"],
        events: "the clock jumps to the renewal notice of a three-year mandate (renewal_due, 60 days before)",
        criterion: "the ESP looks the mandate up (POST /api/esp/v1/mandates/status, 200) within its patience: every renewal flow starts from the mandate's valid_until; the invitation to the customer happens outside the platform",
        needs: &[Renewal],
        maturity: Watchlist,
    },
    Case {
        id: "ESP-MAN-09",
        title: "An expired mandate gives nothing",
        requirements: &["R-MAN-1"],
        events: "the clock jumps past three years after approval (mandate_expired)",
        criterion: "no read of the point after the expiry and the reaction time",
        needs: &[DayData],
        maturity: Stable,
    },
    Case {
        id: "ESP-MAN-10",
        title: "Mandate status is read in batches of at most 1000 points",
        requirements: &["R-MAN-8"],
        events: "the whole campaign: the ESP checks its mandates",
        criterion: "every status request is answered 200 (none refused too_many_points or malformed); at least one is sent",
        needs: &[],
        maturity: Stable,
    },
    Case {
        id: "ESP-MAN-11",
        title: "A mandate granted for part of the period: nothing past its end",
        requirements: &["R-MAN-2"],
        events: "a grid user grants a mandate whose period ended ten days ago (history)",
        criterion: "the ESP reads inside the period (200); a read past its end is not asked again after the refusal (outside_period)",
        needs: &[DayData],
        maturity: Stable,
    },
    Case {
        id: "ESP-MKT-01",
        title: "A supplier switch changes nothing",
        requirements: &["R-MAN-5"],
        events: "a supplier switch (SS) on the point",
        criterion: "the ESP keeps reading as before; no read is refused",
        needs: &[DayData, MarketEvents],
        maturity: Stable,
    },
    Case {
        id: "ESP-MKT-02",
        title: "A customer switch cuts the period; nothing past the cut",
        requirements: &["R-MAN-5", "R-ACC-2"],
        events: "a customer switch (CS) on the point (period_truncated); two days pass",
        criterion: "no read wholly past the cut asked again after its refusal (outside_period)",
        needs: &[DayData, MarketEvents],
        maturity: Stable,
    },
    Case {
        id: "ESP-MKT-03",
        title: "A combined switch cuts the period",
        requirements: &["R-MAN-5", "R-ACC-2"],
        events: "a combined customer and supplier switch (CCSS)",
        criterion: "as ESP-MKT-02",
        needs: &[DayData, MarketEvents],
        maturity: Stable,
    },
    Case {
        id: "ESP-MKT-04",
        title: "A move out, with or without a new occupant, cuts the period",
        requirements: &["R-MAN-5"],
        events: "a move out (MO) on one point, a move out leaving it empty (MOZA) on another; two days pass",
        criterion: "no read past either cut",
        needs: &[DayData, MarketEvents],
        maturity: Watchlist,
    },
    Case {
        id: "ESP-MKT-05",
        title: "A backdated customer switch: what lies past the cut is no longer the ESP's",
        requirements: &["R-MAN-5", "R-NRT-7"],
        events: "a customer switch effective two days in the past",
        criterion: "no read of the stretch past the backdated cut after the truncation",
        needs: &[DayData, MarketEvents],
        maturity: Watchlist,
    },
    Case {
        id: "ESP-NRT-01",
        title: "The stream flows under a consent to a service that needs it",
        requirements: &["R-NRT-5", "R-NRT-8"],
        events: "the grid user accepts the terms and consents to the ESP's NRT service",
        criterion: "the ESP opens the stream and receives samples",
        needs: &[NrtStream],
        maturity: Stable,
    },
    Case {
        id: "ESP-NRT-02",
        title: "A revocation ends the stream; the ESP does not come back",
        requirements: &["R-NRT-6", "R-ACC-2"],
        events: "the grid user revokes the consent (consent_revoked; the stream ends with `revoked`)",
        criterion: "no stream or read of the point within the reaction time, or after it",
        needs: &[NrtStream],
        maturity: Stable,
    },
    Case {
        id: "ESP-NRT-03",
        title: "Only the data a service needs",
        requirements: &["R-NRT-8"],
        events: "the whole campaign: the platform refuses data no service of the ESP's catalogue needs (not_needed)",
        criterion: "no read refused not_needed asked again",
        needs: &[],
        maturity: Stable,
    },
    Case {
        id: "ESP-NRT-04",
        title: "A new grid user's data is not the old consent's",
        requirements: &["R-NRT-7"],
        events: "a customer switch revokes the consent of the old grid user",
        criterion: "no stream of the point after the switch",
        needs: &[NrtStream, MarketEvents],
        maturity: Stable,
    },
    Case {
        id: "ESP-ACC-01",
        title: "No read of a point the ESP was never given",
        requirements: &["R-ACC-1", "R-ACC-2"],
        events: "the whole campaign: the points of other cases, the grid users' and other ESPs' points lie next to the ESP's",
        criterion: "at most one read of a point the ESP never held a mandate or consent on",
        needs: &[DayData],
        maturity: Stable,
    },
    Case {
        id: "ESP-ACC-02",
        title: "A suspended ESP stops",
        requirements: &["R-ACC-2"],
        events: "the platform suspends the ESP's contract (esp_suspended), later reinstates it",
        criterion: "no data read while suspended after the first refusal; reads resume after",
        needs: &[DayData],
        maturity: Watchlist,
    },
    Case {
        id: "ESP-HOOK-01",
        title: "A forged webhook is refused",
        requirements: &["R-NRT-6"],
        events: "a webhook signed with another secret",
        criterion: "the ESP answers it 4xx and does not act on it",
        needs: &[Webhooks],
        maturity: Stable,
    },
    Case {
        id: "ESP-HOOK-02",
        title: "A replayed webhook is acted on once",
        requirements: &["R-NRT-6"],
        events: "a genuine delivery sent twice more (same delivery id, signed with the ESP's secret)",
        criterion: "both are answered 2xx (a replay is acknowledged, not refused, and acted on once)",
        needs: &[Webhooks],
        maturity: Watchlist,
    },
    Case {
        id: "ESP-HOOK-03",
        title: "Webhooks are answered within the stated reaction time",
        requirements: &["R-NRT-6"],
        events: "the whole campaign: every webhook the platform sent",
        criterion: "each answered 2xx at its first attempt within max_reaction and a second",
        needs: &[Webhooks],
        maturity: Stable,
    },
    Case {
        id: "ESP-SLA-01",
        title: "An unplanned outage's Retry-After is honoured",
        requirements: &["R-SLA-3"],
        events: "the platform declares an outage: 503 unplanned_outage with Retry-After 3 s; ended after it",
        criterion: "no request before Retry-After has passed",
        needs: &[DayData],
        maturity: Stable,
    },
    Case {
        id: "ESP-SLA-02",
        title: "A rate limit's Retry-After is honoured",
        requirements: &["R-SLA-3"],
        events: "the ESP's token is rate limited: 429 rate_limited with Retry-After 3 s",
        criterion: "no request before Retry-After has passed",
        needs: &[],
        maturity: Stable,
    },
    Case {
        id: "ESP-SLA-03",
        title: "What an outage held back is fetched afterwards",
        requirements: &["R-SLA-4"],
        events: "the outage of ESP-SLA-01 ends",
        criterion: "after the outage the ESP reads the point again over a period that covers the outage",
        needs: &[DayData],
        maturity: Watchlist,
    },
    Case {
        id: "ESP-API-01",
        title: "Requests are well-formed and within the rate limit",
        requirements: &["R-ACC-4", "R-NRT-8"],
        events: "the whole campaign: every request the ESP sent",
        criterion: "at most three answered 400, 413, 415 or 422 (malformed), and none 429 outside ESP-SLA-02",
        needs: &[],
        maturity: Watchlist,
    },
];
