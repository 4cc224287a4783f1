//! Error bodies: one [`Code`] per refusal a client can act on. The code's text exists only
//! here, where it crosses the wire; everything inside the platform matches on the variant.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

crate::codes::stable_codes! {
    /// A stable, machine-readable error code of the platform API. New codes may appear in a
    /// minor version; a code never changes its meaning.
    Code, "a stable error code; the meanings are in the document's x-error-codes";
    Unauthorized = "unauthorized": "no or unknown bearer token",
    ForbiddenRole = "forbidden_role": "the token's role may not use this operation or point",
    RateLimited = "rate_limited": "too many requests; see Retry-After",
    UnplannedOutage = "unplanned_outage": "the service is (partly) unavailable; see Retry-After (R-SLA-3)",
    Unavailable = "unavailable": "the store failed; retry (see Retry-After)",
    Internal = "internal": "the platform failed; the answer carries a request_id to quote",
    NotFound = "not_found": "no such route or resource",
    MethodNotAllowed = "method_not_allowed": "the route does not take that method",
    BadRequest = "bad_request": "the path or query could not be read",
    Malformed = "malformed": "the body is not JSON, or an upload's text holds a NUL character",
    InvalidBody = "invalid_body": "the body is JSON of the wrong shape or breaks a rule (a check digit, an unknown value)",
    UnsupportedMediaType = "unsupported_media_type": "send Content-Type: application/json",
    TooLarge = "too_large": "the body is larger than the limit",
    NulCharacter = "nul_character": "a path (404), query or body (422) holds a NUL character",
    BadTime = "bad_time": "a time could not be read",
    PeriodMissing = "period_missing": "from/to missing",
    PeriodReversed = "period_reversed": "to is not after from",
    PeriodTooLong = "period_too_long": "the period exceeds the maximum for the granularity",
    GranularityUnknown = "granularity_unknown": "granularity is not day, quarter-hour or hour",
    GranularityNotForCommodity = "granularity_not_for_commodity": "quarter hours are electricity, hours gas",
    FormatUnknown = "format_unknown": "format is not json or csv",
    EanInvalidLength = "ean_invalid_length": "an EAN has 18 digits",
    EanNotDigits = "ean_not_digits": "an EAN is digits only",
    EanCheckDigit = "ean_check_digit": "the EAN's GS1 check digit is wrong",
    KboInvalidLength = "kbo_invalid_length": "a KBO number has 10 digits",
    KboNotDigits = "kbo_not_digits": "a KBO number is digits (dots and BE allowed)",
    KboCheck = "kbo_check": "the KBO number's mod-97 check fails",
    GlnInvalidLength = "gln_invalid_length": "a GLN has 13 digits",
    GlnNotDigits = "gln_not_digits": "a GLN is digits only",
    GlnCheckDigit = "gln_check_digit": "the GLN's GS1 check digit is wrong",
    UnknownPoint = "unknown_point": "no such data service point (or none of yours)",
    NoMandate = "no_mandate": "no approved mandate of yours covers this point",
    MandateNotApproved = "mandate_not_approved": "the mandate is not approved (yet)",
    MandateExpired = "mandate_expired": "the mandate passed its three years (R-MAN-1)",
    ScopeExcludesGranularity = "scope_excludes_granularity": "the mandate covers day data only (R-MAN-2)",
    NoConsent = "no_consent": "no live NRT consent for this point",
    OutsideOccupancy = "outside_occupancy": "the period is outside your occupancy of the point (R-NRT-7)",
    OutsidePeriod = "outside_period": "a mandate or consent exists but covers none of the period asked",
    EspNotActive = "esp_not_active": "the ESP's data-access contract is not active",
    WrongChannel = "wrong_channel": "the ESP's contract names the portal as its channel, not the API",
    NotNeeded = "not_needed": "no service of the ESP's catalogue needs this data (R-NRT-8)",
    EspState = "esp_state": "the ESP's contract is already in that state, or ended (suspend an active one, reinstate a suspended one)",
    UnknownEsp = "unknown_esp": "no ESP with that KBO number",
    InvalidPoint = "invalid_point": "the access point's records do not fit together",
    UnknownMandate = "unknown_mandate": "no such mandate (or none of yours)",
    UnknownConsent = "unknown_consent": "no such consent (or none of yours)",
    Forbidden = "forbidden": "the registers refuse this party the action (e.g. an ESP ending a mandate, R-MAN-4)",
    TermsNotAccepted = "terms_not_accepted": "accept the terms for the access point first (R-NRT-5)",
    UnknownService = "unknown_service": "the ESP offers no such service",
    NotGridUser = "not_grid_user": "you are not the grid user of that point now",
    AlreadyDecided = "already_decided": "the mandate or consent was decided, ended or revoked already",
    BackdateTooFar = "backdate_too_far": "a market scenario may take effect only so many days in the past",
    ScenarioIncomplete = "scenario_incomplete": "the market scenario lacks the new grid user or supplier",
    Duplicate = "duplicate": "the same grant exists already",
    EspExists = "esp_exists": "the ESP is onboarded already: rotate its credentials instead",
    NothingToRotate = "nothing_to_rotate": "a credentials request that asks for neither token nor webhook secret",
    TooManyPoints = "too_many_points": "at most 1000 points per mandate-status request",
    BadDongleId = "bad_dongle_id": "the dongle id is empty",
    BadKey = "bad_key": "the dongle key is not at least 16 bytes of hex",
    NoIncident = "no_incident": "no such incident, it is closed, or the note is empty",
    NoUpload = "no_upload": "no stored upload with that dongle and sequence number",
    MeterMismatch = "meter_mismatch": "the AMR body's meter differs from the URL's",
    NotAQuarter = "not_a_quarter": "an AMR record does not start on a quarter hour",
}

/// Every 4xx/5xx body of the platform API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiError {
    /// Stable machine-readable code.
    pub code: Code,
    /// What went wrong and what to do about it.
    pub message: String,
    /// On a 5xx: the request id the platform's log names the cause under (also in the
    /// `X-Request-Id` header), to quote when reporting it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl ApiError {
    /// An error body.
    pub fn new(code: Code, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into(), request_id: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_reads_back_and_is_snake_case() {
        for c in Code::ALL {
            let v = serde_json::to_value(c).unwrap();
            assert_eq!(v, c.as_str());
            assert_eq!(serde_json::from_value::<Code>(v).unwrap(), *c);
            assert!(c.as_str().bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{c}");
        }
        let names: std::collections::BTreeSet<_> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), Code::ALL.len(), "two codes share a name");
    }

    #[test]
    fn an_unknown_code_is_refused_not_defaulted() {
        let e = serde_json::from_str::<ApiError>(r#"{"code":"no_such_code","message":"x"}"#);
        assert!(e.is_err());
    }
}
