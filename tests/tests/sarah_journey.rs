//! The walkthrough end to end over HTTP on the embedded default.

use petraf_core::app::tenants::demo_tenant;
use petraf_tests::TestServer;
use petraf_tests::journey::{admin_views, sarah, upload_documents};

#[tokio::test]
async fn sarahs_whole_journey_on_the_embedded_default() {
    let server = TestServer::embedded().await;
    let created = server.create_tenant(demo_tenant()).await;
    let tenant_id = created.record.tenant.id.clone();
    upload_documents(&server.client(), &tenant_id, &created.admin_key).await;
    let journey = sarah(&server, &tenant_id).await;
    admin_views(&server, &tenant_id, &created.admin_key, &journey).await;
}
