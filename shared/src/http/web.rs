//! The reference web app (employee coach and admin console): static files
//! compiled into the binary, plus `/config.json` telling the page where the
//! API is. The page is a client of the public API only, so the same files can
//! be served by any static host beside the AWS stack (infra/README.md).
//!
//! Each file is served brotli- or gzip-compressed when the browser accepts
//! it (compressed once, on first use), with a strong `ETag` per encoding, so
//! a reload revalidates with `If-None-Match` and gets an empty `304`.

use std::io::Write;
use std::sync::OnceLock;

use axum::Router;
use axum::http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use sha2::{Digest, Sha256};

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
        "/js/admin-documents.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/js/admin-documents.js"),
    ),
    (
        "/js/admin-settings.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/js/admin-settings.js"),
    ),
    (
        "/js/admin-settings-preview.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/js/admin-settings-preview.js"),
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
    (
        "/favicon.svg",
        "image/svg+xml",
        include_str!("../../web/favicon.svg"),
    ),
];

const CSP: &str = "default-src 'self'; connect-src *; img-src 'self' data: blob:; \
                   style-src 'self'; script-src 'self'; frame-ancestors 'none'";

/// A content coding the server can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Brotli,
    Gzip,
    Identity,
}

impl Coding {
    fn token(self) -> &'static str {
        match self {
            Coding::Brotli => "br",
            Coding::Gzip => "gzip",
            Coding::Identity => "identity",
        }
    }
}

/// The coding to answer with: brotli, then gzip, when `Accept-Encoding`
/// accepts it (a `q=0` refuses; `*` stands for any coding not named).
fn chosen_coding(headers: &HeaderMap) -> Coding {
    let accepted: Vec<(String, f32)> = headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|item| {
            let mut parts = item.split(';');
            let name = parts.next()?.trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (!name.is_empty()).then_some((name, q))
        })
        .collect();
    let quality = |token: &str| {
        accepted
            .iter()
            .find(|(name, _)| name == token)
            .or_else(|| accepted.iter().find(|(name, _)| name == "*"))
            .map_or(0.0, |(_, q)| *q)
    };
    [Coding::Brotli, Coding::Gzip]
        .into_iter()
        .find(|c| quality(c.token()) > 0.0)
        .unwrap_or(Coding::Identity)
}

/// One file as served: its bytes in each coding and their strong ETags.
struct Representations {
    identity: (&'static [u8], HeaderValue),
    gzip: (Vec<u8>, HeaderValue),
    brotli: (Vec<u8>, HeaderValue),
}

/// A strong validator for `bytes`: one representation, one tag.
fn strong_etag(bytes: &[u8], coding: Coding) -> HeaderValue {
    let digest = hex::encode(&Sha256::digest(bytes)[..16]);
    let suffix = match coding {
        Coding::Identity => String::new(),
        c => format!("-{}", c.token()),
    };
    HeaderValue::from_str(&format!("\"{digest}{suffix}\"")).expect("hex is a valid header value")
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(body).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

fn brotli(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
        writer.write_all(body).expect("writing to memory");
    }
    out
}

impl Representations {
    fn of(body: &'static str) -> Self {
        let bytes = body.as_bytes();
        Representations {
            identity: (bytes, strong_etag(bytes, Coding::Identity)),
            gzip: (gzip(bytes), strong_etag(bytes, Coding::Gzip)),
            brotli: (brotli(bytes), strong_etag(bytes, Coding::Brotli)),
        }
    }

    fn pick(&self, coding: Coding) -> (&[u8], &HeaderValue) {
        match coding {
            Coding::Brotli => (&self.brotli.0, &self.brotli.1),
            Coding::Gzip => (&self.gzip.0, &self.gzip.1),
            Coding::Identity => (self.identity.0, &self.identity.1),
        }
    }
}

/// Whether `If-None-Match` names `etag` (weak comparison, as RFC 9110
/// asks for this header) or is `*`.
fn not_modified(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let ours = etag.to_str().unwrap_or_default();
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim())
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == ours)
}

fn asset(content_type: &'static str, served: &Representations, headers: &HeaderMap) -> Response {
    let coding = chosen_coding(headers);
    let (bytes, etag) = served.pick(coding);
    let mut response = if not_modified(headers, etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = (
            [(CONTENT_TYPE, HeaderValue::from_static(content_type))],
            bytes.to_vec(),
        )
            .into_response();
        if coding != Coding::Identity {
            response
                .headers_mut()
                .insert(CONTENT_ENCODING, HeaderValue::from_static(coding.token()));
        }
        response
    };
    let out = response.headers_mut();
    out.insert(ETAG, etag.clone());
    out.insert(VARY, HeaderValue::from_static("accept-encoding"));
    // Cached, but checked with the server on every use.
    out.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    out.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    out.insert(
        HeaderName::from_static("content-security-policy"),
        HeaderValue::from_static(CSP),
    );
    response
}

/// Every asset's representations, made on its first request, once per process.
static SERVED: [OnceLock<Representations>; ASSETS.len()] =
    [const { OnceLock::new() }; ASSETS.len()];

/// The app's routes; merge with the API router (their paths never overlap).
pub fn router(config: WebConfig) -> Router {
    let mut router = Router::new();
    for (&(path, content_type, body), served) in ASSETS.iter().zip(&SERVED) {
        router = router.route(
            path,
            get(move |headers: HeaderMap| async move {
                asset(
                    content_type,
                    served.get_or_init(|| Representations::of(body)),
                    &headers,
                )
            }),
        );
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

    async fn fetch(path: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = Request::get(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        router(WebConfig::default())
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    fn header(response: &Response, name: HeaderName) -> String {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }

    fn original(path: &str) -> &'static str {
        ASSETS.iter().find(|(p, _, _)| *p == path).unwrap().2
    }

    #[tokio::test]
    async fn assets_are_compressed_as_the_browser_accepts_and_decompress_to_the_file() {
        use std::io::Read;
        let br = fetch(
            "/js/employee.js",
            &[("accept-encoding", "gzip, deflate, br, zstd")],
        )
        .await;
        assert_eq!(header(&br, CONTENT_ENCODING), "br");
        assert_eq!(header(&br, VARY), "accept-encoding");
        let body = to_bytes(br.into_body(), usize::MAX).await.unwrap();
        assert!(body.len() < original("/js/employee.js").len() / 2);
        let mut plain = String::new();
        brotli::Decompressor::new(&body[..], 4096)
            .read_to_string(&mut plain)
            .unwrap();
        assert_eq!(plain, original("/js/employee.js"));

        let gz = fetch("/style.css", &[("accept-encoding", "gzip;q=1.0, br;q=0")]).await;
        assert_eq!(header(&gz, CONTENT_ENCODING), "gzip");
        let body = to_bytes(gz.into_body(), usize::MAX).await.unwrap();
        let mut plain = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut plain)
            .unwrap();
        assert_eq!(plain, original("/style.css"));

        for refused in [
            &[][..],
            &[("accept-encoding", "identity")],
            &[("accept-encoding", "*;q=0")],
        ] {
            let plain = fetch("/", refused).await;
            assert_eq!(header(&plain, CONTENT_ENCODING), "", "{refused:?}");
            assert_eq!(header(&plain, VARY), "accept-encoding");
            let body = to_bytes(plain.into_body(), usize::MAX).await.unwrap();
            assert_eq!(body, original("/").as_bytes());
        }
    }

    #[tokio::test]
    async fn a_matching_if_none_match_gets_an_empty_304_per_encoding() {
        let first = fetch("/js/app.js", &[("accept-encoding", "gzip")]).await;
        let etag = header(&first, ETAG);
        assert!(
            etag.starts_with('"') && etag.ends_with("-gzip\""),
            "strong: {etag}"
        );
        let again = fetch(
            "/js/app.js",
            &[
                ("accept-encoding", "gzip"),
                ("if-none-match", &format!("\"other\", {etag}")),
            ],
        )
        .await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(header(&again, ETAG), etag);
        assert_eq!(header(&again, VARY), "accept-encoding");
        assert!(
            to_bytes(again.into_body(), usize::MAX)
                .await
                .unwrap()
                .is_empty()
        );

        // Another encoding is another representation, with its own tag.
        let br = fetch(
            "/js/app.js",
            &[("accept-encoding", "br"), ("if-none-match", &etag)],
        )
        .await;
        assert_eq!(br.status(), StatusCode::OK);
        assert_ne!(header(&br, ETAG), etag);
        let stale = fetch("/js/app.js", &[("if-none-match", "\"stale\"")]).await;
        assert_eq!(stale.status(), StatusCode::OK);
        let other_file = fetch("/js/ui.js", &[("accept-encoding", "gzip")]).await;
        assert_ne!(header(&other_file, ETAG), etag);
    }

    #[tokio::test]
    async fn the_page_links_its_favicon() {
        let (status, kind, html) = get(router(WebConfig::default()), "/").await;
        assert_eq!(status, StatusCode::OK);
        assert!(kind.starts_with("text/html"));
        assert!(html.contains(r#"rel="icon" href="favicon.svg""#));
        let (status, kind, svg) = get(router(WebConfig::default()), "/favicon.svg").await;
        assert_eq!((status, kind.as_str()), (StatusCode::OK, "image/svg+xml"));
        assert!(svg.starts_with("<svg"));
    }

    #[test]
    fn the_page_counts_characters_against_the_server_s_limits() {
        let script = original("/js/employee.js");
        for (name, limit) in [
            (
                "MAX_MESSAGE_CHARS",
                crate::domain::message::MAX_USER_MESSAGE_CHARS,
            ),
            ("MAX_GOAL_CHARS", crate::domain::goal::MAX_GOAL_CHARS),
        ] {
            assert!(
                script.contains(&format!("const {name} = {limit};")),
                "employee.js's {name} is not the server's {limit}"
            );
        }
        // A `maxlength` would cut a pasted answer off without a word.
        assert!(!script.contains("maxlength"));
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
