//! What passes between a function that leaves the parser engines out and
//! the extract function. Documents (up to 10 MB) and their text exceed a
//! Lambda payload (6 MB), so both travel through the document bucket under
//! [`STAGING_PREFIX`] and the invocation names only their keys.

use serde::{Deserialize, Serialize};

use super::{DocumentFormat, Limits};

/// Where staged documents and replies live; the bucket's lifecycle
/// expires what a crash left there after a day.
pub const STAGING_PREFIX: &str = "extraction/";

/// The extract function's event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractRequest {
    /// The staged document; the extract function deletes it.
    pub document_key: String,
    pub format: DocumentFormat,
    pub limits: Limits,
}

/// The extract function's answer: where it left the worker's reply
/// (JSON), for the invoker to read and delete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtractResponse {
    pub reply_key: String,
}

/// A fresh key for a staged document.
pub fn new_document_key() -> String {
    format!("{STAGING_PREFIX}{}", ulid::Ulid::new())
}

/// Where the reply to the staged document `document_key` goes.
pub fn reply_key(document_key: &str) -> String {
    format!("{document_key}.reply.json")
}

/// Whether `key` is a staged document's key as [`new_document_key`] makes
/// them: the extract function reads and deletes nothing else.
pub fn is_document_key(key: &str) -> bool {
    key.strip_prefix(STAGING_PREFIX)
        .is_some_and(|id| ulid::Ulid::from_string(id).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_keys_are_fresh_ulids_under_the_prefix() {
        let (a, b) = (new_document_key(), new_document_key());
        assert_ne!(a, b);
        assert!(is_document_key(&a));
        assert!(reply_key(&a).starts_with(&a));
        assert!(!is_document_key(&reply_key(&a)));
    }

    #[test]
    fn only_staged_keys_are_document_keys() {
        for key in [
            "",
            "extraction/",
            "extraction/../tenants/t1/doc.pdf",
            "tenants/t1/documents/01J0000000000000000000000/a.pdf",
            "drop/01J0000000000000000000000",
            "extraction/01J0000000000000000000000/x",
        ] {
            assert!(!is_document_key(key), "{key}");
        }
    }

    #[test]
    fn the_request_refuses_unknown_fields() {
        let json = serde_json::json!({
            "document_key": new_document_key(),
            "format": "pdf",
            "limits": Limits::default(),
            "bucket": "someone-elses",
        });
        assert!(serde_json::from_value::<ExtractRequest>(json).is_err());
    }
}
