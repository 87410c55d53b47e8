//! Keeping personal data out of storage and logs.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Hashes a value (user agent, IP) with a deployment key, so equal values
/// can be matched without the value being stored or guessable offline.
pub fn keyed_hash(key: &[u8], value: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(value.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// An IP address with its host part hidden: the last octet of IPv4
/// (`203.0.113.0`), all but the first 48 bits of IPv6 (`2001:db8:85a3::`).
pub fn mask_ip(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0")
        }
        std::net::IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return mask_ip(std::net::IpAddr::V4(v4));
            }
            let s = v6.segments();
            std::net::Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0).to_string()
        }
    }
}

/// A user agent reduced to its product token (`Mozilla/5.0...`).
pub fn user_agent_product(user_agent: &str) -> String {
    match user_agent.split_once(' ') {
        Some((product, _)) => format!("{}...", product.chars().take(64).collect::<String>()),
        None => user_agent.chars().take(64).collect(),
    }
}

/// Masks an identifier for logs: keeps two characters at each end.
pub fn mask(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= 4 {
        return "***".into();
    }
    format!(
        "{}***{}",
        chars[..2].iter().collect::<String>(),
        chars[chars.len() - 2..].iter().collect::<String>()
    )
}

/// Masks an email for logs: `jo***@sunrisecorp.com`.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, host)) => format!("{}***@{host}", local.chars().take(2).collect::<String>()),
        None => mask(email),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_hashes_depend_on_the_key_and_hide_the_value() {
        let a = keyed_hash(b"k1", "192.168.1.100");
        assert_eq!(a, keyed_hash(b"k1", "192.168.1.100"));
        assert_ne!(a, keyed_hash(b"k2", "192.168.1.100"));
        assert!(!a.contains("192"));
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn masked_ips_hide_the_host() {
        assert_eq!(mask_ip("203.0.113.45".parse().unwrap()), "203.0.113.0");
        assert_eq!(
            mask_ip("2001:db8:85a3:8d3:1319:8a2e:370:7348".parse().unwrap()),
            "2001:db8:85a3::"
        );
        assert_eq!(
            mask_ip("::ffff:198.51.100.7".parse().unwrap()),
            "198.51.100.0"
        );
        assert_eq!(
            user_agent_product("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)"),
            "Mozilla/5.0..."
        );
        assert_eq!(user_agent_product("curl/8.5.0"), "curl/8.5.0");
    }

    #[test]
    fn masks_keep_only_the_edges() {
        assert_eq!(mask("EMP12345"), "EM***45");
        assert_eq!(mask("abc"), "***");
        assert_eq!(
            mask_email("john.davis@sunrisecorp.com"),
            "jo***@sunrisecorp.com"
        );
    }
}
