//! The span every request runs in: its id and, once resolved, its tenant.

use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;

use crate::domain::ids::new_id;

const REQUEST_ID: &str = "x-request-id";

/// The caller's `X-Request-Id` when it is a plain token (a proxy's or a
/// client's, to correlate), else a new ULID.
pub(super) fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| {
            (1..=64).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
        .map_or_else(new_id, str::to_string)
}

pub(super) fn span(request_id: &str) -> tracing::Span {
    tracing::info_span!("request", request_id, tenant = tracing::field::Empty)
}

/// Names the tenant in the current request's span (and so in its logs).
pub(super) fn record_tenant(tenant_id: &str) {
    tracing::Span::current().record("tenant", tenant_id);
}

pub(super) fn answer_with_id(response: &mut Response, request_id: &str) {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_caller_id_is_kept_and_anything_else_replaced() {
        let mut headers = HeaderMap::new();
        headers.insert(REQUEST_ID, HeaderValue::from_static("req-42.a_b"));
        assert_eq!(request_id(&headers), "req-42.a_b");
        headers.insert(REQUEST_ID, HeaderValue::from_static("a b\"}"));
        let replaced = request_id(&headers);
        assert_eq!(replaced.len(), 26, "{replaced}");
        headers.insert(REQUEST_ID, HeaderValue::from_str(&"x".repeat(65)).unwrap());
        assert_eq!(request_id(&headers).len(), 26);
        assert_eq!(request_id(&HeaderMap::new()).len(), 26);
    }
}
