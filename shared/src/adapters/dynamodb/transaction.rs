//! TransactWriteItems: building the items and running them, retrying
//! cancellations caused by contention rather than by a failed condition.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};

use super::items::{Item, sdk_error, unavailable};
use super::keys::PK;
use crate::domain::ids::new_id;
use crate::ports::state_store::StoreError;

/// DynamoDB's limit on the items of one transaction.
pub const MAX_TRANSACTION_ITEMS: usize = 100;
/// Attempts when a transaction is cancelled only by contention.
const ATTEMPTS: u32 = 5;

/// A condition with its placeholders.
#[derive(Debug, Clone, Default)]
pub struct Condition {
    pub expression: String,
    pub names: Vec<(String, String)>,
    pub values: Vec<(String, AttributeValue)>,
}

impl Condition {
    /// The item must not exist yet.
    pub fn absent() -> Self {
        Condition {
            expression: format!("attribute_not_exists({PK})"),
            ..Default::default()
        }
    }

    /// Attribute `attribute` must hold `value`.
    pub fn equals(attribute: &str, value: AttributeValue) -> Self {
        Condition {
            expression: "#cond_attr = :cond_value".into(),
            names: vec![("#cond_attr".into(), attribute.into())],
            values: vec![(":cond_value".into(), value)],
        }
    }

    /// The item is absent or its `attribute` holds `value`.
    pub fn absent_or_equals(attribute: &str, value: AttributeValue) -> Self {
        let mut c = Condition::equals(attribute, value);
        c.expression = format!("attribute_not_exists({PK}) OR {}", c.expression);
        c
    }
}

/// A transaction under construction.
#[derive(Debug, Default)]
pub struct Transaction {
    table: String,
    items: Vec<TransactWriteItem>,
}

/// Why a transaction did not commit.
#[derive(Debug)]
pub enum TransactError {
    /// A condition failed; `failed` holds the positions of the items whose
    /// condition failed. Nothing was written.
    ConditionFailed {
        failed: Vec<usize>,
    },
    Store(StoreError),
}

impl From<StoreError> for TransactError {
    fn from(e: StoreError) -> Self {
        TransactError::Store(e)
    }
}

impl Transaction {
    pub fn new(table: &str) -> Self {
        Transaction {
            table: table.into(),
            items: vec![],
        }
    }

    /// The items so far: the position of the next one.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn put(&mut self, item: Item, condition: Option<Condition>) -> Result<(), StoreError> {
        let mut put = Put::builder().table_name(&self.table).set_item(Some(item));
        if let Some(c) = condition {
            put = put.condition_expression(c.expression);
            for (k, v) in c.names {
                put = put.expression_attribute_names(k, v);
            }
            for (k, v) in c.values {
                put = put.expression_attribute_values(k, v);
            }
        }
        let put = put.build().map_err(unavailable)?;
        self.items
            .push(TransactWriteItem::builder().put(put).build());
        Ok(())
    }

    /// An UpdateItem; `expression` may use the condition's placeholders
    /// and its own from `names`/`values`.
    pub fn update(
        &mut self,
        key: Item,
        expression: String,
        names: Vec<(String, String)>,
        values: Vec<(String, AttributeValue)>,
        condition: Option<Condition>,
    ) -> Result<(), StoreError> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(expression);
        let condition = condition.unwrap_or_default();
        if !condition.expression.is_empty() {
            update = update.condition_expression(condition.expression);
        }
        for (k, v) in names.into_iter().chain(condition.names) {
            update = update.expression_attribute_names(k, v);
        }
        for (k, v) in values.into_iter().chain(condition.values) {
            update = update.expression_attribute_values(k, v);
        }
        let update = update.build().map_err(unavailable)?;
        self.items
            .push(TransactWriteItem::builder().update(update).build());
        Ok(())
    }

    pub fn delete(&mut self, key: Item, condition: Condition) -> Result<(), StoreError> {
        let mut delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .condition_expression(condition.expression);
        for (k, v) in condition.names {
            delete = delete.expression_attribute_names(k, v);
        }
        for (k, v) in condition.values {
            delete = delete.expression_attribute_values(k, v);
        }
        let delete = delete.build().map_err(unavailable)?;
        self.items
            .push(TransactWriteItem::builder().delete(delete).build());
        Ok(())
    }

    /// Commits every item or none.
    pub async fn commit(self, client: &Client) -> Result<(), TransactError> {
        if self.items.is_empty() {
            return Ok(());
        }
        if self.items.len() > MAX_TRANSACTION_ITEMS {
            return Err(StoreError::Unavailable(format!(
                "a change of {} items exceeds DynamoDB's limit of {MAX_TRANSACTION_ITEMS} per transaction",
                self.items.len()
            ))
            .into());
        }
        let mut backoff = Duration::from_millis(10);
        let mut token = new_id();
        for attempt in 1..=ATTEMPTS {
            // The SDK's own retries of an attempt reuse its token, so a commit
            // whose answer was lost is not re-applied. A cancelled attempt
            // gets a new token; one still in progress keeps it.
            let sent = client
                .transact_write_items()
                .set_transact_items(Some(self.items.clone()))
                .client_request_token(&token)
                .send()
                .await;
            let error = match sent {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            match classify(&error) {
                Outcome::ConditionFailed(failed) => {
                    return Err(TransactError::ConditionFailed { failed });
                }
                outcome @ (Outcome::Contention | Outcome::InProgress) if attempt < ATTEMPTS => {
                    if matches!(outcome, Outcome::Contention) {
                        token = new_id();
                    }
                    tokio::time::sleep(backoff + jitter(backoff)).await;
                    backoff *= 2;
                }
                Outcome::Contention | Outcome::InProgress => {
                    // Throttling or contention that outlasted the retries is
                    // a transient fault, not the caller's conflict.
                    return Err(StoreError::Unavailable(
                        "DynamoDB kept cancelling the transaction (contention or throttling)"
                            .into(),
                    )
                    .into());
                }
                Outcome::Other => return Err(sdk_error(error).into()),
            }
        }
        unreachable!("the last attempt returns")
    }
}

enum Outcome {
    ConditionFailed(Vec<usize>),
    /// Cancelled by concurrent transactions or throttling: safe to retry.
    Contention,
    /// The same token is still being processed (a lost answer): retry it.
    InProgress,
    Other,
}

fn classify(error: &aws_sdk_dynamodb::error::SdkError<TransactWriteItemsError>) -> Outcome {
    match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
            let codes: Vec<&str> = cancelled
                .cancellation_reasons()
                .iter()
                .map(|r| r.code().unwrap_or("None"))
                .collect();
            let failed: Vec<usize> = codes
                .iter()
                .enumerate()
                .filter(|(_, c)| **c == "ConditionalCheckFailed")
                .map(|(i, _)| i)
                .collect();
            let retryable = |c: &&str| {
                matches!(
                    *c,
                    "None"
                        | "TransactionConflict"
                        | "ThrottlingError"
                        | "ProvisionedThroughputExceeded"
                )
            };
            if !failed.is_empty() {
                Outcome::ConditionFailed(failed)
            } else if !codes.is_empty() && codes.iter().all(retryable) {
                Outcome::Contention
            } else {
                Outcome::Other
            }
        }
        Some(TransactWriteItemsError::TransactionInProgressException(_)) => Outcome::InProgress,
        _ => Outcome::Other,
    }
}

fn jitter(base: Duration) -> Duration {
    use rand::Rng;
    base.mul_f64(rand::thread_rng().gen_range(0.0..1.0))
}
