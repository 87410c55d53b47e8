use std::collections::BTreeMap;
use std::sync::Arc;

use super::unique;
use crate::ports::object_store::{ObjectStore, StoredObject, document_key};

/// Runs every object-store promise against `store`.
pub async fn object_store(store: Arc<dyn ObjectStore>) {
    let store = store.as_ref();
    let tenant = unique("t");
    let key = document_key(&tenant, "values", "doc1", "Our Values (2025).md");
    let mut metadata = BTreeMap::new();
    metadata.insert("title".to_string(), "Company Values".to_string());
    metadata.insert("metadata".to_string(), r#"{"version":"1.0"}"#.to_string());
    let object = StoredObject {
        bytes: "# Values\nRespect.".as_bytes().to_vec(),
        content_type: "text/markdown".into(),
        metadata,
    };
    assert!(store.get(&key).await.unwrap().is_none());
    store.put(&key, object.clone()).await.unwrap();
    assert_eq!(store.get(&key).await.unwrap(), Some(object.clone()));

    let replaced = StoredObject {
        bytes: b"v2".to_vec(),
        ..object.clone()
    };
    store.put(&key, replaced.clone()).await.unwrap();
    assert_eq!(store.get(&key).await.unwrap().unwrap().bytes, b"v2");

    let other = document_key(&tenant, "values", "doc2", "other.txt");
    store
        .put(
            &other,
            StoredObject {
                bytes: vec![],
                content_type: "text/plain".into(),
                metadata: BTreeMap::new(),
            },
        )
        .await
        .unwrap();
    store.delete(&key).await.unwrap();
    assert!(store.get(&key).await.unwrap().is_none());
    store.delete(&key).await.unwrap();
    assert!(
        store.get(&other).await.unwrap().is_some(),
        "deleting one key leaves the others"
    );
}
