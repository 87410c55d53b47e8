//! The object store: uploaded documents as they were sent.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::state_store::StoreError;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct StoredObject {
    pub bytes: Vec<u8>,
    pub content_type: String,
    /// Small string metadata (title, JSON metadata), as S3 user metadata.
    pub metadata: BTreeMap<String, String>,
}

#[async_trait]
pub trait ObjectStore: Send + Sync {
    fn name(&self) -> &'static str;
    async fn put(&self, key: &str, object: StoredObject) -> Result<(), StoreError>;
    async fn get(&self, key: &str) -> Result<Option<StoredObject>, StoreError>;
    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// The object's size in bytes, without reading it (`None` if absent).
    async fn size(&self, key: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.get(key).await?.map(|o| o.bytes.len() as u64))
    }

    /// Every key under `prefix`, when the store can list them cheaply (local
    /// files, for the start-up sweep of uploads that never committed);
    /// `None` when it does not (S3: its object-created events index what
    /// an interrupted upload left).
    async fn keys_under(&self, _prefix: &str) -> Result<Option<Vec<String>>, StoreError> {
        Ok(None)
    }

    /// A URL a client can GET the object from directly, valid for
    /// `expires`; `None` when the store cannot hand such URLs out (local
    /// files). Only what is staged for the extract function is presigned.
    async fn presign_get(
        &self,
        _key: &str,
        _expires: std::time::Duration,
    ) -> Result<Option<String>, StoreError> {
        Ok(None)
    }

    /// A URL a client can PUT the object to directly, valid for `expires`;
    /// `None` when the store cannot hand such URLs out (local files).
    async fn presign_put(
        &self,
        _key: &str,
        _expires: std::time::Duration,
    ) -> Result<Option<String>, StoreError> {
        Ok(None)
    }
}

/// Where an uploaded document lives: `uploads/{tenant}/{category}/{document}/{filename}`.
pub fn document_key(tenant_id: &str, category: &str, document_id: &str, filename: &str) -> String {
    format!("uploads/{tenant_id}/{category}/{document_id}/{filename}")
}

/// The parts of a document key, if `key` is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentKey {
    pub tenant_id: String,
    pub category: String,
    pub document_id: String,
    pub filename: String,
}

pub fn parse_document_key(key: &str) -> Option<DocumentKey> {
    let mut parts = key.splitn(5, '/');
    if parts.next()? != "uploads" {
        return None;
    }
    let key = DocumentKey {
        tenant_id: parts.next()?.to_string(),
        category: parts.next()?.to_string(),
        document_id: parts.next()?.to_string(),
        filename: parts.next()?.to_string(),
    };
    let valid = [
        &key.tenant_id,
        &key.category,
        &key.document_id,
        &key.filename,
    ]
    .iter()
    .all(|p| !p.is_empty() && !p.contains('/') && *p != "." && *p != "..");
    valid.then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_keys_round_trip_and_reject_traversal() {
        let key = document_key("t", "values", "d", "values.md");
        assert_eq!(key, "uploads/t/values/d/values.md");
        let parsed = parse_document_key(&key).unwrap();
        assert_eq!(parsed.filename, "values.md");
        assert!(parse_document_key("uploads/t/values/d").is_none());
        assert!(parse_document_key("other/t/values/d/f").is_none());
        assert!(parse_document_key("uploads/t/../d/f").is_none());
        assert!(parse_document_key("uploads/t/c/d/a/b").is_none());
    }
}
