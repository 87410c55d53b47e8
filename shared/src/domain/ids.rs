//! Identifiers: ULIDs everywhere we mint one.

/// A new ULID, as its canonical 26-character string.
pub fn new_id() -> String {
    ulid::Ulid::new().to_string()
}

/// Whether `s` is a canonical ULID (what session ids look like).
pub fn is_ulid(s: &str) -> bool {
    s.len() == 26 && ulid::Ulid::from_string(s).is_ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn new_ids_are_ulids_and_unique() {
        let a = super::new_id();
        assert!(super::is_ulid(&a));
        assert_ne!(a, super::new_id());
        assert!(!super::is_ulid("01HN8X9QJ5ABCDEF123456789"));
        assert!(!super::is_ulid("../../etc/passwd"));
    }
}
