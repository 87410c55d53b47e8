//! What passes between a function that leaves the parser engines out and
//! the extract function. Documents (up to 10 MB) and their text exceed a
//! Lambda payload (6 MB), so both travel through the document bucket under
//! [`STAGING_PREFIX`]. The invoker stages the document and hands over two
//! presigned URLs, one to read it and one to write the reply: the extract
//! function needs no grant on the bucket, nor the S3 SDK in its package.

use std::fmt;

use axum::http::Uri;
use serde::{Deserialize, Serialize};

use super::{DocumentFormat, Limits};

/// Where staged documents and replies live; the bucket's lifecycle
/// expires what a crash left there after a day.
pub const STAGING_PREFIX: &str = "extraction/";

/// The extract function's event.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractRequest {
    /// A presigned GET of the staged document ([`new_document_key`]).
    pub document_url: String,
    /// A presigned PUT of its reply ([`reply_key`]).
    pub reply_url: String,
    pub format: DocumentFormat,
    pub limits: Limits,
}

/// Presigned URLs carry a signature and the signer's session token: a log
/// line shows where they point, never the query.
impl fmt::Debug for ExtractRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let without_query = |url: &str| url.split('?').next().unwrap_or_default().to_string();
        f.debug_struct("ExtractRequest")
            .field("document_url", &without_query(&self.document_url))
            .field("reply_url", &without_query(&self.reply_url))
            .field("format", &self.format)
            .field("limits", &self.limits)
            .finish()
    }
}

/// The extract function's answer once the reply is delivered; the invoker
/// reads it at [`reply_key`] and deletes both staged objects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtractResponse {
    pub reply_bytes: u64,
}

/// A fresh key for a staged document.
pub fn new_document_key() -> String {
    format!("{STAGING_PREFIX}{}", ulid::Ulid::new())
}

/// Where the reply to the staged document `document_key` goes.
pub fn reply_key(document_key: &str) -> String {
    format!("{document_key}.reply.json")
}

/// Whether `key` is a staged document's key as [`new_document_key`] makes
/// them.
pub fn is_document_key(key: &str) -> bool {
    key.strip_prefix(STAGING_PREFIX)
        .is_some_and(|id| ulid::Ulid::from_string(id).is_ok())
}

/// Whether `key` is the reply key of a staged document.
pub fn is_reply_key(key: &str) -> bool {
    key.strip_suffix(".reply.json").is_some_and(is_document_key)
}

/// Why the extract function refuses a request's URLs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RefusedUrls(String);

/// Checks that the request's URLs address one staged document and its
/// reply, on one host, over HTTPS (plain HTTP on loopback only, for the
/// stand-ins): whoever may invoke the function cannot point it elsewhere
/// with it. S3 presigns both virtual-hosted (`/extraction/…`) and
/// path-style (`/bucket/extraction/…`) URLs; the key is the path's tail.
pub fn check_urls(request: &ExtractRequest) -> Result<(), RefusedUrls> {
    let refuse = |why: &str| Err(RefusedUrls(why.to_string()));
    let (Ok(document), Ok(reply)) = (
        request.document_url.parse::<Uri>(),
        request.reply_url.parse::<Uri>(),
    ) else {
        return refuse("the staged URLs are not URLs");
    };
    for uri in [&document, &reply] {
        let loopback = uri
            .host()
            .is_some_and(|h| matches!(h, "localhost" | "127.0.0.1" | "[::1]" | "::1"));
        match uri.scheme_str() {
            Some("https") => {}
            Some("http") if loopback => {}
            _ => return refuse("the staged URLs must be https"),
        }
    }
    if document.authority() != reply.authority() {
        return refuse("the document and its reply are staged on different hosts");
    }
    if !staged_key(document.path()).is_some_and(is_document_key) {
        return refuse("the document URL does not address a staged document");
    }
    if reply.path() != reply_key(document.path()) {
        return refuse("the reply URL does not address the document's reply");
    }
    Ok(())
}

/// The `extraction/…` tail of a URL path.
fn staged_key(path: &str) -> Option<&str> {
    let start = path.find(&format!("/{STAGING_PREFIX}"))?;
    Some(&path[start + 1..])
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "01J0000000000000000000000A";

    fn request(document_url: &str, reply_url: &str) -> ExtractRequest {
        ExtractRequest {
            document_url: document_url.into(),
            reply_url: reply_url.into(),
            format: DocumentFormat::Pdf,
            limits: Limits::default(),
        }
    }

    fn signed(url: &str) -> String {
        format!("{url}?X-Amz-Signature=abc&X-Amz-Security-Token=secret")
    }

    #[test]
    fn staged_keys_are_fresh_ulids_under_the_prefix() {
        let (a, b) = (new_document_key(), new_document_key());
        assert_ne!(a, b);
        assert!(is_document_key(&a));
        assert!(reply_key(&a).starts_with(&a));
        assert!(!is_document_key(&reply_key(&a)));
        assert!(is_reply_key(&reply_key(&a)));
        assert!(!is_reply_key(&a));
    }

    #[test]
    fn only_staged_keys_are_document_keys() {
        for key in [
            "",
            "extraction/",
            "extraction/../tenants/t1/doc.pdf",
            "tenants/t1/documents/01J0000000000000000000000/a.pdf",
            "drop/01J0000000000000000000000",
            "extraction/01J0000000000000000000000/x",
        ] {
            assert!(!is_document_key(key), "{key}");
            assert!(!is_reply_key(&format!("{key}.reply.json")), "{key}");
        }
    }

    #[test]
    fn the_request_refuses_unknown_fields() {
        let json = serde_json::json!({
            "document_url": signed(&format!("https://b.s3.eu-west-1.amazonaws.com/extraction/{ID}")),
            "reply_url": signed(&format!("https://b.s3.eu-west-1.amazonaws.com/extraction/{ID}.reply.json")),
            "format": "pdf",
            "limits": Limits::default(),
            "bucket": "someone-elses",
        });
        assert!(serde_json::from_value::<ExtractRequest>(json).is_err());
    }

    #[test]
    fn presigned_urls_of_one_staged_document_pass() {
        for base in [
            "https://petraf-documents-1-eu-west-1.s3.eu-west-1.amazonaws.com",
            "https://s3.eu-west-1.amazonaws.com/petraf-documents-1-eu-west-1",
            "http://127.0.0.1:5000/petraf-documents",
            "http://localhost:5000/petraf-documents",
        ] {
            let document = signed(&format!("{base}/extraction/{ID}"));
            let reply = signed(&format!("{base}/extraction/{ID}.reply.json"));
            assert_eq!(check_urls(&request(&document, &reply)), Ok(()), "{base}");
        }
    }

    #[test]
    fn urls_elsewhere_are_refused() {
        let https = "https://b.s3.eu-west-1.amazonaws.com";
        let document = format!("{https}/extraction/{ID}");
        let reply = format!("{https}/extraction/{ID}.reply.json");
        let other = "01J0000000000000000000000B";
        for (document, reply) in [
            // Plain HTTP off loopback, or no URL at all.
            (
                format!("http://b.s3.amazonaws.com/extraction/{ID}"),
                format!("http://b.s3.amazonaws.com/extraction/{ID}.reply.json"),
            ),
            ("not a url at all".into(), reply.clone()),
            (format!("file:///extraction/{ID}"), reply.clone()),
            // Another host for the reply.
            (
                document.clone(),
                format!("https://evil.example/extraction/{ID}.reply.json"),
            ),
            // Not staged keys, or another document's reply.
            (
                format!("{https}/uploads/t1/framework/{ID}/a.pdf"),
                reply.clone(),
            ),
            (
                document.clone(),
                format!("{https}/extraction/{other}.reply.json"),
            ),
            (document.clone(), document.clone()),
            (
                reply.clone(),
                format!("{https}/extraction/{ID}.reply.json.reply.json"),
            ),
            // The reply under another bucket on the same (path-style) host.
            (
                format!("{https}/a/extraction/{ID}"),
                format!("{https}/b/extraction/{ID}.reply.json"),
            ),
        ] {
            assert!(
                check_urls(&request(&document, &reply)).is_err(),
                "{document} / {reply}"
            );
        }
    }

    #[test]
    fn the_debug_form_leaves_out_the_signatures() {
        let shown = format!(
            "{:?}",
            request(
                &signed(&format!("https://h/extraction/{ID}")),
                &signed(&format!("https://h/extraction/{ID}.reply.json"))
            )
        );
        assert!(shown.contains(ID), "{shown}");
        assert!(
            !shown.contains("secret") && !shown.contains("Signature"),
            "{shown}"
        );
    }
}
