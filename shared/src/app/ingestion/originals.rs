//! Documents' original files in the object store: written before the
//! record that names them, removed once no record does.

use std::collections::BTreeMap;

use crate::app::{App, AppResult};
use crate::domain::document::DocumentRecord;
use crate::domain::ids::new_id;
use crate::extraction::DocumentFormat;
use crate::ports::object_store::{StoredObject, document_key};

/// Puts the original into the object store, under the record's key.
pub(crate) async fn put_original(
    app: &App,
    record: &DocumentRecord,
    format: DocumentFormat,
    bytes: Vec<u8>,
) -> AppResult<()> {
    let mut object_metadata = BTreeMap::new();
    object_metadata.insert("title".to_string(), record.title.clone());
    object_metadata.insert("metadata".to_string(), record.metadata.to_string());
    app.objects
        .put(
            &record.object_key,
            StoredObject {
                bytes,
                content_type: format.content_type().into(),
                metadata: object_metadata,
            },
        )
        .await?;
    Ok(())
}

/// Where the revision after `old` keeps its original: its own key from
/// the second revision on, so storing it never overwrites the version
/// still searched, and a random part, so concurrent attempts at one
/// revision never share an object (the loser removes its own).
pub(crate) fn next_revision_key(old: &DocumentRecord, filename: &str) -> String {
    let revision = old.revision + 1;
    let attempt = new_id().to_lowercase();
    document_key(
        &old.tenant_id,
        &old.category,
        &old.id,
        &format!("r{revision}-{}-{filename}", &attempt[attempt.len() - 8..]),
    )
}

/// Removes `gone`'s original unless `kept` uses the same object; a failure
/// only leaves an unreferenced object behind (start-up cleanup removes it on
/// the embedded default), so it is logged, not raised.
pub(crate) async fn discard_original(app: &App, gone: &DocumentRecord, kept: &DocumentRecord) {
    if gone.object_key == kept.object_key {
        return;
    }
    if let Err(e) = app.objects.delete(&gone.object_key).await {
        tracing::warn!(key = %gone.object_key, error = %e, "an old document original was left behind");
    }
}
