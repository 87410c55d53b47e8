//! Identifiers: ULIDs everywhere we mint one.

use std::sync::Mutex;

/// A new ULID, as its canonical 26-character string. Ids minted by one
/// process sort in the order they were minted, even within a millisecond
/// (a plain `Ulid::new()` is random there).
pub fn new_id() -> String {
    static GENERATOR: Mutex<ulid::Generator> = Mutex::new(ulid::Generator::new());
    let mut generator = GENERATOR
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    generator
        .generate()
        .unwrap_or_else(|_| ulid::Ulid::new())
        .to_string()
}

/// Whether `s` is a canonical ULID (what session ids look like).
pub fn is_ulid(s: &str) -> bool {
    s.len() == 26 && ulid::Ulid::from_string(s).is_ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn new_ids_are_ulids_unique_and_ordered() {
        let ids: Vec<String> = (0..1000).map(|_| super::new_id()).collect();
        assert!(ids.iter().all(|id| super::is_ulid(id)));
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "ids sort in minting order"
        );
        assert!(!super::is_ulid("01HN8X9QJ5ABCDEF123456789"));
        assert!(!super::is_ulid("../../etc/passwd"));
    }
}
