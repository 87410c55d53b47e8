//! A company document as the admin sees it: what was uploaded, where it
//! came from, and whether it is searchable.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::tenant::DocumentLimits;

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

/// What a tenant's library holds besides the document being written (a
/// replacement or re-upload does not count against itself).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LibraryUsage {
    pub documents: u64,
    pub chunks: u64,
}

impl LibraryUsage {
    /// The usage of `records` other than `document_id`.
    pub fn of<'a>(
        records: impl IntoIterator<Item = &'a DocumentRecord>,
        document_id: &str,
    ) -> Self {
        records.into_iter().filter(|r| r.id != document_id).fold(
            LibraryUsage::default(),
            |usage, r| LibraryUsage {
                documents: usage.documents + 1,
                chunks: usage.chunks + u64::from(r.chunks),
            },
        )
    }
}

/// Why a document does not fit in its tenant's library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LimitReached {
    #[error(
        "this tenant keeps at most {max} documents; delete one or ask the platform operator to raise the limit"
    )]
    Documents { max: u32 },
    #[error(
        "this document has {adding} chunks and the tenant's other documents {held}, over the limit of {max}; delete documents or ask the platform operator to raise the limit"
    )]
    Chunks { max: u32, held: u64, adding: u64 },
}

/// Whether a document of `chunks` chunks fits beside the `others`.
pub fn admit(
    limits: &DocumentLimits,
    others: LibraryUsage,
    chunks: usize,
) -> Result<(), LimitReached> {
    if others.documents + 1 > u64::from(limits.max_documents) {
        return Err(LimitReached::Documents {
            max: limits.max_documents,
        });
    }
    if others.chunks + chunks as u64 > u64::from(limits.max_chunks) {
        return Err(LimitReached::Chunks {
            max: limits.max_chunks,
            held: others.chunks,
            adding: chunks as u64,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, chunks: u32) -> DocumentRecord {
        let now = chrono::Utc::now();
        DocumentRecord {
            id: id.into(),
            tenant_id: "t".into(),
            category: "values".into(),
            title: id.into(),
            filename: format!("{id}.md"),
            format: Some("markdown".into()),
            status: DocumentStatus::Indexed,
            failure: None,
            pages: None,
            chunks,
            bytes: 10,
            source: DocumentSource::Upload,
            content_hash: String::new(),
            object_key: String::new(),
            revision: 1,
            metadata: serde_json::json!({}),
            flagged_passages: vec![],
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn a_document_is_admitted_only_within_both_limits() {
        let limits = DocumentLimits {
            max_documents: 2,
            max_chunks: 10,
        };
        let one = LibraryUsage::of(&[record("a", 6)], "new");
        assert_eq!(
            one,
            LibraryUsage {
                documents: 1,
                chunks: 6
            }
        );
        assert_eq!(admit(&limits, one, 4), Ok(()));
        assert_eq!(
            admit(&limits, one, 5),
            Err(LimitReached::Chunks {
                max: 10,
                held: 6,
                adding: 5
            })
        );
        let two = LibraryUsage::of(&[record("a", 6), record("b", 1)], "new");
        assert_eq!(
            admit(&limits, two, 1),
            Err(LimitReached::Documents { max: 2 })
        );
    }

    #[test]
    fn a_replacement_does_not_count_against_itself() {
        let limits = DocumentLimits {
            max_documents: 2,
            max_chunks: 10,
        };
        let library = [record("a", 6), record("b", 4)];
        let others = LibraryUsage::of(&library, "a");
        assert_eq!(
            others,
            LibraryUsage {
                documents: 1,
                chunks: 4
            }
        );
        assert_eq!(admit(&limits, others, 6), Ok(()));
        assert!(admit(&limits, others, 7).is_err());
    }

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
