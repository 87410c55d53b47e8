//! DynamoDB's capacity units and S3's billed requests, counted by SDK
//! interceptors on the benchmark's own clients (production clients carry
//! none). moto reports no consumed capacity worth the name (fixed values,
//! none for transactions), so the units are computed from the items, as
//! DynamoDB documents them: an item's size is its attribute names plus
//! values; a write costs the larger of the item before and after.
//!
//! A write's "after" is known from a PutItem's item; an UpdateItem's is read
//! back once the HTTP request that made it has answered ([`Meter::settle`]),
//! and its "before" is the size last seen (read, written or settled).
//! Two writes of one item within a request are each charged the larger of
//! its size before the request and after it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use base64::Engine;
use petraf_core::domain::cost::{Consistency, read_half_units, write_units};
use serde_json::{Map, Value};

/// GSI1's key and projected attributes (template.yaml, StateTable).
const GSI_ATTRIBUTES: [&str; 6] = ["PK", "SK", "GSI1PK", "GSI1SK", "summary", "body"];
/// What DynamoDB adds to each index item.
const INDEX_ITEM_OVERHEAD: u64 = 100;

/// The size DynamoDB bills for one attribute value in its JSON wire form.
pub fn value_size(value: &Value) -> u64 {
    let Some((kind, v)) = value.as_object().and_then(|m| m.iter().next()) else {
        return 0;
    };
    let text = |v: &Value| v.as_str().map_or(0, |s| s.len() as u64);
    let binary = |v: &Value| {
        v.as_str().map_or(0, |s| {
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_or(s.len() as u64, |b| b.len() as u64)
        })
    };
    let list = |v: &Value, each: &dyn Fn(&Value) -> u64| {
        v.as_array().map_or(0, |a| a.iter().map(each).sum::<u64>())
    };
    match kind.as_str() {
        "S" => text(v),
        "N" => v.as_str().map_or(0, number_size),
        "B" => binary(v),
        "BOOL" | "NULL" => 1,
        "SS" => list(v, &text),
        "NS" => list(v, &|n| n.as_str().map_or(0, number_size)),
        "BS" => list(v, &binary),
        "L" => 3 + list(v, &|e| value_size(e) + 1),
        "M" => {
            3 + v.as_object().map_or(0, |m| {
                m.iter()
                    .map(|(name, e)| name.len() as u64 + value_size(e) + 1)
                    .sum()
            })
        }
        _ => 0,
    }
}

/// A number: one byte per two significant digits, plus one.
pub fn number_size(number: &str) -> u64 {
    let mantissa = number.split(['e', 'E']).next().unwrap_or_default();
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0');
    (significant.len() as u64).div_ceil(2) + 1
}

/// An item's size: every attribute's name and value.
pub fn item_size(item: &Map<String, Value>) -> u64 {
    item.iter()
        .map(|(name, value)| name.len() as u64 + value_size(value))
        .sum()
}

/// The size of the item's copy in GSI1, if it has one.
pub fn index_size(item: &Map<String, Value>) -> Option<u64> {
    item.contains_key("GSI1PK").then(|| {
        GSI_ATTRIBUTES
            .iter()
            .filter_map(|name| item.get(*name).map(|v| name.len() as u64 + value_size(v)))
            .sum::<u64>()
            + INDEX_ITEM_OVERHEAD
    })
}

/// What is known of a stored item.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Facts {
    size: u64,
    index: Option<u64>,
}

impl Facts {
    fn of(item: &Map<String, Value>) -> Self {
        Facts {
            size: item_size(item),
            index: index_size(item),
        }
    }
}

/// A write waiting for its item's size after the request.
#[derive(Debug, Clone)]
struct PendingWrite {
    table: String,
    key: Map<String, Value>,
    transactional: bool,
}

#[derive(Debug, Default)]
struct State {
    write_units: u64,
    read_half_units: u64,
    operations: HashMap<String, u64>,
    known: HashMap<String, Facts>,
    pending: Vec<PendingWrite>,
    s3_put: u64,
    s3_get: u64,
}

impl State {
    fn facts(&self, table: &str, key: &Map<String, Value>) -> Facts {
        self.known
            .get(&item_id(table, key))
            .copied()
            .unwrap_or_default()
    }

    fn charge_write(&mut self, before: Facts, after: Facts, transactional: bool) {
        self.write_units += write_units(before.size.max(after.size), transactional);
        if let Some(index) = before.index.max(after.index) {
            self.write_units += write_units(index, false);
        }
    }

    fn remember(&mut self, table: &str, item: &Map<String, Value>) {
        let key = key_of(item);
        self.known.insert(item_id(table, &key), Facts::of(item));
    }
}

fn key_of(item: &Map<String, Value>) -> Map<String, Value> {
    ["PK", "SK"]
        .iter()
        .filter_map(|k| item.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect()
}

fn item_id(table: &str, key: &Map<String, Value>) -> String {
    format!("{table}\u{0}{}", Value::Object(key_of(key)))
}

/// Counts what DynamoDB and S3 bill; one meter serves both clients.
#[derive(Debug, Clone, Default)]
pub struct Meter(Arc<Mutex<State>>);

/// The request body, kept for the response's hook.
#[derive(Debug, Clone)]
struct Sent {
    operation: String,
    body: Value,
}

impl Storable for Sent {
    type Storer = StoreReplace<Self>;
}

/// What the meter counted since it was last taken.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counted {
    pub write_units: u64,
    pub read_half_units: u64,
    pub operations: HashMap<String, u64>,
    pub s3_put: u64,
    pub s3_get: u64,
}

impl Meter {
    /// The counts so far, starting afresh (what is known of items stays).
    pub fn take(&self) -> Counted {
        let mut state = self.0.lock().unwrap();
        Counted {
            write_units: std::mem::take(&mut state.write_units),
            read_half_units: std::mem::take(&mut state.read_half_units),
            operations: std::mem::take(&mut state.operations),
            s3_put: std::mem::take(&mut state.s3_put),
            s3_get: std::mem::take(&mut state.s3_get),
        }
    }

    /// Counts a request the SDK did not send (a browser's PUT to a presigned URL).
    pub fn count_s3_put(&self) {
        self.0.lock().unwrap().s3_put += 1;
    }

    /// Charges the updates of the request that just answered: each
    /// item's size after is read with `reader` (a client without this meter).
    pub async fn settle(&self, reader: &aws_sdk_dynamodb::Client) {
        let pending = std::mem::take(&mut self.0.lock().unwrap().pending);
        let mut after: HashMap<String, Facts> = HashMap::new();
        for write in &pending {
            let id = item_id(&write.table, &write.key);
            if after.contains_key(&id) {
                continue;
            }
            let read = reader
                .get_item()
                .table_name(&write.table)
                .set_key(Some(
                    write
                        .key
                        .iter()
                        .map(|(k, v)| (k.clone(), attribute(v)))
                        .collect(),
                ))
                .consistent_read(true)
                .send()
                .await
                .expect("read back an updated item");
            let facts = read.item().map_or_else(Facts::default, |item| {
                let json: Map<String, Value> = item
                    .iter()
                    .map(|(k, v)| (k.clone(), attribute_json(v)))
                    .collect();
                Facts::of(&json)
            });
            after.insert(id, facts);
        }
        let mut state = self.0.lock().unwrap();
        for write in &pending {
            let id = item_id(&write.table, &write.key);
            let before = state.known.get(&id).copied().unwrap_or_default();
            state.charge_write(before, after[&id], write.transactional);
        }
        for (id, facts) in after {
            state.known.insert(id, facts);
        }
    }

    fn dynamodb(&self, sent: &Sent, answer: Option<&Value>) {
        let mut state = self.0.lock().unwrap();
        *state.operations.entry(sent.operation.clone()).or_default() += 1;
        let body = &sent.body;
        let table = body["TableName"].as_str().unwrap_or_default().to_string();
        let strong = body["ConsistentRead"] == Value::Bool(true);
        let consistency = if strong {
            Consistency::Strong
        } else {
            Consistency::Eventual
        };
        let empty = Map::new();
        match sent.operation.as_str() {
            "GetItem" => {
                let item = answer.and_then(|a| a["Item"].as_object());
                let size = item.map_or(0, item_size);
                state.read_half_units += read_half_units(size, consistency);
                if let Some(item) = item {
                    state.remember(&table, item);
                }
            }
            "Query" => {
                let items: Vec<&Map<String, Value>> = answer
                    .and_then(|a| a["Items"].as_array())
                    .map(|items| items.iter().filter_map(|i| i.as_object()).collect())
                    .unwrap_or_default();
                let size = items.iter().map(|i| item_size(i)).sum();
                state.read_half_units += read_half_units(size, consistency);
                let projected = body.get("ProjectionExpression").is_some();
                if body.get("IndexName").is_none() && !projected {
                    for item in items {
                        state.remember(&table, item);
                    }
                }
            }
            "BatchGetItem" => {
                for (table, request) in body["RequestItems"].as_object().unwrap_or(&empty) {
                    let consistency = if request["ConsistentRead"] == Value::Bool(true) {
                        Consistency::Strong
                    } else {
                        Consistency::Eventual
                    };
                    let keys = request["Keys"].as_array().map_or(0, Vec::len);
                    let found: Vec<&Map<String, Value>> = answer
                        .and_then(|a| a["Responses"][table].as_array())
                        .map(|items| items.iter().filter_map(|i| i.as_object()).collect())
                        .unwrap_or_default();
                    for item in &found {
                        state.read_half_units += read_half_units(item_size(item), consistency);
                    }
                    let missing = keys.saturating_sub(found.len()) as u64;
                    state.read_half_units += missing * read_half_units(0, consistency);
                    for item in found {
                        state.remember(table, item);
                    }
                }
            }
            "TransactGetItems" => {
                let responses = answer.and_then(|a| a["Responses"].as_array());
                for (i, _) in body["TransactItems"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    let item = responses
                        .and_then(|r| r.get(i))
                        .and_then(|r| r["Item"].as_object());
                    let size = item.map_or(0, item_size);
                    state.read_half_units += read_half_units(size, Consistency::Transactional);
                }
            }
            "PutItem" | "UpdateItem" | "DeleteItem" => {
                state.write(&sent.operation, body, false, answer.is_some());
            }
            "TransactWriteItems" => {
                for entry in body["TransactItems"].as_array().into_iter().flatten() {
                    let Some((kind, request)) = entry.as_object().and_then(|m| m.iter().next())
                    else {
                        continue;
                    };
                    let operation = match kind.as_str() {
                        "Put" => "PutItem",
                        "Update" => "UpdateItem",
                        "Delete" => "DeleteItem",
                        _ => "ConditionCheck",
                    };
                    state.write(operation, request, true, answer.is_some());
                }
            }
            _ => {}
        }
    }
}

impl State {
    /// One item written (`succeeded`: the request was answered without an
    /// error, so its change happened).
    fn write(&mut self, operation: &str, request: &Value, transactional: bool, succeeded: bool) {
        let table = request["TableName"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let empty = Map::new();
        let item = request["Item"].as_object().unwrap_or(&empty);
        let key = match operation {
            "PutItem" => key_of(item),
            _ => request["Key"].as_object().cloned().unwrap_or_default(),
        };
        let before = self.facts(&table, &key);
        match operation {
            "PutItem" if succeeded => {
                let after = Facts::of(item);
                self.charge_write(before, after, transactional);
                self.remember(&table, item);
            }
            "UpdateItem" if succeeded => self.pending.push(PendingWrite {
                table,
                key,
                transactional,
            }),
            "DeleteItem" if succeeded => {
                self.charge_write(before, Facts::default(), transactional);
                self.known.remove(&item_id(&table, &key));
            }
            // A condition check, or a write refused by its condition: charged
            // as writing the item as it is.
            _ => self.charge_write(before, before, transactional),
        }
    }
}

/// DynamoDB JSON back into the SDK's attribute values (keys only: S, N, B).
fn attribute(value: &Value) -> aws_sdk_dynamodb::types::AttributeValue {
    use aws_sdk_dynamodb::types::AttributeValue;
    let (kind, v) = value
        .as_object()
        .and_then(|m| m.iter().next())
        .expect("a typed key");
    let text = v.as_str().unwrap_or_default().to_string();
    match kind.as_str() {
        "N" => AttributeValue::N(text),
        "B" => AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .unwrap_or_default(),
        )),
        _ => AttributeValue::S(text),
    }
}

/// An SDK attribute value in DynamoDB JSON, as the wire carries it.
fn attribute_json(value: &aws_sdk_dynamodb::types::AttributeValue) -> Value {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    let b64 = |b: &aws_sdk_dynamodb::primitives::Blob| {
        Value::String(base64::engine::general_purpose::STANDARD.encode(b.as_ref()))
    };
    let strings = |v: &[String]| Value::Array(v.iter().cloned().map(Value::String).collect());
    match value {
        A::S(s) => serde_json::json!({"S": s}),
        A::N(n) => serde_json::json!({"N": n}),
        A::B(b) => serde_json::json!({"B": b64(b)}),
        A::Bool(b) => serde_json::json!({"BOOL": b}),
        A::Null(_) => serde_json::json!({"NULL": true}),
        A::Ss(v) => serde_json::json!({"SS": strings(v)}),
        A::Ns(v) => serde_json::json!({"NS": strings(v)}),
        A::Bs(v) => serde_json::json!({"BS": v.iter().map(b64).collect::<Vec<_>>()}),
        A::L(v) => serde_json::json!({"L": v.iter().map(attribute_json).collect::<Vec<_>>()}),
        A::M(m) => {
            serde_json::json!({"M": m.iter().map(|(k, v)| (k.clone(), attribute_json(v))).collect::<Map<_, _>>()})
        }
        _ => Value::Null,
    }
}

impl Intercept for Meter {
    fn name(&self) -> &'static str {
        "CostMeter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        match request.headers().get("x-amz-target") {
            Some(target) => {
                let operation = target.rsplit('.').next().unwrap_or(target).to_string();
                let body = request
                    .body()
                    .bytes()
                    .and_then(|b| serde_json::from_slice(b).ok())
                    .unwrap_or(Value::Null);
                cfg.interceptor_state().store_put(Sent { operation, body });
            }
            // S3 (REST): priced by method; a bucket GET with list-type is a LIST.
            None => {
                let mut state = self.0.lock().unwrap();
                match request.method() {
                    "PUT" | "POST" => state.s3_put += 1,
                    "GET" if request.uri().contains("list-type=") => state.s3_put += 1,
                    "GET" | "HEAD" => state.s3_get += 1,
                    _ => {}
                }
            }
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(sent) = cfg.load::<Sent>() {
            let response = context.response();
            let answer: Option<Value> = response
                .status()
                .is_success()
                .then(|| response.body().bytes())
                .flatten()
                .and_then(|b| serde_json::from_slice(b).ok());
            self.dynamodb(sent, answer.as_ref());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn sizes_follow_dynamodbs_rules() {
        // Names and values: "PK" (2) + "T#1" (3), "n" (1) + 12345 (3 digits' bytes... 5 digits → 3 + 1).
        let item = map(json!({"PK": {"S": "T#1"}, "n": {"N": "12345"}}));
        assert_eq!(item_size(&item), 2 + 3 + 1 + 4);
        assert_eq!(
            number_size("-0.00120"),
            2,
            "leading and trailing zeros do not count"
        );
        // A map: 3 bytes, then each name + value + 1; a list: 3, then each value + 1.
        assert_eq!(value_size(&json!({"M": {"a": {"S": "xy"}}})), 3 + 1 + 2 + 1);
        assert_eq!(
            value_size(&json!({"L": [{"BOOL": true}, {"NULL": true}]})),
            3 + 2 + 2
        );
        assert_eq!(
            value_size(&json!({"B": "AAEC"})),
            3,
            "binary is counted decoded"
        );
    }

    #[test]
    fn only_items_with_an_index_key_cost_an_index_write() {
        let plain = map(json!({"PK": {"S": "a"}, "SK": {"S": "b"}, "x": {"S": "long"}}));
        assert_eq!(index_size(&plain), None);
        let indexed = map(
            json!({"PK": {"S": "a"}, "SK": {"S": "b"}, "GSI1PK": {"S": "c"}, "x": {"S": "not projected"}}),
        );
        assert_eq!(index_size(&indexed), Some(2 + 1 + 2 + 1 + 6 + 1 + 100));
    }

    fn sent(operation: &str, body: Value) -> Sent {
        Sent {
            operation: operation.into(),
            body,
        }
    }

    #[test]
    fn a_put_costs_its_larger_image_and_a_transaction_doubles_it() {
        let meter = Meter::default();
        let big = "x".repeat(1500);
        let item = json!({"PK": {"S": "p"}, "SK": {"S": "s"}, "v": {"S": big}});
        meter.dynamodb(
            &sent("PutItem", json!({"TableName": "t", "Item": item})),
            Some(&json!({})),
        );
        assert_eq!(meter.take().write_units, 2, "1.5 KB is two units");
        // Shrinking it still costs the larger, earlier image; in a transaction, twice.
        let small = json!({"PK": {"S": "p"}, "SK": {"S": "s"}});
        meter.dynamodb(
            &sent(
                "TransactWriteItems",
                json!({"TransactItems": [{"Put": {"TableName": "t", "Item": small}}]}),
            ),
            Some(&json!({})),
        );
        assert_eq!(meter.take().write_units, 4);
        // Now the item is small: a delete costs one unit.
        meter.dynamodb(
            &sent("DeleteItem", json!({"TableName": "t", "Key": small})),
            Some(&json!({})),
        );
        assert_eq!(meter.take().write_units, 1);
    }

    #[test]
    fn reads_round_per_request_or_per_item_by_operation() {
        let meter = Meter::default();
        let item =
            |sk: &str| json!({"PK": {"S": "p"}, "SK": {"S": sk}, "v": {"S": "x".repeat(3000)}});
        // A query adds its two 3 KB items up (6 KB → 2 blocks), strongly: 4 halves.
        meter.dynamodb(
            &sent("Query", json!({"TableName": "t", "ConsistentRead": true})),
            Some(&json!({"Items": [item("a"), item("b")]})),
        );
        assert_eq!(meter.take().read_half_units, 4);
        // A batch rounds each item alone, and a missing key still costs: 3 blocks, eventually.
        meter.dynamodb(
            &sent(
                "BatchGetItem",
                json!({"RequestItems": {"t": {"Keys": [{}, {}, {}]}}}),
            ),
            Some(&json!({"Responses": {"t": [item("a"), item("b")]}})),
        );
        assert_eq!(meter.take().read_half_units, 3);
        // A get of a missing item: one eventually consistent block.
        meter.dynamodb(
            &sent("GetItem", json!({"TableName": "t"})),
            Some(&json!({})),
        );
        assert_eq!(meter.take().read_half_units, 1);
    }
}
