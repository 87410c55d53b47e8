//! CORS, answered by the app rather than by API Gateway or the Function URL:
//! a tenant's frontend lives on its own domain, which the app knows and a
//! static list in the deployment could not follow. An origin is allowed
//! when it is `https://{domain}` of an active tenant, or listed in
//! `PETRAF_ALLOWED_ORIGINS`. A tenant's domain is allowed for that tenant's
//! own requests only: tenants' pages must not read each other's answers,
//! even with a cookie their shared parent domain lets the browser send.
//! `PETRAF_ALLOWED_ORIGINS` stays global. CORS is not authorisation: a
//! refused origin only gets no CORS headers (a preflight gets a 403), the
//! request itself is judged by its tenant, token and key as always.

use axum::RequestExt;
use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{Query, RawPathParams, Request, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_METHOD, HOST,
    ORIGIN, VARY,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::origins::active_tenant_of;
use crate::app::{App, AppError};

const ALLOWED_METHODS: &str = "GET, POST, PUT, PATCH, DELETE";
const ALLOWED_HEADERS: &str = "Content-Type, Authorization, X-Tenant-ID, X-Admin-Key";
/// How long a browser may reuse a preflight answer.
const PREFLIGHT_MAX_AGE_SECONDS: u64 = 600;

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

/// For whose requests an origin may read the answers.
#[derive(Debug, Clone, PartialEq)]
enum Grant {
    /// Listed in `PETRAF_ALLOWED_ORIGINS`: every request.
    Everywhere,
    /// An active tenant's domain: that tenant's requests only.
    Tenant {
        id: String,
        domain: String,
    },
    Nowhere,
}

async fn grant_of(app: &App, origin: &str) -> Grant {
    if app.settings.allowed_origins.iter().any(|o| o == origin) {
        return Grant::Everywhere;
    }
    let Some(host) = origin_host(origin) else {
        return Grant::Nowhere;
    };
    let domain = host.to_ascii_lowercase();
    match active_tenant_of(app, origin, &domain).await {
        Some(id) => Grant::Tenant { id, domain },
        None => Grant::Nowhere,
    }
}

/// The tenants a request names: `X-Tenant-ID`, a `{tenant_id}` path
/// segment, `tenant_id` query parameters. `None` when one is unreadable.
fn named_tenants(request: &Request, path_params: &[(String, String)]) -> Option<Vec<String>> {
    let mut named = vec![];
    for value in request.headers().get_all("x-tenant-id") {
        named.push(value.to_str().ok()?.trim().to_string());
    }
    for (name, value) in path_params {
        if name == "tenant_id" {
            named.push(value.clone());
        }
    }
    if request.uri().query().is_some() {
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(request.uri()).ok()?;
        for (name, value) in pairs {
            if name == "tenant_id" {
                named.push(value);
            }
        }
    }
    Some(named)
}

/// The request's Host without its port, lower case.
fn request_domain(request: &Request) -> Option<String> {
    let host = request
        .headers()
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri().host())?
        .trim();
    let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    Some(host.to_ascii_lowercase())
}

/// Whether `grant` lets the origin read the answer to this request. A
/// tenant's origin: every tenant the request names is that tenant; naming
/// none, the request's Host is the tenant's domain (how the tenant is then
/// resolved). A preflight does not carry the `X-Tenant-ID` value, so it
/// passes unless its path or query names another tenant; the request
/// itself then gets CORS headers or not.
fn granted(
    grant: &Grant,
    request: &Request,
    path_params: &[(String, String)],
    preflight: bool,
) -> bool {
    match grant {
        Grant::Everywhere => true,
        Grant::Nowhere => false,
        Grant::Tenant { id, domain } => {
            let Some(named) = named_tenants(request, path_params) else {
                return false;
            };
            if named.iter().any(|n| n != id) {
                return false;
            }
            preflight || !named.is_empty() || request_domain(request).as_deref() == Some(domain)
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
pub async fn cors(State(app): State<App>, mut request: Request, next: Next) -> Response {
    let Some(origin) = request.headers().get(ORIGIN).cloned() else {
        return next.run(request).await;
    };
    let grant = match origin.to_str() {
        Ok(o) => grant_of(&app, o).await,
        Err(_) => Grant::Nowhere,
    };
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(ACCESS_CONTROL_REQUEST_METHOD);
    let path_params = match request.extract_parts::<RawPathParams>().await {
        Ok(params) => Some(
            params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        // No route matched: the path names nothing.
        Err(RawPathParamsRejection::MissingPathParams(_)) => Some(vec![]),
        Err(_) => None,
    };
    let allowed = path_params.is_some_and(|params| granted(&grant, &request, &params, preflight));
    let mut response = if preflight {
        if !allowed {
            return AppError::forbidden(
                "origin_not_allowed",
                "this origin is not this tenant's domain nor in PETRAF_ALLOWED_ORIGINS",
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
    // Whether an origin is granted depends on the tenant the request names,
    // so a cache must key on those headers too.
    for varies in ["origin", "x-tenant-id", "host"] {
        headers.append(VARY, HeaderValue::from_static(varies));
    }
    if allowed {
        allow(headers, origin);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::{Grant, granted, origin_host};
    use axum::extract::Request;

    fn request(uri: &str, host: &str, tenant_header: Option<&str>) -> Request {
        let mut builder = Request::builder().uri(uri).header("host", host);
        if let Some(id) = tenant_header {
            builder = builder.header("x-tenant-id", id);
        }
        builder.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn a_tenants_origin_is_granted_for_that_tenants_requests_only() {
        let a = Grant::Tenant {
            id: "A".into(),
            domain: "a.petraf.com".into(),
        };
        let api = "api.petraf.com";
        let path = |id: &str| vec![("tenant_id".to_string(), id.to_string())];
        let none = vec![];
        // Named by X-Tenant-ID, the path, the query; or by the Host alone.
        assert!(granted(
            &a,
            &request("/api/session/resume", api, Some("A")),
            &none,
            false
        ));
        assert!(granted(
            &a,
            &request("/api/admin/rag/documents/A", api, None),
            &path("A"),
            false
        ));
        assert!(granted(
            &a,
            &request("/api/admin/stats/overview?tenant_id=A", api, None),
            &none,
            false
        ));
        assert!(granted(
            &a,
            &request("/api/session/resume", "a.petraf.com:443", None),
            &none,
            false
        ));
        // Another tenant named anywhere, or no tenant and another host.
        assert!(!granted(
            &a,
            &request("/api/session/resume", api, Some("B")),
            &none,
            false
        ));
        assert!(!granted(
            &a,
            &request("/api/session/resume", "b.petraf.com", None),
            &none,
            false
        ));
        assert!(!granted(
            &a,
            &request("/api/session/resume", api, None),
            &none,
            false
        ));
        assert!(!granted(
            &a,
            &request("/api/admin/rag/documents/B", api, Some("A")),
            &path("B"),
            false
        ));
        assert!(!granted(
            &a,
            &request("/api/admin/rag/documents/B", api, None),
            &path("B"),
            true
        ));
        assert!(!granted(
            &a,
            &request("/api/admin/audit-logs?tenant_id=A&tenant_id=B", api, None),
            &none,
            false
        ));
        assert!(!granted(
            &a,
            &request("/api/session/resume", "a.petraf.com", Some("B")),
            &none,
            false
        ));
        // A preflight cannot see X-Tenant-ID's value: its request decides.
        assert!(granted(
            &a,
            &request("/api/session/resume", api, None),
            &none,
            true
        ));
        // PETRAF_ALLOWED_ORIGINS is global; an unknown origin gets nothing.
        assert!(granted(
            &Grant::Everywhere,
            &request("/api/session/resume", api, Some("B")),
            &none,
            false
        ));
        assert!(!granted(
            &Grant::Nowhere,
            &request("/api/session/resume", api, Some("A")),
            &none,
            false
        ));
    }

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
