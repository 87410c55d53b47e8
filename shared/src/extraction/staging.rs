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

/// Where the extract function accepts staged URLs: the document bucket's
/// addresses as S3 presigns them, and nowhere else. A bucket's name is not
/// a grant; knowing it lets the function refuse any other host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagingBucket {
    /// Each address as an origin (`scheme://host[:port]`, lowercase) and
    /// the path the keys follow (`/` virtual-hosted, `/{bucket}/`
    /// path-style).
    addresses: Vec<(String, String)>,
}

impl StagingBucket {
    /// `bucket` in `region` on AWS: virtual-hosted or path-style, over
    /// HTTPS (and the global endpoint's forms in us-east-1).
    pub fn on_aws(bucket: &str, region: &str) -> Self {
        let domain = if region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        let mut hosts = vec![format!("s3.{region}.{domain}")];
        if region == "us-east-1" {
            hosts.push(format!("s3.{domain}"));
        }
        let mut addresses = vec![];
        for host in hosts {
            addresses.push((format!("https://{bucket}.{host}"), "/".to_string()));
            addresses.push((format!("https://{host}"), format!("/{bucket}/")));
        }
        StagingBucket::lowercase(addresses)
    }

    /// `bucket` behind an overridden S3 endpoint (`AWS_ENDPOINT_URL_S3`: a
    /// stand-in), path-style as the S3 adapter addresses it there.
    pub fn at_endpoint(endpoint: &str, bucket: &str) -> Self {
        let origin = endpoint.trim_end_matches('/').to_string();
        StagingBucket::lowercase(vec![(origin, format!("/{bucket}/"))])
    }

    fn lowercase(addresses: Vec<(String, String)>) -> Self {
        let addresses = addresses
            .into_iter()
            .map(|(origin, path)| (origin.to_ascii_lowercase(), path))
            .collect();
        StagingBucket { addresses }
    }

    /// The path prefix `uri` must follow, if its origin is one of ours.
    fn path_prefix(&self, uri: &Uri) -> Option<&str> {
        let authority = uri.authority()?.as_str();
        if authority.contains('@') {
            return None;
        }
        let origin = format!("{}://{authority}", uri.scheme_str()?).to_ascii_lowercase();
        self.addresses
            .iter()
            .find(|(ours, _)| *ours == origin)
            .map(|(_, prefix)| prefix.as_str())
    }
}

/// Checks that the request's URLs address one staged document of
/// `bucket` and that document's reply, at one of the bucket's addresses:
/// whoever may invoke the function cannot send it anywhere else.
pub fn check_urls(request: &ExtractRequest, bucket: &StagingBucket) -> Result<(), RefusedUrls> {
    let refuse = |why: &str| Err(RefusedUrls(why.to_string()));
    let (Ok(document), Ok(reply)) = (
        request.document_url.parse::<Uri>(),
        request.reply_url.parse::<Uri>(),
    ) else {
        return refuse("the staged URLs are not URLs");
    };
    let Some(prefix) = bucket.path_prefix(&document) else {
        return refuse("the document URL is not the document bucket's");
    };
    if !document
        .path()
        .strip_prefix(prefix)
        .is_some_and(is_document_key)
    {
        return refuse("the document URL does not address a staged document");
    }
    if reply.scheme() != document.scheme() || reply.authority() != document.authority() {
        return refuse("the reply URL is not the document bucket's");
    }
    if reply.path() != reply_key(document.path()) {
        return refuse("the reply URL does not address the document's reply");
    }
    Ok(())
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

    const BUCKET: &str = "petraf-documents-1-eu-west-1";

    fn aws() -> StagingBucket {
        StagingBucket::on_aws(BUCKET, "eu-west-1")
    }

    #[test]
    fn presigned_urls_of_one_staged_document_pass() {
        let moto = StagingBucket::at_endpoint("http://127.0.0.1:5000/", "petraf-documents");
        for (bucket, base) in [
            (
                aws(),
                format!("https://{BUCKET}.s3.eu-west-1.amazonaws.com"),
            ),
            (
                aws(),
                format!("https://s3.eu-west-1.amazonaws.com/{BUCKET}"),
            ),
            (
                aws(),
                format!(
                    "HTTPS://{}.S3.eu-west-1.amazonaws.com",
                    BUCKET.to_uppercase()
                ),
            ),
            (
                StagingBucket::on_aws(BUCKET, "us-east-1"),
                format!("https://{BUCKET}.s3.amazonaws.com"),
            ),
            (
                StagingBucket::on_aws(BUCKET, "cn-north-1"),
                format!("https://{BUCKET}.s3.cn-north-1.amazonaws.com.cn"),
            ),
            (moto, "http://127.0.0.1:5000/petraf-documents".to_string()),
        ] {
            let document = signed(&format!("{base}/extraction/{ID}"));
            let reply = signed(&format!("{base}/extraction/{ID}.reply.json"));
            assert_eq!(
                check_urls(&request(&document, &reply), &bucket),
                Ok(()),
                "{base}"
            );
        }
    }

    #[test]
    fn urls_elsewhere_are_refused() {
        let https = format!("https://{BUCKET}.s3.eu-west-1.amazonaws.com");
        let document = format!("{https}/extraction/{ID}");
        let reply = format!("{https}/extraction/{ID}.reply.json");
        let other = "01J0000000000000000000000B";
        let pair = |base: &str| {
            (
                format!("{base}/extraction/{ID}"),
                format!("{base}/extraction/{ID}.reply.json"),
            )
        };
        for (document, reply) in [
            // Another host, scheme, port, region or bucket.
            pair("https://evil.example"),
            pair("https://other-bucket.s3.eu-west-1.amazonaws.com"),
            pair(&format!("https://{BUCKET}.s3.us-east-1.amazonaws.com")),
            pair(&format!("http://{BUCKET}.s3.eu-west-1.amazonaws.com")),
            pair(&format!("https://{BUCKET}.s3.eu-west-1.amazonaws.com:8443")),
            pair("https://s3.eu-west-1.amazonaws.com/other-bucket"),
            pair("http://127.0.0.1:9001"),
            pair("http://localhost:9001/petraf-documents-1-eu-west-1"),
            // Credentials in the authority, or the bucket's name as a user.
            pair(&format!("https://x@{BUCKET}.s3.eu-west-1.amazonaws.com")),
            pair(&format!(
                "https://{BUCKET}.s3.eu-west-1.amazonaws.com@evil.example"
            )),
            // Not URLs.
            ("not a url at all".into(), reply.clone()),
            (format!("file:///extraction/{ID}"), reply.clone()),
            // The reply on another host.
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
                format!("{https}/x/extraction/{ID}"),
                format!("{https}/x/extraction/{ID}.reply.json"),
            ),
            (
                format!("{https}/x/../extraction/{ID}"),
                format!("{https}/x/../extraction/{ID}.reply.json"),
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
        ] {
            assert!(
                check_urls(&request(&document, &reply), &aws()).is_err(),
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
