//! Logging set-up. In Lambda every line is one JSON object with the keys Powertools for
//! AWS Lambda made standard (`level`, `message`, `timestamp`, `service`, `cold_start`,
//! `function_name`, `function_memory_size`, `function_arn`, `function_request_id`,
//! `xray_trace_id`, `correlation_id`), then the event's own fields, so the CloudWatch
//! Logs Insights queries people already have work unchanged. Locally: compact text.
//!
//! The per-invocation keys come from the [`Invocation`] that `shared::lambda` scopes each
//! invocation's task with (a task-local, so a line is tagged with its own request even if
//! invocations ever overlap); they are serialised once per invocation, not per line.
//!
//! Lambda's advanced logging controls: `AWS_LAMBDA_LOG_LEVEL` (set when the function's
//! `LoggingConfig` has an application log level) wins over `LOG_LEVEL` and `RUST_LOG`:
//! Lambda drops the lines below it anyway. `AWS_LAMBDA_LOG_FORMAT` needs nothing: like
//! Powertools, the lines are JSON whatever it says, with the `level` and RFC 3339
//! `timestamp` keys that Lambda's JSON format reads.

use std::fmt;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

use crate::settings::{EnvSettings, Runtime};

tokio::task_local! {
    /// The invocation the current task is answering (see [`Invocation::scope`]).
    static INVOCATION: Invocation;
}

/// The keys of one invocation, as a JSON fragment (`,"cold_start":true,…`) ready to be
/// spliced into each of its lines.
#[derive(Clone, Debug, Default)]
pub struct Invocation {
    fragment: String,
}

impl Invocation {
    /// The Powertools keys of one invocation; absent values are left out.
    pub fn new(
        cold_start: bool,
        function_arn: &str,
        function_request_id: &str,
        xray_trace_id: Option<&str>,
        correlation_id: Option<&str>,
    ) -> Self {
        let mut fragment = format!(",\"cold_start\":{cold_start}");
        for (key, value) in [
            ("function_arn", Some(function_arn)),
            ("function_request_id", Some(function_request_id)),
            ("xray_trace_id", xray_trace_id),
            ("correlation_id", correlation_id),
        ] {
            if let Some(value) = value {
                push_pair(&mut fragment, key, &Value::from(value));
            }
        }
        Self { fragment }
    }

    /// Runs `future` (one invocation) with its lines tagged with these keys.
    pub async fn scope<F: std::future::Future>(self, future: F) -> F::Output {
        INVOCATION.scope(self, future).await
    }

    /// Runs `f` with its lines tagged with these keys (tests, synchronous code).
    pub fn sync_scope<R>(self, f: impl FnOnce() -> R) -> R {
        INVOCATION.sync_scope(self, f)
    }
}

/// The keys every line sets itself; an event field of the same name is left out.
const RESERVED_KEYS: &[&str] = &[
    "level",
    "timestamp",
    "service",
    "function_name",
    "function_memory_size",
    "cold_start",
    "function_arn",
    "function_request_id",
    "xray_trace_id",
    "correlation_id",
];

/// Appends `,"key":value`.
fn push_pair(out: &mut String, key: &str, value: &Value) {
    out.push(',');
    out.push_str(&Value::from(key).to_string());
    out.push(':');
    out.push_str(&value.to_string());
}

/// Initialises the global subscriber once (a second call, in tests, keeps the first).
pub fn init(runtime: Runtime, env: &EnvSettings, service: &str) {
    // The formatter lets every level through; the `Targets` layer decides.
    let builder = tracing_subscriber::fmt().with_max_level(LevelFilter::TRACE);
    let result = match runtime {
        Runtime::Lambda => {
            builder.event_format(PowertoolsJson::from_env(env, service)).finish().with(filter(env)).try_init()
        }
        // Colour only for a person at a terminal: a log piped to a file or a test reads plain text.
        Runtime::Local => builder
            .compact()
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .finish()
            .with(filter(env))
            .try_init(),
    };
    let _ = result;
}

/// `POWERTOOLS_SERVICE_NAME`, or the function's binary name: the `service` key of every
/// log line and the `service` dimension of every metric.
pub fn service_name(env: &EnvSettings, binary: &str) -> String {
    env.non_empty("POWERTOOLS_SERVICE_NAME").unwrap_or_else(|| binary.to_string())
}

/// `AWS_LAMBDA_LOG_LEVEL`, then `LOG_LEVEL`, then `RUST_LOG`, else `info`: a level or
/// `target=level` directives (`info,livekit_lambda_shared=debug`). A `Targets` filter, not
/// `EnvFilter`: the same for levels and targets, without span and field directives, whose
/// regex engine cost the zipped bootstrap 0.14–0.20 MB (issue 19, docs/benchmarks.md).
/// Unparsable: `info`.
fn filter(env: &EnvSettings) -> Targets {
    let lambda_level = env.non_empty("AWS_LAMBDA_LOG_LEVEL").map(|level| match level.to_ascii_lowercase().as_str() {
        "fatal" => "error".to_string(),
        "warning" => "warn".to_string(),
        other => other.to_string(),
    });
    lambda_level
        .or_else(|| env.non_empty("LOG_LEVEL"))
        .or_else(|| env.non_empty("RUST_LOG"))
        .and_then(|directives| directives.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

/// One JSON object per line, Powertools' keys first, written straight into the line
/// (no intermediate map: this runs for every line of every request).
pub struct PowertoolsJson {
    /// `,"service":…,"function_name":…,"function_memory_size":…`, fixed for the process.
    process_fragment: String,
}

impl PowertoolsJson {
    pub fn from_env(env: &EnvSettings, service: &str) -> Self {
        let mut process_fragment = String::new();
        push_pair(&mut process_fragment, "service", &Value::from(service));
        if let Some(name) = env.non_empty("AWS_LAMBDA_FUNCTION_NAME") {
            push_pair(&mut process_fragment, "function_name", &Value::from(name));
        }
        if let Some(memory) = env.non_empty("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").and_then(|m| m.parse::<u64>().ok()) {
            push_pair(&mut process_fragment, "function_memory_size", &Value::from(memory));
        }
        Self { process_fragment }
    }
}

impl<S, N> FormatEvent<S, N> for PowertoolsJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mut line = String::with_capacity(512);
        line.push_str("{\"level\":\"");
        line.push_str(event.metadata().level().as_str());
        line.push_str("\",\"timestamp\":\"");
        line.push_str(&now_rfc3339());
        line.push('"');
        line.push_str(&self.process_fragment);
        let _ = INVOCATION.try_with(|invocation| line.push_str(&invocation.fragment));
        let mut fields = FieldWriter { line: &mut line, has_message: false };
        event.record(&mut fields);
        if !fields.has_message {
            line.push_str(",\"message\":\"\"");
        }
        line.push('}');
        writeln!(writer, "{line}")
    }
}

/// Where a cold start's time goes: each [`init_phase`] call ends the phase named, and
/// `shared::lambda` logs them all in one `init phases` line (µs each) when the init
/// phase is over. The bench reads that line for its cold-start breakdown.
static INIT_PHASES: Mutex<Vec<(&'static str, std::time::Instant)>> = Mutex::new(Vec::new());

/// Ends the init phase `name` (the time since the previous mark belongs to it).
pub fn init_phase(name: &'static str) {
    if let Ok(mut phases) = INIT_PHASES.lock() {
        // A process has one init; later calls (a credential refresh) are not part of it.
        if phases.len() < 16 {
            phases.push((name, std::time::Instant::now()));
        }
    }
}

/// Logs the init phases marked since `started` (the first line of `main`), once.
pub fn log_init_phases(started: std::time::Instant, started_at: SystemTime) {
    let Ok(mut phases) = INIT_PHASES.lock() else { return };
    let mut previous = started;
    let mut fields = String::new();
    for (name, at) in phases.drain(..) {
        let micros = at.saturating_duration_since(previous).as_micros();
        fields.push_str(&format!("{}{name}={micros}", if fields.is_empty() { "" } else { " " }));
        previous = at;
    }
    let main_at_unix_us = started_at.duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or_default();
    tracing::info!(
        main_at_unix_us,
        phases_us = fields.as_str(),
        total_us = previous.saturating_duration_since(started).as_micros() as u64,
        "init phases"
    );
}

/// A log writer that keeps what it is given, for tests that read the lines back:
/// `tracing_subscriber::fmt().with_writer(move || capture.clone())`. Test support only
/// (the `test-support` feature): no binary links it.
#[cfg(any(test, feature = "test-support"))]
#[derive(Clone, Debug, Default)]
pub struct CapturedLogs(std::sync::Arc<Mutex<Vec<u8>>>);

#[cfg(any(test, feature = "test-support"))]
impl CapturedLogs {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

#[cfg(any(test, feature = "test-support"))]
impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Now, as RFC 3339 in UTC with milliseconds (what Lambda's JSON log format reads).
fn now_rfc3339() -> String {
    rfc3339(SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default())
}

/// Milliseconds since the epoch as RFC 3339 in UTC (`2026-11-29T23:05:00.123Z`).
pub fn rfc3339(millis: i64) -> String {
    aws_smithy_types::DateTime::from_millis(millis)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

/// Appends an event's fields to its line, leaving out the reserved keys.
struct FieldWriter<'a> {
    line: &'a mut String,
    has_message: bool,
}

impl FieldWriter<'_> {
    fn write(&mut self, field: &Field, value: Value) {
        let name = field.name();
        if RESERVED_KEYS.contains(&name) {
            return;
        }
        self.has_message |= name == "message";
        push_pair(self.line, name, &value);
    }
}

impl Visit for FieldWriter<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.write(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.write(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.write(field, Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.write(field, Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.write(field, Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.write(field, Value::from(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.write(field, Value::from(format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(env: &[(&str, &str)], log: impl FnOnce()) -> Vec<Value> {
        let env = EnvSettings::from_pairs(env.iter().copied());
        let capture = CapturedLogs::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(LevelFilter::TRACE)
            .event_format(PowertoolsJson::from_env(&env, &service_name(&env, "token-generator")))
            .with_writer(move || writer.clone())
            .finish()
            .with(filter(&env));
        tracing::subscriber::with_default(subscriber, log);
        let text = capture.text();
        text.lines().map(|line| serde_json::from_str(line).expect("one JSON object per line")).collect()
    }

    #[test]
    fn lines_carry_the_powertools_keys_and_the_invocation_they_belong_to() {
        let env = [("AWS_LAMBDA_FUNCTION_NAME", "stack-TokenGenerator-1"), ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")];
        let lines = lines_of(&env, || {
            tracing::info!("before any invocation");
            let invocation = Invocation::new(true, "arn:aws:lambda:x", "req-1", Some("Root=1-abc"), Some("api-1"));
            invocation.sync_scope(|| tracing::warn!(route = "/token", status = 503u64, "request"));
        });
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["message"], "before any invocation");
        assert_eq!(lines[0]["service"], "token-generator");
        assert!(lines[0].get("function_request_id").is_none(), "no request outside an invocation");
        let line = &lines[1];
        for (key, value) in [
            ("level", Value::from("WARN")),
            ("message", Value::from("request")),
            ("service", Value::from("token-generator")),
            ("function_name", Value::from("stack-TokenGenerator-1")),
            ("function_memory_size", Value::from(128)),
            ("function_arn", Value::from("arn:aws:lambda:x")),
            ("function_request_id", Value::from("req-1")),
            ("xray_trace_id", Value::from("Root=1-abc")),
            ("correlation_id", Value::from("api-1")),
            ("cold_start", Value::from(true)),
            ("route", Value::from("/token")),
            ("status", Value::from(503)),
        ] {
            assert_eq!(line[key], value, "{key} in {line}");
        }
        let timestamp = line["timestamp"].as_str().unwrap();
        assert!(
            aws_smithy_types::DateTime::from_str(timestamp, aws_smithy_types::date_time::Format::DateTime).is_ok(),
            "RFC 3339: {timestamp}"
        );
    }

    #[test]
    fn an_event_field_never_replaces_a_standard_key() {
        let lines = lines_of(&[], || {
            Invocation::new(false, "arn", "req-2", None, None).sync_scope(|| {
                tracing::info!(service = "spoofed", level = "ERROR", function_request_id = "req-x", "hello \"quoted\"")
            })
        });
        assert_eq!(lines[0]["service"], "token-generator");
        assert_eq!(lines[0]["level"], "INFO");
        assert_eq!(lines[0]["function_request_id"], "req-2");
        assert_eq!(lines[0]["message"], "hello \"quoted\"");
        assert!(lines[0].get("xray_trace_id").is_none(), "absent, not null: {}", lines[0]);
    }

    #[test]
    fn lambda_log_level_wins_and_the_service_name_can_be_set() {
        let env = [("AWS_LAMBDA_LOG_LEVEL", "WARN"), ("LOG_LEVEL", "debug"), ("POWERTOOLS_SERVICE_NAME", "tokens")];
        let lines = lines_of(&env, || {
            tracing::info!("dropped");
            tracing::warn!("kept");
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0]["message"], "kept");
        assert_eq!(lines[0]["service"], "tokens");
        let fatal = lines_of(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")], || {
            tracing::warn!("dropped");
            tracing::error!("kept");
        });
        assert_eq!(fatal.len(), 1);
        let debug = lines_of(&[("LOG_LEVEL", "debug")], || tracing::debug!("kept"));
        assert_eq!(debug.len(), 1);
    }

    #[test]
    fn target_directives_filter_by_crate_and_nonsense_means_info() {
        let ours = lines_of(&[("RUST_LOG", "warn,livekit_lambda_shared=debug")], || {
            tracing::debug!("kept");
            tracing::debug!(target: "hyper", "dropped");
            tracing::warn!(target: "hyper", "kept");
        });
        assert_eq!(ours.iter().map(|l| l["message"].as_str().unwrap()).collect::<Vec<_>>(), ["kept", "kept"]);
        let other = lines_of(&[("RUST_LOG", "error,hyper=debug")], || tracing::info!("dropped"));
        assert!(other.is_empty(), "{other:?}");
        let nonsense = lines_of(&[("LOG_LEVEL", "loud=please=now")], || {
            tracing::debug!("dropped");
            tracing::info!("kept");
        });
        assert_eq!(nonsense.len(), 1, "{nonsense:?}");
    }
}
