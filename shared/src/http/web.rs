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
    /// Same-origin API, with this default tenant.
    pub fn local(default_tenant: Option<String>) -> Self {
        WebConfig {
            api_base: String::new(),
            chat_base: String::new(),
            default_tenant,
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
    // The API reference, rendered from /api/openapi.json.
    (
        "/api-docs",
        "text/html; charset=utf-8",
        include_str!("../../web/api.html"),
    ),
    (
        "/api-docs.css",
        "text/css; charset=utf-8",
        include_str!("../../web/api-docs.css"),
    ),
    (
        "/js/api-docs.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/js/api-docs.js"),
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

#[cfg(test)]
mod tests {
    use axum::body::{Body, to_bytes};
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::*;

    async fn get(router: Router, path: &str) -> (StatusCode, String, String) {
        let response = router
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let status = response.status();
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, content_type, String::from_utf8_lossy(&body).into())
    }

    #[tokio::test]
    async fn serves_the_page_its_modules_and_the_config() {
        let config = WebConfig {
            api_base: "https://api.example".into(),
            chat_base: "https://chat.example".into(),
            default_tenant: Some("t1".into()),
        };
        let (status, kind, html) = get(router(config.clone()), "/").await;
        assert_eq!(status, StatusCode::OK);
        assert!(kind.starts_with("text/html"));
        assert!(html.contains(r#"src="js/app.js""#));
        let (_, kind, _) = get(router(config.clone()), "/js/employee.js").await;
        assert!(kind.starts_with("text/javascript"));
        let (_, _, json) = get(router(config.clone()), "/config.json").await;
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["chat_base"], "https://chat.example");
        assert_eq!(parsed["default_tenant"], "t1");
    }

    #[tokio::test]
    async fn serves_the_api_reference_page_without_third_party_scripts() {
        let (status, kind, html) = get(router(WebConfig::default()), "/api-docs").await;
        assert_eq!(status, StatusCode::OK);
        assert!(kind.starts_with("text/html"));
        assert!(html.contains(r#"src="js/api-docs.js""#));
        let (status, _, script) = get(router(WebConfig::default()), "/js/api-docs.js").await;
        assert_eq!(status, StatusCode::OK);
        assert!(script.contains("api/openapi.json"));
        assert!(!html.contains("https://") && !script.contains("https://"));
    }

    #[test]
    fn every_module_the_page_imports_is_served() {
        let served: Vec<&str> = ASSETS.iter().map(|(path, _, _)| *path).collect();
        for (_, _, body) in ASSETS {
            for import in body.split("from \"./").skip(1) {
                let module = import.split('"').next().unwrap();
                assert!(
                    served.contains(&format!("/js/{module}").as_str()),
                    "{module}"
                );
            }
        }
    }
}
