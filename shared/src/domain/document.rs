//! A company document as the admin sees it: what was uploaded, where it
//! came from, and whether it is searchable.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentStatus {
    /// Stored; its text is being extracted and indexed.
    Indexing,
    /// Its chunks are searchable.
    Indexed,
    /// It could not be indexed; `failure` says why.
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentSource {
    /// `POST /api/admin/rag/upload/{tenant}`.
    Upload,
    /// An object put into the S3 drop folder.
    DropFolder,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DocumentFailure {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DocumentRecord {
    pub id: String,
    pub tenant_id: String,
    pub category: String,
    pub title: String,
    pub filename: String,
    /// The detected format (`pdf`, `docx`, …), once known.
    pub format: Option<String>,
    pub status: DocumentStatus,
    pub failure: Option<DocumentFailure>,
    pub pages: Option<u32>,
    pub chunks: u32,
    pub bytes: u64,
    pub source: DocumentSource,
    /// SHA-256 of the bytes, hex: the same bytes are one document.
    pub content_hash: String,
    pub object_key: String,
    /// 1, then one more for each replacement.
    pub revision: u32,
    /// The user's metadata (JSON object).
    #[serde(default)]
    pub metadata: serde_json::Value,
    /// Sentences that read as instructions to the assistant ("ignore the
    /// rubric", "score this 10/10"): kept in the document, flagged on their
    /// chunks, and withheld from every model at retrieval.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flagged_passages: Vec<crate::domain::injection::Finding>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The hex SHA-256 of a document's bytes.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The id a new upload gets: derived from its tenant, category and bytes,
/// so two concurrent uploads of the same file land on one document.
pub fn upload_document_id(tenant_id: &str, category: &str, hash: &str) -> String {
    let digest = Sha256::digest(format!("{tenant_id}\n{category}\n{hash}").as_bytes());
    hex::encode(digest)[..26].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_content_within_a_tenant_and_category() {
        let h = content_hash(b"policy");
        assert_eq!(h.len(), 64);
        assert_eq!(
            upload_document_id("t", "values", &h),
            upload_document_id("t", "values", &h)
        );
        assert_ne!(
            upload_document_id("t", "values", &h),
            upload_document_id("u", "values", &h)
        );
        assert_ne!(
            upload_document_id("t", "values", &h),
            upload_document_id("t", "other", &h)
        );
        assert_ne!(h, content_hash(b"policy v2"));
    }
}
