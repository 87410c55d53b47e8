//! Document records: guarded puts, listings and deletes at a revision.

use chrono::{Duration, Utc};

use crate::conformance::unique;
use crate::domain::document::{DocumentRecord, DocumentSource, DocumentStatus, content_hash};
use crate::ports::state_store::{Expect, StateStore, StoreError};

pub(super) fn document_record(tenant_id: &str, id: &str, minutes_ago: i64) -> DocumentRecord {
    let at = Utc::now() - Duration::minutes(minutes_ago);
    DocumentRecord {
        id: id.into(),
        tenant_id: tenant_id.into(),
        category: "values".into(),
        title: format!("Document {id}"),
        filename: "values.pdf".into(),
        format: Some("pdf".into()),
        status: DocumentStatus::Indexing,
        failure: None,
        pages: Some(3),
        chunks: 0,
        bytes: 1234,
        source: DocumentSource::Upload,
        content_hash: content_hash(id.as_bytes()),
        object_key: format!("uploads/{tenant_id}/values/{id}/values.pdf"),
        revision: 1,
        metadata: serde_json::json!({"version": "1.0"}),
        flagged_passages: vec![],
        created_at: at,
        updated_at: at,
    }
}

/// Document records: guarded puts, listing newest first and per tenant,
/// deletes at a revision.
pub(super) async fn documents(store: &dyn StateStore) {
    let (tenant, other) = (unique("t"), unique("t"));
    let older = document_record(&tenant, &unique("d"), 10);
    let newer = document_record(&tenant, &unique("d"), 1);
    let foreign = document_record(&other, &unique("d"), 5);
    for d in [&older, &newer, &foreign] {
        store
            .put_document(d, Expect::Absent)
            .await
            .expect("put document");
    }
    let mut indexed = newer.clone();
    indexed.status = DocumentStatus::Indexed;
    indexed.chunks = 7;
    store
        .put_document(&indexed, Expect::Version(1))
        .await
        .expect("update document at its revision");
    assert_eq!(
        store.document(&tenant, &newer.id).await.unwrap().as_ref(),
        Some(&indexed)
    );
    assert!(store.document(&other, &newer.id).await.unwrap().is_none());
    let ids: Vec<String> = store
        .documents(&tenant)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(ids, vec![newer.id.clone(), older.id.clone()]);
    assert!(
        matches!(
            store.delete_document(&tenant, &older.id, 2).await,
            Err(StoreError::Conflict(_))
        ),
        "a delete at another revision removes nothing"
    );
    assert!(store.document(&tenant, &older.id).await.unwrap().is_some());
    store.delete_document(&tenant, &older.id, 1).await.unwrap();
    assert!(
        matches!(
            store.delete_document(&tenant, &older.id, 1).await,
            Err(StoreError::Conflict(_))
        ),
        "a second delete finds nothing to remove"
    );
    assert!(store.document(&tenant, &older.id).await.unwrap().is_none());
    assert_eq!(store.documents(&tenant).await.unwrap().len(), 1);
    assert_eq!(store.documents(&other).await.unwrap().len(), 1);
    document_guards(store).await;
}

/// Concurrent writers of one document that read the same revision: exactly
/// one wins, the others conflict and change nothing; a write over a deleted
/// record, or a new record over an existing one, conflicts.
pub(super) async fn document_guards(store: &dyn StateStore) {
    let tenant = unique("t");
    let first = document_record(&tenant, &unique("d"), 1);
    store.put_document(&first, Expect::Absent).await.unwrap();
    assert!(matches!(
        store.put_document(&first, Expect::Absent).await,
        Err(StoreError::Conflict(_))
    ));
    let store_ptr: &dyn StateStore = store;
    let racers = (0..6).map(|i| {
        let mut next = first.clone();
        next.revision = 2;
        next.title = format!("racer {i}");
        async move {
            let result = store_ptr.put_document(&next, Expect::Version(1)).await;
            (next.title, result)
        }
    });
    let results = futures::future::join_all(racers).await;
    let winners: Vec<&String> = results
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(t, _)| t)
        .collect();
    assert_eq!(winners.len(), 1, "one winner per revision: {results:?}");
    assert!(
        results
            .iter()
            .all(|(_, r)| r.is_ok() || matches!(r, Err(StoreError::Conflict(_))))
    );
    let stored = store.document(&tenant, &first.id).await.unwrap().unwrap();
    assert_eq!((&stored.title, stored.revision), (winners[0], 2));

    // A delete and a replace that both read revision 2: one wins.
    let mut third = stored.clone();
    third.revision = 3;
    let (deleted, replaced) = futures::join!(
        store.delete_document(&tenant, &first.id, 2),
        store.put_document(&third, Expect::Version(2))
    );
    assert!(
        deleted.is_ok() != replaced.is_ok(),
        "exactly one of delete and replace wins: {deleted:?} {replaced:?}"
    );
    let left = store.document(&tenant, &first.id).await.unwrap();
    assert_eq!(left.map(|d| d.revision), replaced.is_ok().then_some(3));
    if deleted.is_ok() {
        assert!(
            matches!(
                store.put_document(&third, Expect::Version(2)).await,
                Err(StoreError::Conflict(_))
            ),
            "a deleted document is not brought back by a replace"
        );
    }
}
