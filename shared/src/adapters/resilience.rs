//! Fault handling shared by the real model adapters: timeouts, bounded
//! retries with exponential backoff and jitter, and a meter that records
//! tokens and latency of every call, failed or cancelled ones included.
//!
//! Retries happen only while a call is being opened, never once text has
//! been streamed: a reply cut mid-way is an error, not a second reply.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures::{Stream, StreamExt};
use rand::Rng;
use tokio::time::{Instant, sleep, timeout_at};

use crate::domain::message::Usage;
use crate::ports::chat_model::{ModelError, StreamPiece, TextStream};
use crate::telemetry::metrics::{self, Metric};

/// Timeouts and retry bounds of model calls (`config::model_resilience`
/// reads them from the environment).
#[derive(Debug, Clone, PartialEq)]
pub struct Resilience {
    /// Establishing a connection to the provider.
    pub connect_timeout: Duration,
    /// From sending a streamed request to its first piece of text.
    pub first_token_timeout: Duration,
    /// A whole call, retries and streaming included.
    pub call_timeout: Duration,
    /// Retries after the first attempt (429, 5xx, connection failures).
    pub max_retries: u32,
    /// The first backoff; each retry doubles it, up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for Resilience {
    fn default() -> Self {
        Resilience {
            connect_timeout: Duration::from_secs(5),
            first_token_timeout: Duration::from_secs(20),
            call_timeout: Duration::from_secs(90),
            max_retries: 2,
            base_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
        }
    }
}

impl Resilience {
    /// The wait before retry number `retry` (0-based): exponential with
    /// jitter in its upper half, and never shorter than the server's
    /// Retry-After.
    pub fn backoff(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let exponential = self
            .base_backoff
            .saturating_mul(2u32.saturating_pow(retry))
            .min(self.max_backoff);
        let jittered = exponential.mul_f64(rand::thread_rng().gen_range(0.5..=1.0));
        retry_after.map_or(jittered, |after| after.max(jittered))
    }

    /// Runs `attempt` until it succeeds, fails for good, runs out of
    /// retries or of the call's time.
    pub async fn call<T, F, Fut>(
        &self,
        meter: &mut CallMeter,
        mut attempt: F,
    ) -> Result<T, ModelError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let deadline = Instant::now() + self.call_timeout;
        let (value, _) = self.retrying(meter, deadline, None, &mut attempt).await?;
        Ok(value)
    }

    async fn retrying<T, F, Fut>(
        &self,
        meter: &mut CallMeter,
        deadline: Instant,
        attempt_limit: Option<Duration>,
        attempt: &mut F,
    ) -> Result<(T, Instant), ModelError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let mut retries = 0;
        loop {
            meter.attempts += 1;
            let started = Instant::now();
            let limit = attempt_limit.map_or(deadline, |d| (started + d).min(deadline));
            let failure = match timeout_at(limit, attempt()).await {
                Err(_) => return Err(meter.failed(ModelError::Timeout)),
                Ok(Ok(value)) => return Ok((value, started)),
                Ok(Err(failure)) => failure,
            };
            if !failure.retryable || retries >= self.max_retries {
                return Err(meter.failed(failure.error));
            }
            let wait = self.backoff(retries, failure.retry_after);
            if Instant::now() + wait >= deadline {
                // The server asks for more time than the call has left.
                return Err(meter.failed(failure.error));
            }
            tracing::debug!(retry = retries + 1, wait_ms = wait.as_millis() as u64, error = %failure.error, "retrying a model call");
            sleep(wait).await;
            retries += 1;
        }
    }

    /// Opens a streamed reply with retries, then guards it: the first text
    /// must come within the first-token timeout, the rest within the call
    /// timeout. Dropping the returned stream drops the upstream one, which
    /// closes its connection.
    pub async fn stream<F, Fut>(
        &self,
        mut meter: CallMeter,
        mut open: F,
    ) -> Result<TextStream, ModelError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<TextStream, Failure>>,
    {
        let deadline = Instant::now() + self.call_timeout;
        let first_token = self.first_token_timeout;
        let (inner, opened_at) = self
            .retrying(&mut meter, deadline, Some(first_token), &mut open)
            .await?;
        let guard = StreamGuard {
            inner,
            first_text_by: (opened_at + first_token).min(deadline),
            deadline,
            seen_text: false,
            finished: false,
            meter,
        };
        Ok(Box::pin(futures::stream::unfold(guard, StreamGuard::next)))
    }
}

/// A failed attempt and whether another one may succeed.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub error: ModelError,
    pub retryable: bool,
    pub retry_after: Option<Duration>,
}

impl Failure {
    pub fn fatal(error: ModelError) -> Self {
        Failure {
            error,
            retryable: false,
            retry_after: None,
        }
    }

    pub fn transient(error: ModelError, retry_after: Option<Duration>) -> Self {
        Failure {
            error,
            retryable: true,
            retry_after,
        }
    }

    /// An HTTP error status: 429 and 5xx may pass, anything else will not.
    pub fn from_status(status: u16, retry_after: Option<Duration>, detail: &str) -> Self {
        let detail: String = detail.chars().take(300).collect();
        match status {
            429 => Failure::transient(ModelError::RateLimited, retry_after),
            408 | 504 => Failure::transient(ModelError::Timeout, retry_after),
            500..=599 => Failure::transient(
                ModelError::Upstream(format!("HTTP {status}: {detail}")),
                retry_after,
            ),
            _ => Failure::fatal(ModelError::Upstream(format!("HTTP {status}: {detail}"))),
        }
    }
}

impl From<ModelError> for Failure {
    fn from(error: ModelError) -> Self {
        Failure::fatal(error)
    }
}

/// A Retry-After value: seconds (fractions allowed) or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .ok()
}

/// What one model call cost; logged once, when the call ends or is dropped.
#[derive(Debug)]
pub struct CallMeter {
    provider: &'static str,
    operation: &'static str,
    model: String,
    started: Instant,
    usage: Usage,
    attempts: u32,
    outcome: Option<String>,
}

impl CallMeter {
    pub fn start(
        provider: &'static str,
        operation: &'static str,
        model: impl Into<String>,
    ) -> Self {
        CallMeter {
            provider,
            operation,
            model: model.into(),
            started: Instant::now(),
            usage: Usage::default(),
            attempts: 0,
            outcome: None,
        }
    }

    pub fn add_usage(&mut self, usage: Usage) {
        self.usage += usage;
    }

    pub fn succeeded(&mut self) {
        self.outcome.get_or_insert_with(|| "ok".into());
    }

    /// Records the error and hands it back.
    pub fn failed(&mut self, error: ModelError) -> ModelError {
        self.outcome.get_or_insert_with(|| error.code().into());
        error
    }
}

impl Drop for CallMeter {
    fn drop(&mut self) {
        let provider = ("Provider", self.provider);
        let outcome = self.outcome.as_deref().unwrap_or("cancelled");
        metrics::count(
            Metric::ModelCalls,
            &[
                provider,
                ("Operation", self.operation),
                ("Outcome", outcome),
            ],
            1,
        );
        if self.attempts > 1 {
            metrics::count(
                Metric::ModelRetries,
                &[provider],
                u64::from(self.attempts - 1),
            );
        }
        tracing::info!(
            provider = self.provider,
            operation = self.operation,
            model = %self.model,
            outcome = self.outcome.as_deref().unwrap_or("cancelled"),
            attempts = self.attempts,
            tokens_input = self.usage.input,
            tokens_output = self.usage.output,
            latency_ms = self.started.elapsed().as_millis() as u64,
            "model call"
        );
    }
}

type PieceStream = Pin<Box<dyn Stream<Item = Result<StreamPiece, ModelError>> + Send>>;

struct StreamGuard {
    inner: PieceStream,
    first_text_by: Instant,
    deadline: Instant,
    seen_text: bool,
    finished: bool,
    meter: CallMeter,
}

impl StreamGuard {
    async fn next(mut self) -> Option<(Result<StreamPiece, ModelError>, Self)> {
        if self.finished {
            return None;
        }
        let limit = if self.seen_text {
            self.deadline
        } else {
            self.first_text_by
        };
        let item = match timeout_at(limit, self.inner.next()).await {
            Err(_) => Err(ModelError::Timeout),
            Ok(None) => {
                self.meter.succeeded();
                return None;
            }
            Ok(Some(item)) => item,
        };
        match &item {
            Ok(StreamPiece::Text(t)) if !t.is_empty() => self.seen_text = true,
            Ok(StreamPiece::Usage(u)) => self.meter.add_usage(*u),
            Ok(StreamPiece::Text(_) | StreamPiece::Verdict { .. }) => {}
            Err(e) => {
                self.meter.failed(e.clone());
                self.finished = true;
            }
        }
        Some((item, self))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn quick() -> Resilience {
        Resilience {
            connect_timeout: Duration::from_secs(1),
            first_token_timeout: Duration::from_millis(200),
            call_timeout: Duration::from_secs(2),
            max_retries: 2,
            base_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
        }
    }

    #[test]
    fn backoff_grows_is_capped_and_honours_retry_after() {
        let r = quick();
        for retry in 0..6 {
            let d = r.backoff(retry, None);
            let full = Duration::from_millis(5 * 2u64.pow(retry)).min(Duration::from_millis(20));
            assert!(d >= full / 2 && d <= full, "{retry}: {d:?}");
        }
        assert_eq!(
            r.backoff(0, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("soon"), None);
        let later = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        let d = parse_retry_after(&later).unwrap();
        assert!(d > Duration::from_secs(25) && d <= Duration::from_secs(30));
    }

    #[test]
    fn statuses_map_to_model_errors() {
        assert_eq!(
            Failure::from_status(429, None, "").error,
            ModelError::RateLimited
        );
        assert!(Failure::from_status(503, None, "down").retryable);
        assert!(!Failure::from_status(400, None, "bad").retryable);
        assert!(matches!(
            Failure::from_status(401, None, "no").error,
            ModelError::Upstream(_)
        ));
    }

    #[tokio::test]
    async fn transient_failures_are_retried_a_bounded_number_of_times() {
        let tries = Arc::new(AtomicU32::new(0));
        let mut meter = CallMeter::start("test", "call", "m");
        let result: Result<(), _> = quick()
            .call(&mut meter, || {
                tries.fetch_add(1, Ordering::SeqCst);
                async { Err(Failure::transient(ModelError::RateLimited, None)) }
            })
            .await;
        assert_eq!(result, Err(ModelError::RateLimited));
        assert_eq!(tries.load(Ordering::SeqCst), 3);

        tries.store(0, Ordering::SeqCst);
        let result = quick()
            .call(&mut meter, || {
                let n = tries.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n == 0 {
                        Err(Failure::transient(ModelError::Upstream("503".into()), None))
                    } else {
                        Ok(n)
                    }
                }
            })
            .await;
        assert_eq!(result, Ok(1));
    }

    #[tokio::test]
    async fn fatal_failures_and_long_retry_afters_are_not_retried() {
        let tries = AtomicU32::new(0);
        let mut meter = CallMeter::start("test", "call", "m");
        let result: Result<(), _> = quick()
            .call(&mut meter, || {
                tries.fetch_add(1, Ordering::SeqCst);
                async {
                    Err(Failure::transient(
                        ModelError::RateLimited,
                        Some(Duration::from_secs(60)),
                    ))
                }
            })
            .await;
        assert_eq!(result, Err(ModelError::RateLimited));
        assert_eq!(
            tries.load(Ordering::SeqCst),
            1,
            "60 s exceeds the call's budget"
        );
    }

    #[tokio::test]
    async fn a_stream_without_text_in_time_times_out() {
        let stream = quick()
            .stream(CallMeter::start("test", "coach", "m"), || async {
                let pending: TextStream = Box::pin(futures::stream::pending());
                Ok(pending)
            })
            .await
            .unwrap();
        let items: Vec<_> = stream.collect().await;
        assert_eq!(items, vec![Err(ModelError::Timeout)]);
    }

    #[tokio::test]
    async fn a_stream_error_ends_the_stream() {
        let stream = quick()
            .stream(CallMeter::start("test", "coach", "m"), || async {
                let items: TextStream = Box::pin(futures::stream::iter(vec![
                    Ok(StreamPiece::Text("Hi".into())),
                    Err(ModelError::Upstream("cut".into())),
                    Ok(StreamPiece::Text("never".into())),
                ]));
                Ok(items)
            })
            .await
            .unwrap();
        let items: Vec<_> = stream.collect().await;
        assert_eq!(items.len(), 2);
        assert!(items[1].is_err());
    }
}
