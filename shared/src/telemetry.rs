//! Logging set-up: JSON lines in Lambda (CloudWatch parses them), compact text locally.

use tracing_subscriber::EnvFilter;

use crate::credentials::Runtime;

/// Initialises the global subscriber once. `LOG_LEVEL` (or `RUST_LOG`) sets the filter.
pub fn init(runtime: Runtime) {
    let filter = std::env::var("LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|level| EnvFilter::try_new(level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let result = match runtime {
        // Lambda adds its own timestamp and request id to each line.
        Runtime::Lambda => {
            builder.json().flatten_event(true).with_current_span(false).with_ansi(false).without_time().try_init()
        }
        Runtime::Local => builder.compact().try_init(),
    };
    // A second init (tests) keeps the first subscriber.
    let _ = result;
}
