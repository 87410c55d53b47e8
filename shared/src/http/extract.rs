//! Extractors: the tenant, the caller's origin, the resume token, the admin
//! key and JSON bodies with clear errors.

use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, HOST, USER_AGENT};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::app::tenants::{self, Admin};
use crate::app::{App, AppError};
use crate::domain::audit::RequestOrigin;
use crate::domain::client_address::ClientAddress;
use crate::domain::tenant::TenantRecord;

pub const RESUME_COOKIE: &str = "resume_token";

fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The tenant the request is for (`X-Tenant-ID`, else the Host's domain).
pub struct TenantCtx(pub TenantRecord);

impl FromRequestParts<App> for TenantCtx {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let host = header(parts, HOST.as_str())
            .map(str::to_string)
            .or_else(|| parts.uri.host().map(str::to_string));
        let record = tenants::resolve(app, header(parts, "x-tenant-id"), host.as_deref()).await?;
        super::request_span::record_tenant(&record.tenant.id);
        Ok(TenantCtx(record))
    }
}

/// The address of the peer that sent the request, as its transport knows
/// it: set by an entry point that is not a socket server (a Lambda
/// function sets the request context's source IP). `petraf serve` uses
/// the socket's peer ([`ConnectInfo`]).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddress(pub IpAddr);

/// The client's IP from a trusted source only (see [`client_address`]);
/// `None` when unknown or unparseable. One extractor for every use.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

impl ClientIp {
    pub fn of(parts: &Parts, trusted_proxies: usize) -> Option<IpAddr> {
        client_address(parts, trusted_proxies).and_then(ClientAddress::ip)
    }
}

/// The client's address from a trusted source only: the peer address, or,
/// with `trusted_proxies` = n > 0 configured, the n-th `X-Forwarded-For`
/// entry from the right (each trusted proxy appends the address it saw;
/// whatever is further left came from the client and proves nothing),
/// parsed strictly: an entry that is no address is
/// [`ClientAddress::Unparseable`], never skipped. `None` when unknown.
pub fn client_address(parts: &Parts, trusted_proxies: usize) -> Option<ClientAddress> {
    let peer = parts
        .extensions
        .get::<PeerAddress>()
        .map(|p| p.0)
        .or_else(|| {
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip())
        })
        .map(ClientAddress::of_peer);
    if trusted_proxies == 0 {
        return peer;
    }
    // Bytes, not `to_str`: a header that is not visible ASCII must not
    // vanish (and leave fewer hops) but parse as an unparseable entry.
    let hops: Vec<String> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .flat_map(|v| v.split(',').map(str::to_string).collect::<Vec<_>>())
        .collect();
    match hops.iter().rev().nth(trusted_proxies - 1) {
        Some(hop) => Some(ClientAddress::parse_forwarded(hop)),
        // Fewer hops than trusted proxies: the request did not come
        // through them, so nothing in the header can be trusted.
        None => peer,
    }
}

impl FromRequestParts<App> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(ClientIp::of(parts, app.settings.trusted_proxies)))
    }
}

/// Where the request came from, as it may be stored: the trusted client IP
/// and the user agent, masked and keyed-hashed.
pub struct Origin(pub RequestOrigin);

impl FromRequestParts<App> for Origin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let client = client_address(parts, app.settings.trusted_proxies);
        let user_agent: Option<String> =
            header(parts, USER_AGENT.as_str()).map(|ua| ua.chars().take(512).collect());
        Ok(Origin(RequestOrigin::of_client(
            client,
            user_agent.as_deref(),
            &app.secrets.hash_key,
        )))
    }
}

/// The session's resume token, from `Authorization: Bearer` or the cookie.
pub struct ResumeToken(pub Option<String>);

pub fn cookie_value(parts: &Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name && !v.is_empty()).then(|| v.to_string())
        })
}

impl<S: Send + Sync> FromRequestParts<S> for ResumeToken {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let bearer = header(parts, AUTHORIZATION.as_str())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());
        Ok(ResumeToken(
            bearer.or_else(|| cookie_value(parts, RESUME_COOKIE)),
        ))
    }
}

/// An authenticated admin (`X-Admin-Key`) and where the request came from,
/// with the prefix of the tenant admin key it used, so every audit entry an
/// admin causes names the key (whatever order a handler takes extractors in).
pub struct AdminAuth(pub Admin, pub RequestOrigin);

impl FromRequestParts<App> for AdminAuth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let admin = tenants::authenticate_admin(app, header(parts, "x-admin-key")).await?;
        let Ok(Origin(mut origin)) = Origin::from_request_parts(parts, app).await;
        if let Admin::Tenant { record, key } = &admin {
            super::request_span::record_tenant(&record.tenant.id);
            origin.admin_key = Some(key.prefix.clone());
        }
        Ok(AdminAuth(admin, origin))
    }
}

/// A JSON body whose rejections are our JSON errors. Only
/// `application/json` (with parameters such as `charset`) is read: the
/// types a foreign page may send without a preflight (`text/plain`, forms)
/// are `415`.
pub struct ApiJson<T>(pub T);

pub fn json_rejection(rejection: JsonRejection) -> AppError {
    match rejection {
        JsonRejection::JsonDataError(e) => AppError::bad_request("invalid_body", e.body_text()),
        JsonRejection::JsonSyntaxError(e) => AppError::bad_request("invalid_json", e.body_text()),
        JsonRejection::MissingJsonContentType(_) => unsupported_media_type(),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            AppError::too_large("body_too_large", "the request body is too large")
        }
        other => AppError::bad_request("invalid_body", other.body_text()),
    }
}

fn unsupported_media_type() -> AppError {
    AppError::unsupported(
        "unsupported_media_type",
        "send the body as application/json",
    )
}

/// The request's `Content-Type`, if it has one.
fn content_type(req: &Request) -> Option<&[u8]> {
    req.headers().get(CONTENT_TYPE).map(|v| v.as_bytes())
}

/// `application/json` (or `application/merge-patch+json`, what a settings
/// PATCH is), optionally with parameters (`; charset=utf-8`).
fn is_json(content_type: &[u8]) -> bool {
    let essence = content_type
        .split(|b| *b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    essence.eq_ignore_ascii_case(b"application/json")
        || essence.eq_ignore_ascii_case(b"application/merge-patch+json")
}

async fn body_bytes(req: Request, app: &App) -> Result<Bytes, AppError> {
    Bytes::from_request(req, app).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::too_large("body_too_large", "the request body is too large")
        } else {
            AppError::bad_request("invalid_body", e.body_text())
        }
    })
}

impl<T: DeserializeOwned> FromRequest<App> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, app: &App) -> Result<Self, Self::Rejection> {
        if !content_type(&req).is_some_and(is_json) {
            return Err(unsupported_media_type());
        }
        let bytes = body_bytes(req, app).await?;
        refuse_non_object(&bytes)?;
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(json) => Ok(ApiJson(json.0)),
            Err(rejection @ JsonRejection::JsonDataError(_)) => {
                with_whole_numbers_as_integers(&bytes)
                    .map(ApiJson)
                    .ok_or_else(|| json_rejection(rejection))
            }
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// Every body of this API is a JSON object; serde would also read a
/// struct from an array, field by field (`["01H…", "text"]`), which no
/// client means. An empty body is left to the parser's own error.
fn refuse_non_object(bytes: &[u8]) -> Result<(), AppError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') | None => Ok(()),
        Some(_) => Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                Ok(_) => AppError::bad_request("invalid_body", "the body must be a JSON object"),
                Err(e) => AppError::bad_request(
                    "invalid_json",
                    format!("the body is not valid JSON: {e}"),
                ),
            },
        ),
    }
}

/// The body read again with every whole number written with a fraction
/// (`266.0`) as the integer it is, if it has one: JSON Schema counts it an
/// integer, so a client may send it where the document says `integer`,
/// while serde's integers refuse it. `None` when there was none or the body
/// still does not fit.
fn with_whole_numbers_as_integers<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    let mut value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    (crate::domain::whole_numbers::as_integers(&mut value) > 0)
        .then(|| serde_json::from_value(value).ok())
        .flatten()
}

/// A JSON body that may be absent (empty body means `T::default()`). A
/// `Content-Type` other than `application/json` is `415` even with an
/// empty body, and so is a body without one: the optional body is no way
/// around [`ApiJson`]'s rule.
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default> FromRequest<App> for OptionalJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, app: &App) -> Result<Self, Self::Rejection> {
        let declared_json = match content_type(&req) {
            Some(declared) if is_json(declared) => true,
            Some(_) => return Err(unsupported_media_type()),
            None => false,
        };
        let bytes = body_bytes(req, app).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        if !declared_json {
            return Err(unsupported_media_type());
        }
        refuse_non_object(&bytes)?;
        serde_json::from_slice(&bytes)
            .or_else(|e| with_whole_numbers_as_integers(&bytes).ok_or(e))
            .map(OptionalJson)
            .map_err(|e| {
                AppError::bad_request(
                    "invalid_json",
                    format!("the body is not valid JSON for this endpoint: {e}"),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, Request};

    use super::*;

    fn parts(forwarded: &[&[u8]]) -> Parts {
        let mut request = Request::new(());
        for value in forwarded {
            request
                .headers_mut()
                .append("x-forwarded-for", HeaderValue::from_bytes(value).unwrap());
        }
        request
            .extensions_mut()
            .insert(PeerAddress("::ffff:192.0.2.1".parse().unwrap()));
        request.into_parts().0
    }

    fn ip(s: &str) -> ClientAddress {
        ClientAddress::Ip(s.parse().unwrap())
    }

    #[test]
    fn the_trusted_hop_is_parsed_strictly() {
        let of = |forwarded: &[&str], proxies| {
            let bytes: Vec<&[u8]> = forwarded.iter().map(|f| f.as_bytes()).collect();
            client_address(&parts(&bytes), proxies)
        };
        assert_eq!(
            of(&["10.0.0.1"], 0),
            Some(ip("192.0.2.1")),
            "the peer, canonical"
        );
        assert_eq!(
            of(&["10.0.0.1, 198.51.100.7:1234"], 1),
            Some(ip("198.51.100.7"))
        );
        assert_eq!(
            of(&["10.0.0.1", "[2001:db8::1]"], 1),
            Some(ip("2001:db8::1"))
        );
        assert_eq!(
            of(&["10.0.0.1, unknown"], 1),
            Some(ClientAddress::Unparseable)
        );
        assert_eq!(
            of(&["unknown, 10.0.0.1"], 2),
            Some(ClientAddress::Unparseable)
        );
        // Fewer hops than trusted proxies: the peer.
        assert_eq!(of(&["10.0.0.1"], 2), Some(ip("192.0.2.1")));
        // Bytes that are not visible ASCII do not make the hop vanish.
        let opaque: &[u8] = b"10.0.0.1, \xff";
        assert_eq!(
            client_address(&parts(&[opaque]), 1),
            Some(ClientAddress::Unparseable)
        );
        assert_eq!(ClientIp::of(&parts(&[b"unknown".as_slice()]), 1), None);
    }

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Retention {
        days: u32,
        weights: Vec<i32>,
        threshold: f64,
    }

    #[test]
    fn only_an_object_is_a_body() {
        assert!(refuse_non_object(b" {\"a\": 1}").is_ok());
        assert!(
            refuse_non_object(b"").is_ok(),
            "the parser names an empty body"
        );
        for (body, code) in [
            (&b"[]"[..], "invalid_body"),
            (b"[\"01H\", \"text\"]", "invalid_body"),
            (b" 42", "invalid_body"),
            (b"null", "invalid_body"),
            (b"[1,2", "invalid_json"),
        ] {
            assert_eq!(refuse_non_object(body).unwrap_err().code, code, "{body:?}");
        }
    }

    #[test]
    fn whole_numbers_with_a_fraction_are_the_integers_they_name() {
        let read = |body: &str| with_whole_numbers_as_integers::<Retention>(body.as_bytes());
        let expected = Retention {
            days: 266,
            weights: vec![60, -40],
            threshold: 7.0,
        };
        assert_eq!(
            read(r#"{"days": 266.0, "weights": [60, -40.0], "threshold": 7.0}"#),
            Some(expected)
        );
        // A fraction is no integer, nor is a float beyond exact integers.
        assert_eq!(
            read(r#"{"days": 266.5, "weights": [], "threshold": 7}"#),
            None
        );
        assert_eq!(
            read(r#"{"days": 1e300, "weights": [], "threshold": 7}"#),
            None
        );
        // Nothing to turn: the first refusal stands.
        assert_eq!(
            read(r#"{"days": "266", "weights": [], "threshold": 7}"#),
            None
        );
    }

    #[test]
    fn only_application_json_is_json() {
        for yes in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON;charset=UTF-8",
            " application/json ",
            "application/merge-patch+json",
        ] {
            assert!(is_json(yes.as_bytes()), "{yes}");
        }
        for no in [
            "text/plain",
            "text/plain; charset=utf-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonp",
            "application/vnd.api+json",
            "text/json",
            "",
        ] {
            assert!(!is_json(no.as_bytes()), "{no}");
        }
    }
}
