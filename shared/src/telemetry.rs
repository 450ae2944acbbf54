//! Logging set-up. In Lambda every line is one JSON object with the keys Powertools for
//! AWS Lambda made standard (`level`, `message`, `timestamp`, `service`, `cold_start`,
//! `function_name`, `function_memory_size`, `function_arn`, `function_request_id`,
//! `xray_trace_id`, `correlation_id`), then the event's own fields, so the CloudWatch
//! Logs Insights queries people already have work unchanged. Locally: compact text.
//!
//! The per-invocation keys come from the [`INVOCATION_SPAN`] that `shared::lambda` opens
//! around each invocation, so a line is tagged with its own request even if invocations
//! ever overlap.
//!
//! Lambda's advanced logging controls: `AWS_LAMBDA_LOG_LEVEL` (set when the function's
//! `LoggingConfig` has an application log level) wins over `LOG_LEVEL` and `RUST_LOG`:
//! Lambda drops the lines below it anyway. `AWS_LAMBDA_LOG_FORMAT` needs nothing: like
//! Powertools, the lines are JSON whatever it says, with the `level` and RFC 3339
//! `timestamp` keys that Lambda's JSON format reads.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormattedFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

use crate::credentials::Runtime;
use crate::settings::EnvSettings;

/// The name of the span around one invocation; its fields become keys of every line
/// logged inside it.
pub const INVOCATION_SPAN: &str = "invocation";

/// Initialises the global subscriber once (a second call, in tests, keeps the first).
pub fn init(runtime: Runtime, env: &EnvSettings, service: &str) {
    let builder = tracing_subscriber::fmt().with_env_filter(filter(env));
    let result = match runtime {
        Runtime::Lambda => {
            builder.fmt_fields(JsonFields::new()).event_format(PowertoolsJson::from_env(env, service)).try_init()
        }
        Runtime::Local => builder.compact().try_init(),
    };
    let _ = result;
}

/// `POWERTOOLS_SERVICE_NAME`, or the function's binary name: the `service` key of every
/// log line and the `service` dimension of every metric.
pub fn service_name(env: &EnvSettings, binary: &str) -> String {
    env.non_empty("POWERTOOLS_SERVICE_NAME").unwrap_or_else(|| binary.to_string())
}

/// `AWS_LAMBDA_LOG_LEVEL`, then `LOG_LEVEL`, then `RUST_LOG` (filter syntax), else `info`.
fn filter(env: &EnvSettings) -> EnvFilter {
    let lambda_level = env.non_empty("AWS_LAMBDA_LOG_LEVEL").map(|level| match level.to_ascii_lowercase().as_str() {
        "fatal" => "error".to_string(),
        "warning" => "warn".to_string(),
        other => other.to_string(),
    });
    lambda_level
        .or_else(|| env.non_empty("LOG_LEVEL"))
        .or_else(|| env.non_empty("RUST_LOG"))
        .and_then(|level| EnvFilter::try_new(level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"))
}

/// One JSON object per line, Powertools' keys first.
pub struct PowertoolsJson {
    service: String,
    function_name: Option<String>,
    function_memory_size: Option<u64>,
}

impl PowertoolsJson {
    pub fn from_env(env: &EnvSettings, service: &str) -> Self {
        Self {
            service: service.to_string(),
            function_name: env.non_empty("AWS_LAMBDA_FUNCTION_NAME"),
            function_memory_size: env.non_empty("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").and_then(|m| m.parse().ok()),
        }
    }

    /// The line for one event, given the fields of the invocation it happened in.
    fn line(&self, level: &Level, fields: Map<String, Value>, invocation: Option<Map<String, Value>>) -> Value {
        let mut line = Map::new();
        line.insert("level".into(), Value::from(level.as_str()));
        line.insert("timestamp".into(), Value::from(now_rfc3339()));
        line.insert("service".into(), Value::from(self.service.as_str()));
        if let Some(name) = &self.function_name {
            line.insert("function_name".into(), Value::from(name.as_str()));
        }
        if let Some(memory) = self.function_memory_size {
            line.insert("function_memory_size".into(), Value::from(memory));
        }
        line.extend(invocation.unwrap_or_default());
        // The event's own fields never replace the keys above.
        for (key, value) in fields {
            line.entry(key).or_insert(value);
        }
        line.entry("message").or_insert(Value::from(""));
        Value::Object(line)
    }
}

impl<S, N> FormatEvent<S, N> for PowertoolsJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mut fields = FieldMap::default();
        event.record(&mut fields);
        // The invocation span's fields, as `JsonFields` stored them when it was created.
        let invocation = ctx.event_scope().and_then(|scope| {
            scope.from_root().filter(|span| span.name() == INVOCATION_SPAN).find_map(|span| {
                let extensions = span.extensions();
                let formatted = extensions.get::<FormattedFields<N>>()?;
                match serde_json::from_str(formatted.as_str()) {
                    Ok(Value::Object(fields)) => Some(fields),
                    _ => None,
                }
            })
        });
        writeln!(writer, "{}", self.line(event.metadata().level(), fields.0, invocation))
    }
}

/// Now, as RFC 3339 in UTC with milliseconds (what Lambda's JSON log format reads).
fn now_rfc3339() -> String {
    let millis = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default();
    aws_smithy_types::DateTime::from_millis(millis)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

/// An event's fields as JSON values.
#[derive(Default)]
struct FieldMap(Map<String, Value>);

impl Visit for FieldMap {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.insert(field.name().into(), Value::from(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().into(), Value::from(format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines_of(env: &[(&str, &str)], log: impl FnOnce()) -> Vec<Value> {
        let env = EnvSettings::from_pairs(env.iter().copied());
        let capture = Capture::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter(&env))
            .fmt_fields(JsonFields::new())
            .event_format(PowertoolsJson::from_env(&env, &service_name(&env, "token-generator")))
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, log);
        let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
        text.lines().map(|line| serde_json::from_str(line).expect("one JSON object per line")).collect()
    }

    #[test]
    fn lines_carry_the_powertools_keys_and_the_invocation_they_belong_to() {
        let env = [("AWS_LAMBDA_FUNCTION_NAME", "stack-TokenGenerator-1"), ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")];
        let lines = lines_of(&env, || {
            tracing::info!("before any invocation");
            let span = tracing::error_span!(
                INVOCATION_SPAN,
                function_request_id = "req-1",
                xray_trace_id = "Root=1-abc",
                correlation_id = "api-1",
                cold_start = true
            );
            let _entered = span.enter();
            tracing::warn!(route = "/token", status = 503u64, "request");
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
        let lines = lines_of(&[], || tracing::info!(service = "spoofed", level = "ERROR", "hello"));
        assert_eq!(lines[0]["service"], "token-generator");
        assert_eq!(lines[0]["level"], "INFO");
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
}
