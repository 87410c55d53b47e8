//! How the extract function moves what it is handed: the staged document
//! fetched from, and its reply delivered to, presigned URLs its invoker
//! signed (`extraction::staging`). The function itself holds no grant on
//! the bucket.

use async_trait::async_trait;

#[async_trait]
pub trait StagedTransfer: Send + Sync {
    /// The body at `url`; an error past `limit` bytes, without reading on.
    /// Errors never quote the URL: it carries a signature.
    async fn fetch(&self, url: &str, limit: usize) -> std::io::Result<Vec<u8>>;

    /// PUTs `body` to `url`.
    async fn deliver(&self, url: &str, body: Vec<u8>) -> std::io::Result<()>;
}
