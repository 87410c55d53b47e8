//! Operational metrics: counts and timings with a few bounded dimensions
//! (closed sets such as an outcome or a provider, and tenant ids).
//!
//! On Lambda every observation is also written to stdout as one line of
//! CloudWatch's Embedded Metric Format: CloudWatch Logs turns it into a
//! metric, so the hot path makes no API call. Every process aggregates them
//! too, which `petraf serve` shows at `/api/admin/metrics` in Prometheus' text format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

/// The CloudWatch namespace of every metric (the alarms in template.yaml
/// name it too).
pub const NAMESPACE: &str = "Petraf";

/// Upper bounds (ms) of the timing buckets: from a cached reply to a
/// model call that times out.
const BUCKETS_MS: [u64; 10] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Metric {
    /// Chat turns by outcome (and tenant).
    Turns,
    /// From the turn's start to the first streamed text, by provider.
    FirstTokenLatency,
    /// From the turn's start to its commit, by phase.
    TurnDuration,
    /// Calls to a production model by provider, operation and outcome.
    ModelCalls,
    /// Retries of production model calls by provider.
    ModelRetries,
    TokensIn,
    TokensOut,
    /// Requests refused by a limit, by kind (and tenant).
    Refusals,
    DocumentsIndexed,
    DocumentsFailed,
    /// Extracting one uploaded document's text, by format.
    ExtractionDuration,
    /// Writes refused because the data changed meanwhile.
    StoreConflicts,
    /// Data API calls answered "the cluster is resuming" and retried.
    DataApiResumes,
    /// A tenant's monthly token budget reached its warning level or its end.
    BudgetAlerts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Metric {
    /// The CloudWatch metric name.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Turns => "Turns",
            Metric::FirstTokenLatency => "FirstTokenLatency",
            Metric::TurnDuration => "TurnDuration",
            Metric::ModelCalls => "ModelCalls",
            Metric::ModelRetries => "ModelRetries",
            Metric::TokensIn => "TokensIn",
            Metric::TokensOut => "TokensOut",
            Metric::Refusals => "Refusals",
            Metric::DocumentsIndexed => "DocumentsIndexed",
            Metric::DocumentsFailed => "DocumentsFailed",
            Metric::ExtractionDuration => "ExtractionDuration",
            Metric::StoreConflicts => "StoreConflicts",
            Metric::DataApiResumes => "DataApiResumes",
            Metric::BudgetAlerts => "BudgetAlerts",
        }
    }

    pub fn unit(self) -> Unit {
        match self {
            Metric::FirstTokenLatency | Metric::TurnDuration | Metric::ExtractionDuration => {
                Unit::Milliseconds
            }
            _ => Unit::Count,
        }
    }

    fn help(self) -> &'static str {
        match self {
            Metric::Turns => "Chat turns by outcome.",
            Metric::FirstTokenLatency => "Milliseconds from a turn's start to its first text.",
            Metric::TurnDuration => "Milliseconds from a turn's start to its commit.",
            Metric::ModelCalls => "Production model calls by provider, operation and outcome.",
            Metric::ModelRetries => "Retried production model calls.",
            Metric::TokensIn => "Model input tokens spent by chat turns.",
            Metric::TokensOut => "Model output tokens spent by chat turns.",
            Metric::Refusals => "Requests refused by a limit, by kind.",
            Metric::DocumentsIndexed => "Documents indexed.",
            Metric::DocumentsFailed => "Documents whose upload or indexing failed.",
            Metric::ExtractionDuration => "Milliseconds spent extracting a document's text.",
            Metric::StoreConflicts => "Writes refused because the data changed meanwhile.",
            Metric::DataApiResumes => "Data API calls that found the cluster resuming.",
            Metric::BudgetAlerts => "Monthly token budgets reaching their warning or end.",
        }
    }

    /// The Prometheus name: snake case, `_total` for counts, `_ms` for timings.
    fn prometheus_name(self) -> String {
        let mut snake = String::from("petraf");
        for c in self.name().chars() {
            if c.is_ascii_uppercase() {
                snake.push('_');
            }
            snake.push(c.to_ascii_lowercase());
        }
        match self.unit() {
            Unit::Count => snake + "_total",
            Unit::Milliseconds => snake + "_ms",
        }
    }
}

/// Dimension names and values, in the order given.
type Dimensions = Vec<(&'static str, String)>;

#[derive(Debug, Clone, Default)]
struct Timing {
    count: u64,
    sum_ms: u64,
    /// Observations at or under each bound of `BUCKETS_MS` (not cumulative).
    buckets: [u64; BUCKETS_MS.len()],
}

#[derive(Debug, Default)]
struct Registry {
    counts: BTreeMap<(Metric, Dimensions), u64>,
    timings: BTreeMap<(Metric, Dimensions), Timing>,
}

/// Where Embedded Metric Format lines go, when they are written at all.
#[derive(Debug, Clone)]
struct EmfSink {
    function: String,
}

static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
static EMF: OnceLock<Option<EmfSink>> = OnceLock::new();

fn registry() -> &'static Mutex<Registry> {
    REGISTRY.get_or_init(Default::default)
}

/// Turns the EMF lines on inside a Lambda function (named by the runtime's
/// `AWS_LAMBDA_FUNCTION_NAME`). Called by `telemetry::init`.
pub fn init_from_env() {
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME")
        .ok()
        .filter(|f| !f.is_empty());
    let _ = EMF.set(function.map(|function| EmfSink { function }));
}

/// Adds `n` to a count.
pub fn count(metric: Metric, dimensions: &[(&'static str, &str)], n: u64) {
    let dimensions = owned(dimensions);
    emit(metric, &dimensions, n);
    let mut registry = registry().lock().unwrap_or_else(|e| e.into_inner());
    *registry.counts.entry((metric, dimensions)).or_default() += n;
}

/// Records one timing in milliseconds.
pub fn observe_ms(metric: Metric, dimensions: &[(&'static str, &str)], ms: u64) {
    let dimensions = owned(dimensions);
    emit(metric, &dimensions, ms);
    let mut registry = registry().lock().unwrap_or_else(|e| e.into_inner());
    let timing = registry.timings.entry((metric, dimensions)).or_default();
    timing.count += 1;
    timing.sum_ms += ms;
    if let Some(i) = BUCKETS_MS.iter().position(|bound| ms <= *bound) {
        timing.buckets[i] += 1;
    }
}

fn owned(dimensions: &[(&'static str, &str)]) -> Dimensions {
    dimensions
        .iter()
        .map(|(name, value)| (*name, (*value).to_string()))
        .collect()
}

fn emit(metric: Metric, dimensions: &Dimensions, value: u64) {
    let Some(Some(sink)) = EMF.get() else {
        return;
    };
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let line = emf_line(&sink.function, metric, dimensions, value, millis);
    // One write of a whole line: the log lines share stdout.
    let _ = std::io::stdout().lock().write_all(line.as_bytes());
}

/// One observation as a line of CloudWatch's Embedded Metric Format: the
/// metric by function alone, by function and the first dimension given
/// (what the alarms watch: an outcome, a provider) and by every dimension.
pub fn emf_line(
    function: &str,
    metric: Metric,
    dimensions: &Dimensions,
    value: u64,
    timestamp_ms: u64,
) -> String {
    let names: Vec<&str> = dimensions.iter().map(|(name, _)| *name).collect();
    let mut sets = vec![json!(["Function"])];
    for take in [1, names.len()] {
        if take > 0 && take <= names.len() && sets.len() < 3 {
            let mut set = vec!["Function"];
            set.extend(&names[..take]);
            if !sets.contains(&json!(set)) {
                sets.push(json!(set));
            }
        }
    }
    let unit = match metric.unit() {
        Unit::Count => "Count",
        Unit::Milliseconds => "Milliseconds",
    };
    let mut line = Map::new();
    line.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": sets,
                "Metrics": [{"Name": metric.name(), "Unit": unit}],
            }],
        }),
    );
    line.insert("Function".into(), Value::from(function));
    for (name, value) in dimensions {
        line.insert((*name).into(), Value::from(value.as_str()));
    }
    line.insert(metric.name().into(), Value::from(value));
    let mut text = Value::Object(line).to_string();
    text.push('\n');
    text
}

/// Everything counted so far in Prometheus' text exposition format.
pub fn render_prometheus() -> String {
    let registry = registry().lock().unwrap_or_else(|e| e.into_inner());
    let mut out = String::new();
    let mut last = None;
    for ((metric, dimensions), value) in &registry.counts {
        let name = metric.prometheus_name();
        if last != Some(*metric) {
            let _ = writeln!(
                out,
                "# HELP {name} {}\n# TYPE {name} counter",
                metric.help()
            );
            last = Some(*metric);
        }
        let _ = writeln!(out, "{name}{} {value}", labels(dimensions, None));
    }
    for ((metric, dimensions), timing) in &registry.timings {
        let name = metric.prometheus_name();
        if last != Some(*metric) {
            let _ = writeln!(
                out,
                "# HELP {name} {}\n# TYPE {name} histogram",
                metric.help()
            );
            last = Some(*metric);
        }
        let mut cumulative = 0;
        for (bound, n) in BUCKETS_MS.iter().zip(timing.buckets) {
            cumulative += n;
            let le = bound.to_string();
            let _ = writeln!(
                out,
                "{name}_bucket{} {cumulative}",
                labels(dimensions, Some(&le))
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{} {}",
            labels(dimensions, Some("+Inf")),
            timing.count
        );
        let _ = writeln!(
            out,
            "{name}_sum{} {}",
            labels(dimensions, None),
            timing.sum_ms
        );
        let _ = writeln!(
            out,
            "{name}_count{} {}",
            labels(dimensions, None),
            timing.count
        );
    }
    out
}

fn labels(dimensions: &Dimensions, le: Option<&str>) -> String {
    let mut pairs: Vec<String> = dimensions
        .iter()
        .map(|(name, value)| format!("{}=\"{}\"", name.to_ascii_lowercase(), escape(value)))
        .collect();
    if let Some(le) = le {
        pairs.push(format!("le=\"{le}\""));
    }
    if pairs.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", pairs.join(","))
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The count recorded for `metric` with exactly `dimensions` (tests).
pub fn count_of(metric: Metric, dimensions: &[(&'static str, &str)]) -> u64 {
    let registry = registry().lock().unwrap_or_else(|e| e.into_inner());
    registry
        .counts
        .get(&(metric, owned(dimensions)))
        .copied()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emf_line_names_the_metric_its_unit_and_both_dimension_sets() {
        let dimensions = owned(&[("Outcome", "passed"), ("Tenant", "t1")]);
        let line = emf_line(
            "petraf-chat",
            Metric::Turns,
            &dimensions,
            1,
            1_700_000_000_000,
        );
        assert!(line.ends_with('\n') && !line.trim_end().contains('\n'));
        let v: Value = serde_json::from_str(&line).unwrap();
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Petraf");
        assert_eq!(
            directive["Dimensions"],
            json!([
                ["Function"],
                ["Function", "Outcome"],
                ["Function", "Outcome", "Tenant"]
            ])
        );
        assert_eq!(
            directive["Metrics"],
            json!([{"Name": "Turns", "Unit": "Count"}])
        );
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000u64);
        assert_eq!(v["Function"], "petraf-chat");
        assert_eq!(v["Outcome"], "passed");
        assert_eq!(v["Tenant"], "t1");
        assert_eq!(v["Turns"], 1);
    }

    #[test]
    fn one_dimension_gives_two_sets() {
        let dimensions = owned(&[("Provider", "bedrock")]);
        let line = emf_line("f", Metric::FirstTokenLatency, &dimensions, 9, 0);
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function"], ["Function", "Provider"]])
        );
    }

    #[test]
    fn a_timing_without_dimensions_is_watched_by_function() {
        let line = emf_line("f", Metric::FirstTokenLatency, &vec![], 420, 0);
        let v: Value = serde_json::from_str(&line).unwrap();
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Dimensions"], json!([["Function"]]));
        assert_eq!(directive["Metrics"][0]["Unit"], "Milliseconds");
        assert_eq!(v["FirstTokenLatency"], 420);
    }

    #[test]
    fn counts_and_timings_render_as_prometheus_text() {
        // A dimension value of its own: the registry is shared by the tests.
        count(Metric::Refusals, &[("Kind", "render-test\"kind")], 2);
        count(Metric::Refusals, &[("Kind", "render-test\"kind")], 1);
        observe_ms(Metric::ExtractionDuration, &[("Format", "render-test")], 70);
        observe_ms(
            Metric::ExtractionDuration,
            &[("Format", "render-test")],
            700_000,
        );
        let text = render_prometheus();
        assert!(
            text.contains("# TYPE petraf_refusals_total counter"),
            "{text}"
        );
        assert!(
            text.contains("petraf_refusals_total{kind=\"render-test\\\"kind\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE petraf_extraction_duration_ms histogram"),
            "{text}"
        );
        let f = "format=\"render-test\"";
        assert!(
            text.contains(&format!(
                "petraf_extraction_duration_ms_bucket{{{f},le=\"50\"}} 0"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "petraf_extraction_duration_ms_bucket{{{f},le=\"100\"}} 1"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "petraf_extraction_duration_ms_bucket{{{f},le=\"60000\"}} 1"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "petraf_extraction_duration_ms_bucket{{{f},le=\"+Inf\"}} 2"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!("petraf_extraction_duration_ms_sum{{{f}}} 700070")),
            "{text}"
        );
        assert_eq!(
            count_of(Metric::Refusals, &[("Kind", "render-test\"kind")]),
            3
        );
    }
}
