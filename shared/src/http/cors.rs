//! CORS, answered by the app rather than by API Gateway or the Function URL:
//! a tenant's frontend lives on its own domain, which the app knows and a
//! static list in the deployment could not follow. An origin is allowed
//! when it is `https://{domain}` of an active tenant, or listed in
//! `PETRAF_ALLOWED_ORIGINS`. CORS is not authorisation: a refused origin
//! only gets no CORS headers (a preflight gets a 403), the request itself
//! is judged by its tenant, token and key as always.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN,
    VARY,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::{App, AppError};
use crate::domain::tenant::TenantStatus;

const ALLOWED_METHODS: &str = "GET, POST, PUT, PATCH, DELETE";
const ALLOWED_HEADERS: &str = "Content-Type, Authorization, X-Tenant-ID, X-Admin-Key";
/// How long a browser may reuse a preflight answer, and the app a tenant
/// domain look-up.
const PREFLIGHT_MAX_AGE_SECONDS: u64 = 600;
const LOOKUP_TTL: Duration = Duration::from_secs(60);
const LOOKUP_CACHE_ENTRIES: usize = 1024;

/// Tenant-domain answers, kept briefly so a page's requests cost one read.
#[derive(Default)]
pub struct OriginCache {
    entries: Mutex<HashMap<String, (bool, Instant)>>,
}

impl OriginCache {
    fn get(&self, origin: &str) -> Option<bool> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(origin)
            .filter(|(_, at)| at.elapsed() < LOOKUP_TTL)
            .map(|(allowed, _)| *allowed)
    }

    fn put(&self, origin: &str, allowed: bool) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= LOOKUP_CACHE_ENTRIES {
            entries.clear();
        }
        entries.insert(origin.to_string(), (allowed, Instant::now()));
    }
}

/// The host of an `https://host[:port]` origin (`http://` only for
/// loopback development), if it is one.
fn origin_host(origin: &str) -> Option<&str> {
    let (scheme, rest) = origin.split_once("://")?;
    let host = rest.split(':').next().unwrap_or(rest);
    let valid = !host.is_empty()
        && !rest.contains('/')
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    let loopback = matches!(host, "localhost" | "127.0.0.1");
    (valid && (scheme == "https" || (scheme == "http" && loopback))).then_some(host)
}

async fn origin_allowed(app: &App, origin: &str) -> bool {
    if app.settings.allowed_origins.iter().any(|o| o == origin) {
        return true;
    }
    let Some(host) = origin_host(origin) else {
        return false;
    };
    if let Some(known) = app.cors_cache.get(origin) {
        return known;
    }
    match app.store.tenant_by_domain(&host.to_ascii_lowercase()).await {
        Ok(found) => {
            let allowed = found.is_some_and(|t| t.tenant.status == TenantStatus::Active);
            app.cors_cache.put(origin, allowed);
            allowed
        }
        // Not cached: the next request asks again.
        Err(e) => {
            tracing::warn!(error = %e, "CORS: could not look up the origin's tenant");
            false
        }
    }
}

fn allow(headers: &mut HeaderMap, origin: HeaderValue) {
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
}

/// Answers preflights and marks responses to allowed origins.
pub async fn cors(State(app): State<App>, request: Request, next: Next) -> Response {
    let Some(origin) = request.headers().get(ORIGIN).cloned() else {
        return next.run(request).await;
    };
    let allowed = match origin.to_str() {
        Ok(o) => origin_allowed(&app, o).await,
        Err(_) => false,
    };
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if preflight {
        if !allowed {
            return AppError::forbidden(
                "origin_not_allowed",
                "this origin is not a tenant's domain nor in PETRAF_ALLOWED_ORIGINS",
            )
            .into_response();
        }
        let mut response = StatusCode::NO_CONTENT.into_response();
        let headers = response.headers_mut();
        headers.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOWED_METHODS),
        );
        headers.insert(
            ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOWED_HEADERS),
        );
        headers.insert(
            ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from(PREFLIGHT_MAX_AGE_SECONDS),
        );
        response
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.append(VARY, HeaderValue::from_static("origin"));
    if allowed {
        allow(headers, origin);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::origin_host;

    #[test]
    fn only_plain_https_origins_name_a_host() {
        assert_eq!(
            origin_host("https://sunrise.petraf.com"),
            Some("sunrise.petraf.com")
        );
        assert_eq!(origin_host("https://acme.com:8443"), Some("acme.com"));
        assert_eq!(origin_host("http://localhost:5173"), Some("localhost"));
        assert_eq!(origin_host("http://sunrise.petraf.com"), None);
        assert_eq!(origin_host("https://evil.com/path"), None);
        assert_eq!(origin_host("null"), None);
        assert_eq!(origin_host("https://"), None);
    }
}
