//! `make burst-sim` (issue 15): N token-generator release bootstraps cold-started at once
//! against an SSM stand-in that throttles at 40 calls per second, with the retry policy
//! before issue 15 (`SSM_RETRY_MODE=legacy`) and with ours (the default), then the Node.js
//! peer of `bench/` with its SDK's defaults. Writes `bench/burst/results.json` and
//! `bench/burst/RESULTS.md`; exits non-zero when ours leaves a request without a token, or
//! its p99 is outside API Gateway's 30 s integration timeout.
//!
//!   burst-sim [--bootstrap PATH] [--sizes 100,300,500] [--rate 40] [--modes legacy,budget]
//!             [--alt-modes 'standard,adaptive,budget:SSM_RETRY_CAP_MS=5000'] [--node-sizes 200] [--out DIR]

use std::path::PathBuf;
use std::time::Duration;

use bench::machine::{load_average, machine};
use serde_json::json;
use wire_tests::burst::{self, BurstConfig, BurstReport, Function};
use wire_tests::{comma_list, workspace_root, MotoServer};

struct Args {
    bootstrap: PathBuf,
    sizes: Vec<usize>,
    rate: f64,
    modes: Vec<String>,
    node_sizes: Vec<usize>,
    /// Other policies, run at the largest size only (measure rather than guess).
    alt_modes: Vec<String>,
    out: PathBuf,
}

fn args() -> Args {
    let root = workspace_root();
    let mut args = Args {
        bootstrap: root.join("target/release/token-generator"),
        sizes: vec![100, 300, 500],
        rate: 40.0,
        modes: vec!["legacy".into(), "budget".into()],
        node_sizes: vec![],
        alt_modes: vec![],
        out: root.join("bench/burst"),
    };
    let mut raw = std::env::args().skip(1);
    while let Some(flag) = raw.next() {
        let value = raw.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--bootstrap" => args.bootstrap = value.into(),
            "--sizes" => args.sizes = comma_list(&value),
            "--rate" => args.rate = value.parse().expect("--rate is a number"),
            "--modes" => args.modes = comma_list(&value),
            "--node-sizes" => args.node_sizes = comma_list(&value),
            "--alt-modes" => args.alt_modes = comma_list(&value),
            "--out" => args.out = value.into(),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

fn ms(value: f64) -> String {
    if value.is_nan() {
        "–".into()
    } else {
        format!("{:.0}", value)
    }
}

fn row(report: &BurstReport, load: &str) -> String {
    format!(
        "| {} | {} | {} | {}/{} ({:.0} %) | {} | {} | {} | {} | {} | {:.1} | {} | {:.1} / {:.0} | {} |",
        report.function,
        report.mode,
        report.processes,
        report.tokens,
        report.processes,
        report.token_share * 100.0,
        report.status_503,
        report.no_answer,
        ms(report.p50_ms),
        ms(report.p99_ms),
        ms(report.max_ms),
        report.ssm_calls_per_cold_start,
        report.ssm_throttled,
        report.peak_rss_median_mib,
        report.peak_rss_sum_mib,
        load,
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = args();
    assert!(
        args.bootstrap.exists(),
        "{} does not exist: cargo build --release -p token-generator",
        args.bootstrap.display()
    );
    std::fs::create_dir_all(&args.out).expect("output directory");
    let mut machine = machine();
    machine["load_average_at_start"] = json!(load_average());
    let moto = MotoServer::start();
    burst::prepare(&moto).await;
    let log_dir = workspace_root().join("target/burst-sim/logs");

    let mut runs: Vec<(BurstConfig, &'static str)> = Vec::new();
    for &size in &args.sizes {
        for mode in &args.modes {
            let env = mode_env(mode);
            runs.push((
                BurstConfig {
                    function: Function::Rust { bootstrap: args.bootstrap.clone() },
                    processes: size,
                    ssm_rate: args.rate,
                    ssm_burst: args.rate,
                    env,
                    answer_timeout: Duration::from_secs(60),
                    log_dir: log_dir.clone(),
                },
                "rust",
            ));
        }
    }
    if let Some(&largest) = args.sizes.iter().max() {
        for mode in &args.alt_modes {
            runs.push((
                BurstConfig {
                    function: Function::Rust { bootstrap: args.bootstrap.clone() },
                    processes: largest,
                    ssm_rate: args.rate,
                    ssm_burst: args.rate,
                    env: mode_env(mode),
                    answer_timeout: Duration::from_secs(60),
                    log_dir: log_dir.clone(),
                },
                "rust",
            ));
        }
    }
    let root = workspace_root();
    for &size in &args.node_sizes {
        runs.push((
            BurstConfig {
                function: Function::Node { peer: root.join("bench/node-peer"), ric: root.join("bench/node-ric") },
                processes: size,
                ssm_rate: args.rate,
                ssm_burst: args.rate,
                env: vec![],
                // Hundreds of Node.js cold starts share this machine's cores: give them time,
                // and read the times as this machine's, not Lambda's.
                answer_timeout: Duration::from_secs(180),
                log_dir: log_dir.clone(),
            },
            "node",
        ));
    }

    let mut results = Vec::new();
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for (config, _) in &runs {
        // Let the previous run's processes go and the machine settle.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let load = load_average();
        eprintln!(
            "burst-sim: {} {} N={} (load {load})",
            config.function.label(),
            burst::mode_of(config),
            config.processes
        );
        let report = burst::run(&moto, config).await;
        eprintln!("{}", row(&report, &load));
        if report.function == "rust" && report.mode == "budget" {
            if report.tokens != report.processes {
                failures.push(format!("N={}: {} of {} got a token", report.processes, report.tokens, report.processes));
            }
            if report.p99_ms.is_nan() || report.p99_ms >= 30_000.0 {
                failures.push(format!("N={}: p99 {:.0} ms is not inside 30 s", report.processes, report.p99_ms));
            }
        }
        rows.push(row(&report, &load));
        let mut value = serde_json::to_value(&report).expect("report JSON");
        value["load_average_before"] = json!(load);
        value["load_average_after"] = json!(load_average());
        results.push(value);
    }

    let document = json!({
        "what": "N token functions cold-started at once against an SSM stand-in throttling at `ssm_rate` GetParameters/s (issue 15)",
        "machine": machine,
        "load_average_at_end": load_average(),
        "runs": results,
        "failures": failures,
    });
    let json_path = args.out.join("results.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&document).expect("JSON")).expect("write results.json");
    let markdown = format!(
        "# Meeting-start burst: N cold starts against a 40 TPS SSM\n\n\
         Generated by `make burst-sim` (`bench/src/burst.rs`); every figure is in `results.json`.\n\
         Each process is a real function started as Lambda starts it, with `events/token-get.json` queued on its\n\
         own loopback Runtime API; times run from its spawn to its first answer. SSM is moto_server behind a\n\
         token bucket of {rate} calls/s (bucket {rate}) answering `ThrottlingException` as SSM does.\n\n\
         Machine: {nproc} cores ({cpu}), {memory} GiB; load average at start {load_start}, at end {load_end}.\n\n\
         | function | SSM retry policy | N | got a token | 503 | no answer | p50 ms | p99 ms | max ms | SSM calls per cold start | throttled calls | peak RSS MiB: one (median) / all | load before |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n{rows}\n\n\
         `legacy`: the SDK's standard retry with 2 attempts inside `SSM_TIMEOUT_MS` (before issue 15).\n\
         `budget`: ours (docs/large-meetings.md). `standard` / `adaptive`: the AWS SDK's strategies with 10 attempts.\n\
         Percentiles are over the processes that got a token. All processes share this machine's cores, so\n\
         times include CPU contention that separate Lambda execution environments would not have.\n{failures}",
        rate = args.rate,
        nproc = document["machine"]["nproc"],
        cpu = document["machine"]["cpu_model"].as_str().unwrap_or("?"),
        memory = document["machine"]["memory_gib"],
        load_start = document["machine"]["load_average_at_start"].as_str().unwrap_or("?"),
        load_end = document["load_average_at_end"].as_str().unwrap_or("?"),
        rows = rows.join("\n"),
        failures = if failures.is_empty() {
            String::new()
        } else {
            format!("\n**Failed:** {}\n", failures.join("; "))
        },
    );
    std::fs::write(args.out.join("RESULTS.md"), markdown).expect("write RESULTS.md");
    eprintln!("burst-sim: wrote {} and RESULTS.md", json_path.display());
    if !failures.is_empty() {
        eprintln!("burst-sim: FAILED: {}", failures.join("; "));
        std::process::exit(1);
    }
}

/// The environment of a `--modes` entry: `budget`, `legacy`, `standard`, `adaptive`, or
/// `budget` with settings, e.g. `budget:SSM_RETRY_CAP_MS=5000`.
fn mode_env(mode: &str) -> Vec<(String, String)> {
    let (name, settings) = mode.split_once(':').unwrap_or((mode, ""));
    let mut env = Vec::new();
    if name != "budget" {
        env.push(("SSM_RETRY_MODE".to_string(), name.to_string()));
    }
    for setting in settings.split(';').filter(|s| !s.is_empty()) {
        let (key, value) = setting.split_once('=').unwrap_or_else(|| panic!("`{setting}` is not KEY=VALUE"));
        env.push((key.to_string(), value.to_string()));
    }
    env
}
