//! A client's address as the limiter and the audit log see it: parsed
//! strictly from what a trusted proxy forwarded, normalised, and reduced to
//! the bucket its per-address limits count in. Pure.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// The client address a request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAddress {
    /// A well-formed address, canonical (`::ffff:a.b.c.d` is `a.b.c.d`).
    Ip(IpAddr),
    /// A trusted proxy forwarded something that is no address (`unknown`,
    /// an obfuscated identifier, `0198.051.100.007`). Every such request
    /// shares one limit bucket: failing open would let anyone who can get
    /// garbage forwarded escape every per-address limit, and refusing them
    /// outright would lock out real users behind a proxy that hides
    /// addresses (RFC 7239 allows `unknown`).
    Unparseable,
}

/// The bucket every unparseable address counts in.
pub const UNPARSEABLE_BUCKET: &str = "unparseable";

impl ClientAddress {
    /// The address of a socket peer or of Lambda's request context.
    pub fn of_peer(ip: IpAddr) -> Self {
        ClientAddress::Ip(ip.to_canonical())
    }

    /// One `X-Forwarded-For` entry, in the forms proxies send: an IPv4 or
    /// IPv6 address, bracketed IPv6 (`[2001:db8::1]`), either with a port
    /// (`198.51.100.7:1234`, `[2001:db8::1]:443`). IPv4 must be four
    /// decimal octets without leading zeros: `0198.051.100.007` reads as
    /// octal to some parsers and decimal to others, so it is no address.
    /// IPv6 zone ids (`fe80::1%eth0`) name the proxy's interface, not a
    /// client: no address either.
    pub fn parse_forwarded(entry: &str) -> Self {
        let entry = entry.trim();
        let ip = if let Some(inner) = entry.strip_prefix('[').and_then(|e| e.strip_suffix(']')) {
            inner.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
        } else if let Ok(ip) = entry.parse::<IpAddr>() {
            Some(ip)
        } else {
            entry.parse::<SocketAddr>().ok().map(|s| s.ip())
        };
        match ip {
            Some(ip) if strict_text(entry) => ClientAddress::of_peer(ip),
            _ => ClientAddress::Unparseable,
        }
    }

    pub fn ip(self) -> Option<IpAddr> {
        match self {
            ClientAddress::Ip(ip) => Some(ip),
            ClientAddress::Unparseable => None,
        }
    }

    /// What its per-address limits count: an IPv4 address, an IPv6 /64
    /// (one subscriber's network: a client picks any address in it at
    /// will), or the shared bucket of the unparseable.
    pub fn limit_bucket(self) -> String {
        match self {
            ClientAddress::Ip(IpAddr::V4(v4)) => v4.to_string(),
            ClientAddress::Ip(IpAddr::V6(v6)) => {
                let s = v6.segments();
                format!("{}/64", Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
            ClientAddress::Unparseable => UNPARSEABLE_BUCKET.to_string(),
        }
    }
}

/// No decimal group of an IPv4 address (or of the IPv4 tail of an IPv6
/// one) written with a leading zero (`010`), whatever a parser accepts.
fn strict_text(entry: &str) -> bool {
    entry
        .split([':', '[', ']'])
        .filter(|part| part.contains('.'))
        .flat_map(|v4| v4.split('.'))
        .all(|group| group == "0" || !group.starts_with('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(entry: &str) -> Option<String> {
        ClientAddress::parse_forwarded(entry)
            .ip()
            .map(|ip| ip.to_string())
    }

    #[test]
    fn the_forms_proxies_send_are_normalised() {
        assert_eq!(parsed("203.0.113.7").as_deref(), Some("203.0.113.7"));
        assert_eq!(
            parsed(" 198.51.100.7:1234 ").as_deref(),
            Some("198.51.100.7")
        );
        assert_eq!(parsed("2001:db8::1").as_deref(), Some("2001:db8::1"));
        assert_eq!(parsed("[2001:db8::1]").as_deref(), Some("2001:db8::1"));
        assert_eq!(parsed("[2001:db8::1]:443").as_deref(), Some("2001:db8::1"));
        assert_eq!(
            parsed("::ffff:198.51.100.7").as_deref(),
            Some("198.51.100.7")
        );
        assert_eq!(
            parsed("[::ffff:198.51.100.7]:80").as_deref(),
            Some("198.51.100.7")
        );
        assert_eq!(parsed("0.0.0.0").as_deref(), Some("0.0.0.0"));
    }

    #[test]
    fn anything_else_is_unparseable() {
        for entry in [
            "unknown",
            "",
            "_hidden",
            "0198.051.100.007",
            "010.0.0.1",
            "10.0.0.01",
            "::ffff:010.0.0.1",
            "127.1",
            "0x7f.0.0.1",
            "2130706433",
            "fe80::1%eth0",
            "[2001:db8::1",
            "2001:db8::1]",
            "[198.51.100.7]",
            "198.51.100.7:99999",
            "198.51.100.7 198.51.100.8",
        ] {
            assert_eq!(
                ClientAddress::parse_forwarded(entry),
                ClientAddress::Unparseable,
                "{entry:?}"
            );
        }
    }

    #[test]
    fn buckets_join_a_v6_64_and_a_mapped_v4_with_its_v4() {
        let bucket = |entry: &str| ClientAddress::parse_forwarded(entry).limit_bucket();
        assert_eq!(bucket("2001:db8:1:2::1"), bucket("2001:db8:1:2:ffff::9"));
        assert_eq!(bucket("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_ne!(bucket("2001:db8:1:2::1"), bucket("2001:db8:1:3::1"));
        assert_eq!(bucket("::ffff:198.51.100.7"), bucket("198.51.100.7"));
        assert_ne!(bucket("198.51.100.7"), bucket("198.51.100.8"));
        assert_eq!(bucket("unknown"), bucket("0198.051.100.007"));
        assert_eq!(bucket("unknown"), UNPARSEABLE_BUCKET);
        let peer = ClientAddress::of_peer("::ffff:203.0.113.7".parse().unwrap());
        assert_eq!(peer, ClientAddress::Ip("203.0.113.7".parse().unwrap()));
    }
}
