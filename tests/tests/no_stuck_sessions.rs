//! No session ever stuck, no acknowledged turn ever lost: an early
//! disconnect, a crash mid-turn, a shutdown mid-turn, and resumes and
//! profile updates racing a scored turn.

use std::sync::Arc;
use std::time::{Duration, Instant};

use petraf_core::domain::message::Role;
use petraf_core::ports::StateStore;
use petraf_core::ports::state_store::{Guarded, SessionChange};
use tokio::sync::oneshot;

use petraf_core::app::Settings;
use petraf_core::app::tenants::demo_tenant;
use petraf_core::config;
use petraf_core::config::ServerLimits;
use petraf_tests::gate::{GatePoint, GatedModel};
use petraf_tests::interposed::{After, Before, InterposedStore};
use petraf_tests::journey::{G4_FIRST, G4_SECOND, chat};
use petraf_tests::{Client, TestServer, walkthrough_clock};
use serde_json::json;
use tokio::io::AsyncWriteExt;

const VAGUE: &str = "I want to do better at work.";

/// A new session with its profile filled: (id, token).
async fn ready_session(client: &Client, tenant: &str) -> (String, String) {
    let created = client
        .post("/api/session/create")
        .tenant(tenant)
        .send()
        .await
        .json();
    let (id, token) = (
        created["session_id"].as_str().unwrap().to_string(),
        created["resume_token"].as_str().unwrap().to_string(),
    );
    let r = client
        .put(&format!("/api/session/{id}/info"))
        .tenant(tenant)
        .bearer(&token)
        .json(&json!({"employee_code": "EMP1", "department": "Engineering", "position": "Software Engineer"}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    (id, token)
}

/// Sends a chat turn and resets the connection right after (SO_LINGER 0):
/// the server may or may not have taken the lease by then.
async fn send_and_reset(server: &TestServer, tenant: &str, token: &str, id: &str, pause: Duration) {
    let body = json!({"session_id": id, "message": VAGUE, "step": "collect"}).to_string();
    let request = format!(
        "POST /api/chat/g4_future/stream HTTP/1.1\r\nhost: localhost\r\nx-tenant-id: {tenant}\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut socket = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    socket.write_all(request.as_bytes()).await.unwrap();
    if !pause.is_zero() {
        tokio::time::sleep(pause).await;
    }
    socket.set_zero_linger().unwrap();
    drop(socket);
}

/// How long until a turn on the session is accepted again (not 409).
async fn time_until_usable(client: &Client, tenant: &str, token: &str, id: &str) -> Duration {
    let started = Instant::now();
    loop {
        let reply = chat(client, tenant, token, "g4_future", id, VAGUE).await;
        if reply.status == 200 {
            return started.elapsed();
        }
        assert_eq!(reply.code(), "turn_in_progress", "{}", reply.text);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the session stayed locked after a disconnect"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_connection_reset_right_after_a_turn_never_locks_the_session() {
    let server = TestServer::embedded().await;
    // Forty turns in one phase: beyond the default turn cap.
    let mut many_turns = demo_tenant();
    many_turns.config.limits.extra_turns_per_phase = 100;
    let tenant = server.create_tenant(many_turns).await.record.tenant.id;
    let client = server.client();
    let (id, token) = ready_session(&client, &tenant).await;
    for attempt in 0..20u64 {
        // From "before the server read the body" to "while it streams".
        let pause = Duration::from_micros(attempt * 700);
        send_and_reset(&server, &tenant, &token, &id, pause).await;
        let waited = time_until_usable(&client, &tenant, &token, &id).await;
        assert!(
            waited < Duration::from_secs(1),
            "attempt {attempt}: the session was locked for {waited:?}"
        );
    }
    let state = server
        .app
        .store
        .conversation(&tenant, &id)
        .await
        .unwrap()
        .unwrap();
    assert!(state.lease.is_none(), "no lease left behind");
}

/// The client goes away while the lease is being written: the lease is
/// stored, and the turn must still run (and release it), not be dropped
/// with the request.
#[tokio::test]
async fn a_disconnect_while_the_lease_is_written_never_locks_the_session() {
    let data_dir = tempfile::tempdir().unwrap();
    let mut ports = config::embedded_ports(data_dir.path()).unwrap();
    ports.store = slow_lease_write(ports.store, Duration::from_millis(300));
    let server = TestServer::with_ports(ports, data_dir).await;
    let tenant = server.create_tenant(demo_tenant()).await.record.tenant.id;
    let client = server.client();
    let (id, token) = ready_session(&client, &tenant).await;
    send_and_reset(&server, &tenant, &token, &id, Duration::from_millis(100)).await;
    // The lease write has returned by now; the turn runs and finds nobody.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let waited = time_until_usable(&client, &tenant, &token, &id).await;
    assert!(waited < Duration::from_secs(1), "locked for {waited:?}");
    let messages = server.app.store.messages(&tenant, &id).await.unwrap();
    assert_eq!(
        messages.iter().filter(|m| m.role == Role::User).count(),
        2,
        "the reset turn's message and the next one are both kept"
    );
}

#[test]
fn a_crash_mid_turn_locks_the_session_for_one_lease_term_at_most() {
    let data_dir = tempfile::tempdir().unwrap();
    let clock = walkthrough_clock();
    let lease = Settings::default().turn_lease;

    // A server whose turn hangs in the model, then dies with its runtime:
    // nothing runs any more, no release is written.
    let dead_runtime = tokio::runtime::Runtime::new().unwrap();
    let doomed = dead_runtime.block_on(async {
        let mut ports = config::embedded_ports(data_dir.path()).unwrap();
        let (model, gate) = GatedModel::new(ports.model.clone(), GatePoint::Coach);
        ports.model = model;
        let server = TestServer::configured(
            ports,
            tempfile::tempdir().unwrap(),
            clock.clone(),
            Settings::default(),
            ServerLimits::default(),
        )
        .await;
        let tenant = server.create_tenant(demo_tenant()).await.record.tenant.id;
        let client = server.client();
        let (id, token) = ready_session(&client, &tenant).await;
        let (t, i, k) = (tenant.clone(), id.clone(), token.clone());
        tokio::spawn(async move { chat(&client, &t, &k, "g4_future", &i, VAGUE).await });
        gate.entered().await;
        (server, tenant, id, token)
    });
    let (dead, tenant, id, token) = (doomed.0, doomed.1, doomed.2, doomed.3);
    dead_runtime.shutdown_background();
    drop(dead);

    // The restarted process on the same data.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let server = TestServer::configured(
            config::embedded_ports(data_dir.path()).unwrap(),
            tempfile::tempdir().unwrap(),
            clock.clone(),
            Settings::default(),
            ServerLimits::default(),
        )
        .await;
        let client = server.client();
        let reply = chat(&client, &tenant, &token, "g4_future", &id, VAGUE).await;
        assert_eq!(
            reply.code(),
            "turn_in_progress",
            "the dead turn's lease holds"
        );
        assert!(lease <= Duration::from_secs(30));
        clock.advance(chrono::Duration::from_std(lease).unwrap() + chrono::Duration::seconds(1));
        let reply = chat(&client, &tenant, &token, "g4_future", &id, VAGUE).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.events().last().unwrap().0, "complete");
    });
}

#[tokio::test]
async fn a_running_turn_renews_its_lease() {
    let data_dir = tempfile::tempdir().unwrap();
    let mut ports = config::embedded_ports(data_dir.path()).unwrap();
    let (model, gate) = GatedModel::new(ports.model.clone(), GatePoint::Coach);
    ports.model = model;
    let settings = Settings::default().with_turn_lease(Duration::from_secs(2));
    let clock = walkthrough_clock();
    let server = TestServer::configured(
        ports,
        data_dir,
        clock.clone(),
        settings,
        ServerLimits::default(),
    )
    .await;
    let tenant = server.create_tenant(demo_tenant()).await.record.tenant.id;
    let client = server.client();
    let (id, token) = ready_session(&client, &tenant).await;
    let running = {
        let (client, tenant, token, id) =
            (server.client(), tenant.clone(), token.clone(), id.clone());
        tokio::spawn(async move { chat(&client, &tenant, &token, "g4_future", &id, VAGUE).await })
    };
    gate.entered().await;
    // Well past the first term; the turn renews every half second.
    clock.advance(chrono::Duration::seconds(60));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let reply = chat(&client, &tenant, &token, "g4_future", &id, VAGUE).await;
    assert_eq!(
        reply.code(),
        "turn_in_progress",
        "the running turn keeps its lease"
    );
    gate.open(2);
    let first = running.await.unwrap();
    assert_eq!(
        first.events().last().unwrap().0,
        "complete",
        "{}",
        first.text
    );
    let reply = chat(&client, &tenant, &token, "g4_future", &id, VAGUE).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

#[tokio::test]
async fn a_shutdown_stops_running_turns_and_releases_their_sessions() {
    let data_dir = tempfile::tempdir().unwrap();
    let mut ports = config::embedded_ports(data_dir.path()).unwrap();
    let (model, gate) = GatedModel::new(ports.model.clone(), GatePoint::Coach);
    ports.model = model;
    let limits = ServerLimits {
        shutdown_grace: Duration::from_millis(300),
        ..ServerLimits::default()
    };
    let mut server = TestServer::configured(
        ports,
        data_dir,
        walkthrough_clock(),
        Settings::default(),
        limits,
    )
    .await;
    let tenant = server.create_tenant(demo_tenant()).await.record.tenant.id;
    let client = server.client();
    let (id, token) = ready_session(&client, &tenant).await;
    let running = {
        let (tenant, token, id) = (tenant.clone(), token.clone(), id.clone());
        tokio::spawn(async move { chat(&client, &tenant, &token, "g4_future", &id, VAGUE).await })
    };
    gate.entered().await;
    let started = Instant::now();
    server.shut_down().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the shutdown is bounded"
    );
    let stream = running.await.unwrap();
    let last = stream.events().last().cloned().unwrap();
    assert_eq!(
        (last.0.as_str(), last.1["code"].as_str()),
        ("error", Some("shutting_down"))
    );
    let state = server
        .app
        .store
        .conversation(&tenant, &id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        state.lease.is_none(),
        "the stopped turn released its session"
    );
    let messages = server.app.store.messages(&tenant, &id).await.unwrap();
    assert!(
        messages.iter().any(|m| m.content == VAGUE),
        "the user's message is kept"
    );
}

/// Resumes from other tabs and a profile edit land between the moment a
/// turn prepared its commit and the commit itself: the turn's passing goal
/// is still stored and announced, and every other request succeeds.
#[tokio::test]
async fn resumes_and_profile_updates_racing_a_scored_turn_lose_nothing() {
    let data_dir = tempfile::tempdir().unwrap();
    let mut ports = config::embedded_ports(data_dir.path()).unwrap();
    let (store, commit_pending, go) = pause_goal_commit(ports.store);
    ports.store = store;
    let server = TestServer::with_ports(ports, data_dir).await;
    let tenant = server.create_tenant(demo_tenant()).await.record.tenant.id;
    let client = server.client();
    let (id, token) = ready_session(&client, &tenant).await;
    let first = chat(&client, &tenant, &token, "g4_future", &id, G4_FIRST).await;
    assert_eq!(first.status, 200);
    assert!(
        first.events().iter().all(|(n, _)| n != "score"),
        "not scored yet"
    );

    let scored = {
        let (client, tenant, token, id) =
            (server.client(), tenant.clone(), token.clone(), id.clone());
        tokio::spawn(
            async move { chat(&client, &tenant, &token, "g4_future", &id, G4_SECOND).await },
        )
    };
    commit_pending.await.unwrap();
    let resumes = (0..6).map(|_| {
        client
            .post("/api/session/resume")
            .tenant(&tenant)
            .json(&json!({"resume_token": token}))
            .send()
    });
    let profile = client
        .put(&format!("/api/session/{id}/info"))
        .tenant(&tenant)
        .bearer(&token)
        .json(&json!({"employee_code": "EMP1", "department": "Platform", "position": "Senior Engineer"}))
        .send();
    let (resumed, profiled) = tokio::join!(futures::future::join_all(resumes), profile);
    for r in &resumed {
        assert_eq!(r.status, 200, "every tab resumes: {}", r.text);
    }
    assert_eq!(profiled.status, 200, "{}", profiled.text);
    go.send(()).unwrap();
    let events = scored.await.unwrap().events();
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.last(), Some(&"complete"), "{names:?}");
    assert!(
        events
            .iter()
            .any(|(n, d)| n == "score" && d["meets_threshold"] == true)
    );

    let session = server
        .app
        .store
        .session(&tenant, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        session.completion_percentage, 33,
        "the passing goal moved the session on"
    );
    assert_eq!(
        session.profile.department.as_deref(),
        Some("Platform"),
        "the edit is kept"
    );
    let (goals, _) = server.app.store.goals(&tenant, &id).await.unwrap();
    assert!(
        goals.iter().any(|g| g.is_final),
        "the announced goal is stored"
    );
    let next = chat(&client, &tenant, &token, "g6_values", &id, VAGUE).await;
    assert_eq!(next.status, 200, "the next phase is open: {}", next.text);
}

/// A turn whose final score would be lost must not announce it: when the
/// commit fails for good, the client sees no `score`/`state` of a final goal.
#[tokio::test]
async fn a_final_score_is_announced_only_once_stored() {
    let data_dir = tempfile::tempdir().unwrap();
    let mut ports = config::embedded_ports(data_dir.path()).unwrap();
    let (model, gate) = GatedModel::new(ports.model.clone(), GatePoint::Score);
    ports.model = model;
    let server = TestServer::with_ports(ports, data_dir).await;
    let tenant = server.create_tenant(demo_tenant()).await.record.tenant.id;
    let client = server.client();
    let (id, token) = ready_session(&client, &tenant).await;
    chat(&client, &tenant, &token, "g4_future", &id, G4_FIRST).await;
    let scored = {
        let (client, tenant, token, id) =
            (server.client(), tenant.clone(), token.clone(), id.clone());
        tokio::spawn(
            async move { chat(&client, &tenant, &token, "g4_future", &id, G4_SECOND).await },
        )
    };
    gate.entered().await;
    // Another process takes the session over (as after an expired lease).
    let mut stolen = server
        .app
        .store
        .conversation(&tenant, &id)
        .await
        .unwrap()
        .unwrap();
    let previous = stolen.version;
    stolen.version += 1;
    let mut change = SessionChange::new(&tenant, &id);
    change.state = Some(Guarded::replacing(previous, stolen));
    server.app.store.apply(change).await.unwrap();
    gate.open(1);
    let events = scored.await.unwrap().events();
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.last(), Some(&"error"), "{names:?}");
    assert!(
        !names.contains(&"score"),
        "no final score the store does not hold: {names:?}"
    );
    let (goals, _) = server.app.store.goals(&tenant, &id).await.unwrap();
    assert!(goals.is_empty());
}

/// Pauses the first change that saves a goal (a turn's commit) until the
/// test says go; the receiver learns when the commit is waiting.
fn pause_goal_commit(
    inner: Arc<dyn StateStore>,
) -> (
    Arc<dyn StateStore>,
    oneshot::Receiver<()>,
    oneshot::Sender<()>,
) {
    let (pending, commit_pending) = oneshot::channel();
    let (go, wait) = oneshot::channel();
    let once = Arc::new(std::sync::Mutex::new(Some((pending, wait))));
    let before: Before = Box::new(move |change: &SessionChange| {
        let first = if change.goals.is_empty() {
            None
        } else {
            once.lock().unwrap().take()
        };
        Box::pin(async move {
            if let Some((pending, wait)) = first {
                let _ = pending.send(());
                let _ = wait.await;
            }
            Ok(())
        })
    });
    (InterposedStore::before(inner, before), commit_pending, go)
}

/// Makes the write that takes a turn's lease return late (after it is
/// stored), so a client can go away in between.
fn slow_lease_write(inner: Arc<dyn StateStore>, by: Duration) -> Arc<dyn StateStore> {
    let after: After = Box::new(move |change: &SessionChange| {
        let takes_lease = change
            .state
            .as_ref()
            .is_some_and(|g| g.value.lease.is_some())
            && change.messages.iter().any(|m| m.role == Role::User);
        Box::pin(async move {
            if takes_lease {
                tokio::time::sleep(by).await;
            }
        })
    });
    InterposedStore::after(inner, after)
}

#[tokio::test]
async fn concurrent_resumes_and_profile_updates_all_succeed() {
    let server = TestServer::embedded().await;
    let tenant = server.create_tenant(demo_tenant()).await.record.tenant.id;
    let client = server.client();
    let (id, token) = ready_session(&client, &tenant).await;
    let resumes = (0..20).map(|_| {
        client
            .post("/api/session/resume")
            .tenant(&tenant)
            .json(&json!({"resume_token": token}))
            .send()
    });
    for r in futures::future::join_all(resumes).await {
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let updates = (0..10).map(|i| {
        client
            .put(&format!("/api/session/{id}/info"))
            .tenant(&tenant)
            .bearer(&token)
            .json(&json!({"employee_code": "EMP1", "department": format!("Dept {i}"), "position": "Engineer"}))
            .send()
    });
    let replies = futures::future::join_all(updates).await;
    for r in &replies {
        assert_eq!(r.status, 200, "last one wins, none fails: {}", r.text);
    }
    let session = server
        .app
        .store
        .session(&tenant, &id)
        .await
        .unwrap()
        .unwrap();
    assert!(session.profile.department.unwrap().starts_with("Dept "));
}

#[test]
fn settings_keep_the_lease_short_enough() {
    let lease = Settings::default().turn_lease;
    assert!(lease <= Duration::from_secs(30));
    assert!(Settings::default().lease_renewal * 3 <= lease);
}
