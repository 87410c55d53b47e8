//! A company document as the admin sees it: what was uploaded, where it
//! came from, and whether it is searchable.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::injection::Finding;
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
    pub flagged_passages: Vec<Finding>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What reading a document's file gave: the fields of its record that
/// come from its content.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentContent {
    pub filename: String,
    /// The detected format's name (`pdf`, `docx`, …).
    pub format: String,
    pub title: String,
    pub pages: Option<u32>,
    pub flagged_passages: Vec<Finding>,
    pub chunks: u32,
    pub bytes: u64,
    pub content_hash: String,
    pub metadata: serde_json::Value,
}

impl DocumentRecord {
    /// An upload's record, indexed: revision 1, or the revision after
    /// `previous` when the same id held other content (the document was
    /// replaced since these bytes were its first version).
    pub fn uploaded(
        tenant_id: &str,
        category: &str,
        id: &str,
        content: DocumentContent,
        object_key: String,
        previous: Option<&DocumentRecord>,
        now: DateTime<Utc>,
    ) -> Self {
        // The revision before this one (none: 0), then this content as the next.
        let before = DocumentRecord {
            source: DocumentSource::Upload,
            revision: previous.map_or(0, |p| p.revision),
            created_at: previous.map_or(now, |p| p.created_at),
            ..Self::dropped(tenant_id, category, id, "", "", now)
        };
        before.revised(content, object_key, now)
    }

    /// This document's next revision with new content (a replacement),
    /// indexed; where it came from and when it was created stay.
    pub fn revised(
        &self,
        content: DocumentContent,
        object_key: String,
        now: DateTime<Utc>,
    ) -> Self {
        DocumentRecord {
            title: content.title,
            filename: content.filename,
            format: Some(content.format),
            status: DocumentStatus::Indexed,
            failure: None,
            pages: content.pages,
            flagged_passages: content.flagged_passages,
            chunks: content.chunks,
            bytes: content.bytes,
            content_hash: content.content_hash,
            object_key,
            revision: self.revision + 1,
            metadata: content.metadata,
            updated_at: now,
            ..self.clone()
        }
    }

    /// The record an object in the drop folder starts with, before it is
    /// read: named after its file, `Indexing`.
    pub fn dropped(
        tenant_id: &str,
        category: &str,
        id: &str,
        filename: &str,
        object_key: &str,
        now: DateTime<Utc>,
    ) -> Self {
        DocumentRecord {
            id: id.to_string(),
            tenant_id: tenant_id.to_string(),
            category: category.to_string(),
            title: filename.to_string(),
            filename: filename.to_string(),
            format: None,
            status: DocumentStatus::Indexing,
            failure: None,
            pages: None,
            chunks: 0,
            bytes: 0,
            source: DocumentSource::DropFolder,
            content_hash: String::new(),
            object_key: object_key.to_string(),
            revision: 1,
            metadata: serde_json::json!({}),
            flagged_passages: vec![],
            created_at: now,
            updated_at: now,
        }
    }

    /// A document indexed with no stored original and no record of its own
    /// (`petraf eval`'s scratch documents): it stays `Indexing`, as nothing
    /// ever records it.
    pub fn unstored(
        tenant_id: &str,
        category: &str,
        id: &str,
        content: DocumentContent,
        now: DateTime<Utc>,
    ) -> Self {
        let record = Self::uploaded(tenant_id, category, id, content, String::new(), None, now);
        DocumentRecord {
            status: DocumentStatus::Indexing,
            ..record
        }
    }
}

/// The title a user gave in `metadata`, else the one the document gives
/// itself, else its file name; trimmed.
pub fn document_title(
    metadata: &serde_json::Value,
    own_title: Option<&str>,
    filename: &str,
) -> String {
    metadata
        .get("title")
        .and_then(serde_json::Value::as_str)
        .filter(|t| !t.trim().is_empty())
        .or(own_title.filter(|t| !t.trim().is_empty()))
        .unwrap_or(filename)
        .trim()
        .to_string()
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

    fn content(filename: &str) -> DocumentContent {
        DocumentContent {
            filename: filename.into(),
            format: "markdown".into(),
            title: "Values".into(),
            pages: Some(2),
            flagged_passages: vec![],
            chunks: 3,
            bytes: 40,
            content_hash: content_hash(b"values"),
            metadata: serde_json::json!({"owner": "hr"}),
        }
    }

    #[test]
    fn a_first_upload_is_revision_one_and_indexed() {
        let now = chrono::Utc::now();
        let r =
            DocumentRecord::uploaded("t", "values", "d", content("v.md"), "k".into(), None, now);
        assert_eq!(
            (r.id.as_str(), r.tenant_id.as_str(), r.category.as_str()),
            ("d", "t", "values")
        );
        assert_eq!(
            (r.revision, r.status, r.source),
            (1, DocumentStatus::Indexed, DocumentSource::Upload)
        );
        assert_eq!(
            (r.title.as_str(), r.filename.as_str(), r.format.as_deref()),
            ("Values", "v.md", Some("markdown"))
        );
        assert_eq!(
            (r.chunks, r.bytes, r.pages, r.object_key.as_str()),
            (3, 40, Some(2), "k")
        );
        assert_eq!((r.created_at, r.updated_at), (now, now));
        assert_eq!(r.metadata["owner"], "hr");
    }

    #[test]
    fn an_upload_over_other_content_is_its_next_revision() {
        let earlier = chrono::Utc::now() - chrono::Duration::days(1);
        let previous = DocumentRecord {
            revision: 3,
            created_at: earlier,
            ..record("d", 9)
        };
        let now = chrono::Utc::now();
        let r = DocumentRecord::uploaded(
            "t",
            "values",
            "d",
            content("v.md"),
            "k2".into(),
            Some(&previous),
            now,
        );
        assert_eq!((r.revision, r.created_at, r.updated_at), (4, earlier, now));
        assert_eq!((r.chunks, r.object_key.as_str()), (3, "k2"));
    }

    #[test]
    fn a_revision_keeps_the_documents_identity_and_origin() {
        let earlier = chrono::Utc::now() - chrono::Duration::days(1);
        let old = DocumentRecord {
            source: DocumentSource::DropFolder,
            status: DocumentStatus::Failed,
            failure: Some(DocumentFailure {
                code: "corrupt_document".into(),
                message: "damaged".into(),
            }),
            created_at: earlier,
            ..record("d", 9)
        };
        let now = chrono::Utc::now();
        let new = old.revised(content("v2.md"), "k2".into(), now);
        assert_eq!((new.id.as_str(), new.tenant_id.as_str()), ("d", "t"));
        assert_eq!((new.revision, new.source), (2, DocumentSource::DropFolder));
        assert_eq!((new.status, new.failure), (DocumentStatus::Indexed, None));
        assert_eq!(
            (new.filename.as_str(), new.chunks, new.object_key.as_str()),
            ("v2.md", 3, "k2")
        );
        assert_eq!((new.created_at, new.updated_at), (earlier, now));
    }

    #[test]
    fn a_dropped_object_starts_as_its_file_being_indexed() {
        let now = chrono::Utc::now();
        let r = DocumentRecord::dropped(
            "t",
            "values",
            "d",
            "Plan.pdf",
            "uploads/t/values/d/Plan.pdf",
            now,
        );
        assert_eq!(
            (r.title.as_str(), r.filename.as_str()),
            ("Plan.pdf", "Plan.pdf")
        );
        assert_eq!(
            (r.status, r.source, r.revision),
            (DocumentStatus::Indexing, DocumentSource::DropFolder, 1)
        );
        assert_eq!((r.format, r.chunks, r.bytes), (None, 0, 0));
        assert_eq!(r.object_key, "uploads/t/values/d/Plan.pdf");
        assert_eq!(r.metadata, serde_json::json!({}));
    }

    #[test]
    fn an_unstored_document_names_no_object() {
        let now = chrono::Utc::now();
        let r = DocumentRecord::unstored("t", "eval", "d", content("case.md"), now);
        assert_eq!(
            (r.status, r.revision, r.object_key.as_str()),
            (DocumentStatus::Indexing, 1, "")
        );
        assert_eq!((r.title.as_str(), r.chunks), ("Values", 3));
    }

    #[test]
    fn the_title_is_the_users_then_the_documents_then_the_file_name() {
        let given = serde_json::json!({"title": "  Our values "});
        assert_eq!(document_title(&given, Some("Doc"), "v.md"), "Our values");
        let blank = serde_json::json!({"title": "  "});
        assert_eq!(document_title(&blank, Some(" Doc "), "v.md"), "Doc");
        assert_eq!(document_title(&blank, Some(" "), "v.md"), "v.md");
        assert_eq!(document_title(&serde_json::json!({}), None, "v.md"), "v.md");
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
