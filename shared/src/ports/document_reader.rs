//! The document reader: where a document that needs a parser engine (PDF,
//! Office, OpenDocument, HTML) is read, away from the process serving
//! requests.

use async_trait::async_trait;

use crate::extraction::worker::WorkerReply;
use crate::extraction::{DocumentFormat, Limits};

#[async_trait]
pub trait DocumentReader: Send + Sync {
    fn name(&self) -> &'static str;

    /// The document's text or why it cannot be read (in the reply). The
    /// outer error means the reader could not run at all: our fault, never
    /// the document's.
    async fn read(
        &self,
        format: DocumentFormat,
        bytes: Vec<u8>,
        limits: &Limits,
    ) -> std::io::Result<WorkerReply>;
}
