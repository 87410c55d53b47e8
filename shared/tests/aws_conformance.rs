//! The DynamoDB state store and the S3 object store, against moto's server.
//!
//!     eval "$(scripts/standins/moto.sh start)"
//!     cargo test -p petraf-core --features dynamodb,s3 --test aws_conformance
//!
//! Without PETRAF_TEST_MOTO_ENDPOINT every test says "skipped" and passes,
//! unless PETRAF_REQUIRE_STANDINS=1. Each test makes its own table or bucket.
#![cfg(all(feature = "dynamodb", feature = "s3"))]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use aws_config::{Region, SdkConfig};
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Credentials, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use chrono::{DateTime, Duration, Utc};
use petraf_core::adapters::dynamodb::{DynamoStateStore, TableOutcome, create_table};
use petraf_core::adapters::embedded::{
    HashingEmbedder, LocalObjectStore, OfflineModel, SqliteVectorStore,
};
use petraf_core::adapters::s3::{self, S3ObjectStore};
use petraf_core::app::{self, App, chat, sessions, tenants};
use petraf_core::config::{self, Ports};
use petraf_core::conformance;
use petraf_core::domain::audit::{RequestOrigin, action};
use petraf_core::domain::goal::{Goal, GoalLink, LinkType};
use petraf_core::domain::ids::new_id;
use petraf_core::domain::phase::{GoalType, Phase};
use petraf_core::domain::session::ProfileInput;
use petraf_core::domain::tenant::{TenantConfig, TenantStatus};
use petraf_core::extraction::staging;
use petraf_core::ports::object_store::{ObjectStore, StoredObject, document_key};
use petraf_core::ports::state_store::{
    AuditQuery, CounterDelta, Guarded, SessionChange, StoreError,
};
use petraf_core::ports::{Clock, StateStore, SystemClock};
use serde_json::{Value, json};

// ---------------------------------------------------------------- harness

/// moto's endpoint, or `None` (after saying so) when the stand-in is not running.
fn moto_endpoint() -> Option<String> {
    match std::env::var("PETRAF_TEST_MOTO_ENDPOINT") {
        Ok(v) if !v.trim().is_empty() => Some(v.trim().to_string()),
        _ if std::env::var("PETRAF_REQUIRE_STANDINS").as_deref() == Ok("1") => panic!(
            "PETRAF_REQUIRE_STANDINS=1 but PETRAF_TEST_MOTO_ENDPOINT is not set: \
             run eval \"$(scripts/standins/moto.sh start)\" first"
        ),
        _ => {
            eprintln!(
                "skipped: PETRAF_TEST_MOTO_ENDPOINT is not set (eval \"$(scripts/standins/moto.sh start)\")"
            );
            None
        }
    }
}

/// SDK configuration for moto: fixed region and dummy credentials, set
/// here rather than in the process environment.
async fn sdk_config(endpoint: &str) -> SdkConfig {
    petraf_core::adapters::tls::aws_config_loader()
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "moto"))
        .load()
        .await
}

/// Counts the requests a DynamoDB client sends, by operation.
#[derive(Debug, Clone, Default)]
struct RoundTrips(Arc<Mutex<Vec<String>>>);

impl RoundTrips {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Intercept for RoundTrips {
    fn name(&self) -> &'static str {
        "RoundTrips"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("?");
        let operation = target.rsplit('.').next().unwrap_or(target).to_string();
        self.0.lock().unwrap().push(operation);
        Ok(())
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", new_id().to_lowercase())
}

/// A store on a new table, and the counter of its requests.
async fn dynamo_store(endpoint: &str) -> (DynamoStateStore, RoundTrips) {
    let sdk = sdk_config(endpoint).await;
    let trips = RoundTrips::default();
    let conf = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .interceptor(trips.clone())
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(conf);
    let table = unique("petraf-test");
    assert_eq!(
        create_table(&client, &table).await.unwrap(),
        TableOutcome::Created
    );
    assert_eq!(
        create_table(&client, &table).await.unwrap(),
        TableOutcome::AlreadyExisted,
        "create_table runs again harmlessly"
    );
    trips.take();
    (DynamoStateStore::new(client, table), trips)
}

async fn s3_store(endpoint: &str) -> S3ObjectStore {
    let client = s3::client(&sdk_config(endpoint).await, true);
    let bucket = unique("petraf-test");
    client.create_bucket().bucket(&bucket).send().await.unwrap();
    S3ObjectStore::new(client, bucket)
}

#[derive(Debug)]
struct FixedClock(DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

// ---------------------------------------------------------------- fixtures

use petraf_core::conformance::fixtures::{audit, create_session, message};

/// A final future goal.
fn goal(tenant: &str, session: &str) -> Goal {
    petraf_core::conformance::fixtures::goal(tenant, session, GoalType::Future, 8.0)
}

async fn session_audit_total(store: &dyn StateStore, tenant: &str, session: &str) -> u64 {
    store
        .audit_log(&AuditQuery {
            tenant_id: Some(tenant.into()),
            session_id: Some(session.into()),
            page: 1,
            per_page: 200,
            ..Default::default()
        })
        .await
        .unwrap()
        .total
}

// ---------------------------------------------------------------- the suites

#[tokio::test]
async fn dynamodb_state_store_conforms() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let (store, _) = dynamo_store(&endpoint).await;
    conformance::state_store(Arc::new(store)).await;
}

#[tokio::test]
async fn s3_object_store_conforms() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    conformance::object_store(Arc::new(s3_store(&endpoint).await)).await;
}

// ---------------------------------------------------------------- DynamoDB

#[tokio::test]
async fn many_racers_one_winner_per_version_and_losers_write_nothing() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let (store, _) = dynamo_store(&endpoint).await;
    let store: Arc<dyn StateStore> = Arc::new(store);
    let tenant = unique("t");
    let (s, mut state) = create_session(store.as_ref(), &tenant).await;
    let today = Utc::now().date_naive();
    const ROUNDS: usize = 4;
    const RACERS: usize = 24;
    for round in 0..ROUNDS {
        let racers = (0..RACERS).map(|i| {
            let mut next = state.clone();
            next.collect_turns = i as u32;
            next.version += 1;
            let mut change = SessionChange::new(&tenant, &s.id);
            change.state = Some(Guarded::replacing(state.version, next));
            change
                .messages
                .push(message(&tenant, &s.id, &format!("round {round} racer {i}")));
            change.audit.push(audit(&tenant, Some(&s.id), "racer.won"));
            change.counters = CounterDelta {
                messages: 1,
                messages_day: Some(today),
                ..Default::default()
            };
            let store = store.clone();
            tokio::spawn(async move { store.apply(change).await })
        });
        let results: Vec<Result<(), StoreError>> = futures::future::join_all(racers)
            .await
            .into_iter()
            .map(|joined| joined.unwrap())
            .collect();
        let winners = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(winners, 1, "round {round}: exactly one winner: {results:?}");
        assert!(
            results
                .iter()
                .all(|r| r.is_ok() || matches!(r, Err(StoreError::Conflict(_)))),
            "losers see Conflict: {results:?}"
        );
        state = store.conversation(&tenant, &s.id).await.unwrap().unwrap();
        assert_eq!(state.version, 2 + round as u64);
    }
    let messages = store.messages(&tenant, &s.id).await.unwrap();
    assert_eq!(messages.len(), ROUNDS, "only the winners' messages");
    for (round, m) in messages.iter().enumerate() {
        assert!(
            m.content.starts_with(&format!("round {round} ")),
            "in order"
        );
    }
    assert_eq!(
        session_audit_total(store.as_ref(), &tenant, &s.id).await,
        1 + ROUNDS as u64,
        "only the winners' audit entries"
    );
    let usage = store.usage(Some(&tenant), today).await.unwrap();
    assert_eq!(
        usage.messages_today, ROUNDS as i64,
        "only the winners' counters"
    );
}

#[tokio::test]
async fn a_cancelled_transaction_writes_nothing() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let (store, _) = dynamo_store(&endpoint).await;
    let tenant = unique("t");
    let today = Utc::now().date_naive();
    let (s, state) = create_session(&store, &tenant).await;
    let usage_before = store.usage(Some(&tenant), today).await.unwrap();
    let global_before = store.usage(None, today).await.unwrap();

    // Every kind of item, with one stale guard: first the session's, then the state's.
    for stale_session in [true, false] {
        let mut change = SessionChange::new(&tenant, &s.id);
        let mut next_session = s.clone();
        next_session.completion_percentage = 90;
        next_session.version += 1;
        let session_expects = if stale_session {
            s.version + 7
        } else {
            s.version
        };
        change.session = Some(Guarded::replacing(session_expects, next_session));
        let mut next_state = state.clone();
        next_state.version += 1;
        let state_expects = if stale_session {
            state.version
        } else {
            state.version + 7
        };
        change.state = Some(Guarded::replacing(state_expects, next_state));
        for i in 0..10 {
            change
                .messages
                .push(message(&tenant, &s.id, &format!("lost {i}")));
        }
        let goals: Vec<Goal> = (0..3).map(|_| goal(&tenant, &s.id)).collect();
        change.links.push(GoalLink {
            id: new_id(),
            goal_id: goals[1].id.clone(),
            parent_goal_id: goals[0].id.clone(),
            link_type: LinkType::ContributesTo,
            strength: 5,
            notes: String::new(),
            created_at: Utc::now(),
        });
        change.goals = goals;
        change.audit.push(audit(&tenant, Some(&s.id), "lost.one"));
        change.audit.push(audit(&tenant, None, "lost.two"));
        change.counters = CounterDelta {
            sessions_completed: 1,
            completion_points: 90,
            messages: 10,
            messages_day: Some(today),
            final_goals: vec![GoalType::Future],
            score_hundredths: 800,
            ..Default::default()
        };
        let refused = store.apply(change).await;
        assert!(
            matches!(refused, Err(StoreError::Conflict(_))),
            "{refused:?}"
        );
    }

    // More items than one transaction may hold: refused before sending.
    let mut huge = SessionChange::new(&tenant, &s.id);
    for i in 0..100 {
        huge.messages
            .push(message(&tenant, &s.id, &format!("too many {i}")));
    }
    huge.counters.sessions_abandoned = 1;
    let refused = store.apply(huge).await;
    assert!(
        matches!(&refused, Err(StoreError::Unavailable(m)) if m.contains("100")),
        "{refused:?}"
    );

    assert_eq!(store.session(&tenant, &s.id).await.unwrap().unwrap(), s);
    assert_eq!(
        store.conversation(&tenant, &s.id).await.unwrap().unwrap(),
        state
    );
    assert!(store.messages(&tenant, &s.id).await.unwrap().is_empty());
    let (goals, links) = store.goals(&tenant, &s.id).await.unwrap();
    assert!(goals.is_empty() && links.is_empty());
    let log = store
        .audit_log(&AuditQuery {
            tenant_id: Some(tenant.clone()),
            session_id: None,
            page: 1,
            per_page: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        log.total, 1,
        "only the session's creation: {:?}",
        log.entries
    );
    assert_eq!(
        store.usage(Some(&tenant), today).await.unwrap(),
        usage_before
    );
    let global_after = store.usage(None, today).await.unwrap();
    assert_eq!(global_after, global_before, "global counters untouched too");
}

#[tokio::test]
async fn tenant_updates_keep_the_lookup_markers_consistent() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let (store, _) = dynamo_store(&endpoint).await;
    let today = Utc::now().date_naive();
    let (a, b) = (unique("a"), unique("b"));
    let app = test_app(Arc::new(store.clone()), Arc::new(SystemClock));
    let created_a = tenants::create_tenant(&app, new_tenant(&a)).await.unwrap();
    tenants::create_tenant(&app, new_tenant(&b)).await.unwrap();
    let global = store.usage(None, today).await.unwrap();
    assert_eq!((global.total_tenants, global.active_tenants), (2, 2));

    // A new domain and slug: the new ones resolve, the old ones are free again.
    let mut moved = created_a.record.tenant.clone();
    moved.domain = format!("{a}.moved.example.com");
    moved.slug = format!("{a}-moved");
    moved.name = "Moved".into();
    store
        .update_tenant(&moved, &audit(&a, None, action::TENANT_STATUS_CHANGED))
        .await
        .unwrap();
    let by_domain = store
        .tenant_by_domain(&moved.domain)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_domain.tenant, moved);
    assert!(
        store
            .tenant_by_domain(&created_a.record.tenant.domain)
            .await
            .unwrap()
            .is_none()
    );
    let by_key = store
        .tenant_by_admin_key_hash(&created_a.record.admin_key_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_key.tenant.name, "Moved", "the key's copy follows");
    assert_eq!(by_key.config, created_a.record.config);
    let mut reuse = new_tenant(&unique("c"));
    reuse.domain = created_a.record.tenant.domain.clone();
    reuse.slug = created_a.record.tenant.slug.clone();
    tenants::create_tenant(&app, reuse)
        .await
        .expect("old domain and slug are free");

    // Taking another tenant's domain conflicts and changes nothing.
    let mut clash = moved.clone();
    clash.domain = format!("{b}.example.com");
    clash.name = "Clash".into();
    let refused = store
        .update_tenant(&clash, &audit(&a, None, "tenant.clash"))
        .await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    assert_eq!(store.tenant(&a).await.unwrap().unwrap().tenant, moved);

    // Deactivating moves the active count; listing follows the slug.
    tenants::set_status(&app, &a, TenantStatus::Inactive)
        .await
        .unwrap();
    tenants::set_status(&app, &a, TenantStatus::Inactive)
        .await
        .unwrap();
    let global = store.usage(None, today).await.unwrap();
    assert_eq!((global.total_tenants, global.active_tenants), (3, 2));
    let listed = store.list_tenants().await.unwrap();
    let slugs: Vec<&str> = listed.iter().map(|t| t.slug.as_str()).collect();
    let mut sorted = slugs.clone();
    sorted.sort();
    assert_eq!(slugs, sorted, "by slug");
    assert_eq!(listed.len(), 3);
}

#[tokio::test]
async fn the_platform_audit_log_merges_every_tenant_newest_first() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let (store, _) = dynamo_store(&endpoint).await;
    let app = test_app(Arc::new(store.clone()), Arc::new(SystemClock));
    let (a, b) = (unique("a"), unique("b"));
    tenants::create_tenant(&app, new_tenant(&a)).await.unwrap();
    tenants::create_tenant(&app, new_tenant(&b)).await.unwrap();
    for i in 0..3 {
        for t in [&a, &b] {
            store
                .append_audit(&audit(t, None, &format!("{t}.{i}")))
                .await
                .unwrap();
        }
    }
    let page = |page| {
        let store = store.clone();
        async move {
            store
                .audit_log(&AuditQuery {
                    tenant_id: None,
                    session_id: None,
                    page,
                    per_page: 3,
                    ..Default::default()
                })
                .await
                .unwrap()
        }
    };
    let (first, second, third) = (page(1).await, page(2).await, page(3).await);
    assert_eq!(first.total, 8, "two creations and six entries");
    let actions: Vec<String> = first
        .entries
        .iter()
        .chain(&second.entries)
        .chain(&third.entries)
        .map(|e| e.action.clone())
        .collect();
    let expected: Vec<String> = [
        action::TENANT_CREATED.to_string(),
        action::TENANT_CREATED.to_string(),
    ]
    .into_iter()
    .chain((0..3).flat_map(|i| [format!("{a}.{i}"), format!("{b}.{i}")]))
    .rev()
    .collect();
    assert_eq!(actions, expected);
    assert!(page(4).await.entries.is_empty());

    // One tenant's partition, paged past its first entries.
    let of_b = store
        .audit_log(&AuditQuery {
            tenant_id: Some(b.clone()),
            session_id: None,
            page: 2,
            per_page: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(of_b.total, 4);
    let actions: Vec<String> = of_b.entries.iter().map(|e| e.action.clone()).collect();
    assert_eq!(
        actions,
        [format!("{b}.0"), action::TENANT_CREATED.to_string()]
    );
}

#[tokio::test]
async fn expired_items_read_as_missing_before_ttl_deletes_them() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let (store, _) = dynamo_store(&endpoint).await;
    let tenant = unique("t");
    let (s, _) = create_session(&store, &tenant).await;
    let mut change = SessionChange::new(&tenant, &s.id);
    change.messages.push(message(&tenant, &s.id, "hello"));
    store.apply(change).await.unwrap();

    // Past expiry but within the grace period: still there (the app decides).
    let soon = store
        .clone()
        .with_clock(Arc::new(FixedClock(s.expires_at + Duration::days(1))));
    assert!(soon.session(&tenant, &s.id).await.unwrap().is_some());
    // Past any TTL (moto never deletes): gone for readers.
    let later = store
        .clone()
        .with_clock(Arc::new(FixedClock(Utc::now() + Duration::days(800))));
    assert!(later.session(&tenant, &s.id).await.unwrap().is_none());
    assert!(later.conversation(&tenant, &s.id).await.unwrap().is_none());
    assert!(later.messages(&tenant, &s.id).await.unwrap().is_empty());
    assert_eq!(store.messages(&tenant, &s.id).await.unwrap().len(), 1);
}

// ---------------------------------------------------------------- round trips

fn new_tenant(id: &str) -> tenants::NewTenant {
    tenants::NewTenant {
        id: Some(id.into()),
        slug: id.into(),
        name: format!("Tenant {id}"),
        domain: format!("{id}.example.com"),
        admin_email: "admin@example.com".into(),
        contact_name: None,
        config: TenantConfig::defaults(),
    }
}

/// The application over `store`, every other port embedded.
fn test_app(store: Arc<dyn StateStore>, clock: Arc<dyn Clock>) -> App {
    let dir = tempfile::tempdir().unwrap().keep();
    let env = config::test_env(&[("PETRAF_JWT_SECRET", &"s".repeat(48))]);
    let ports = Ports {
        store,
        vectors: Arc::new(SqliteVectorStore::open(&dir.join("vectors.db")).unwrap()),
        objects: Arc::new(LocalObjectStore::new(dir.join("objects"))),
        model: Arc::new(OfflineModel),
        embedder: Arc::new(HashingEmbedder::new(HashingEmbedder::DEFAULT_DIMENSION)),
    };
    config::services(ports, config::secrets(&env, &dir).unwrap(), clock)
}

async fn turn(
    app: &App,
    tenant: &petraf_core::domain::tenant::TenantRecord,
    session_id: &str,
    token: &str,
    phase: &str,
    text: &str,
    origin: &RequestOrigin,
) -> Vec<String> {
    let request = chat::TurnRequest {
        session_id: session_id.into(),
        message: text.into(),
        step: "collect".into(),
        context: Value::Null,
    };
    let mut events = chat::start_turn(
        app.clone(),
        tenant.clone(),
        phase,
        request,
        Some(token),
        origin.clone(),
    )
    .await
    .unwrap();
    let mut names = vec![];
    while let Some(event) = events.recv().await {
        names.push(event.name().to_string());
    }
    names
}

fn summary(operations: &[String]) -> String {
    let mut by_name: BTreeMap<&str, usize> = BTreeMap::new();
    for op in operations {
        *by_name.entry(op).or_default() += 1;
    }
    let parts: Vec<String> = by_name.iter().map(|(k, v)| format!("{k}×{v}")).collect();
    format!("{} ({})", operations.len(), parts.join(", "))
}

/// Measures the DynamoDB requests of the request paths; prints the table
/// that BENCHMARKS.md records (run with --nocapture to see it).
#[tokio::test]
async fn round_trips_per_session_create_and_chat_turn() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let (store, trips) = dynamo_store(&endpoint).await;
    let app = test_app(Arc::new(store.clone()), Arc::new(SystemClock));
    // A client address, so the per-address limits are charged; the
    // default tenant configuration has a token budget.
    let origin = RequestOrigin::new(Some([203, 0, 113, 9].into()), Some("bench"), b"key");
    let id = unique("t");
    let created = tenants::create_tenant(&app, new_tenant(&id)).await.unwrap();
    let create_tenant = trips.take();
    let record = tenants::resolve(&app, Some(&id), None).await.unwrap();
    let resolve_by_id = trips.take();
    tenants::resolve(&app, None, Some(&created.record.tenant.domain))
        .await
        .unwrap();
    let resolve_by_host = trips.take();

    let new = sessions::create(&app, &record, json!({}), &origin)
        .await
        .unwrap();
    let session_create = trips.take();
    let session = sessions::authorize(&app, &record, &new.session.id, Some(&new.resume_token))
        .await
        .unwrap();
    let profile = ProfileInput {
        employee_code: "EMP1".into(),
        department: "Engineering".into(),
        position: "Engineer".into(),
        grade: None,
        years_of_service: None,
        age_range: None,
        job_type: None,
    };
    sessions::update_info(&app, &record, session, profile, &origin)
        .await
        .unwrap();
    let update_info = trips.take();

    let collect = turn(
        &app,
        &record,
        &new.session.id,
        &new.resume_token,
        "g4_future",
        "I want to become a senior engineer and maybe start leading a small team.",
        &origin,
    )
    .await;
    let collect_turn = trips.take();
    let passing = turn(&app, &record, &new.session.id, &new.resume_token, "g4_future",
        "I want to master distributed systems and microservices architecture. I'd like to lead a team of 3-4 developers and work on our payment processing platform.", &origin).await;
    let scored_turn = trips.take();
    let passed = store
        .conversation(&id, &new.session.id)
        .await
        .unwrap()
        .unwrap()
        .phase
        != Phase::G4Future;
    trips.take();
    let stats = app::admin::stats(
        &app,
        &tenants::Admin::Tenant {
            key: Box::new(record.keys()[0].clone()),
            record: Box::new(record.clone()),
        },
        None,
    )
    .await;
    let tenant_stats = trips.take();

    let rows = [
        ("create tenant", &create_tenant),
        ("resolve tenant by X-Tenant-ID", &resolve_by_id),
        ("resolve tenant by Host", &resolve_by_host),
        ("session create (app::sessions::create)", &session_create),
        ("profile update (authorize + update_info)", &update_info),
        ("chat turn, collect only", &collect_turn),
        ("chat turn, refine + score", &scored_turn),
        ("tenant stats (usage + tenant)", &tenant_stats),
    ];
    println!("| path | DynamoDB requests |\n| --- | --- |");
    for (path, ops) in rows {
        println!("| {path} | {} |", summary(ops));
    }
    println!(
        "collect turn events: {collect:?}\nscored turn events: {passing:?} (passed: {passed})"
    );
    assert!(stats.is_ok(), "{:?}", stats.err());
    assert!(collect.contains(&"complete".to_string()), "{collect:?}");
    assert!(passing.contains(&"score".to_string()), "{passing:?}");
    assert_eq!(
        session_create,
        ["TransactWriteItems"],
        "one transaction creates a session"
    );
    assert_eq!((resolve_by_id.len(), resolve_by_host.len()), (1, 1));
    // Limits on: the per-address counters ride in the turn's transactions;
    // the budget costs the one BatchGetItem of the month's tokens.
    assert!(collect_turn.len() <= 4, "{collect_turn:?}");
    assert!(scored_turn.len() <= 5, "{scored_turn:?}");
    for turn in [&collect_turn, &scored_turn] {
        let reads = turn.iter().filter(|op| *op == "BatchGetItem").count();
        assert_eq!(reads, 1, "one budget read per turn: {turn:?}");
        let writes = turn.iter().filter(|op| *op == "TransactWriteItems").count();
        assert_eq!(writes, 2, "no extra write for the limits: {turn:?}");
    }
}

// ---------------------------------------------------------------- S3

#[tokio::test]
async fn s3_keeps_content_type_and_non_ascii_metadata() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let store = s3_store(&endpoint).await;
    let key = document_key("t1", "values", "d1", "valeurs équipe.md");
    let object = StoredObject {
        bytes: "Équipe d'abord".as_bytes().to_vec(),
        content_type: "text/markdown; charset=utf-8".into(),
        metadata: BTreeMap::from([
            ("title".to_string(), "Valeurs d'équipe — 2025".to_string()),
            ("metadata".to_string(), r#"{"lang":"fr"}"#.to_string()),
        ]),
    };
    store.put(&key, object.clone()).await.unwrap();
    assert_eq!(store.get(&key).await.unwrap(), Some(object.clone()));
    let mut shouting = object;
    shouting.metadata.insert("Title".into(), "x".into());
    assert!(
        store.put(&key, shouting).await.is_err(),
        "names S3 would lowercase are refused"
    );
}

/// PUTs `body` to a presigned http:// URL; returns the status code.
async fn http_put(url: &str, body: &[u8]) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").expect("moto serves http");
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {response:?}"))
}

#[tokio::test]
async fn presigned_put_uploads_into_the_drop_folder() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let store = s3_store(&endpoint).await;
    let key = document_key("t1", "values", "d1", "values.txt");
    let url = store
        .presign_put(&key, StdDuration::from_secs(900))
        .await
        .unwrap();
    assert!(url.contains("X-Amz-Signature="), "{url}");
    assert!(url.contains("X-Amz-Expires=900"), "{url}");
    assert!(
        !url.to_ascii_lowercase().contains("checksum"),
        "no body checksum is fixed before the body exists: {url}"
    );
    assert_eq!(http_put(&url, b"uploaded by a browser").await, 200);
    let stored = store.get(&key).await.unwrap().unwrap();
    assert_eq!(stored.bytes, b"uploaded by a browser");
    assert!(
        store
            .presign_put("elsewhere/file.txt", StdDuration::from_secs(60))
            .await
            .is_err(),
        "only document keys are presigned"
    );
}

/// GETs a presigned http:// URL; the status code and the body.
async fn http_get(url: &str) -> (u16, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").expect("moto serves http");
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let head = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&response[..split]);
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, response[split + 4..].to_vec())
}

/// A query parameter's value in `url`, as written.
fn query_param<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    url.split_once('?')?
        .1
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

#[tokio::test]
async fn presigned_urls_reach_a_staged_document_and_its_reply_only() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let store = s3_store(&endpoint).await;
    let document = staging::new_document_key();
    let staged = StoredObject {
        bytes: b"%PDF-1.7 staged".to_vec(),
        content_type: "application/octet-stream".into(),
        metadata: Default::default(),
    };
    store.put(&document, staged).await.unwrap();
    let get = store
        .presign_get(&document, StdDuration::from_secs(900))
        .await
        .unwrap();
    assert!(get.contains("X-Amz-Signature="), "{get}");
    // moto does not check signatures: what S3 would check is asserted
    // here. Only the host is signed, so any client's headers are accepted.
    assert_eq!(
        query_param(&get, "X-Amz-SignedHeaders"),
        Some("host"),
        "{get}"
    );
    assert!(get.contains("X-Amz-Expires=900"), "{get}");
    assert_eq!(http_get(&get).await, (200, b"%PDF-1.7 staged".to_vec()));

    let reply = staging::reply_key(&document);
    let put = store
        .presign_put(&reply, StdDuration::from_secs(900))
        .await
        .unwrap();
    assert_eq!(
        query_param(&put, "X-Amz-SignedHeaders"),
        Some("host"),
        "{put}"
    );
    assert_eq!(http_put(&put, b"{\"reply\": 1}").await, 200);
    assert_eq!(
        store.get(&reply).await.unwrap().unwrap().bytes,
        b"{\"reply\": 1}"
    );

    // Nothing else is presigned for reading, nor a staged document for writing.
    let upload = document_key("t1", "values", "d1", "values.txt");
    for key in [upload.as_str(), reply.as_str(), "extraction/../uploads/x"] {
        assert!(
            store
                .presign_get(key, StdDuration::from_secs(60))
                .await
                .is_err(),
            "{key} presigned for reading"
        );
    }
    assert!(
        store
            .presign_put(&document, StdDuration::from_secs(60))
            .await
            .is_err(),
        "a staged document presigned for writing"
    );
}

// ---------------------------------------------------------------- configuration

#[tokio::test]
async fn the_dynamodb_state_store_needs_a_table_name() {
    let dir = tempfile::tempdir().unwrap();
    let env = config::test_env(&[
        ("PETRAF_DATA_DIR", dir.path().to_str().unwrap()),
        ("PETRAF_STATE_STORE", "dynamodb"),
    ]);
    match config::from_env(&env).await {
        Err(e) => assert_eq!(e.variable, "PETRAF_TABLE_NAME"),
        Ok(_) => panic!("a dynamodb store without PETRAF_TABLE_NAME must be refused"),
    }
    match config::migrate(&env).await {
        Err(e) => assert_eq!(e.variable, "PETRAF_TABLE_NAME"),
        Ok(done) => panic!("migrate without a table name: {done:?}"),
    }
}
