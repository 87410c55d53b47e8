//! A lambda_runtime hello world: the smallest Rust function, against which
//! `scripts/lambda/bench.py` measures the five functions' package size,
//! init time and memory.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<_, Error>(event.payload)
    }))
    .await
}
