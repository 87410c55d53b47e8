//! What AWS puts in front of the functions, emulated on loopback: the HTTP
//! API (routes from the template, payload format 2.0, buffered responses)
//! and chat-stream's Function URL (payload 2.0, `RESPONSE_STREAM`: the
//! metadata prelude, eight NUL bytes, then the body as it is produced).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures::StreamExt;
use http_body_util::BodyExt;
use serde_json::{Map, Value, json};

use super::runtime_api::{Function, Outcome};

/// The HTTP API's routes in template.yaml: (method, path, function).
/// `{proxy+}` matches the rest of the path.
pub const HTTP_API_ROUTES: [(&str, &str, &str); 5] = [
    ("GET", "/api/health", "session"),
    ("ANY", "/api/session/{proxy+}", "session"),
    ("GET", "/api/tenant", "session"),
    ("ANY", "/api/goals/{proxy+}", "goals"),
    ("ANY", "/api/admin/{proxy+}", "admin"),
];

/// The route key matching a request, with its function.
pub fn route(method: &str, path: &str) -> Option<(String, &'static str)> {
    HTTP_API_ROUTES.iter().find_map(|(m, pattern, function)| {
        let path_matches = match pattern.strip_suffix("{proxy+}") {
            Some(prefix) => path.len() > prefix.len() && path.starts_with(prefix),
            None => path == *pattern,
        };
        (path_matches && (*m == "ANY" || m.eq_ignore_ascii_case(method)))
            .then(|| (format!("{m} {pattern}"), *function))
    })
}

/// A payload format 2.0 event of `request`, as HTTP API and Function URLs
/// send it.
pub fn v2_event(route_key: &str, domain: &str, peer: SocketAddr, parts: &RequestParts) -> Value {
    let mut headers = Map::new();
    let mut cookies = vec![];
    for (name, value) in &parts.headers {
        let value = value.to_str().unwrap_or_default();
        if name == "cookie" {
            cookies.extend(value.split(';').map(|c| Value::from(c.trim())));
            continue;
        }
        let joined = match headers.get(name.as_str()).and_then(Value::as_str) {
            Some(earlier) => format!("{earlier},{value}"),
            None => value.to_string(),
        };
        headers.insert(name.as_str().to_string(), joined.into());
    }
    let forwarded = match headers.get("x-forwarded-for").and_then(Value::as_str) {
        Some(earlier) => format!("{earlier}, {}", peer.ip()),
        None => peer.ip().to_string(),
    };
    headers.insert("x-forwarded-for".into(), forwarded.into());
    headers.insert("x-forwarded-proto".into(), "https".into());
    let mut query = Map::new();
    for pair in parts.query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (decode(k), decode(v));
        let joined = match query.get(&k).and_then(Value::as_str) {
            Some(earlier) => format!("{earlier},{v}"),
            None => v,
        };
        query.insert(k, joined.into());
    }
    let (body, base64) = match std::str::from_utf8(&parts.body) {
        _ if parts.body.is_empty() => (Value::Null, false),
        Ok(text) if !is_binary(&parts.headers) => (text.into(), false),
        _ => (BASE64.encode(&parts.body).into(), true),
    };
    let now = chrono::Utc::now();
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": parts.path,
        "rawQueryString": parts.query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": domain.split('.').next().unwrap_or(domain),
            "domainName": domain,
            "domainPrefix": domain.split('.').next().unwrap_or(domain),
            "http": {
                "method": parts.method,
                "path": parts.path,
                "protocol": "HTTP/1.1",
                "sourceIp": peer.ip().to_string(),
                "userAgent": parts.headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or(""),
            },
            "requestId": format!("req-{}", now.timestamp_nanos_opt().unwrap_or_default()),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "body": body,
        "isBase64Encoded": base64,
    });
    if !cookies.is_empty() {
        event["cookies"] = cookies.into();
    }
    if !query.is_empty() {
        event["queryStringParameters"] = query.into();
    }
    if let Some(prefix) = route_key
        .split(' ')
        .nth(1)
        .and_then(|p| p.strip_suffix("{proxy+}"))
    {
        event["pathParameters"] = json!({"proxy": &parts.path[prefix.len()..]});
    }
    event
}

/// Text bodies travel as they are; others base64-encoded (as AWS does).
fn is_binary(headers: &HeaderMap) -> bool {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    !(content_type.is_empty()
        || content_type.starts_with("text/")
        || content_type.contains("json")
        || content_type.contains("x-www-form-urlencoded"))
}

fn decode(s: &str) -> String {
    let s = s.replace('+', " ");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A request, read whole (HTTP API and Function URLs buffer request bodies).
pub struct RequestParts {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl RequestParts {
    async fn read(request: Request) -> RequestParts {
        let (parts, body) = request.into_parts();
        RequestParts {
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
            query: parts.uri.query().unwrap_or("").to_string(),
            headers: parts.headers,
            body: body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default(),
        }
    }
}

/// A payload 2.0 response (`{statusCode, headers, cookies, body,
/// isBase64Encoded}`) as HTTP.
pub fn v2_response(payload: &[u8]) -> Response {
    let Ok(answer) = serde_json::from_slice::<Value>(payload) else {
        return bad_gateway(format!(
            "not a payload 2.0 response: {}",
            String::from_utf8_lossy(payload)
        ));
    };
    let status = answer["statusCode"].as_u64().unwrap_or(200) as u16;
    let body = match (answer["body"].as_str(), answer["isBase64Encoded"].as_bool()) {
        (Some(b), Some(true)) => BASE64.decode(b).unwrap_or_default(),
        (Some(b), _) => b.as_bytes().to_vec(),
        (None, _) => vec![],
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    copy_headers(&answer, response.headers_mut());
    response
}

/// `headers` (one value or several) and `cookies` of a response payload or
/// a streaming prelude.
fn copy_headers(answer: &Value, into: &mut HeaderMap) {
    for source in ["headers", "multiValueHeaders"] {
        if let Some(headers) = answer[source].as_object() {
            for (name, values) in headers {
                let values = match values {
                    Value::Array(many) => many.clone(),
                    one => vec![one.clone()],
                };
                for value in values {
                    if let (Ok(n), Some(Ok(v))) = (
                        HeaderName::from_bytes(name.as_bytes()),
                        value.as_str().map(HeaderValue::from_str),
                    ) {
                        into.append(n, v);
                    }
                }
            }
        }
    }
    for cookie in answer["cookies"].as_array().into_iter().flatten() {
        if let Some(Ok(v)) = cookie.as_str().map(HeaderValue::from_str) {
            into.append("set-cookie", v);
        }
    }
}

fn bad_gateway(message: String) -> Response {
    (
        StatusCode::BAD_GATEWAY,
        [("content-type", "application/json")],
        json!({"message": message}).to_string(),
    )
        .into_response()
}

fn outcome_failure(outcome: Outcome) -> Response {
    match outcome {
        Outcome::Failed { error_type, body } => bad_gateway(format!("{error_type}: {body}")),
        Outcome::Died(reason) => bad_gateway(reason),
        other => bad_gateway(format!("unexpected outcome {other:?}")),
    }
}

/// A loopback server in front of functions.
pub struct FrontDoor {
    pub base: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FrontDoor {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn listen(router: Router) -> FrontDoor {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    FrontDoor {
        base: format!("http://{addr}"),
        server,
    }
}

/// The HTTP API: each request to the function its route names.
pub async fn http_api(functions: Vec<Arc<Function>>) -> FrontDoor {
    async fn handle(
        State(functions): State<Arc<Vec<Arc<Function>>>>,
        ConnectInfo(peer): ConnectInfo<SocketAddr>,
        request: Request,
    ) -> Response {
        let parts = RequestParts::read(request).await;
        let Some((route_key, name)) = route(&parts.method, &parts.path) else {
            return (StatusCode::NOT_FOUND, "{\"message\":\"Not Found\"}").into_response();
        };
        let Some(function) = functions.iter().find(|f| f.name == name) else {
            return bad_gateway(format!("{name} is not running"));
        };
        let event = v2_event(
            &route_key,
            "petraf.execute-api.us-east-1.amazonaws.com",
            peer,
            &parts,
        );
        match function.invoke(&event).await {
            Outcome::Buffered(payload) => v2_response(&payload),
            other => outcome_failure(other),
        }
    }
    listen(
        Router::new()
            .fallback(handle)
            .with_state(Arc::new(functions)),
    )
    .await
}

/// When each piece of one streamed response reached the front door.
#[derive(Debug, Default, Clone)]
pub struct StreamTimings {
    pub chunks: Vec<(Instant, usize)>,
    pub finished: Option<Instant>,
}

/// A Function URL with `InvokeMode: RESPONSE_STREAM`; the timings of the
/// streamed responses, latest last.
pub async fn function_url(function: Arc<Function>) -> (FrontDoor, Arc<Mutex<Vec<StreamTimings>>>) {
    type Shared = (Arc<Function>, Arc<Mutex<Vec<StreamTimings>>>);
    async fn handle(
        State((function, timings)): State<Shared>,
        ConnectInfo(peer): ConnectInfo<SocketAddr>,
        request: Request,
    ) -> Response {
        let parts = RequestParts::read(request).await;
        let event = v2_event(
            "$default",
            "chat0123.lambda-url.us-east-1.on.aws",
            peer,
            &parts,
        );
        let mut chunks = match function.invoke(&event).await {
            Outcome::Streamed(chunks) => chunks,
            Outcome::Buffered(payload) => return v2_response(&payload),
            other => return outcome_failure(other),
        };
        let slot = {
            let mut all = timings.lock().unwrap();
            all.push(StreamTimings::default());
            all.len() - 1
        };
        let record = move |timings: &Mutex<Vec<StreamTimings>>, at: Instant, len: usize| {
            timings.lock().unwrap()[slot].chunks.push((at, len));
        };
        // The prelude: JSON up to eight NUL bytes.
        let mut head = Vec::new();
        let rest = loop {
            let Some(chunk) = chunks.recv().await else {
                return bad_gateway("the stream ended inside its prelude".into());
            };
            record(&timings, chunk.at, chunk.bytes.len());
            head.extend_from_slice(&chunk.bytes);
            if let Some(end) = head.windows(8).position(|w| w == [0u8; 8]) {
                break head.split_off(end + 8);
            }
        };
        let prelude: Value = serde_json::from_slice(&head[..head.len() - 8]).unwrap_or_default();
        let body = futures::stream::once(async move { Bytes::from(rest) })
            .chain(futures::stream::unfold(
                (chunks, timings.clone()),
                move |(mut chunks, timings)| async move {
                    match chunks.recv().await {
                        Some(chunk) => {
                            record(&timings, chunk.at, chunk.bytes.len());
                            Some((chunk.bytes, (chunks, timings)))
                        }
                        None => {
                            timings.lock().unwrap()[slot].finished = Some(Instant::now());
                            None
                        }
                    }
                },
            ))
            .filter(|b| futures::future::ready(!b.is_empty()))
            .map(Ok::<_, std::convert::Infallible>);
        let mut response = Response::new(Body::from_stream(body));
        *response.status_mut() = prelude["statusCode"]
            .as_u64()
            .and_then(|s| StatusCode::from_u16(s as u16).ok())
            .unwrap_or(StatusCode::OK);
        copy_headers(&prelude, response.headers_mut());
        response
    }
    let timings = Arc::new(Mutex::new(Vec::new()));
    let door = listen(
        Router::new()
            .fallback(handle)
            .with_state((function, timings.clone())),
    )
    .await;
    (door, timings)
}

/// Lambda's Invoke API (`POST /2015-03-31/functions/{name}/invocations`,
/// `RequestResponse`) for the functions in `functions`: the payload is the
/// event; a function error answers 200 with `X-Amz-Function-Error`, as
/// Lambda does.
pub async fn invoke_api(functions: Arc<Mutex<Vec<Arc<Function>>>>) -> FrontDoor {
    type Shared = Arc<Mutex<Vec<Arc<Function>>>>;
    async fn handle(
        State(functions): State<Shared>,
        axum::extract::Path(name): axum::extract::Path<String>,
        headers: HeaderMap,
        payload: Bytes,
    ) -> Response {
        let invocation_type = headers
            .get("x-amz-invocation-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("RequestResponse");
        if invocation_type != "RequestResponse" {
            return (StatusCode::BAD_REQUEST, "only RequestResponse is emulated").into_response();
        }
        // A name, or an ARN ending in the name.
        let name = name.rsplit(':').next().unwrap_or_default().to_string();
        let function = functions
            .lock()
            .unwrap()
            .iter()
            .find(|f| f.name == name)
            .cloned();
        let Some(function) = function else {
            let body = json!({"Type": "User", "Message": format!("Function not found: {name}")});
            return (
                StatusCode::NOT_FOUND,
                [("x-amzn-errortype", "ResourceNotFoundException")],
                body.to_string(),
            )
                .into_response();
        };
        let Ok(event) = serde_json::from_slice::<Value>(&payload) else {
            return (
                StatusCode::BAD_REQUEST,
                [("x-amzn-errortype", "InvalidRequestContentException")],
                "{\"Type\":\"User\",\"message\":\"Could not parse request body into json\"}",
            )
                .into_response();
        };
        let failed = |body: String| {
            (
                StatusCode::OK,
                [
                    ("x-amz-function-error", "Unhandled"),
                    ("x-amz-executed-version", "$LATEST"),
                ],
                body,
            )
                .into_response()
        };
        match function.invoke(&event).await {
            Outcome::Buffered(body) => (
                StatusCode::OK,
                [("x-amz-executed-version", "$LATEST")],
                body,
            )
                .into_response(),
            Outcome::Failed { body, .. } => failed(body),
            Outcome::Died(reason) => failed(
                json!({"errorType": "Runtime.ExitError", "errorMessage": reason}).to_string(),
            ),
            Outcome::Streamed(_) => bad_gateway(format!("{name} streamed its answer")),
        }
    }
    listen(
        Router::new()
            .route(
                "/2015-03-31/functions/{name}/invocations",
                axum::routing::post(handle),
            )
            .with_state(functions),
    )
    .await
}
