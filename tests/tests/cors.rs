//! CORS follows the tenants: a browser on a tenant's own domain may call the
//! API with its cookie; other origins get no CORS headers, and their
//! preflights are refused.

use petraf_core::app::tenants::{demo_tenant, set_status};
use petraf_core::domain::tenant::TenantStatus;
use petraf_tests::TestServer;
use reqwest::Method;

const TENANT_SITE: &str = "https://sunrise.petraf.com";

#[tokio::test]
async fn a_tenants_own_domain_passes_preflight_and_gets_credentials() {
    let server = TestServer::embedded().await;
    let tenant = server.create_tenant(demo_tenant()).await;
    let client = server.client();

    let preflight = client
        .request(Method::OPTIONS, "/api/session/create")
        .header("Origin", TENANT_SITE)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "content-type, x-tenant-id",
        )
        .send()
        .await;
    assert_eq!(preflight.status, 204, "{}", preflight.text);
    let allowed = |name: &str| {
        preflight
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(allowed("access-control-allow-origin"), TENANT_SITE);
    assert_eq!(allowed("access-control-allow-credentials"), "true");
    assert!(allowed("access-control-allow-headers").contains("X-Tenant-ID"));
    assert!(allowed("access-control-allow-methods").contains("POST"));

    let created = client
        .post("/api/session/create")
        .tenant(&tenant.record.tenant.id)
        .header("Origin", TENANT_SITE)
        .send()
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(
        created.headers["access-control-allow-origin"], TENANT_SITE,
        "the browser may read the answer"
    );
    assert!(
        created
            .headers
            .get_all("vary")
            .iter()
            .any(|v| v == "origin")
    );
}

#[tokio::test]
async fn other_origins_get_no_cors_and_a_refused_preflight() {
    let server = TestServer::embedded().await;
    let tenant = server.create_tenant(demo_tenant()).await;
    let client = server.client();

    for origin in [
        "https://evil.example.com",
        "http://sunrise.petraf.com",
        "null",
    ] {
        let preflight = client
            .request(Method::OPTIONS, "/api/session/create")
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .send()
            .await;
        assert_eq!(preflight.status, 403, "{origin}");
        assert_eq!(preflight.code(), "origin_not_allowed");
        assert!(
            preflight
                .headers
                .get("access-control-allow-origin")
                .is_none()
        );
    }

    // CORS is not authorisation: the request is answered as usual, but the
    // browser may not read it.
    let created = client
        .post("/api/session/create")
        .tenant(&tenant.record.tenant.id)
        .header("Origin", "https://evil.example.com")
        .send()
        .await;
    assert_eq!(created.status, 201);
    assert!(created.headers.get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn an_inactive_tenants_domain_is_not_an_allowed_origin() {
    let server = TestServer::embedded().await;
    let tenant = server.create_tenant(demo_tenant()).await;
    set_status(
        &server.app,
        &tenant.record.tenant.id,
        TenantStatus::Inactive,
    )
    .await
    .unwrap();
    let preflight = server
        .client()
        .request(Method::OPTIONS, "/api/session/create")
        .header("Origin", TENANT_SITE)
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await;
    assert_eq!(preflight.status, 403);
}
