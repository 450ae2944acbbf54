//! The meeting-start burst, small (issue 15): 30 token-generator bootstraps cold-started
//! at once against an SSM stand-in that admits 5 calls per second (SSM's 40 TPS scaled
//! down with N, so throttling happens within a few seconds). With the retry policy every
//! request gets a token; with the policy before issue 15 (`SSM_RETRY_MODE=legacy`: the
//! SDK's two attempts) some get `503`: the same binary, so the difference is the policy.
//! The full run is `make burst-sim` (bench/burst/RESULTS.md).

use std::time::Duration;

use wire_tests::burst::{self, BurstConfig, BurstReport, Function};
use wire_tests::{workspace_root, MotoServer};

const PROCESSES: usize = 30;
const SSM_RATE: f64 = 5.0;

fn bootstrap() -> std::path::PathBuf {
    let path = match std::env::var_os("BURST_BOOTSTRAP") {
        Some(path) => path.into(),
        None => workspace_root().join("target/debug/token-generator"),
    };
    assert!(path.exists(), "{} does not exist: build it first (`make test` does)", path.display());
    path
}

async fn burst(moto: &MotoServer, env: &[(&str, &str)]) -> BurstReport {
    let config = BurstConfig {
        function: Function::Rust { bootstrap: bootstrap() },
        processes: PROCESSES,
        ssm_rate: SSM_RATE,
        ssm_burst: SSM_RATE,
        env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        answer_timeout: Duration::from_secs(30),
        log_dir: std::env::temp_dir().join(format!("burst-smoke-{}", std::process::id())),
    };
    let report = burst::run(moto, &config).await;
    eprintln!(
        "{:?}: {}/{} tokens, 503: {}, p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms, SSM calls {} ({:.1}/cold start, {} throttled)",
        env,
        report.tokens,
        report.processes,
        report.status_503,
        report.p50_ms,
        report.p99_ms,
        report.max_ms,
        report.ssm_calls,
        report.ssm_calls_per_cold_start,
        report.ssm_throttled
    );
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_start_burst_against_a_throttled_ssm_gets_every_token() {
    let moto = MotoServer::start();
    burst::prepare(&moto).await;

    // A short init budget (2 s of throttling: about 5 + 2 * 5 = 15 calls admitted), so half
    // of the processes go on in their first request, as after Lambda's 10 s init phase.
    let ours = burst(&moto, &[("SSM_INIT_BUDGET_MS", "2000")]).await;
    assert_eq!(ours.tokens, PROCESSES, "every cold start got a token: {ours:#?}");
    assert_eq!(ours.status_503, 0);
    assert!(ours.ssm_throttled > 0, "the burst was throttled (else this test proves nothing): {ours:#?}");
    assert!(
        ours.processes_detail.iter().any(|p| p.millis > 2_000.0),
        "some processes got their credentials in the first request, after the init budget"
    );
    assert!(ours.max_ms < 20_000.0, "within the request budget: {:.0} ms", ours.max_ms);
    assert_eq!(ours.ssm_admitted as usize, PROCESSES, "one admitted GetParameters per cold start");
    // No herd: full jitter keeps the calls per cold start low even though most were
    // throttled at first (at 5/s, 30 processes need about 5 s of SSM's capacity).
    assert!(ours.ssm_calls_per_cold_start < 12.0, "{:.1} calls per cold start", ours.ssm_calls_per_cold_start);

    // The same binary with the policy before issue 15.
    let legacy = burst(&moto, &[("SSM_RETRY_MODE", "legacy")]).await;
    assert!(legacy.status_503 > 0, "two SDK attempts lose against the same burst: {legacy:#?}");
    assert_eq!(
        legacy.status_503_with_retry_after, legacy.status_503,
        "a 503 for unavailable credentials says when to come back"
    );
    assert!(legacy.tokens < PROCESSES);
}
