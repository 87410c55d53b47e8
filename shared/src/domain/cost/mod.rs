//! What AWS bills a deployment for, as arithmetic on counted usage: the
//! capacity units of DynamoDB items, Lambda's rounded durations, and the
//! cost of a thousand sessions at the prices in [`prices`]. The cost
//! benchmark (BENCHMARKS.md, "Cost per 1,000 sessions") counts the usage.

pub mod prices;

use std::collections::BTreeMap;
use std::time::Duration;

use prices::{ChatModelPrice, EmbedModelPrice};

/// A write request unit covers an item of up to 1 KB.
pub const WRITE_UNIT_BYTES: u64 = 1024;
/// A read request unit covers a strongly consistent read of up to 4 KB.
pub const READ_UNIT_BYTES: u64 = 4096;

/// How DynamoDB reads an item, which sets the units a read costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consistency {
    /// Half a unit per 4 KB.
    Eventual,
    /// One unit per 4 KB.
    Strong,
    /// Inside TransactGetItems: two units per 4 KB.
    Transactional,
}

/// Write request units of writing one item of `item_bytes` (the larger of
/// its size before and after): one per KB started, at least one, doubled
/// inside TransactWriteItems.
pub fn write_units(item_bytes: u64, transactional: bool) -> u64 {
    let units = item_bytes.div_ceil(WRITE_UNIT_BYTES).max(1);
    if transactional { units * 2 } else { units }
}

/// Read request units of reading `bytes` in one go, in half units (so an
/// eventually consistent read stays an integer): per 4 KB started, at least
/// one block. A Query adds up its items before rounding; a GetItem or each
/// key of a BatchGetItem rounds alone, and a missing item still costs a block.
pub fn read_half_units(bytes: u64, consistency: Consistency) -> u64 {
    let blocks = bytes.div_ceil(READ_UNIT_BYTES).max(1);
    blocks
        * match consistency {
            Consistency::Eventual => 1,
            Consistency::Strong => 2,
            Consistency::Transactional => 4,
        }
}

/// The milliseconds Lambda bills an invocation for: its duration rounded
/// up to the millisecond, at least one.
pub fn billed_ms(duration: Duration) -> u64 {
    (duration.as_nanos().div_ceil(1_000_000) as u64).max(1)
}

/// GB-seconds of `billed_ms` at `memory_mb` (Lambda counts 1024 MB a GB).
pub fn gb_seconds(billed_ms: u64, memory_mb: u32) -> f64 {
    billed_ms as f64 / 1000.0 * f64::from(memory_mb) / 1024.0
}

/// One function's invocations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LambdaUsage {
    pub memory_mb: u32,
    pub invocations: u64,
    /// Invocations behind the HTTP API (the chat function's URL is free).
    pub through_http_api: u64,
    pub billed_ms: u64,
}

impl LambdaUsage {
    pub fn gb_seconds(&self) -> f64 {
        gb_seconds(self.billed_ms, self.memory_mb)
    }
}

/// Everything counted over some sessions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    pub dynamodb_write_units: u64,
    pub dynamodb_read_half_units: u64,
    /// PUT, COPY, POST and LIST.
    pub s3_put_requests: u64,
    /// GET and HEAD.
    pub s3_get_requests: u64,
    /// By function name (as template.yaml names it).
    pub lambda: BTreeMap<String, LambdaUsage>,
    pub data_api_calls: u64,
    pub chat_input_tokens: u64,
    pub chat_output_tokens: u64,
    pub embedding_tokens: u64,
}

impl Usage {
    /// Records one invocation of `function` lasting `duration`.
    pub fn invoke(&mut self, function: &str, memory_mb: u32, http_api: bool, duration: Duration) {
        let entry = self.lambda.entry(function.to_string()).or_default();
        entry.memory_mb = memory_mb;
        entry.invocations += 1;
        entry.through_http_api += u64::from(http_api);
        entry.billed_ms += billed_ms(duration);
    }

    pub fn dynamodb_read_units(&self) -> f64 {
        self.dynamodb_read_half_units as f64 / 2.0
    }
}

/// The models a deployment pays for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Models {
    pub chat: ChatModelPrice,
    pub embed: EmbedModelPrice,
}

/// One line of a bill: how much of something a session uses and what a
/// thousand sessions cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub item: String,
    pub per_session: f64,
    pub unit: &'static str,
    pub per_thousand_sessions: f64,
}

/// What `usage`, counted over `sessions` sessions, costs per thousand.
pub fn bill(usage: &Usage, sessions: u64, models: Models) -> Vec<Line> {
    use prices::*;
    let per = |n: f64| n / sessions.max(1) as f64;
    let line = |item: String, amount: f64, unit, price_per_unit: f64| Line {
        item,
        per_session: per(amount),
        unit,
        per_thousand_sessions: per(amount) * 1000.0 * price_per_unit,
    };
    let mut lines = vec![
        line(
            "DynamoDB write request units".into(),
            usage.dynamodb_write_units as f64,
            "WRU",
            DYNAMODB_PER_MILLION_WRITE_UNITS / 1e6,
        ),
        line(
            "DynamoDB read request units".into(),
            usage.dynamodb_read_units(),
            "RRU",
            DYNAMODB_PER_MILLION_READ_UNITS / 1e6,
        ),
        line(
            "S3 PUT/LIST requests".into(),
            usage.s3_put_requests as f64,
            "requests",
            S3_PER_THOUSAND_PUT_REQUESTS / 1e3,
        ),
        line(
            "S3 GET requests".into(),
            usage.s3_get_requests as f64,
            "requests",
            S3_PER_THOUSAND_GET_REQUESTS / 1e3,
        ),
    ];
    for (function, lambda) in &usage.lambda {
        lines.push(line(
            format!("Lambda {function} ({} MB)", lambda.memory_mb),
            lambda.gb_seconds(),
            "GB-s",
            LAMBDA_ARM64_PER_GB_SECOND,
        ));
    }
    let invocations: u64 = usage.lambda.values().map(|l| l.invocations).sum();
    let through_api: u64 = usage.lambda.values().map(|l| l.through_http_api).sum();
    lines.push(line(
        "Lambda requests".into(),
        invocations as f64,
        "requests",
        LAMBDA_PER_MILLION_REQUESTS / 1e6,
    ));
    lines.push(line(
        "API Gateway HTTP API requests".into(),
        through_api as f64,
        "requests",
        HTTP_API_PER_MILLION_REQUESTS / 1e6,
    ));
    lines.push(line(
        "RDS Data API calls".into(),
        usage.data_api_calls as f64,
        "calls",
        DATA_API_PER_MILLION_REQUESTS / 1e6,
    ));
    lines.push(line(
        format!("{} input tokens", models.chat.model),
        usage.chat_input_tokens as f64,
        "tokens",
        models.chat.input_per_million / 1e6,
    ));
    lines.push(line(
        format!("{} output tokens", models.chat.model),
        usage.chat_output_tokens as f64,
        "tokens",
        models.chat.output_per_million / 1e6,
    ));
    lines.push(line(
        format!("{} tokens", models.embed.model),
        usage.embedding_tokens as f64,
        "tokens",
        models.embed.input_per_million / 1e6,
    ));
    lines
}

/// The cost of every line together.
pub fn total(lines: &[Line]) -> f64 {
    lines.iter().map(|l| l.per_thousand_sessions).sum()
}

/// A monthly cost that does not grow with sessions.
#[derive(Debug, Clone, PartialEq)]
pub struct FixedLine {
    pub item: String,
    pub per_month: f64,
}

/// What the vector database costs a month however many sessions run:
/// `min_acu` (the template's `VectorMinCapacity`) around the clock, or, at
/// 0 (auto-pause, the template's default), the lowest running capacity for
/// the `awake_hours` it is woken; plus `secrets` Secrets Manager secrets.
pub fn monthly_fixed(min_acu: f64, awake_hours: f64, secrets: u32) -> Vec<FixedLine> {
    use prices::*;
    let aurora = if min_acu > 0.0 {
        FixedLine {
            item: format!("Aurora Serverless v2 at its minimum {min_acu} ACU, always on"),
            per_month: min_acu * HOURS_PER_MONTH * AURORA_SERVERLESS_V2_PER_ACU_HOUR,
        }
    } else {
        FixedLine {
            item: format!(
                "Aurora Serverless v2 auto-paused, awake {awake_hours} h at {AURORA_RUNNING_MIN_ACU} ACU"
            ),
            per_month: awake_hours * AURORA_RUNNING_MIN_ACU * AURORA_SERVERLESS_V2_PER_ACU_HOUR,
        }
    };
    vec![
        aurora,
        FixedLine {
            item: format!("Secrets Manager, {secrets} secrets"),
            per_month: f64::from(secrets) * SECRETS_MANAGER_PER_SECRET_MONTH,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_costs_a_unit_per_kilobyte_started_and_double_in_a_transaction() {
        assert_eq!(write_units(0, false), 1, "even an empty item costs a unit");
        assert_eq!(write_units(1024, false), 1);
        assert_eq!(write_units(1025, false), 2);
        assert_eq!(write_units(3000, true), 6);
    }

    #[test]
    fn a_read_costs_half_a_unit_per_four_kilobytes_eventually_and_more_when_stronger() {
        assert_eq!(read_half_units(0, Consistency::Eventual), 1);
        assert_eq!(read_half_units(4096, Consistency::Eventual), 1);
        assert_eq!(read_half_units(4097, Consistency::Eventual), 2);
        assert_eq!(read_half_units(4097, Consistency::Strong), 4);
        assert_eq!(read_half_units(100, Consistency::Transactional), 4);
    }

    #[test]
    fn lambda_bills_each_started_millisecond() {
        assert_eq!(billed_ms(Duration::from_micros(1)), 1);
        assert_eq!(billed_ms(Duration::from_micros(1000)), 1);
        assert_eq!(billed_ms(Duration::from_micros(1001)), 2);
        assert_eq!(
            billed_ms(Duration::ZERO),
            1,
            "an invocation bills at least 1 ms"
        );
        assert!((gb_seconds(1000, 2048) - 2.0).abs() < 1e-12);
        assert!((gb_seconds(500, 256) - 0.125).abs() < 1e-12);
    }

    #[test]
    fn invocations_add_up_per_function() {
        let mut usage = Usage::default();
        usage.invoke("chat-stream", 256, false, Duration::from_micros(1500));
        usage.invoke("chat-stream", 256, false, Duration::from_micros(500));
        usage.invoke("session", 256, true, Duration::from_millis(4));
        let chat = &usage.lambda["chat-stream"];
        assert_eq!(
            (chat.invocations, chat.through_http_api, chat.billed_ms),
            (2, 0, 3)
        );
        assert_eq!(usage.lambda["session"].through_http_api, 1);
    }

    fn models() -> Models {
        Models {
            chat: ChatModelPrice {
                model: "chat",
                input_per_million: 1.0,
                output_per_million: 5.0,
            },
            embed: EmbedModelPrice {
                model: "embed",
                input_per_million: 0.02,
            },
        }
    }

    fn cost_of(lines: &[Line], item: &str) -> f64 {
        lines
            .iter()
            .find(|l| l.item.starts_with(item))
            .unwrap_or_else(|| panic!("no line {item}"))
            .per_thousand_sessions
    }

    #[test]
    fn a_bill_divides_by_the_sessions_and_prices_a_thousand() {
        let mut usage = Usage {
            dynamodb_write_units: 200,
            dynamodb_read_half_units: 100,
            s3_put_requests: 2,
            chat_input_tokens: 20_000,
            chat_output_tokens: 2_000,
            embedding_tokens: 1_000,
            data_api_calls: 40,
            ..Usage::default()
        };
        // 2 sessions, 1 s each at 1024 MB: 1 GB-s per session.
        usage.invoke("chat-stream", 1024, false, Duration::from_secs(1));
        usage.invoke("chat-stream", 1024, false, Duration::from_secs(1));
        let lines = bill(&usage, 2, models());
        let wru = lines.iter().find(|l| l.unit == "WRU").unwrap();
        assert_eq!(wru.per_session, 100.0);
        // 100 WRU × 1,000 sessions × $0.625 per million.
        assert!((wru.per_thousand_sessions - 0.0625).abs() < 1e-12);
        // 25 RRU (50 half units) × 1,000 × $0.125 per million.
        assert!((cost_of(&lines, "DynamoDB read") - 0.003_125).abs() < 1e-12);
        // 10,000 input tokens × 1,000 × $1 per million = $10; output 1,000 × 1,000 × $5 = $5.
        assert!((cost_of(&lines, "chat input") - 10.0).abs() < 1e-9);
        assert!((cost_of(&lines, "chat output") - 5.0).abs() < 1e-9);
        assert!(
            (cost_of(&lines, "Lambda chat-stream") - 1000.0 * prices::LAMBDA_ARM64_PER_GB_SECOND)
                .abs()
                < 1e-12
        );
        assert_eq!(
            cost_of(&lines, "API Gateway"),
            0.0,
            "the chat function's URL goes around the HTTP API"
        );
        let sum: f64 = lines.iter().map(|l| l.per_thousand_sessions).sum();
        assert_eq!(total(&lines), sum);
        assert!(total(&lines) > 15.0);
    }

    #[test]
    fn the_database_costs_its_minimum_around_the_clock_or_its_awake_hours() {
        let always = monthly_fixed(0.5, 0.0, 3);
        assert!((always[0].per_month - 0.5 * 730.0 * 0.12).abs() < 1e-9);
        assert!((always[1].per_month - 1.2).abs() < 1e-9);
        let paused = monthly_fixed(0.0, 100.0, 3);
        assert!((paused[0].per_month - 100.0 * 0.5 * 0.12).abs() < 1e-9);
    }
}
