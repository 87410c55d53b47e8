//! Reads documents with the extract function (`PETRAF_EXTRACT_FUNCTION`):
//! the document is staged in the document bucket, the function invoked
//! synchronously with a presigned GET of it and a presigned PUT of its
//! reply, and the reply read back. Both staged objects are deleted here;
//! the bucket's lifecycle rule expires any a crash left behind.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_lambda::Client;
use aws_sdk_lambda::error::DisplayErrorContext;
use aws_sdk_lambda::primitives::Blob;

use crate::extraction::staging::{self, ExtractRequest, ExtractResponse};
use crate::extraction::worker::WorkerReply;
use crate::extraction::{DocumentFormat, Limits};
use crate::ports::DocumentReader;
use crate::ports::object_store::{ObjectStore, StoredObject};

/// How long the presigned URLs live: the extract function's timeout
/// (60 s in template.yaml) with room for a cold start, and no longer, so
/// that a URL is worth nothing soon after the call.
const URL_LIFETIME: Duration = Duration::from_secs(5 * 60);

pub struct ExtractFunction {
    client: Client,
    /// Name or ARN of the extract function.
    function: String,
    /// The document bucket, where documents and replies are staged.
    objects: Arc<dyn ObjectStore>,
}

impl ExtractFunction {
    pub fn new(client: Client, function: impl Into<String>, objects: Arc<dyn ObjectStore>) -> Self {
        ExtractFunction {
            client,
            function: function.into(),
            objects,
        }
    }

    /// The client for `sdk_config` (the process's, or a test's endpoint).
    pub fn from_sdk_config(
        sdk_config: &aws_config::SdkConfig,
        function: impl Into<String>,
        objects: Arc<dyn ObjectStore>,
    ) -> Self {
        Self::new(Client::new(sdk_config), function, objects)
    }

    async fn invoke(&self, request: &ExtractRequest) -> std::io::Result<ExtractResponse> {
        let payload = serde_json::to_vec(request).map_err(std::io::Error::other)?;
        let answer = self
            .client
            .invoke()
            .function_name(&self.function)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|e| {
                std::io::Error::other(format!(
                    "invoking {}: {}",
                    self.function,
                    DisplayErrorContext(&e)
                ))
            })?;
        let body = answer.payload().map(|b| b.as_ref()).unwrap_or_default();
        if let Some(kind) = answer.function_error() {
            // The function failed (a crash, a timeout): not the document's fault.
            return Err(std::io::Error::other(format!(
                "{} failed ({kind}): {}",
                self.function,
                String::from_utf8_lossy(&body[..body.len().min(400)])
            )));
        }
        serde_json::from_slice(body)
            .map_err(|e| std::io::Error::other(format!("{} answered nonsense: {e}", self.function)))
    }

    /// Invokes the function on the staged `document_key` and reads its
    /// reply.
    async fn read_staged(
        &self,
        document_key: &str,
        format: DocumentFormat,
        limits: &Limits,
    ) -> std::io::Result<WorkerReply> {
        let reply_key = staging::reply_key(document_key);
        let presigned = |url: Result<Option<String>, _>| {
            url.map_err(store_error)?.ok_or_else(|| {
                std::io::Error::other(format!(
                    "the {} store cannot presign URLs for the extract function",
                    self.objects.name()
                ))
            })
        };
        let request = ExtractRequest {
            document_url: presigned(self.objects.presign_get(document_key, URL_LIFETIME).await)?,
            reply_url: presigned(self.objects.presign_put(&reply_key, URL_LIFETIME).await)?,
            format,
            limits: limits.clone(),
        };
        let response = self.invoke(&request).await?;
        // Sized before it is read: a PUT URL is good for more than one
        // upload while it lives.
        let size = self.objects.size(&reply_key).await.map_err(store_error)?;
        if size != Some(response.reply_bytes) {
            return Err(std::io::Error::other(format!(
                "the extract function delivered {} bytes, {} are staged",
                response.reply_bytes,
                size.map_or("none".to_string(), |n| n.to_string())
            )));
        }
        let reply = self
            .objects
            .get(&reply_key)
            .await
            .map_err(store_error)?
            .ok_or_else(|| std::io::Error::other("the extract function's reply is missing"))?;
        if reply.bytes.len() as u64 != response.reply_bytes {
            return Err(std::io::Error::other(
                "the extract function's reply changed while it was read",
            ));
        }
        serde_json::from_slice(&reply.bytes).map_err(|e| {
            std::io::Error::other(format!("the extract function's reply is nonsense: {e}"))
        })
    }
}

fn store_error(e: crate::ports::state_store::StoreError) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

#[async_trait]
impl DocumentReader for ExtractFunction {
    fn name(&self) -> &'static str {
        "extract-function"
    }

    async fn read(
        &self,
        format: DocumentFormat,
        bytes: Vec<u8>,
        limits: &Limits,
    ) -> std::io::Result<WorkerReply> {
        let document_key = staging::new_document_key();
        let staged = StoredObject {
            bytes,
            content_type: "application/octet-stream".into(),
            metadata: Default::default(),
        };
        self.objects
            .put(&document_key, staged)
            .await
            .map_err(store_error)?;
        let answered = self.read_staged(&document_key, format, limits).await;
        // Read or not, neither staged object is needed any more.
        let reply_key = staging::reply_key(&document_key);
        let (document_deleted, reply_deleted) = tokio::join!(
            self.objects.delete(&document_key),
            self.objects.delete(&reply_key)
        );
        for (key, deleted) in [
            (&document_key, document_deleted),
            (&reply_key, reply_deleted),
        ] {
            if let Err(e) = deleted {
                tracing::warn!(error = %e, key = %key, "a staged object was left for the lifecycle rule");
            }
        }
        answered
    }
}
