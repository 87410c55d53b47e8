//! Usage counters, monthly counters, budget alerts and sliding-window
//! limit charges.

use chrono::{Duration, Utc};

use crate::conformance::fixtures::{audit, create_session, message};
use crate::conformance::unique;
use crate::domain::audit::action;
use crate::domain::ids::new_id;
use crate::domain::limits::Window;
use crate::domain::phase::GoalType;
use crate::ports::state_store::{
    AuditQuery, BudgetAlert, BudgetAlerts, CounterDelta, Guarded, SessionChange, StateStore,
    StoreError, WindowCharge,
};

pub(super) async fn counters(store: &dyn StateStore) {
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
        goals_below_threshold: 1,
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
    assert_eq!(usage.goals_below_threshold, 1);
    let global = store.usage(None, today).await.unwrap();
    assert!(global.sessions_created - global_before.sessions_created >= 1);
    assert!(global.messages_today - global_before.messages_today >= 12);
}

pub(super) async fn monthly_counters(store: &dyn StateStore) {
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
pub(super) fn spending(
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

pub(super) async fn alerts_written(store: &dyn StateStore, tenant: &str) -> (usize, usize) {
    let entries = store
        .audit_log(&AuditQuery {
            tenant_id: Some(tenant.into()),
            session_id: None,
            page: 1,
            per_page: 200,
            ..Default::default()
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
pub(super) async fn budget_alerts(store: &dyn StateStore) {
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
pub(super) async fn window_charges(store: &dyn StateStore) {
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
