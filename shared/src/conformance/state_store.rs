use std::sync::Arc;

use chrono::{Duration, Utc};

use super::fixtures::{audit, create_session, goal, message, tenant_record};
use super::unique;
use crate::domain::audit::action;
use crate::domain::document::{DocumentRecord, DocumentSource, DocumentStatus, content_hash};
use crate::domain::goal::{GoalLink, LinkType};
use crate::domain::ids::new_id;
use crate::domain::limits::Window;
use crate::domain::phase::{GoalType, Phase};
use crate::domain::tenant::{DocumentLimits, TenantStatus};
use crate::ports::state_store::{
    AuditQuery, BudgetAlert, BudgetAlerts, CounterDelta, Expect, Guarded, SessionChange,
    StateStore, StoreError, WindowCharge,
};

/// Runs every state-store promise against `store`.
pub async fn state_store(store: Arc<dyn StateStore>) {
    let store = store.as_ref();
    store.ping().await.expect("ping");
    tenants(store).await;
    sessions_and_guards(store).await;
    history(store).await;
    audit_log(store).await;
    counters(store).await;
    monthly_counters(store).await;
    budget_alerts(store).await;
    window_charges(store).await;
    tenant_config_updates(store).await;
    isolation(store).await;
    one_winner_per_version(store).await;
    touches_never_conflict(store).await;
    documents(store).await;
}

async fn tenants(store: &dyn StateStore) {
    let today = Utc::now().date_naive();
    let before = store.usage(None, today).await.unwrap();
    let id = unique("t");
    let record = tenant_record(&id);
    store
        .create_tenant(&record, &audit(&id, None, action::TENANT_CREATED))
        .await
        .expect("create tenant");
    assert_eq!(store.tenant(&id).await.unwrap().as_ref(), Some(&record));
    assert_eq!(
        store
            .tenant_by_domain(&record.tenant.domain)
            .await
            .unwrap()
            .unwrap()
            .tenant
            .id,
        id
    );
    assert_eq!(
        store
            .tenant_by_admin_key_hash(&record.admin_key_hash)
            .await
            .unwrap()
            .unwrap()
            .tenant
            .id,
        id
    );
    assert!(store.tenant("no-such-tenant").await.unwrap().is_none());
    assert!(
        store
            .tenant_by_domain("no-such.example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .list_tenants()
            .await
            .unwrap()
            .iter()
            .any(|t| t.id == id)
    );

    let mut same_domain = tenant_record(&unique("t"));
    same_domain.tenant.domain = record.tenant.domain.clone();
    let dup = store
        .create_tenant(
            &same_domain,
            &audit(&same_domain.tenant.id, None, action::TENANT_CREATED),
        )
        .await;
    assert!(
        matches!(dup, Err(StoreError::Conflict(_))),
        "a taken domain must conflict: {dup:?}"
    );
    let dup = store
        .create_tenant(&record, &audit(&id, None, action::TENANT_CREATED))
        .await;
    assert!(
        matches!(dup, Err(StoreError::Conflict(_))),
        "a taken id must conflict"
    );
    assert!(
        store
            .tenant(&same_domain.tenant.id)
            .await
            .unwrap()
            .is_none(),
        "a refused tenant leaves nothing"
    );

    let mut inactive = record.tenant.clone();
    inactive.status = TenantStatus::Inactive;
    store
        .update_tenant(&inactive, &audit(&id, None, action::TENANT_STATUS_CHANGED))
        .await
        .unwrap();
    assert_eq!(
        store.tenant(&id).await.unwrap().unwrap().tenant.status,
        TenantStatus::Inactive
    );
    let after = store.usage(None, today).await.unwrap();
    assert_eq!(after.total_tenants - before.total_tenants, 1);
    assert_eq!(after.active_tenants - before.active_tenants, 0);

    // The configuration changes on its own; identity and lookups stay.
    let mut config = record.config.clone();
    config.document_limits = DocumentLimits {
        max_documents: 3,
        max_chunks: 70,
    };
    store
        .update_tenant_config(
            &id,
            &config,
            &audit(&id, None, action::TENANT_LIMITS_CHANGED),
        )
        .await
        .unwrap();
    let updated = store.tenant(&id).await.unwrap().unwrap();
    assert_eq!(updated.config, config);
    assert_eq!(updated.tenant.status, TenantStatus::Inactive);
    assert_eq!(
        store
            .tenant_by_domain(&record.tenant.domain)
            .await
            .unwrap()
            .unwrap()
            .config
            .document_limits,
        config.document_limits,
        "every copy of the record changes"
    );
    assert!(matches!(
        store
            .update_tenant_config(
                &unique("missing"),
                &config,
                &audit(&id, None, action::TENANT_LIMITS_CHANGED)
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
}

async fn sessions_and_guards(store: &dyn StateStore) {
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

async fn history(store: &dyn StateStore) {
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
    let actions = goal(&tenant, &s.id, GoalType::Actions, 9.0);
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

async fn audit_log(store: &dyn StateStore) {
    let tenant = unique("t");
    let (a, _) = create_session(store, &tenant).await;
    let (b, _) = create_session(store, &tenant).await;
    for i in 0..3 {
        store
            .append_audit(&audit(&tenant, Some(&a.id), &format!("step.{i}")))
            .await
            .unwrap();
    }
    store
        .append_audit(&audit(&tenant, None, "tenant.thing"))
        .await
        .unwrap();
    let all = store
        .audit_log(&AuditQuery {
            tenant_id: Some(tenant.clone()),
            session_id: None,
            page: 1,
            per_page: 50,
        })
        .await
        .unwrap();
    assert_eq!(
        all.total, 6,
        "two session creations, three steps, one tenant entry"
    );
    let of_a = store
        .audit_log(&AuditQuery {
            tenant_id: Some(tenant.clone()),
            session_id: Some(a.id.clone()),
            page: 1,
            per_page: 2,
        })
        .await
        .unwrap();
    assert_eq!(of_a.total, 4);
    let actions: Vec<&str> = of_a.entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        vec![action::SESSION_CREATED, "step.0"],
        "oldest first, paged"
    );
    let page2 = store
        .audit_log(&AuditQuery {
            tenant_id: Some(tenant.clone()),
            session_id: Some(a.id.clone()),
            page: 2,
            per_page: 2,
        })
        .await
        .unwrap();
    let actions: Vec<&str> = page2.entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, vec!["step.1", "step.2"]);
    let past_end = store
        .audit_log(&AuditQuery {
            tenant_id: Some(tenant.clone()),
            session_id: Some(a.id.clone()),
            page: 9,
            per_page: 2,
        })
        .await
        .unwrap();
    assert!(past_end.entries.is_empty());
    let of_b = store
        .audit_log(&AuditQuery {
            tenant_id: Some(tenant.clone()),
            session_id: Some(b.id.clone()),
            page: 1,
            per_page: 50,
        })
        .await
        .unwrap();
    assert_eq!(of_b.total, 1);
}

async fn counters(store: &dyn StateStore) {
    let tenant = unique("t");
    let today = Utc::now().date_naive();
    let global_before = store.usage(None, today).await.unwrap();
    let (s, _) = create_session(store, &tenant).await;
    let mut change = SessionChange::new(&tenant, &s.id);
    change.counters = CounterDelta {
        sessions_completed: 1,
        completion_points: 100,
        session_minutes: 45,
        messages: 12,
        messages_day: Some(today),
        final_goals: vec![GoalType::Future, GoalType::Values, GoalType::Actions],
        score_hundredths: 2690,
        ..Default::default()
    };
    store.apply(change).await.unwrap();
    let mut yesterday = SessionChange::new(&tenant, &s.id);
    yesterday.counters = CounterDelta {
        messages: 5,
        messages_day: Some(today - Duration::days(1)),
        ..Default::default()
    };
    store.apply(yesterday).await.unwrap();
    let usage = store.usage(Some(&tenant), today).await.unwrap();
    assert_eq!(usage.sessions_created, 1);
    assert_eq!(usage.sessions_completed, 1);
    assert_eq!(usage.completion_points, 100);
    assert_eq!(usage.session_minutes, 45);
    assert_eq!(usage.messages_today, 12, "only today's messages count");
    assert_eq!(
        (usage.goals_future, usage.goals_values, usage.goals_actions),
        (1, 1, 1)
    );
    assert_eq!(usage.score_hundredths, 2690);
    let global = store.usage(None, today).await.unwrap();
    assert!(global.sessions_created - global_before.sessions_created >= 1);
    assert!(global.messages_today - global_before.messages_today >= 12);
}

async fn monthly_counters(store: &dyn StateStore) {
    let tenant = unique("t");
    let today = Utc::now().date_naive();
    let (s, _) = create_session(store, &tenant).await;
    let mut spent = SessionChange::new(&tenant, &s.id);
    spent.counters.tokens = 1200;
    spent.counters.month_of = Some(today);
    store.apply(spent).await.unwrap();
    // A refusal is counted on its own, under an id of no session.
    let mut refused = SessionChange::new(&tenant, &new_id());
    refused.counters.refused = Some("rate_limited".into());
    refused.counters.month_of = Some(today);
    store.apply(refused.clone()).await.unwrap();
    store.apply(refused.clone()).await.unwrap();
    let mut last_month = SessionChange::new(&tenant, &s.id);
    last_month.counters.tokens = 999;
    last_month.counters.month_of = Some(today - Duration::days(40));
    store.apply(last_month).await.unwrap();
    let usage = store.usage(Some(&tenant), today).await.unwrap();
    assert_eq!(usage.tokens_month, 1200, "only this month's tokens count");
    assert_eq!(usage.refused_month.get("rate_limited"), Some(&2));
    assert!(
        store
            .session(&tenant, &refused.session_id)
            .await
            .unwrap()
            .is_none(),
        "counting a refusal stores no session"
    );
    let other = store.usage(Some(&unique("t")), today).await.unwrap();
    assert_eq!((other.tokens_month, other.refused_month.len()), (0, 0));
}

/// A change spending `tokens` in the month of `day`, carrying the warning
/// (800) and budget (1000) alerts, its writer having seen `seen` tokens.
fn spending(
    tenant: &str,
    session_id: &str,
    tokens: i64,
    seen: i64,
    day: chrono::NaiveDate,
) -> SessionChange {
    let mut change = SessionChange::new(tenant, session_id);
    change.counters.tokens = tokens;
    change.counters.month_of = Some(day);
    let alert = |key: &str, level, what| BudgetAlert {
        key: key.into(),
        level,
        entry: audit(tenant, Some(session_id), what),
    };
    change.budget = Some(BudgetAlerts {
        tokens_seen: seen,
        alerts: vec![
            alert("warning@800", 800, action::TOKEN_BUDGET_WARNING),
            alert("exhausted@1000", 1000, action::TOKEN_BUDGET_EXHAUSTED),
        ],
    });
    change
}

async fn alerts_written(store: &dyn StateStore, tenant: &str) -> (usize, usize) {
    let entries = store
        .audit_log(&AuditQuery {
            tenant_id: Some(tenant.into()),
            session_id: None,
            page: 1,
            per_page: 200,
        })
        .await
        .unwrap()
        .entries;
    let count = |what: &str| entries.iter().filter(|e| e.action == what).count();
    (
        count(action::TOKEN_BUDGET_WARNING),
        count(action::TOKEN_BUDGET_EXHAUSTED),
    )
}

/// Budget alerts: of twelve concurrent changes that all saw an empty month
/// and together cross both levels, exactly one writes each alert; later
/// changes write none again that month; another month has its own; an
/// alert due but never written is written by the next change.
async fn budget_alerts(store: &dyn StateStore) {
    let tenant = unique("t");
    let today = Utc::now().date_naive();
    let (s, _) = create_session(store, &tenant).await;
    let store_ptr: &dyn StateStore = store;
    let turns = (0..12).map(|_| {
        let change = spending(&tenant, &s.id, 100, 0, today);
        async move { store_ptr.apply(change).await }
    });
    let results = futures::future::join_all(turns).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let usage = store.usage(Some(&tenant), today).await.unwrap();
    assert_eq!(usage.tokens_month, 1200);
    assert_eq!(
        alerts_written(store, &tenant).await,
        (1, 1),
        "each alert exactly once"
    );
    store
        .apply(spending(&tenant, &s.id, 50, 1200, today))
        .await
        .unwrap();
    assert_eq!(alerts_written(store, &tenant).await, (1, 1), "once a month");
    let last_month = today - Duration::days(40);
    store
        .apply(spending(&tenant, &s.id, 2000, 0, last_month))
        .await
        .unwrap();
    assert_eq!(
        alerts_written(store, &tenant).await,
        (2, 2),
        "another month has its own"
    );

    // 900 tokens counted without alerts (a budget set mid-month): the next
    // change writes the warning even though its writer saw it passed.
    let late = unique("t");
    let (l, _) = create_session(store, &late).await;
    let mut unwatched = SessionChange::new(&late, &l.id);
    unwatched.counters.tokens = 900;
    unwatched.counters.month_of = Some(today);
    store.apply(unwatched).await.unwrap();
    store
        .apply(spending(&late, &l.id, 1, 900, today))
        .await
        .unwrap();
    assert_eq!(alerts_written(store, &late).await, (1, 0));
}

/// Windowed counters: refused past the limit with nothing written, again
/// allowed in the next window, separate per key and per tenant.
/// Sliding-window charges: refused past the limit with nothing written,
/// still refused while any counted slot holds the charges, allowed once
/// they left the window; separate per key and per tenant; a change with
/// several charges names the full one.
async fn window_charges(store: &dyn StateStore) {
    let tenant = unique("t");
    let (s, state) = create_session(store, &tenant).await;
    let window = Window::Minute.sliding();
    let slot = Duration::seconds(window.slot_seconds);
    let first = window.slot_end(Utc::now());
    let charge = |key: &str, slot_end| WindowCharge {
        key: key.into(),
        window,
        slot_end,
        limit: 2,
    };
    let turn = |text: &str, slot_end, key: &str| {
        let mut change = SessionChange::new(&tenant, &s.id);
        change.messages.push(message(&tenant, &s.id, text));
        change.charges.push(charge(key, slot_end));
        change
    };
    let refused = async |change: SessionChange, full: &str| match store.apply(change).await {
        Err(StoreError::LimitReached(key)) => assert_eq!(key, full),
        other => panic!("a full window must refuse the change: {other:?}"),
    };
    store.apply(turn("one", first, "turns#a")).await.unwrap();
    store.apply(turn("two", first, "turns#a")).await.unwrap();
    let mut over = turn("three", first, "turns#a");
    let mut next = state.clone();
    next.version += 1;
    over.state = Some(Guarded::replacing(state.version, next));
    over.counters.messages = 1;
    over.counters.messages_day = Some(Utc::now().date_naive());
    refused(over, "turns#a").await;
    let texts: Vec<String> = store
        .messages(&tenant, &s.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.content)
        .collect();
    assert_eq!(
        texts,
        ["one", "two"],
        "nothing of a refused change is stored"
    );
    assert_eq!(
        store
            .conversation(&tenant, &s.id)
            .await
            .unwrap()
            .unwrap()
            .version,
        state.version
    );
    // The next slot, and the last one whose window still counts the first.
    refused(turn("x", first + slot, "turns#a"), "turns#a").await;
    let last_counting = first + slot * (window.slots as i32 - 1);
    refused(turn("x", last_counting, "turns#a"), "turns#a").await;
    // One slot later the charges left the window.
    let clear = last_counting + slot;
    store.apply(turn("later", clear, "turns#a")).await.unwrap();
    // Charges spread over slots leave the window one slot at a time.
    store.apply(turn("c1", first, "turns#c")).await.unwrap();
    store
        .apply(turn("c2", first + slot, "turns#c"))
        .await
        .unwrap();
    refused(turn("x", first + slot * 2, "turns#c"), "turns#c").await;
    store.apply(turn("c3", clear, "turns#c")).await.unwrap();
    refused(turn("x", clear, "turns#c"), "turns#c").await;
    store
        .apply(turn("c4", clear + slot, "turns#c"))
        .await
        .unwrap();

    // Another key and another tenant are unaffected.
    store.apply(turn("b", first, "turns#b")).await.unwrap();
    let (other_tenant, other_session) = {
        let t = unique("t");
        let (s, _) = create_session(store, &t).await;
        (t, s)
    };
    let mut elsewhere = SessionChange::new(&other_tenant, &other_session.id);
    elsewhere.charges.push(charge("turns#a", first));
    store.apply(elsewhere).await.unwrap();
    // Of two charges, the full one is named; the other is not counted.
    let mut both = turn("two charges", first, "turns#d");
    both.charges.push(charge("turns#b", first));
    store.apply(both.clone()).await.unwrap();
    refused(both, "turns#b").await;
    store.apply(turn("d", first, "turns#d")).await.unwrap();
    refused(turn("x", first, "turns#d"), "turns#d").await;
    // A limit of 0 in a charge refuses at once (callers skip a charge for "no limit").
    let mut none = turn("never", first, "turns#e");
    none.charges[0].limit = 0;
    refused(none, "turns#e").await;
}

async fn tenant_config_updates(store: &dyn StateStore) {
    let id = unique("t");
    let record = tenant_record(&id);
    store
        .create_tenant(&record, &audit(&id, None, action::TENANT_CREATED))
        .await
        .unwrap();
    let mut config = record.config.clone();
    config.limits.monthly_token_budget = 1234;
    store
        .update_tenant_config(
            &id,
            &config,
            &audit(&id, None, action::TENANT_LIMITS_CHANGED),
        )
        .await
        .unwrap();
    let read = |r: Option<crate::domain::tenant::TenantRecord>| r.unwrap().config.limits;
    assert_eq!(
        read(store.tenant(&id).await.unwrap()).monthly_token_budget,
        1234
    );
    // Every copy the request path resolves by says the same.
    assert_eq!(
        read(store.tenant_by_domain(&record.tenant.domain).await.unwrap()).monthly_token_budget,
        1234
    );
    assert_eq!(
        read(
            store
                .tenant_by_admin_key_hash(&record.admin_key_hash)
                .await
                .unwrap()
        )
        .monthly_token_budget,
        1234
    );
    assert!(matches!(
        store
            .update_tenant_config("no-such-tenant", &config, &audit(&id, None, "x"))
            .await,
        Err(StoreError::Conflict(_))
    ));
}

async fn isolation(store: &dyn StateStore) {
    let (a, b) = (unique("t"), unique("t"));
    let (s, _) = create_session(store, &a).await;
    assert!(
        store.session(&b, &s.id).await.unwrap().is_none(),
        "another tenant cannot read the session"
    );
    assert!(store.conversation(&b, &s.id).await.unwrap().is_none());
    assert!(store.messages(&b, &s.id).await.unwrap().is_empty());
    let log = store
        .audit_log(&AuditQuery {
            tenant_id: Some(b.clone()),
            session_id: None,
            page: 1,
            per_page: 50,
        })
        .await
        .unwrap();
    assert_eq!(log.total, 0);
}

async fn one_winner_per_version(store: &dyn StateStore) {
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
async fn touches_never_conflict(store: &dyn StateStore) {
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

fn document_record(tenant_id: &str, id: &str, minutes_ago: i64) -> DocumentRecord {
    let at = Utc::now() - Duration::minutes(minutes_ago);
    DocumentRecord {
        id: id.into(),
        tenant_id: tenant_id.into(),
        category: "values".into(),
        title: format!("Document {id}"),
        filename: "values.pdf".into(),
        format: Some("pdf".into()),
        status: DocumentStatus::Indexing,
        failure: None,
        pages: Some(3),
        chunks: 0,
        bytes: 1234,
        source: DocumentSource::Upload,
        content_hash: content_hash(id.as_bytes()),
        object_key: format!("uploads/{tenant_id}/values/{id}/values.pdf"),
        revision: 1,
        metadata: serde_json::json!({"version": "1.0"}),
        flagged_passages: vec![],
        created_at: at,
        updated_at: at,
    }
}

/// Document records: guarded puts, listing newest first and per tenant,
/// deletes at a revision.
async fn documents(store: &dyn StateStore) {
    let (tenant, other) = (unique("t"), unique("t"));
    let older = document_record(&tenant, &unique("d"), 10);
    let newer = document_record(&tenant, &unique("d"), 1);
    let foreign = document_record(&other, &unique("d"), 5);
    for d in [&older, &newer, &foreign] {
        store
            .put_document(d, Expect::Absent)
            .await
            .expect("put document");
    }
    let mut indexed = newer.clone();
    indexed.status = DocumentStatus::Indexed;
    indexed.chunks = 7;
    store
        .put_document(&indexed, Expect::Version(1))
        .await
        .expect("update document at its revision");
    assert_eq!(
        store.document(&tenant, &newer.id).await.unwrap().as_ref(),
        Some(&indexed)
    );
    assert!(store.document(&other, &newer.id).await.unwrap().is_none());
    let ids: Vec<String> = store
        .documents(&tenant)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(ids, vec![newer.id.clone(), older.id.clone()]);
    assert!(
        matches!(
            store.delete_document(&tenant, &older.id, 2).await,
            Err(StoreError::Conflict(_))
        ),
        "a delete at another revision removes nothing"
    );
    assert!(store.document(&tenant, &older.id).await.unwrap().is_some());
    store.delete_document(&tenant, &older.id, 1).await.unwrap();
    assert!(
        matches!(
            store.delete_document(&tenant, &older.id, 1).await,
            Err(StoreError::Conflict(_))
        ),
        "a second delete finds nothing to remove"
    );
    assert!(store.document(&tenant, &older.id).await.unwrap().is_none());
    assert_eq!(store.documents(&tenant).await.unwrap().len(), 1);
    assert_eq!(store.documents(&other).await.unwrap().len(), 1);
    document_guards(store).await;
}

/// Concurrent writers of one document that read the same revision: exactly
/// one wins, the others conflict and change nothing; a write over a deleted
/// record, or a new record over an existing one, conflicts.
async fn document_guards(store: &dyn StateStore) {
    let tenant = unique("t");
    let first = document_record(&tenant, &unique("d"), 1);
    store.put_document(&first, Expect::Absent).await.unwrap();
    assert!(matches!(
        store.put_document(&first, Expect::Absent).await,
        Err(StoreError::Conflict(_))
    ));
    let store_ptr: &dyn StateStore = store;
    let racers = (0..6).map(|i| {
        let mut next = first.clone();
        next.revision = 2;
        next.title = format!("racer {i}");
        async move {
            let result = store_ptr.put_document(&next, Expect::Version(1)).await;
            (next.title, result)
        }
    });
    let results = futures::future::join_all(racers).await;
    let winners: Vec<&String> = results
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(t, _)| t)
        .collect();
    assert_eq!(winners.len(), 1, "one winner per revision: {results:?}");
    assert!(
        results
            .iter()
            .all(|(_, r)| r.is_ok() || matches!(r, Err(StoreError::Conflict(_))))
    );
    let stored = store.document(&tenant, &first.id).await.unwrap().unwrap();
    assert_eq!((&stored.title, stored.revision), (winners[0], 2));

    // A delete and a replace that both read revision 2: one wins.
    let mut third = stored.clone();
    third.revision = 3;
    let (deleted, replaced) = futures::join!(
        store.delete_document(&tenant, &first.id, 2),
        store.put_document(&third, Expect::Version(2))
    );
    assert!(
        deleted.is_ok() != replaced.is_ok(),
        "exactly one of delete and replace wins: {deleted:?} {replaced:?}"
    );
    let left = store.document(&tenant, &first.id).await.unwrap();
    assert_eq!(left.map(|d| d.revision), replaced.is_ok().then_some(3));
    if deleted.is_ok() {
        assert!(
            matches!(
                store.put_document(&third, Expect::Version(2)).await,
                Err(StoreError::Conflict(_))
            ),
            "a deleted document is not brought back by a replace"
        );
    }
}
