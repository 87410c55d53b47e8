//! The audit log: one partition per tenant (`AUDIT#{tenant}`), sorted by
//! write order, and a sparse GSI1 partition per session; read newest first.
//! Action, actor and time filters are filter expressions on the attributes
//! written beside each body (entries written before those attributes
//! existed match no filter). GSI1 projects only the body, so a session's
//! entries are filtered after reading them all (a session has few).
//!
//! DynamoDB has no OFFSET: a page is found by counting (Select=COUNT for
//! the total) and by skipping keys-only up to the page's start. Both read
//! the skipped items, so a listing costs read units proportional to the
//! partition's size, not the page's; admin listings only.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::Select;
use futures::{StreamExt, TryStreamExt};

use super::items::{Item, audit_item, decode, get_s, s, sdk_error};
use super::keys::{
    AUDIT_ACTION, AUDIT_ACTOR, AUDIT_AT, BODY, GSI1, GSI1_PK, GSI1_SK, PK, SK, audit_instant,
    audit_pk, audit_session_pk,
};
use super::tenants;
use super::transaction::Condition;
use crate::domain::audit::AuditEntry;
use crate::ports::state_store::{AuditPage, AuditQuery, StoreError};

/// Concurrent queries of a platform-wide listing.
const FAN_OUT: usize = 8;

pub async fn append(client: &Client, table: &str, entry: &AuditEntry) -> Result<(), StoreError> {
    let condition = Condition::absent();
    client
        .put_item()
        .table_name(table)
        .set_item(Some(audit_item(entry)?))
        .condition_expression(condition.expression)
        .send()
        .await
        .map_err(sdk_error)?;
    Ok(())
}

/// One ordered run of audit entries: a tenant's partition, or one
/// session's GSI1 partition, with the query's other filters.
#[derive(Debug, Clone)]
struct Source {
    index: Option<&'static str>,
    pk_attribute: &'static str,
    sk_attribute: &'static str,
    pk: String,
    filter: Filter,
}

/// The filter expression of a query's action, actor and time range.
#[derive(Debug, Clone, Default)]
struct Filter {
    /// `(condition, placeholder, attribute, value)`.
    terms: Vec<(&'static str, &'static str, &'static str, String)>,
}

impl Filter {
    fn of(query: &AuditQuery) -> Self {
        let mut terms = vec![];
        if let Some(action) = &query.action {
            terms.push(("#action = :action", "#action", AUDIT_ACTION, action.clone()));
        }
        if let Some(actor) = &query.actor {
            terms.push(("#actor = :actor", "#actor", AUDIT_ACTOR, actor.clone()));
        }
        if let Some(from) = query.from {
            terms.push(("#at >= :from", "#at", AUDIT_AT, audit_instant(from)));
        }
        if let Some(to) = query.to {
            terms.push(("#at < :to", "#at", AUDIT_AT, audit_instant(to)));
        }
        Filter { terms }
    }

    fn apply(&self, mut builder: QueryFluentBuilder) -> QueryFluentBuilder {
        if self.terms.is_empty() {
            return builder;
        }
        let expression: Vec<&str> = self.terms.iter().map(|t| t.0).collect();
        builder = builder.filter_expression(expression.join(" AND "));
        for (condition, name, attribute, value) in &self.terms {
            let placeholder = condition.rsplit(' ').next().unwrap_or_default();
            builder = builder
                .expression_attribute_names(*name, *attribute)
                .expression_attribute_values(placeholder, s(value));
        }
        builder
    }
}

impl Source {
    fn of(tenant_id: &str, query: &AuditQuery) -> Self {
        match query.session_id.as_deref() {
            Some(session_id) => Source {
                index: Some(GSI1),
                pk_attribute: GSI1_PK,
                sk_attribute: GSI1_SK,
                pk: audit_session_pk(tenant_id, session_id),
                // The index holds no filter attributes: see `one_session`.
                filter: Filter::default(),
            },
            None => Source {
                index: None,
                pk_attribute: PK,
                sk_attribute: SK,
                pk: audit_pk(tenant_id),
                filter: Filter::of(query),
            },
        }
    }

    fn query(&self, client: &Client, table: &str, start: Option<Item>) -> QueryFluentBuilder {
        let builder = client
            .query()
            .table_name(table)
            .set_index_name(self.index.map(String::from))
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", self.pk_attribute)
            .expression_attribute_values(":pk", s(&self.pk))
            // Newest first.
            .scan_index_forward(false)
            // Reads on the table see every committed write; a GSI cannot.
            .consistent_read(self.index.is_none())
            .set_exclusive_start_key(start);
        self.filter.apply(builder)
    }

    async fn count(&self, client: &Client, table: &str) -> Result<u64, StoreError> {
        let mut total = 0u64;
        let mut start = None;
        loop {
            let out = self
                .query(client, table, start.take())
                .select(Select::Count)
                .send()
                .await
                .map_err(sdk_error)?;
            total += out.count().max(0) as u64;
            match out.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => return Ok(total),
            }
        }
    }

    /// The key to start after so as to skip `skip` entries; `None` when
    /// the source has no more than that.
    async fn skip(
        &self,
        client: &Client,
        table: &str,
        skip: u64,
    ) -> Result<Option<Item>, StoreError> {
        let mut remaining = skip;
        let mut start: Option<Item> = None;
        while remaining > 0 {
            let out = self
                .query(client, table, start.take())
                .projection_expression("#pk")
                .limit(remaining.min(i32::MAX as u64) as i32)
                .send()
                .await
                .map_err(sdk_error)?;
            remaining -= out.count().max(0) as u64;
            match out.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => return Ok(None),
            }
        }
        Ok(start)
    }

    /// Up to `limit` entries after `start`, with their order keys.
    async fn entries(
        &self,
        client: &Client,
        table: &str,
        mut start: Option<Item>,
        limit: u64,
    ) -> Result<Vec<(String, AuditEntry)>, StoreError> {
        let mut found = vec![];
        while (found.len() as u64) < limit {
            let out = self
                .query(client, table, start.take())
                .limit((limit - found.len() as u64).min(i32::MAX as u64) as i32)
                .send()
                .await
                .map_err(sdk_error)?;
            for item in out.items() {
                let order = get_s(item, self.sk_attribute)
                    .unwrap_or_default()
                    .to_string();
                found.push((order, decode(item, BODY)?));
            }
            match out.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(found)
    }
}

pub async fn list(
    client: &Client,
    table: &str,
    query: &AuditQuery,
) -> Result<AuditPage, StoreError> {
    let per_page = u64::from(query.per_page.max(1));
    let offset = (u64::from(query.page.max(1)) - 1) * per_page;
    if query.session_id.is_some() && query.filters_entries() {
        return one_session(client, table, query, offset, per_page).await;
    }
    match &query.tenant_id {
        Some(tenant_id) => {
            let source = Source::of(tenant_id, query);
            let total = source.count(client, table).await?;
            if offset >= total {
                return Ok(AuditPage {
                    entries: vec![],
                    total,
                });
            }
            let start = match offset {
                0 => None,
                _ => match source.skip(client, table, offset).await? {
                    Some(start) => Some(start),
                    None => {
                        return Ok(AuditPage {
                            entries: vec![],
                            total,
                        });
                    }
                },
            };
            let entries = source.entries(client, table, start, per_page).await?;
            Ok(AuditPage {
                entries: entries.into_iter().map(|(_, e)| e).collect(),
                total,
            })
        }
        None => every_tenant(client, table, query, offset, per_page).await,
    }
}

/// The platform admin's listing: every tenant's partition, merged by
/// write order, newest first. Costs queries per tenant; no single
/// partition is hot.
async fn every_tenant(
    client: &Client,
    table: &str,
    query: &AuditQuery,
    offset: u64,
    per_page: u64,
) -> Result<AuditPage, StoreError> {
    let sources: Vec<Source> = tenants::list(client, table)
        .await?
        .iter()
        .map(|t| Source::of(&t.id, query))
        .collect();
    let counted: Vec<(Source, u64)> = futures::stream::iter(sources)
        .map(|source| async move {
            let count = source.count(client, table).await?;
            Ok::<_, StoreError>((source, count))
        })
        .buffer_unordered(FAN_OUT)
        .try_collect()
        .await?;
    let total = counted.iter().map(|(_, c)| c).sum();
    // The page's entries are among the first offset + per_page of each tenant.
    let wanted = offset + per_page;
    let mut merged: Vec<(String, AuditEntry)> =
        futures::stream::iter(counted.into_iter().filter(|(_, c)| *c > 0).map(|(s, _)| s))
            .map(|source| async move { source.entries(client, table, None, wanted).await })
            .buffer_unordered(FAN_OUT)
            .try_concat()
            .await?;
    merged.sort_by(|a, b| b.0.cmp(&a.0));
    let entries = merged
        .into_iter()
        .skip(offset as usize)
        .take(per_page as usize)
        .map(|(_, e)| e)
        .collect();
    Ok(AuditPage { entries, total })
}

/// A session's entries with action, actor or time filters: all of them
/// read (a session's trail is short), filtered here, newest first.
async fn one_session(
    client: &Client,
    table: &str,
    query: &AuditQuery,
    offset: u64,
    per_page: u64,
) -> Result<AuditPage, StoreError> {
    let sources: Vec<Source> = match &query.tenant_id {
        Some(tenant_id) => vec![Source::of(tenant_id, query)],
        None => tenants::list(client, table)
            .await?
            .iter()
            .map(|t| Source::of(&t.id, query))
            .collect(),
    };
    let mut found: Vec<(String, AuditEntry)> = futures::stream::iter(sources)
        .map(|source| async move { source.entries(client, table, None, u64::MAX).await })
        .buffer_unordered(FAN_OUT)
        .try_concat()
        .await?;
    found.retain(|(_, entry)| query.admits(entry));
    found.sort_by(|a, b| b.0.cmp(&a.0));
    let total = found.len() as u64;
    let entries = found
        .into_iter()
        .skip(offset as usize)
        .take(per_page as usize)
        .map(|(_, e)| e)
        .collect();
    Ok(AuditPage { entries, total })
}
