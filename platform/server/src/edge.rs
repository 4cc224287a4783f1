//! What every request passes through before and after its handler: a request id (taken from
//! `X-Request-Id` or made here) on the response and in every log line, input no store can
//! keep refused up front (a NUL byte in the path, the query or a JSON body: PostgreSQL
//! refuses it in text, and it would fail the request with a 503), every error body in the
//! JSON error shape (axum's own rejections are plain text), and every 5xx logged and counted.
//! Every answer also carries the platform's time (`X-Meterlab-Time`, RFC 3339): under a
//! simulated clock an outside ESP follows the lab's calendar by it, not by its own.

// Refusals are ready `Response`s, built once per refused request (as the handlers' are).
#![allow(clippy::result_large_err)]

use crate::access::Access;
use crate::http::err;
use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tracing::Instrument;
use wire::api::v1::{ApiError, Code};
use wire::ingest::v1::MAX_BODY;

/// The request id header.
pub(crate) const REQUEST_ID: &str = "x-request-id";

/// The platform's time at the answer, on its clock (system or simulated).
pub(crate) const TIME: &str = "x-meterlab-time";

/// Exchanges a watcher may fall behind by before it loses some.
pub(crate) const JOURNAL: usize = 16_384;

/// One request as the platform answered it: what an outside client did, seen from the
/// platform's side (the certification kit's evidence of what an ESP sent).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Exchange {
    /// When it was answered (platform clock).
    pub at: clock::Timestamp,
    /// The request id (the client's `X-Request-Id`, or the one made here).
    pub request_id: String,
    /// `GET`, `POST` …
    pub method: String,
    /// The path.
    pub path: String,
    /// The query, as sent.
    pub query: Option<String>,
    /// Who the bearer token speaks for (`esp:0123456749`), when it is one the platform knows.
    pub party: Option<String>,
    /// The first 12 hex digits of the token's SHA-256, when one was sent: which token, never
    /// the token itself.
    pub token: Option<String>,
    /// The answer's status.
    pub status: u16,
    /// The answer's `Retry-After` seconds, when it had one.
    pub retry_after: Option<u64>,
}

/// 5xx answers since start, for `/metrics`.
pub(crate) static SERVER_ERRORS: AtomicU64 = AtomicU64::new(0);

/// The outermost layer: request id, input checks, error shape, 5xx log.
pub(crate) async fn edge(State(access): State<Arc<Access>>, req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| wire::hex(&rand::random::<[u8; 8]>()), str::to_owned);
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let watched = access.journal.receiver_count() > 0;
    let seen = watched.then(|| {
        let token = crate::http::bearer(req.headers());
        (
            req.uri().query().map(str::to_owned),
            token.and_then(|t| access.principal(t)).map(|p| p.name()),
            token.map(|t| crate::access::token_hash(t)[..12].to_owned()),
        )
    });
    let journal = access.journal.clone();
    let span = tracing::info_span!("request", id = %id, %method, %path);
    let clock = access.clock.clone();
    let res = async move {
        if let Err(r) = authenticated(&access, &req) {
            return r;
        }
        match refuse_unstorable(req).await {
            Ok(req) => next.run(req).await,
            Err(r) => r,
        }
    }
    .instrument(span)
    .await;
    let mut res = finish(res, &id, &method, &path).await;
    let at = clock.now();
    if let Ok(v) = HeaderValue::from_str(&at.to_string()) {
        res.headers_mut().insert(TIME, v);
    }
    if let Some((query, party, token)) = seen {
        let retry_after = res
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        // No watcher left is no error: the journal is for whoever watches.
        let _ = journal.send(Exchange {
            at,
            request_id: id,
            method: method.to_string(),
            path,
            query,
            party,
            token,
            status: res.status().as_u16(),
            retry_after,
        });
    }
    res
}

/// Every `/api/` route but ingest (dongles sign uploads, the head-end has its own token)
/// needs a token the platform issued: checked before anything else, so a stranger learns
/// nothing about paths or parameters (axum's own 400s came first before).
fn authenticated(access: &Access, req: &Request) -> Result<(), Response> {
    let path = req.uri().path();
    if !path.starts_with("/api/") || path.starts_with("/api/ingest/") {
        return Ok(());
    }
    match crate::http::bearer(req.headers()).and_then(|t| access.principal(t)) {
        Some(_) => Ok(()),
        None => Err(err(
            StatusCode::UNAUTHORIZED,
            Code::Unauthorized,
            "send `Authorization: Bearer TOKEN` with a token the platform issued (`meterlab up` prints the admin's)",
        )),
    }
}

/// A request whose path, query or JSON body holds a NUL byte, or whose path or query is not
/// UTF-8 once decoded, is refused (`nul_character`). Ingest batches are judged per upload instead
/// (one bad upload must not refuse the others).
async fn refuse_unstorable(req: Request) -> Result<Request, Response> {
    let uri = req.uri();
    // A path that holds a NUL names nothing (404); a query or body that does breaks a rule no
    // schema states (422).
    for (part, raw, status) in [
        ("path", uri.path(), StatusCode::NOT_FOUND),
        ("query", uri.query().unwrap_or(""), StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let bytes = percent_decode(raw);
        if bytes.contains(&0) || std::str::from_utf8(&bytes).is_err() {
            return Err(err(
                status,
                Code::NulCharacter,
                format!("the {part} holds a NUL byte or is not UTF-8: send printable text"),
            ));
        }
    }
    let has_body = matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH);
    if !has_body || req.uri().path() == "/api/ingest/v1/uploads" {
        return Ok(req);
    }
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, MAX_BODY).await.map_err(|_| {
        err(
            StatusCode::PAYLOAD_TOO_LARGE,
            Code::TooLarge,
            format!("the body is larger than {MAX_BODY} bytes or was cut off"),
        )
    })?;
    // Only a body that mentions an escaped NUL is parsed here; the handler parses it anyway.
    if contains_nul_escape(&bytes)
        && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes)
        && has_nul(&v)
    {
        return Err(err(
            StatusCode::UNPROCESSABLE_ENTITY,
            Code::NulCharacter,
            "a text in the body holds a NUL character (\\u0000): send printable text",
        ));
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// Every answer gets the request id; plain-text errors (axum's path, query and method
/// rejections) become the JSON error shape; a 5xx is logged and carries the id in its body.
async fn finish(mut res: Response, id: &str, method: &Method, path: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json && !status.is_server_error() {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let mut error: ApiError = if is_json {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| ApiError::new(Code::Internal, "the platform failed"))
    } else {
        let text = String::from_utf8_lossy(&bytes).trim().to_owned();
        plain_error(status, text)
    };
    if status.is_server_error() {
        SERVER_ERRORS.fetch_add(1, Ordering::Relaxed);
        tracing::error!(request_id = id, %method, path, status = status.as_u16(), code = %error.code, "server error: {}", error.message);
        error.request_id = Some(id.to_owned());
    }
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = serde_json::to_vec(&error).unwrap_or_default();
    Response::from_parts(parts, Body::from(body))
}

/// The JSON error for one of axum's plain-text rejections.
fn plain_error(status: StatusCode, text: String) -> ApiError {
    match status {
        StatusCode::NOT_FOUND => ApiError::new(Code::NotFound, "no such route: see /openapi.json"),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
            Code::MethodNotAllowed,
            "this route does not take that method: see /openapi.json",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(Code::TooLarge, text),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
            Code::UnsupportedMediaType,
            format!("{text}: send Content-Type: application/json"),
        ),
        s if s.is_server_error() => ApiError::new(Code::Internal, "the platform failed"),
        _ => ApiError::new(
            Code::BadRequest,
            if text.is_empty() { "bad request".into() } else { text },
        ),
    }
}

fn contains_nul_escape(b: &[u8]) -> bool {
    b.windows(6).any(|w| w[0] == b'\\' && w[1] == b'u' && w[2..].iter().all(|&c| c == b'0'))
}

fn has_nul(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(a) => a.iter().any(has_nul),
        serde_json::Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// `%XX` decoded (invalid escapes kept as they are).
fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hexval(b[i + 1]), hexval(b[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn hexval(c: u8) -> Option<u8> {
    char::from(c).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_finds_nul_and_keeps_bad_escapes() {
        assert_eq!(percent_decode("/a%00b"), b"/a\0b");
        assert_eq!(percent_decode("%4"), b"%4");
        assert_eq!(percent_decode("%zz%41"), b"%zzA");
        assert!(std::str::from_utf8(&percent_decode("%ff")).is_err());
    }

    #[test]
    fn nul_is_found_in_nested_json_only_when_there() {
        let v: serde_json::Value = serde_json::from_str(r#"{"a":[{"b":"x\u0000"}]}"#).unwrap();
        assert!(contains_nul_escape(br#"{"a":"\u0000"}"#));
        assert!(has_nul(&v));
        let clean: serde_json::Value = serde_json::from_str(r#"{"a":"\\u0000"}"#).unwrap();
        assert!(!has_nul(&clean), "an escaped backslash is not a NUL");
    }
}
