//! Sessions and their history: guarded writes, one winner per version,
//! unguarded touches.

use chrono::{Duration, Utc};

use crate::conformance::fixtures::{audit, create_session, goal, message};
use crate::conformance::unique;
use crate::domain::audit::action;
use crate::domain::goal::{Goal, GoalLink, LinkType};
use crate::domain::ids::new_id;
use crate::domain::phase::{GoalType, Phase};
use crate::domain::way_forward::RestartReason;
use crate::ports::state_store::{
    AuditQuery, CounterDelta, Guarded, SessionChange, StateStore, StoreError,
};

pub(super) async fn sessions_and_guards(store: &dyn StateStore) {
    let tenant = unique("t");
    let (s, state) = create_session(store, &tenant).await;
    assert_eq!(
        store.session(&tenant, &s.id).await.unwrap().as_ref(),
        Some(&s)
    );
    assert_eq!(
        store.conversation(&tenant, &s.id).await.unwrap().as_ref(),
        Some(&state)
    );

    // Creating the same session again conflicts and writes nothing.
    let mut again = SessionChange::new(&tenant, &s.id);
    again.session = Some(Guarded::create(s.clone()));
    again.messages.push(message(&tenant, &s.id, "lost"));
    assert!(matches!(
        store.apply(again).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(store.messages(&tenant, &s.id).await.unwrap().is_empty());

    // A write with the right version wins; a stale one changes nothing at all.
    let mut next = state.clone();
    next.phase = Phase::G4Future;
    next.version += 1;
    let mut change = SessionChange::new(&tenant, &s.id);
    change.state = Some(Guarded::replacing(state.version, next.clone()));
    change.messages.push(message(&tenant, &s.id, "kept"));
    store.apply(change).await.expect("versioned update");

    let mut stale = state.clone();
    stale.phase = Phase::G8Actions;
    stale.version += 1;
    let mut updated_session = s.clone();
    updated_session.completion_percentage = 50;
    updated_session.version += 1;
    let mut change = SessionChange::new(&tenant, &s.id);
    change.session = Some(Guarded::replacing(s.version, updated_session));
    change.state = Some(Guarded::replacing(state.version, stale));
    change
        .messages
        .push(message(&tenant, &s.id, "must not appear"));
    change
        .goals
        .push(goal(&tenant, &s.id, GoalType::Future, 9.0));
    change
        .audit
        .push(audit(&tenant, Some(&s.id), "must.not.appear"));
    change.counters = CounterDelta {
        sessions_completed: 1,
        ..Default::default()
    };
    assert!(matches!(
        store.apply(change).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.conversation(&tenant, &s.id).await.unwrap().unwrap(),
        next
    );
    assert_eq!(
        store
            .session(&tenant, &s.id)
            .await
            .unwrap()
            .unwrap()
            .completion_percentage,
        0,
        "no partial write"
    );
    let texts: Vec<String> = store
        .messages(&tenant, &s.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.content)
        .collect();
    assert_eq!(texts, vec!["kept"]);
    assert!(store.goals(&tenant, &s.id).await.unwrap().0.is_empty());
    let log = store
        .audit_log(&AuditQuery {
            tenant_id: Some(tenant.clone()),
            session_id: Some(s.id.clone()),
            page: 1,
            per_page: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(log.entries.iter().all(|e| e.action != "must.not.appear"));
    let usage = store
        .usage(Some(&tenant), Utc::now().date_naive())
        .await
        .unwrap();
    assert_eq!(
        usage.sessions_completed, 0,
        "counters of a refused change are not applied"
    );
}

pub(super) async fn history(store: &dyn StateStore) {
    let tenant = unique("t");
    let (s, _) = create_session(store, &tenant).await;
    for text in ["one", "two", "three"] {
        let mut change = SessionChange::new(&tenant, &s.id);
        change.messages.push(message(&tenant, &s.id, text));
        store.apply(change).await.unwrap();
    }
    let texts: Vec<String> = store
        .messages(&tenant, &s.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.content)
        .collect();
    assert_eq!(
        texts,
        vec!["one", "two", "three"],
        "messages come back oldest first"
    );
    let stored = &store.messages(&tenant, &s.id).await.unwrap()[0];
    assert_eq!(
        (
            stored.tokens_prompt,
            stored.tokens_completion,
            stored.latency_ms
        ),
        (1, 2, 3)
    );

    let future = goal(&tenant, &s.id, GoalType::Future, 9.2);
    let draft = goal(&tenant, &s.id, GoalType::Actions, 4.0);
    // A draft kept as final below the threshold keeps its mark.
    let actions = Goal {
        is_final: true,
        below_threshold: true,
        ..goal(&tenant, &s.id, GoalType::Actions, 5.5)
    };
    let link = GoalLink {
        id: new_id(),
        goal_id: actions.id.clone(),
        parent_goal_id: future.id.clone(),
        link_type: LinkType::ContributesTo,
        strength: 10,
        notes: "n".into(),
        created_at: Utc::now(),
    };
    let mut change = SessionChange::new(&tenant, &s.id);
    change.goals = vec![future.clone(), draft.clone()];
    store.apply(change).await.unwrap();
    let mut change = SessionChange::new(&tenant, &s.id);
    change.goals = vec![actions.clone()];
    change.links = vec![link.clone()];
    store.apply(change).await.unwrap();
    let snapshot = store
        .session_snapshot(&tenant, &s.id)
        .await
        .unwrap()
        .expect("a snapshot");
    assert_eq!(
        snapshot.session,
        store.session(&tenant, &s.id).await.unwrap().unwrap()
    );
    assert_eq!(
        snapshot.state,
        store.conversation(&tenant, &s.id).await.unwrap().unwrap()
    );
    assert_eq!(
        snapshot.messages,
        store.messages(&tenant, &s.id).await.unwrap()
    );
    assert_eq!(
        (snapshot.goals.clone(), snapshot.links.clone()),
        store.goals(&tenant, &s.id).await.unwrap()
    );
    assert!(
        store
            .session_snapshot(&tenant, "01ARZ3NDEKTSV4RRFFQ69G5FAV")
            .await
            .unwrap()
            .is_none()
    );
    let (goals, links) = store.goals(&tenant, &s.id).await.unwrap();
    assert_eq!(
        goals,
        vec![future, draft, actions],
        "goals come back oldest first, drafts included"
    );
    assert_eq!(links, vec![link]);
}

pub(super) async fn one_winner_per_version(store: &dyn StateStore) {
    let tenant = unique("t");
    let (s, state) = create_session(store, &tenant).await;
    let store_ptr: &dyn StateStore = store;
    let attempts = (0..8).map(|i| {
        let mut next = state.clone();
        next.collect_turns = i + 1;
        next.version += 1;
        let mut change = SessionChange::new(&tenant, &s.id);
        change.state = Some(Guarded::replacing(state.version, next));
        change
            .messages
            .push(message(&tenant, &s.id, &format!("racer {i}")));
        async move { store_ptr.apply(change).await }
    });
    let results = futures::future::join_all(attempts).await;
    let winners = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(
        winners, 1,
        "exactly one of the racing writes wins: {results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || matches!(r, Err(StoreError::Conflict(_))))
    );
    assert_eq!(
        store.messages(&tenant, &s.id).await.unwrap().len(),
        1,
        "losers write nothing"
    );
}

/// The last-access bookkeeping (`touched_at`) is written without a guard:
/// concurrent touches all succeed, none changes the session's version, and
/// a guarded change prepared before them still commits.
pub(super) async fn touches_never_conflict(store: &dyn StateStore) {
    let tenant = unique("t");
    let (s, _) = create_session(store, &tenant).await;
    let base = s.last_accessed_at + Duration::seconds(60);
    let store_ptr: &dyn StateStore = store;
    let touches = (1..=6).map(|i| {
        let mut change = SessionChange::new(&tenant, &s.id);
        change.touched_at = Some(base + Duration::seconds(i));
        change
            .audit
            .push(audit(&tenant, Some(&s.id), action::SESSION_RESUMED));
        async move { store_ptr.apply(change).await }
    });
    let results = futures::future::join_all(touches).await;
    assert!(
        results.iter().all(Result::is_ok),
        "every touch succeeds: {results:?}"
    );
    let touched = store.session(&tenant, &s.id).await.unwrap().unwrap();
    assert_eq!(touched.version, s.version, "a touch keeps the version");
    assert!(touched.last_accessed_at > base, "the last access moved on");
    assert_eq!(
        (touched.profile.clone(), touched.completion_percentage),
        (s.profile.clone(), s.completion_percentage),
        "a touch changes nothing else"
    );
    let resumed = AuditQuery {
        tenant_id: Some(tenant.clone()),
        session_id: Some(s.id.clone()),
        page: 1,
        per_page: 50,
        ..Default::default()
    };
    let entries = store.audit_log(&resumed).await.unwrap().entries;
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.action == action::SESSION_RESUMED)
            .count(),
        6,
        "each touch's audit entry is kept"
    );

    let mut progressed = s.clone();
    progressed.completion_percentage = 33;
    progressed.version += 1;
    let mut change = SessionChange::new(&tenant, &s.id);
    change.session = Some(Guarded::replacing(s.version, progressed));
    store
        .apply(change)
        .await
        .expect("a guarded change read before the touches still commits");

    let mut nobody = SessionChange::new(&tenant, &new_id());
    nobody.touched_at = Some(base);
    assert!(
        matches!(store.apply(nobody).await, Err(StoreError::Conflict(_))),
        "touching a missing session is refused"
    );
}

/// A phase's restart is stored with the conversation and read back.
pub(super) async fn phase_restarts(store: &dyn StateStore) {
    let tenant = unique("t");
    let (s, state) = create_session(store, &tenant).await;
    let mut restarted = state.clone();
    restarted.complete_profile(Utc::now());
    let history = vec![
        message(&tenant, &s.id, "one"),
        message(&tenant, &s.id, "two"),
    ];
    restarted.restart_phase(&history, RestartReason::Reopened, Utc::now());
    restarted.version += 1;
    let mut change = SessionChange::new(&tenant, &s.id);
    change.state = Some(Guarded::replacing(state.version, restarted.clone()));
    store.apply(change).await.unwrap();
    let stored = store.conversation(&tenant, &s.id).await.unwrap().unwrap();
    assert_eq!(stored, restarted);
    let restart = stored.restart.expect("the restart is stored");
    assert_eq!(
        (restart.phase, restart.user_messages_before, restart.reason),
        (Phase::G4Future, 2, RestartReason::Reopened)
    );
}
