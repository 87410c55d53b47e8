//! The reference web app (employee coach and admin console): static files
//! compiled into the binary, plus `/config.json` telling the page where the
//! API is. The page is a client of the public API only, so the same files can
//! be served by any static host beside the AWS stack (infra/README.md).

use axum::Router;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

/// What `/config.json` tells the page.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct WebConfig {
    /// Prefix of API calls; empty for the page's own origin.
    pub api_base: String,
    /// Prefix of `/api/chat/*` (the streaming Function URL on AWS).
    pub chat_base: String,
    /// The tenant when neither the page's `?tenant=` nor the host names one.
    pub default_tenant: Option<String>,
}

impl WebConfig {
    /// Same-origin API; `PETRAF_WEB_TENANT_ID` overrides the default tenant.
    pub fn local(default_tenant: Option<&str>) -> Self {
        WebConfig {
            api_base: String::new(),
            chat_base: String::new(),
            default_tenant: std::env::var("PETRAF_WEB_TENANT_ID")
                .ok()
                .filter(|t| !t.trim().is_empty())
                .or(default_tenant.map(str::to_string)),
        }
    }
}

/// Every asset: (path, content type, bytes).
pub const ASSETS: &[(&str, &str, &str)] = &[
    (
        "/",
        "text/html; charset=utf-8",
        include_str!("../../web/index.html"),
    ),
    (
        "/style.css",
        "text/css; charset=utf-8",
        include_str!("../../web/style.css"),
    ),
    (
        "/js/app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/js/app.js"),
    ),
    (
        "/js/api.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/js/api.js"),
    ),
    (
        "/js/employee.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/js/employee.js"),
    ),
    (
        "/js/admin.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/js/admin.js"),
    ),
    (
        "/js/ui.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/js/ui.js"),
    ),
];

const CSP: &str = "default-src 'self'; connect-src *; img-src 'self' data: blob:; \
                   style-src 'self'; script-src 'self'; frame-ancestors 'none'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (
                HeaderName::from_static("content-security-policy"),
                HeaderValue::from_static(CSP),
            ),
        ],
        body,
    )
        .into_response()
}

/// The app's routes; merge with the API router (their paths never overlap).
pub fn router(config: WebConfig) -> Router {
    let mut router = Router::new();
    for &(path, content_type, body) in ASSETS {
        router = router.route(path, get(move || async move { asset(content_type, body) }));
    }
    let config = serde_json::to_string(&config).expect("the web config serializes");
    router.route(
        "/config.json",
        get(move || async move {
            (
                [
                    (CONTENT_TYPE, "application/json"),
                    (CACHE_CONTROL, "no-cache"),
                ],
                config,
            )
        }),
    )
}
