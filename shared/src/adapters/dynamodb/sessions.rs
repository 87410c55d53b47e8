//! A session's partition: the session, its conversation state, messages,
//! goals and links. Every write about a session is one transaction.

use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use super::budget;
use super::counters::add_increments;
use super::items::audit_item;
use super::items::{Item, decode, get_s, is_expired, json, key, n, s, sdk_error};
use super::keys::{
    BODY, COUNT, GOAL_PREFIX, GOALS_AND_LINKS_PREFIX, GSI1_PK, GSI1_SK, LINK_PREFIX,
    MESSAGE_PREFIX, PK, SESSION_SK, SK, STATE_SK, TOUCHED_AT, TTL, VERSION, limit_pk, next_order,
    session_item_ttl, session_pk, session_ttl, sessions_list_pk, shard_of, touched_ttl, window_sk,
    window_ttl,
};
use super::transaction::{Condition, TransactError, Transaction};
use crate::domain::conversation::ConversationState;
use crate::domain::goal::{Goal, GoalLink};
use crate::domain::message::Message;
use crate::domain::session::Session;
use crate::ports::state_store::{
    Expect, GLOBAL_SCOPE, SessionChange, SessionSnapshot, StoreError, WindowCharge, tenant_scope,
};

fn guard(expect: Expect) -> Condition {
    match expect {
        Expect::Absent => Condition::absent(),
        Expect::Version(v) => Condition::equals(VERSION, n(v)),
    }
}

/// Builds the one transaction of a session change, writing the budget
/// alerts `due` says (see [`budget`]); with the position of the budget
/// ledger's update, if any.
pub fn change_transaction(
    table: &str,
    change: &SessionChange,
    now: DateTime<Utc>,
    due: &[bool],
) -> Result<(Transaction, Option<usize>), StoreError> {
    let pk = session_pk(&change.tenant_id, &change.session_id);
    let retention_days = change
        .retention_days
        .unwrap_or(crate::domain::tenant::Retention::DEFAULT_DAYS);
    // Items whose session expiry is unknown here get an upper bound.
    let item_ttl = session_item_ttl(
        &change.session_id,
        change.session.as_ref().map(|g| g.value.expires_at),
        retention_days,
        now,
    );
    let mut tx = Transaction::new(table);

    // Charges go first, in the positions `charge_positions` names. Each
    // slot's item holds its window total (the charges of the slots it
    // counts), so a charge adds to the items of every slot whose window
    // it falls in and checks its own slot's item alone: the sliding
    // window in one conditional write, with no read.
    for charge in &change.charges {
        let pk = limit_pk(&change.tenant_id, &charge.key);
        for (i, slot_end) in charge
            .window
            .covering_slots(charge.slot_end)
            .into_iter()
            .enumerate()
        {
            tx.update(
                key(&pk, window_sk(slot_end)),
                "ADD #n :one SET #ttl = if_not_exists(#ttl, :ttl)".into(),
                vec![("#n".into(), COUNT.into()), ("#ttl".into(), TTL.into())],
                vec![
                    (":one".into(), n(1)),
                    (":ttl".into(), n(window_ttl(slot_end))),
                ],
                (i == 0).then(|| Condition {
                    expression: "(attribute_not_exists(#n) AND :one <= :limit) OR #n < :limit"
                        .into(),
                    names: vec![],
                    values: vec![(":limit".into(), n(charge.limit))],
                }),
            )?;
        }
    }
    if let Some(g) = &change.session {
        let mut item = key(&pk, SESSION_SK);
        item.insert(BODY.into(), json(&g.value)?);
        item.insert(VERSION.into(), n(g.value.version));
        item.insert(TTL.into(), n(session_ttl(&g.value, retention_days)));
        // Lists the tenant's sessions (erasure by employee code, export).
        item.insert(GSI1_PK.into(), s(sessions_list_pk(&change.tenant_id)));
        item.insert(GSI1_SK.into(), s(&change.session_id));
        tx.put(item, Some(guard(g.expect)))?;
    }
    if let (Some(at), None) = (change.touched_at, &change.session) {
        // A separate attribute: the body (and its version) stay as they are.
        tx.update(
            key(&pk, SESSION_SK),
            "SET #touched = :touched, #ttl = :ttl".into(),
            vec![
                ("#touched".into(), TOUCHED_AT.into()),
                ("#ttl".into(), TTL.into()),
            ],
            vec![
                (":touched".into(), s(at.to_rfc3339())),
                (":ttl".into(), n(touched_ttl(at, retention_days))),
            ],
            Some(Condition {
                expression: format!("attribute_exists({PK})"),
                ..Default::default()
            }),
        )?;
    }
    if let Some(g) = &change.state {
        // An update, not a put: later writes keep the TTL set at creation.
        tx.update(
            key(&pk, STATE_SK),
            "SET #body = :body, #version = :version, #ttl = if_not_exists(#ttl, :ttl)".into(),
            vec![
                ("#body".into(), BODY.into()),
                ("#version".into(), VERSION.into()),
                ("#ttl".into(), TTL.into()),
            ],
            vec![
                (":body".into(), json(&g.value)?),
                (":version".into(), n(g.value.version)),
                (":ttl".into(), n(item_ttl)),
            ],
            Some(guard(g.expect)),
        )?;
    }
    let children = change
        .messages
        .iter()
        .map(|m| (MESSAGE_PREFIX, json(m)))
        .chain(change.goals.iter().map(|g| (GOAL_PREFIX, json(g))))
        .chain(change.links.iter().map(|l| (LINK_PREFIX, json(l))));
    for (prefix, body) in children {
        let mut item = key(&pk, format!("{prefix}{}", next_order()));
        item.insert(BODY.into(), body?);
        item.insert(TTL.into(), n(item_ttl));
        tx.put(item, None)?;
    }
    for entry in &change.audit {
        tx.put(audit_item(entry)?, None)?;
    }
    let increments = change.counters.increments();
    if !increments.is_empty() {
        let scopes = [tenant_scope(&change.tenant_id), GLOBAL_SCOPE.to_string()];
        add_increments(&mut tx, &scopes, shard_of(&change.session_id), &increments)?;
    }
    let ledger = budget::add(&mut tx, change, due)?;
    Ok((tx, ledger))
}

/// The transaction position of each charge's conditional write: charges
/// come first, each with one item per covering slot.
fn charge_positions(charges: &[WindowCharge]) -> Vec<usize> {
    charges
        .iter()
        .scan(0, |next, charge| {
            let at = *next;
            *next += charge.window.slots as usize;
            Some(at)
        })
        .collect()
}

pub async fn apply(
    client: &Client,
    table: &str,
    change: SessionChange,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut due = budget::guess(&change);
    let mut attempt = 1;
    let outcome = loop {
        let (tx, ledger) = change_transaction(table, &change, now, &due)?;
        match tx.commit(client).await {
            // Only the guess of the due budget alerts was wrong: look again.
            Err(TransactError::ConditionFailed { failed })
                if ledger.is_some_and(|at| failed == [at])
                    && attempt < budget::attempts(&change) =>
            {
                due = budget::due_now(client, table, &change).await?;
                attempt += 1;
            }
            other => break other,
        }
    };
    match outcome {
        Ok(()) => Ok(()),
        Err(TransactError::ConditionFailed { failed }) => {
            let positions = charge_positions(&change.charges);
            let full = failed
                .iter()
                .find_map(|i| positions.iter().position(|p| p == i))
                .and_then(|c| change.charges.get(c));
            match full {
                Some(full) => Err(StoreError::LimitReached(full.key.clone())),
                None => Err(StoreError::Conflict(format!(
                    "session {} changed meanwhile",
                    change.session_id
                ))),
            }
        }
        Err(TransactError::Store(e)) => Err(e),
    }
}

/// The session item: its body, with the last access a touch recorded
/// beside it when that is later.
pub fn decode_session(item: &Item) -> Result<Session, StoreError> {
    let mut session: Session = decode(item, BODY)?;
    let touched = get_s(item, TOUCHED_AT).and_then(|t| DateTime::parse_from_rfc3339(t).ok());
    if let Some(at) = touched.map(|t| t.with_timezone(&Utc))
        && at > session.last_accessed_at
    {
        session.last_accessed_at = at;
    }
    Ok(session)
}

/// The session, unless missing or expired.
pub async fn get_session(
    client: &Client,
    table: &str,
    tenant_id: &str,
    session_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<Session>, StoreError> {
    let out = client
        .get_item()
        .table_name(table)
        .set_key(Some(key(session_pk(tenant_id, session_id), SESSION_SK)))
        .consistent_read(true)
        .send()
        .await
        .map_err(sdk_error)?;
    match out.item() {
        Some(item) if !is_expired(item, now.timestamp()) => decode_session(item).map(Some),
        _ => Ok(None),
    }
}

/// One item of the session's partition, unless missing or expired.
pub async fn get_body<T: DeserializeOwned>(
    client: &Client,
    table: &str,
    tenant_id: &str,
    session_id: &str,
    sk: &str,
    now: DateTime<Utc>,
) -> Result<Option<T>, StoreError> {
    let out = client
        .get_item()
        .table_name(table)
        .set_key(Some(key(session_pk(tenant_id, session_id), sk)))
        .consistent_read(true)
        .send()
        .await
        .map_err(sdk_error)?;
    match out.item() {
        Some(item) if !is_expired(item, now.timestamp()) => decode(item, BODY).map(Some),
        _ => Ok(None),
    }
}

/// The items of the session's partition under `prefix` (all of them
/// without one), in key order.
async fn query_prefix(
    client: &Client,
    table: &str,
    tenant_id: &str,
    session_id: &str,
    prefix: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<Item>, StoreError> {
    let now = now.timestamp();
    let mut items = vec![];
    let mut start: Option<Item> = None;
    loop {
        let mut query = client
            .query()
            .table_name(table)
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", s(session_pk(tenant_id, session_id)))
            .consistent_read(true)
            .set_exclusive_start_key(start.take());
        query = match prefix {
            Some(prefix) => query
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":prefix", s(prefix)),
            None => query.key_condition_expression("#pk = :pk"),
        };
        let out = query.send().await.map_err(sdk_error)?;
        items.extend(
            out.items()
                .iter()
                .filter(|item| !is_expired(item, now))
                .cloned(),
        );
        match out.last_evaluated_key() {
            Some(k) if !k.is_empty() => start = Some(k.clone()),
            _ => return Ok(items),
        }
    }
}

pub async fn messages(
    client: &Client,
    table: &str,
    tenant_id: &str,
    session_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Message>, StoreError> {
    query_prefix(
        client,
        table,
        tenant_id,
        session_id,
        Some(MESSAGE_PREFIX),
        now,
    )
    .await?
    .iter()
    .map(|item| decode(item, BODY))
    .collect()
}

/// Goals and links in one Query: they share the `G#` prefix.
pub async fn goals(
    client: &Client,
    table: &str,
    tenant_id: &str,
    session_id: &str,
    now: DateTime<Utc>,
) -> Result<(Vec<Goal>, Vec<GoalLink>), StoreError> {
    let items = query_prefix(
        client,
        table,
        tenant_id,
        session_id,
        Some(GOALS_AND_LINKS_PREFIX),
        now,
    )
    .await?;
    let (mut goals, mut links) = (vec![], vec![]);
    for item in &items {
        match get_s(item, SK) {
            Some(sk) if sk.starts_with(GOAL_PREFIX) => goals.push(decode(item, BODY)?),
            Some(sk) if sk.starts_with(LINK_PREFIX) => links.push(decode(item, BODY)?),
            _ => {}
        }
    }
    Ok((goals, links))
}

/// The whole session partition in one Query: the session, its state,
/// messages, goals and links (the chat turn's one read).
pub async fn snapshot(
    client: &Client,
    table: &str,
    tenant_id: &str,
    session_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<SessionSnapshot>, StoreError> {
    let items = query_prefix(client, table, tenant_id, session_id, None, now).await?;
    let (mut session, mut state) = (None, None);
    let (mut messages, mut goals, mut links) = (vec![], vec![], vec![]);
    for item in &items {
        match get_s(item, SK) {
            Some(SESSION_SK) => session = Some(decode_session(item)?),
            Some(STATE_SK) => state = Some(decode::<ConversationState>(item, BODY)?),
            Some(sk) if sk.starts_with(MESSAGE_PREFIX) => messages.push(decode(item, BODY)?),
            Some(sk) if sk.starts_with(GOAL_PREFIX) => goals.push(decode(item, BODY)?),
            Some(sk) if sk.starts_with(LINK_PREFIX) => links.push(decode(item, BODY)?),
            _ => {}
        }
    }
    let Some(session) = session else {
        return Ok(None);
    };
    let state = state.ok_or_else(|| {
        StoreError::Unavailable(format!("session {session_id} has no conversation state"))
    })?;
    Ok(Some(SessionSnapshot {
        session,
        state,
        messages,
        goals,
        links,
    }))
}
