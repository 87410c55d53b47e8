//! The embedded object store: files under the data directory.

use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::ports::object_store::{ObjectStore, StoredObject};
use crate::ports::state_store::StoreError;

#[derive(Debug, Clone)]
pub struct LocalObjectStore {
    root: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct Sidecar {
    content_type: String,
    metadata: std::collections::BTreeMap<String, String>,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl LocalObjectStore {
    pub fn new(root: PathBuf) -> Self {
        LocalObjectStore { root }
    }

    /// The file behind a key; keys that would leave the root are refused.
    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        let relative = Path::new(key);
        let safe = !key.is_empty()
            && relative
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
        if !safe {
            return Err(StoreError::Conflict(format!("invalid object key '{key}'")));
        }
        Ok(self.root.join(relative))
    }

    fn sidecar(path: &Path) -> PathBuf {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".meta.json");
        path.with_file_name(name)
    }
}

/// The keys of the files under `start`; a sidecar beside its object is not
/// a key, a sidecar left alone is (so that it can be swept too).
fn list_keys(root: &Path, start: &Path) -> Result<Vec<String>, StoreError> {
    let mut keys = vec![];
    let mut pending = vec![start.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(unavailable(e)),
        };
        for entry in entries {
            let path = entry.map_err(unavailable)?.path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let name = path.to_string_lossy();
            if let Some(object) = name.strip_suffix(".meta.json")
                && Path::new(object).is_file()
            {
                continue;
            }
            if let Ok(relative) = path.strip_prefix(root) {
                keys.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    keys.sort();
    Ok(keys)
}

#[async_trait]
impl ObjectStore for LocalObjectStore {
    fn name(&self) -> &'static str {
        "embedded-files"
    }

    async fn put(&self, key: &str, object: StoredObject) -> Result<(), StoreError> {
        let path = self.path(key)?;
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(unavailable)?;
        }
        let sidecar = Sidecar {
            content_type: object.content_type,
            metadata: object.metadata,
        };
        tokio::fs::write(
            Self::sidecar(&path),
            serde_json::to_vec(&sidecar).map_err(unavailable)?,
        )
        .await
        .map_err(unavailable)?;
        tokio::fs::write(&path, object.bytes)
            .await
            .map_err(unavailable)
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, StoreError> {
        match tokio::fs::metadata(self.path(key)?).await {
            Ok(meta) => Ok(Some(meta.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<StoredObject>, StoreError> {
        let path = self.path(key)?;
        let bytes = match tokio::fs::read(&path).await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(unavailable(e)),
        };
        let sidecar: Sidecar = match tokio::fs::read(Self::sidecar(&path)).await {
            Ok(b) => serde_json::from_slice(&b).map_err(unavailable)?,
            Err(_) => Sidecar {
                content_type: "application/octet-stream".into(),
                metadata: Default::default(),
            },
        };
        Ok(Some(StoredObject {
            bytes,
            content_type: sidecar.content_type,
            metadata: sidecar.metadata,
        }))
    }

    async fn keys_under(&self, prefix: &str) -> Result<Option<Vec<String>>, StoreError> {
        let (root, start) = (self.root.clone(), self.path(prefix)?);
        tokio::task::spawn_blocking(move || list_keys(&root, &start))
            .await
            .map_err(unavailable)?
            .map(Some)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path(key)?;
        for p in [Self::sidecar(&path), path] {
            match tokio::fs::remove_file(&p).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(unavailable(e)),
            }
        }
        Ok(())
    }
}
