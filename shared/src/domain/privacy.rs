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
    fn masks_keep_only_the_edges() {
        assert_eq!(mask("EMP12345"), "EM***45");
        assert_eq!(mask("abc"), "***");
        assert_eq!(
            mask_email("john.davis@sunrisecorp.com"),
            "jo***@sunrisecorp.com"
        );
    }
}
