//! The `resume_token` cookie: set when a session is created or resumed,
//! cleared when the employee erases it or leaves the browser.

use axum::http::header::HOST;
use axum::http::{HeaderMap, HeaderValue};
use chrono::{DateTime, Utc};

use super::extract::RESUME_COOKIE;

/// The `resume_token` cookie, for the token's life: host-only (no `Domain`:
/// tenants' domains share a parent, and a cookie scoped to it would reach
/// every tenant's host), HttpOnly, SameSite=Strict, and Secure except for
/// a loopback host (`petraf serve` over plain http in development, where
/// some browsers and curl would drop a Secure cookie). The name stays
/// `resume_token` rather than `__Host-…`: existing clients' cookies keep
/// working, and the attributes give what the prefix would demand.
pub(super) fn issued(
    token: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
    headers: &HeaderMap,
) -> HeaderValue {
    let max_age = (expires_at - now).num_seconds().max(0);
    let secure = secure_attribute(headers);
    HeaderValue::from_str(&format!(
        "{RESUME_COOKIE}={token}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Strict{secure}"
    ))
    .expect("JWTs and numbers are valid header characters")
}

/// `; Secure`, except for a loopback host.
fn secure_attribute(headers: &HeaderMap) -> &'static str {
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    if host.is_some_and(is_loopback_host) {
        ""
    } else {
        "; Secure"
    }
}

/// `localhost`, `127.0.0.1`, `[::1]` (any port): a browser on the same machine.
fn is_loopback_host(host: &str) -> bool {
    let host = host.trim();
    let name = match host.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The cookie that removes the resume token from this browser, with the
/// attributes it was set with (a browser keeps a Secure cookie unless the
/// removal matches it).
pub(super) fn cleared(headers: &HeaderMap) -> HeaderValue {
    let secure = secure_attribute(headers);
    HeaderValue::from_str(&format!(
        "{RESUME_COOKIE}=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict{secure}"
    ))
    .expect("a fixed cookie is a valid header")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookie_for(host: Option<&str>) -> String {
        let mut headers = HeaderMap::new();
        if let Some(host) = host {
            headers.insert(HOST, HeaderValue::from_str(host).unwrap());
        }
        let now: DateTime<Utc> = "2025-01-10T09:00:00Z".parse().unwrap();
        let cookie = issued("a.b.c", now + chrono::Duration::days(14), now, &headers);
        cookie.to_str().unwrap().to_string()
    }

    #[test]
    fn the_cookie_is_host_only_strict_and_secure_off_loopback() {
        for host in [
            Some("api.petraf.com"),
            Some("sunrise.petraf.com:443"),
            Some("localhost.evil.com"),
            None,
        ] {
            let cookie = cookie_for(host);
            assert_eq!(
                cookie,
                "resume_token=a.b.c; Max-Age=1209600; Path=/; HttpOnly; SameSite=Strict; Secure",
                "{host:?}"
            );
        }
        for host in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST",
            "[::1]:8080",
            "127.0.0.2",
        ] {
            let cookie = cookie_for(Some(host));
            assert!(!cookie.contains("Secure"), "{host}: {cookie}");
            assert!(
                cookie.contains("HttpOnly; SameSite=Strict"),
                "{host}: {cookie}"
            );
            assert!(!cookie.to_ascii_lowercase().contains("domain"), "{cookie}");
        }
    }

    #[test]
    fn the_cleared_cookie_matches_the_one_set() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("sunrise.petraf.com"));
        assert_eq!(
            cleared(&headers),
            "resume_token=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict; Secure"
        );
        headers.insert(HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert_eq!(
            cleared(&headers),
            "resume_token=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict"
        );
    }
}
