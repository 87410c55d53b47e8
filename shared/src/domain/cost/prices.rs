//! Every price the cost benchmark uses, in one place: AWS on-demand prices
//! in us-east-1 and the list prices of the default models, in US dollars.
//!
//! Written down on [`PRICES_AS_OF`] from the published price pages as then
//! known, without fetching them (the build machine has no network). Check
//! each against its page before quoting a figure to anyone: aws.amazon.com
//! `/dynamodb/pricing/on-demand/`, `/s3/pricing/`, `/lambda/pricing/`,
//! `/api-gateway/pricing/`, `/rds/aurora/pricing/`, `/secrets-manager/pricing/`,
//! `/bedrock/pricing/`, and openai.com/api/pricing.

/// The day these prices were written down.
pub const PRICES_AS_OF: &str = "2025-11-01";
/// The region they are for.
pub const REGION: &str = "us-east-1";
/// Hours in AWS's billing month (365 × 24 / 12).
pub const HOURS_PER_MONTH: f64 = 730.0;

// DynamoDB on-demand, Standard table class (halved on 2024-11-01).
pub const DYNAMODB_PER_MILLION_WRITE_UNITS: f64 = 0.625;
pub const DYNAMODB_PER_MILLION_READ_UNITS: f64 = 0.125;
pub const DYNAMODB_STORAGE_PER_GB_MONTH: f64 = 0.25;
/// Point-in-time recovery (the template turns it on), per GB-month of table.
pub const DYNAMODB_PITR_PER_GB_MONTH: f64 = 0.20;

// S3 Standard.
/// PUT, COPY, POST and LIST requests.
pub const S3_PER_THOUSAND_PUT_REQUESTS: f64 = 0.005;
/// GET, SELECT and every other request (DELETE is free).
pub const S3_PER_THOUSAND_GET_REQUESTS: f64 = 0.0004;
pub const S3_STORAGE_PER_GB_MONTH: f64 = 0.023;

// Lambda on arm64 (Graviton), first pricing tier.
pub const LAMBDA_ARM64_PER_GB_SECOND: f64 = 0.000_013_333_4;
pub const LAMBDA_PER_MILLION_REQUESTS: f64 = 0.20;

/// API Gateway HTTP APIs, first 300 million requests a month (each 512 KB
/// metered as one). The chat function's URL costs nothing extra.
pub const HTTP_API_PER_MILLION_REQUESTS: f64 = 1.00;

/// The RDS Data API, first billion requests a month (a payload over 32 KB
/// counts as one request per 32 KB started, which the benchmark does not model).
pub const DATA_API_PER_MILLION_REQUESTS: f64 = 0.35;

// Aurora Serverless v2, Aurora Standard configuration.
/// One Aurora capacity unit for an hour: billed per second while the
/// cluster runs, whatever the traffic, so a fixed cost, not a per-session one.
pub const AURORA_SERVERLESS_V2_PER_ACU_HOUR: f64 = 0.12;
pub const AURORA_STORAGE_PER_GB_MONTH: f64 = 0.10;
pub const AURORA_IO_PER_MILLION_REQUESTS: f64 = 0.20;
/// The lowest capacity a running (not paused) Serverless v2 cluster bills.
pub const AURORA_RUNNING_MIN_ACU: f64 = 0.5;

/// Secrets Manager, per secret per month (JWT secret, platform admin key,
/// the database's master secret; the OpenAI key is a fourth).
pub const SECRETS_MANAGER_PER_SECRET_MONTH: f64 = 0.40;
pub const SECRETS_MANAGER_PER_TEN_THOUSAND_CALLS: f64 = 0.05;

/// A chat model's on-demand list price, per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChatModelPrice {
    pub model: &'static str,
    pub input_per_million: f64,
    pub output_per_million: f64,
}

/// An embedding model's on-demand list price, per million input tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EmbedModelPrice {
    pub model: &'static str,
    pub input_per_million: f64,
}

/// The template's default coach (`BedrockChatModel`), through the `us`
/// cross-Region inference profile, on demand.
pub const CLAUDE_HAIKU_4_5: ChatModelPrice = ChatModelPrice {
    model: "anthropic.claude-haiku-4-5-20251001-v1:0",
    input_per_million: 1.00,
    output_per_million: 5.00,
};

/// The template's default embedder (`BedrockEmbedModel`).
pub const TITAN_EMBED_TEXT_V2: EmbedModelPrice = EmbedModelPrice {
    model: "amazon.titan-embed-text-v2:0",
    input_per_million: 0.02,
};

/// A tenant's default `llm_model` with `ModelProvider=openai`.
pub const GPT_4O_MINI: ChatModelPrice = ChatModelPrice {
    model: "gpt-4o-mini",
    input_per_million: 0.15,
    output_per_million: 0.60,
};

/// The OpenAI embedder's default.
pub const TEXT_EMBEDDING_3_SMALL: EmbedModelPrice = EmbedModelPrice {
    model: "text-embedding-3-small",
    input_per_million: 0.02,
};
