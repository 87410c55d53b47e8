//! X-Ray subsegments from tracing spans, sent to the X-Ray daemon that
//! Lambda runs beside a function whose tracing is `Active`.
//!
//! Two kinds of span become subsegments: ours, with target [`TARGET`]
//! (the model call, embedding, retrieval, the vector search: see
//! `adapters::traced`), and the AWS SDK's own span around each operation
//! (`DynamoDB.GetItem`, `S3.PutObject`, `RDS Data.ExecuteStatement`, …), so
//! every store call shows with its service and operation. A subsegment's
//! parent is the nearest enclosing one, else the invocation's segment,
//! named by the trace header of the runtime's span around the invocation
//! ([`TRACE_FIELD`]), else `_X_AMZN_TRACE_ID`. Nothing is sent for a trace
//! that is not sampled.
//!
//! Sending is one UDP datagram per finished span: no extra call on the hot
//! path, as with the metrics.

use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Metadata, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The target of the spans of ours that become subsegments.
pub const TARGET: &str = "petraf::xray";
/// The field of lambda_runtime's span around each invocation ("Lambda
/// runtime invoke") that holds its trace header (`Root=…;Parent=…;Sampled=1`).
pub const TRACE_FIELD: &str = "xrayTraceId";

const DAEMON_HEADER: &str = "{\"format\": \"json\", \"version\": 1}\n";

/// The layer, sending to the daemon at `AWS_XRAY_DAEMON_ADDRESS` when the
/// environment names one (Lambda does); `None` elsewhere.
pub fn layer_from_env() -> Option<XrayLayer> {
    let address = std::env::var("AWS_XRAY_DAEMON_ADDRESS").ok()?;
    XrayLayer::to(daemon_address(&address)?).ok()
}

/// `AWS_XRAY_DAEMON_ADDRESS` is `host:port`, or `udp:host:port tcp:host:port`.
fn daemon_address(value: &str) -> Option<SocketAddr> {
    let udp = value
        .split_whitespace()
        .find_map(|part| part.strip_prefix("udp:"))
        .or_else(|| {
            value
                .split_whitespace()
                .find(|part| !part.starts_with("tcp:"))
        })?;
    udp.to_socket_addrs().ok()?.next()
}

/// The spans the layer reads: the filter it is installed with, so that the
/// SDK's debug-level operation spans are created for it alone (the log
/// layer keeps its own level).
pub fn wanted(metadata: &Metadata<'_>) -> bool {
    metadata.is_span() && (is_traced(metadata) || metadata.fields().field(TRACE_FIELD).is_some())
}

/// Whether a span becomes a subsegment.
fn is_traced(metadata: &Metadata<'_>) -> bool {
    metadata.target() == TARGET || is_sdk_operation(metadata)
}

fn is_sdk_operation(metadata: &Metadata<'_>) -> bool {
    metadata.target().starts_with("aws_sdk_") && metadata.fields().field("rpc.service").is_some()
}

pub struct XrayLayer {
    socket: UdpSocket,
    daemon: SocketAddr,
    /// The trace outside any invocation span: `_X_AMZN_TRACE_ID`.
    ambient_trace: fn() -> Option<String>,
}

impl XrayLayer {
    pub fn to(daemon: SocketAddr) -> std::io::Result<Self> {
        let any: SocketAddr = if daemon.is_ipv4() {
            "0.0.0.0:0".parse().expect("an address")
        } else {
            "[::]:0".parse().expect("an address")
        };
        let socket = UdpSocket::bind(any)?;
        socket.set_nonblocking(true)?;
        Ok(XrayLayer {
            socket,
            daemon,
            ambient_trace: || std::env::var("_X_AMZN_TRACE_ID").ok(),
        })
    }

    fn send(&self, document: &Value) {
        let mut datagram = String::from(DAEMON_HEADER);
        datagram.push_str(&document.to_string());
        // A full buffer or an absent daemon loses a subsegment, never a request.
        let _ = self.socket.send_to(datagram.as_bytes(), self.daemon);
    }
}

/// What an invocation span says of its trace: sampled (its root and
/// parent) or not (`None`, and nothing inside it is sent).
struct Invocation(Option<TraceHeader>);

/// The invocation's trace, as its header names it.
#[derive(Debug, Clone, PartialEq)]
struct TraceHeader {
    root: String,
    parent: String,
}

impl TraceHeader {
    /// A sampled trace's root and parent; `None` when not sampled or malformed.
    fn parse(header: &str) -> Option<Self> {
        let (mut root, mut parent, mut sampled) = (None, None, false);
        for part in header.split(';') {
            match part.trim().split_once('=') {
                Some(("Root", v)) => root = Some(v.to_string()),
                Some(("Parent", v)) => parent = Some(v.to_string()),
                Some(("Sampled", v)) => sampled = v == "1",
                _ => {}
            }
        }
        sampled.then_some(())?;
        Some(TraceHeader {
            root: root?,
            parent: parent?,
        })
    }
}

/// A span being recorded as a subsegment.
struct Open {
    trace_id: String,
    parent_id: String,
    id: String,
    name: String,
    start: f64,
    namespace: Option<&'static str>,
    operation: Option<String>,
    annotations: Map<String, Value>,
    fault: bool,
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

fn subsegment_id() -> String {
    hex::encode(rand::random::<[u8; 8]>())
}

/// The fields a span is created or recorded with.
#[derive(Default)]
struct Fields {
    trace: Option<String>,
    service: Option<String>,
    operation: Option<String>,
    annotations: Map<String, Value>,
    fault: bool,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            TRACE_FIELD => self.trace = Some(value.to_string()),
            "rpc.service" => self.service = Some(value.to_string()),
            "rpc.method" => self.operation = Some(value.to_string()),
            "error" => self.fault = true,
            name if annotation_key(name) => {
                self.annotations.insert(name.to_string(), json!(value));
            }
            _ => {}
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        match field.name() {
            "error" => self.fault |= value,
            name if annotation_key(name) => {
                self.annotations.insert(name.to_string(), json!(value));
            }
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if annotation_key(field.name()) {
            self.annotations
                .insert(field.name().to_string(), json!(value));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if annotation_key(field.name()) {
            self.annotations
                .insert(field.name().to_string(), json!(value));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

/// X-Ray annotation keys: letters, digits and `_`; the SDK's bookkeeping
/// (`sdk_invocation_id`, `rpc.system`) is no annotation.
fn annotation_key(name: &str) -> bool {
    name != "sdk_invocation_id" && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl<S> Layer<S> for XrayLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(header) = &fields.trace {
            span.extensions_mut()
                .insert(Invocation(TraceHeader::parse(header)));
            return;
        }
        let metadata = attrs.metadata();
        if !is_traced(metadata) {
            return;
        }
        // The nearest enclosing subsegment, else the invocation's segment;
        // an unsampled invocation ends the search with nothing.
        let enclosing = span.scope().skip(1).find_map(|ancestor| {
            let extensions = ancestor.extensions();
            if let Some(open) = extensions.get::<Open>() {
                return Some(Some((open.trace_id.clone(), open.id.clone())));
            }
            extensions.get::<Invocation>().map(|invocation| {
                invocation
                    .0
                    .as_ref()
                    .map(|h| (h.root.clone(), h.parent.clone()))
            })
        });
        // Outside any invocation span only: a later invocation overwrites
        // the process-wide variable.
        let parent = enclosing.unwrap_or_else(|| {
            let header = TraceHeader::parse(&(self.ambient_trace)()?)?;
            Some((header.root, header.parent))
        });
        let Some((trace_id, parent_id)) = parent else {
            return;
        };
        let sdk = is_sdk_operation(metadata);
        span.extensions_mut().insert(Open {
            trace_id,
            parent_id,
            id: subsegment_id(),
            name: match (&fields.service, sdk) {
                (Some(service), true) => service.clone(),
                _ => metadata.name().to_string(),
            },
            start: now(),
            namespace: sdk.then_some("aws"),
            operation: fields.operation,
            annotations: if sdk { Map::new() } else { fields.annotations },
            fault: fields.fault,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        let Some(open) = extensions.get_mut::<Open>() else {
            return;
        };
        let mut fields = Fields::default();
        values.record(&mut fields);
        open.fault |= fields.fault;
        if open.namespace.is_none() {
            open.annotations.extend(fields.annotations);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(open) = span.extensions_mut().remove::<Open>() else {
            return;
        };
        self.send(&document(open, now()));
    }
}

/// The subsegment document the daemon takes.
fn document(open: Open, end: f64) -> Value {
    let mut document = json!({
        "type": "subsegment",
        "name": open.name,
        "id": open.id,
        "trace_id": open.trace_id,
        "parent_id": open.parent_id,
        "start_time": open.start,
        "end_time": end.max(open.start),
    });
    if let Some(namespace) = open.namespace {
        document["namespace"] = json!(namespace);
    }
    if let Some(operation) = open.operation {
        document["aws"] = json!({"operation": operation});
    }
    if !open.annotations.is_empty() {
        document["annotations"] = Value::Object(open.annotations);
    }
    if open.fault {
        document["fault"] = json!(true);
    }
    document
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    const HEADER: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

    /// The documents the layer sent while `work` ran, in the order they came.
    fn sent(work: impl FnOnce()) -> Vec<Value> {
        sent_with(|| None, work)
    }

    /// As [`sent`], with `ambient` as `_X_AMZN_TRACE_ID`.
    fn sent_with(ambient: fn() -> Option<String>, work: impl FnOnce()) -> Vec<Value> {
        let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
        daemon
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut layer = XrayLayer::to(daemon.local_addr().unwrap()).unwrap();
        layer.ambient_trace = ambient;
        let subscriber = tracing_subscriber::registry()
            .with(layer.with_filter(tracing_subscriber::filter::filter_fn(wanted)));
        tracing::subscriber::with_default(subscriber, work);
        let mut documents = vec![];
        let mut buffer = [0u8; 65536];
        while let Ok(n) = daemon.recv(&mut buffer) {
            let text = std::str::from_utf8(&buffer[..n]).unwrap();
            let (header, body) = text.split_once('\n').unwrap();
            assert_eq!(format!("{header}\n"), DAEMON_HEADER);
            documents.push(serde_json::from_str(body).unwrap());
        }
        documents
    }

    #[test]
    fn a_request_s_calls_become_nested_subsegments_of_its_invocation() {
        let documents = sent(|| {
            let request = tracing::info_span!("Lambda runtime invoke", xrayTraceId = HEADER);
            let _request = request.enter();
            let retrieval = tracing::info_span!(target: TARGET, "retrieval", phase = "g4_future");
            let _retrieval = retrieval.enter();
            tracing::debug_span!(
                target: "aws_sdk_rdsdata::operation::execute_statement",
                "RDS Data.ExecuteStatement",
                "rpc.service" = "RDS Data",
                "rpc.method" = "ExecuteStatement",
                "sdk_invocation_id" = 1234567u32,
                "rpc.system" = "aws-api",
            )
            .in_scope(|| {});
        });
        let [query, retrieval] = documents.as_slice() else {
            panic!("{documents:?}")
        };
        assert_eq!(retrieval["name"], "retrieval");
        assert_eq!(retrieval["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(
            retrieval["parent_id"], "53995c3f42cd8ad8",
            "the invocation's segment"
        );
        assert_eq!(retrieval["annotations"], json!({"phase": "g4_future"}));
        assert_eq!(query["name"], "RDS Data");
        assert_eq!(query["namespace"], "aws");
        assert_eq!(query["aws"], json!({"operation": "ExecuteStatement"}));
        assert_eq!(
            query["parent_id"], retrieval["id"],
            "nested in the retrieval"
        );
        assert_eq!(query.get("annotations"), None);
        for document in &documents {
            assert_eq!(document["type"], "subsegment");
            assert_eq!(document["id"].as_str().unwrap().len(), 16);
            let (start, end) = (
                document["start_time"].as_f64(),
                document["end_time"].as_f64(),
            );
            assert!(start.unwrap() <= end.unwrap(), "{document}");
        }
    }

    #[test]
    fn a_failed_call_is_a_fault() {
        let documents = sent(|| {
            let request = tracing::info_span!("Lambda runtime invoke", xrayTraceId = HEADER);
            let _request = request.enter();
            let model = tracing::info_span!(target: TARGET, "model", provider = "openai", error = tracing::field::Empty);
            model.record("error", true);
        });
        assert_eq!(documents.len(), 1, "{documents:?}");
        assert_eq!(documents[0]["fault"], true);
        assert_eq!(documents[0]["annotations"], json!({"provider": "openai"}));
    }

    #[test]
    fn nothing_is_sent_for_a_trace_that_is_not_sampled_or_absent() {
        for header in [HEADER.replace("Sampled=1", "Sampled=0"), String::new()] {
            let documents = sent(|| {
                let request =
                    tracing::info_span!("Lambda runtime invoke", xrayTraceId = header.as_str());
                let _request = request.enter();
                tracing::info_span!(target: TARGET, "model").in_scope(|| {});
            });
            assert!(documents.is_empty(), "{header}: {documents:?}");
        }
    }

    #[test]
    fn an_unsampled_invocation_is_not_reported_in_another_s_trace() {
        // A later, sampled invocation set the process-wide variable.
        let ambient = || Some(HEADER.to_string());
        let unsampled = HEADER.replace("Sampled=1", "Sampled=0");
        let documents = sent_with(ambient, || {
            let request =
                tracing::info_span!("Lambda runtime invoke", xrayTraceId = unsampled.as_str());
            let _request = request.enter();
            tracing::info_span!(target: TARGET, "model").in_scope(|| {});
        });
        assert!(documents.is_empty(), "{documents:?}");
        // Outside any invocation span, the variable names the trace.
        let documents = sent_with(ambient, || {
            tracing::info_span!(target: TARGET, "model").in_scope(|| {});
        });
        assert_eq!(documents.len(), 1, "{documents:?}");
        assert_eq!(documents[0]["parent_id"], "53995c3f42cd8ad8");
    }

    #[test]
    fn the_daemon_address_takes_both_forms() {
        let expected: SocketAddr = "169.254.79.129:2000".parse().unwrap();
        assert_eq!(daemon_address("169.254.79.129:2000"), Some(expected));
        assert_eq!(
            daemon_address("tcp:169.254.79.129:2000 udp:169.254.79.129:2000"),
            Some(expected)
        );
        assert_eq!(daemon_address("nowhere"), None);
    }
}
