//! The walkthrough end to end once more, with the coach, refinement, scoring
//! and embeddings coming from the OpenAI adapter (the real async-openai
//! client) talking to the wire-level fake OpenAI server of the core's tests.

#[path = "../../shared/tests/openai_fake/server.rs"]
mod fake_openai;

use std::sync::Arc;

use fake_openai::{FakeOpenAi, Op};
use petraf_core::adapters::openai::OpenAiSettings;
use petraf_core::app::tenants::demo_tenant;
use petraf_core::config;
use petraf_tests::TestServer;
use petraf_tests::journey::{admin_views, sarah, upload_documents};

#[tokio::test]
async fn sarahs_whole_journey_on_the_openai_adapter() {
    let fake = FakeOpenAi::start().await;
    // Sarah's first g4 answer is judged not ready; everything after is.
    fake.script_verdicts(["READY: no\n\n"]);
    let mut settings = OpenAiSettings::new("sk-test");
    settings.base_url = fake.base_url.clone();
    let (model, embedder) = settings.models().expect("OpenAI client");

    let dir = tempfile::tempdir().unwrap();
    let mut ports = config::embedded_ports(dir.path()).unwrap();
    ports.model = Arc::new(model);
    ports.embedder = Arc::new(embedder);
    let server = TestServer::with_ports(ports, dir).await;
    let health = server.client().get("/api/health").send().await.json();
    assert_eq!(health["services"]["chat_model"], "openai");
    assert_eq!(health["services"]["openai"], "configured");
    assert!(
        !health.to_string().contains("sk-test"),
        "the key is never reported"
    );

    let created = server.create_tenant(demo_tenant()).await;
    let tenant_id = created.record.tenant.id.clone();
    upload_documents(&server.client(), &tenant_id, &created.admin_key).await;
    let journey = sarah(&server, &tenant_id).await;
    admin_views(&server, &tenant_id, &created.admin_key, &journey).await;

    // Four turns: four coach streams, each judging readiness itself, three
    // refinements and three scores; embeddings for the documents and each
    // turn's query.
    assert_eq!(fake.count(Op::Coach), 4);
    assert_eq!(fake.count(Op::Refine), 3);
    assert_eq!(fake.count(Op::Score), 3);
    assert!(fake.count(Op::Embed) >= 5);
    let score_request = fake
        .requests()
        .into_iter()
        .find(|r| r.op == Op::Score)
        .unwrap();
    assert_eq!(
        score_request.body["model"], "gpt-4o-mini",
        "the tenant's llm_model picks the model"
    );
}
