//! The document records: one row per document, replaced and removed at a
//! revision so that two writers cannot both win.

use rusqlite::{Connection, OptionalExtension, params};

use super::database::{db_error, from_json, to_json};
use crate::domain::document::DocumentRecord;
use crate::ports::state_store::{Expect, StoreError};

/// The revision of the stored document record, if any.
fn stored_revision(
    tx: &Connection,
    tenant_id: &str,
    document_id: &str,
) -> Result<Option<u32>, StoreError> {
    tx.query_row(
        "SELECT json_extract(body, '$.revision') FROM documents WHERE tenant_id = ?1 AND id = ?2",
        params![tenant_id, document_id],
        |r| r.get::<_, u32>(0),
    )
    .optional()
    .map_err(db_error)
}

/// Creates or replaces a document record if the stored one is as `expect`
/// says; `Conflict` otherwise. Run inside a transaction (or as the
/// connection's only writer: the store's mutex).
pub(in crate::adapters::embedded::storage) fn put_document_row(
    tx: &Connection,
    document: &DocumentRecord,
    expect: Expect,
) -> Result<(), StoreError> {
    let stored = stored_revision(tx, &document.tenant_id, &document.id)?;
    if !expect.admits_document(stored) {
        return Err(document_changed(&document.id, stored));
    }
    tx.execute(
        "INSERT INTO documents (tenant_id, id, created_at, body) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (tenant_id, id) DO UPDATE SET created_at = excluded.created_at, body = excluded.body",
        params![
            document.tenant_id,
            document.id,
            document.created_at.to_rfc3339(),
            to_json(document)?
        ],
    )
    .map_err(db_error)?;
    Ok(())
}

/// Removes a document record (and, with it, nothing else) at `revision`.
pub(in crate::adapters::embedded::storage) fn delete_document_row(
    tx: &Connection,
    tenant_id: &str,
    document_id: &str,
    revision: u32,
) -> Result<(), StoreError> {
    let removed = tx
        .execute(
            "DELETE FROM documents WHERE tenant_id = ?1 AND id = ?2
             AND json_extract(body, '$.revision') = ?3",
            params![tenant_id, document_id, revision],
        )
        .map_err(db_error)?;
    if removed != 1 {
        let stored = stored_revision(tx, tenant_id, document_id)?;
        return Err(document_changed(document_id, stored));
    }
    Ok(())
}

fn document_changed(document_id: &str, stored: Option<u32>) -> StoreError {
    StoreError::Conflict(match stored {
        Some(r) => format!("document {document_id} is at revision {r}"),
        None => format!("document {document_id} is gone"),
    })
}

/// A tenant's document records, newest first.
pub(super) fn list(conn: &Connection, tenant_id: &str) -> Result<Vec<DocumentRecord>, StoreError> {
    let mut stmt = conn
        .prepare(
            "SELECT body FROM documents WHERE tenant_id = ?1 ORDER BY created_at DESC, id DESC",
        )
        .map_err(db_error)?;
    let rows = stmt
        .query_map([tenant_id], |r| r.get::<_, String>(0))
        .map_err(db_error)?;
    rows.map(|r| r.map_err(db_error).and_then(|b| from_json(&b)))
        .collect()
}
