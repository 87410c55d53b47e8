//! What a Lambda entry point adds to a router: the caller's address from
//! the request context (API Gateway or a Function URL saw the connection),
//! the one trusted source of it there.

use std::net::IpAddr;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;

use super::extract::PeerAddress;

/// The router, with each request's [`PeerAddress`] taken from its Lambda
/// request context.
pub fn with_source_ip(router: Router) -> Router {
    router.layer(middleware::from_fn(source_ip))
}

async fn source_ip(mut request: Request, next: Next) -> Response {
    if let Some(ip) = context_source_ip(request.extensions()) {
        request.extensions_mut().insert(PeerAddress(ip));
    }
    next.run(request).await
}

fn context_source_ip(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    match extensions.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.http.source_ip.as_deref()?.parse().ok(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}
