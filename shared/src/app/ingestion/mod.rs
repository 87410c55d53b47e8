//! Document ingestion: keep the original, read it, chunk, embed, index.
//! Admin uploads ([`upload`]) and the S3 drop folder ([`drop_folder`]) run
//! the same steps: [`extraction`] (the document's text), [`indexing`]
//! (chunk, embed, commit with its audit entry) and [`originals`] (the
//! stored files). An upload refused after authentication is audited
//! ([`refusals`]).

pub mod drop_folder;
pub mod extraction;
pub mod indexing;
pub mod originals;
pub mod refusals;
pub mod staged;
pub mod upload;

use serde::Serialize;
use serde_json::Value;

use crate::domain::document::{DocumentRecord, DocumentStatus};
use crate::domain::injection::Finding;

pub use drop_folder::{
    DROP_FOLDER_ACTOR, UPLOAD_URL_SECONDS, UploadUrl, decode_event_key, ingest_event_keys,
    ingest_stored_object, upload_url,
};
pub use extraction::{extract_document, flagged_passages};
pub use indexing::{
    DOCUMENT_CHANGED, chunk_document, document_changed, document_limits, embed_chunks, index_text,
};
pub use refusals::{RefusedUpload, record_failed_upload};
pub use upload::ingest_upload;

#[derive(Debug, Clone)]
pub struct DocumentUpload {
    pub tenant_id: String,
    pub category: String,
    pub filename: String,
    pub bytes: Vec<u8>,
    pub metadata: Value,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IngestReport {
    pub success: bool,
    pub message: String,
    pub chunks_created: usize,
    pub document_id: String,
    pub category: String,
    pub title: String,
    pub pages: Option<u32>,
    pub status: DocumentStatus,
    /// Instruction-like sentences found in the document (see
    /// [`DocumentRecord::flagged_passages`]).
    pub flagged_passages: Vec<Finding>,
    /// True when the same bytes were already indexed in this category:
    /// nothing was written, and the answer describes the document already
    /// there (its id and title; the upload's metadata was not applied).
    pub already_indexed: bool,
}

/// The message of an upload whose bytes were already indexed.
pub const ALREADY_INDEXED: &str = "Document already indexed";

impl IngestReport {
    /// The report of `record`, just written (or left as it was, when
    /// `message` says so).
    pub fn of(record: &DocumentRecord, message: &str) -> Self {
        IngestReport {
            success: record.status == DocumentStatus::Indexed,
            already_indexed: false,
            message: message.into(),
            chunks_created: record.chunks as usize,
            document_id: record.id.clone(),
            category: record.category.clone(),
            title: record.title.clone(),
            pages: record.pages,
            status: record.status,
            flagged_passages: record.flagged_passages.clone(),
        }
    }

    /// The report of an upload whose bytes `existing` already holds.
    pub fn already_indexed(existing: &DocumentRecord) -> Self {
        IngestReport {
            already_indexed: true,
            ..Self::of(existing, ALREADY_INDEXED)
        }
    }
}
