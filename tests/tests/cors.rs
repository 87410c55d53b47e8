//! CORS follows the tenants: a browser on a tenant's own domain may call the
//! API with its cookie for that tenant only; other origins get no CORS
//! headers, and their preflights are refused. The tenant lookup is storage,
//! so the cross-tenant case runs on both state stores (DynamoDB on moto's
//! server: `scripts/test.sh` starts it; without it that test says
//! "skipped", unless PETRAF_REQUIRE_STANDINS=1).

use std::sync::Arc;

use petraf_core::app::Settings;
use petraf_core::app::tenants::{NewTenant, demo_tenant, set_status};
use petraf_core::config::ServerLimits;
use petraf_core::config::{self, Ports};
use petraf_core::domain::ids::new_id;
use petraf_core::domain::tenant::{TenantConfig, TenantStatus};
use petraf_tests::moto::moto_state_store;
use petraf_tests::{Reply, TestServer, walkthrough_clock};
use reqwest::Method;

const TENANT_SITE: &str = "https://sunrise.petraf.com";
const OTHER_SITE: &str = "https://acme.petraf.com";
const CONSOLE: &str = "https://console.example.com";

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
    let varies: Vec<_> = created.headers.get_all("vary").iter().collect();
    for header in ["origin", "x-tenant-id", "host"] {
        assert!(varies.iter().any(|v| *v == header), "{varies:?}");
    }
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

fn other_tenant(id: String) -> NewTenant {
    NewTenant {
        id: Some(id),
        slug: "acme".into(),
        name: "Acme Inc".into(),
        domain: "acme.petraf.com".into(),
        admin_email: "hr@acme.com".into(),
        contact_name: None,
        config: TenantConfig::defaults(),
    }
}

fn header(reply: &Reply, name: &str) -> Option<String> {
    reply
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Tenant A's session read from tenant B's origin (the two domains share a
/// parent, so the browser sends A's cookie): answered as usual, but never
/// with CORS headers B's page could read it by. A's origin reads it.
async fn a_tenants_origin_reads_only_its_own_tenant(server: &TestServer) {
    let a = server
        .create_tenant(NewTenant {
            id: Some(new_id()),
            ..demo_tenant()
        })
        .await;
    let b = server.create_tenant(other_tenant(new_id())).await;
    let (a_id, b_id) = (a.record.tenant.id.clone(), b.record.tenant.id.clone());
    let client = server.client();

    let created = client
        .post("/api/session/create")
        .tenant(&a_id)
        .header("Origin", TENANT_SITE)
        .send()
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(
        header(&created, "access-control-allow-origin").as_deref(),
        Some(TENANT_SITE)
    );
    // The cookie is host-only (no Domain the tenants share), HttpOnly and
    // SameSite=Strict; Secure but for loopback http, as here.
    let cookie = header(&created, "set-cookie").unwrap();
    assert!(cookie.starts_with("resume_token="), "{cookie}");
    assert!(
        cookie.contains("; Path=/; HttpOnly; SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain http on loopback: {cookie}"
    );
    let session = created.json()["session_id"].as_str().unwrap().to_string();
    let cookie = cookie.split(';').next().unwrap().to_string();

    let resume = |origin: &'static str, tenant_header: Option<&str>, host: Option<&str>| {
        let mut call = client
            .post("/api/session/resume")
            .header("Origin", origin)
            .header("Cookie", &cookie);
        if let Some(id) = tenant_header {
            call = call.tenant(id);
        }
        if let Some(host) = host {
            call = call.header("Host", host);
        }
        call.send()
    };
    for (what, reply) in [
        ("X-Tenant-ID", resume(OTHER_SITE, Some(&a_id), None).await),
        (
            "Host",
            resume(OTHER_SITE, None, Some("sunrise.petraf.com")).await,
        ),
    ] {
        assert_eq!(reply.status, 200, "{what}: {}", reply.text);
        assert_eq!(
            header(&reply, "access-control-allow-origin"),
            None,
            "tenant A by {what}, tenant B's origin"
        );
        assert_eq!(header(&reply, "access-control-allow-credentials"), None);
    }
    let own = resume(TENANT_SITE, Some(&a_id), None).await;
    assert_eq!(own.status, 200, "{}", own.text);
    assert_eq!(
        header(&own, "access-control-allow-origin").as_deref(),
        Some(TENANT_SITE)
    );
    assert_eq!(
        header(&own, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    let own_host = resume(TENANT_SITE, None, Some("sunrise.petraf.com")).await;
    assert_eq!(
        header(&own_host, "access-control-allow-origin").as_deref(),
        Some(TENANT_SITE)
    );
    // B's origin naming B while carrying A's cookie reads only B's refusal.
    let crossed = resume(OTHER_SITE, Some(&b_id), None).await;
    assert_ne!(crossed.status, 200);

    // The Markdown export likewise.
    let export = |origin: &'static str| {
        client
            .get(&format!("/api/goals/session/{session}/export?format=md"))
            .tenant(&a_id)
            .header("Origin", origin)
            .header("Cookie", &cookie)
            .send()
    };
    let foreign = export(OTHER_SITE).await;
    assert_eq!(foreign.status, 200, "{}", foreign.text);
    assert_eq!(header(&foreign, "access-control-allow-origin"), None);
    let own = export(TENANT_SITE).await;
    assert_eq!(
        header(&own, "access-control-allow-origin").as_deref(),
        Some(TENANT_SITE)
    );

    // Admin routes name the tenant in the path (or the query).
    let documents = |origin: &'static str, tenant: &str, key: &str| {
        client
            .get(&format!("/api/admin/rag/documents/{tenant}"))
            .admin(key)
            .header("Origin", origin)
            .send()
    };
    let foreign = documents(OTHER_SITE, &a_id, &a.admin_key).await;
    assert_eq!(foreign.status, 200, "{}", foreign.text);
    assert_eq!(header(&foreign, "access-control-allow-origin"), None);
    let own = documents(TENANT_SITE, &a_id, &a.admin_key).await;
    assert_eq!(
        header(&own, "access-control-allow-origin").as_deref(),
        Some(TENANT_SITE)
    );
    let own_b = documents(OTHER_SITE, &b_id, &b.admin_key).await;
    assert_eq!(
        header(&own_b, "access-control-allow-origin").as_deref(),
        Some(OTHER_SITE)
    );
    let audit = client
        .get(&format!("/api/admin/audit-logs?tenant_id={a_id}"))
        .admin(&a.admin_key)
        .header("Origin", OTHER_SITE)
        .send()
        .await;
    assert_eq!(audit.status, 200, "{}", audit.text);
    assert_eq!(header(&audit, "access-control-allow-origin"), None);
    let preflight = |origin: &'static str| {
        client
            .request(Method::OPTIONS, &format!("/api/admin/rag/documents/{a_id}"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "GET")
            .send()
    };
    let refused = preflight(OTHER_SITE).await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert_eq!(refused.code(), "origin_not_allowed");
    assert_eq!(preflight(TENANT_SITE).await.status, 204);
}

#[tokio::test]
async fn a_tenants_origin_reads_only_its_own_tenant_on_the_embedded_store() {
    a_tenants_origin_reads_only_its_own_tenant(&TestServer::embedded().await).await;
}

#[tokio::test]
async fn a_tenants_origin_reads_only_its_own_tenant_on_dynamodb() {
    let clock = walkthrough_clock();
    let Some(store) = moto_state_store("petraf-cors", Some(clock.clone())).await else {
        return;
    };
    let data_dir = tempfile::tempdir().unwrap();
    let mut ports: Ports = config::embedded_ports(data_dir.path()).unwrap();
    ports.store = Arc::new(store);
    let server = TestServer::with_ports_and_clock(ports, data_dir, clock).await;
    a_tenants_origin_reads_only_its_own_tenant(&server).await;
}

#[tokio::test]
async fn allowed_origins_stay_global() {
    let settings = Settings {
        allowed_origins: vec![CONSOLE.to_string()],
        ..Settings::default()
    };
    let server = TestServer::embedded_with(settings, ServerLimits::default()).await;
    let a = server.create_tenant(demo_tenant()).await;
    let b = server.create_tenant(other_tenant(new_id())).await;
    for (tenant, key) in [
        (&a.record.tenant.id, &a.admin_key),
        (&b.record.tenant.id, &b.admin_key),
    ] {
        let r = server
            .client()
            .get(&format!("/api/admin/rag/documents/{tenant}"))
            .admin(key)
            .header("Origin", CONSOLE)
            .send()
            .await;
        assert_eq!(
            header(&r, "access-control-allow-origin").as_deref(),
            Some(CONSOLE)
        );
    }
}
