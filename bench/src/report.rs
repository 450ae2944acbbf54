//! Ratios, targets, and the three outputs: results.json, RESULTS.md and chart.svg.

use std::fmt::Write as _;

use serde_json::{json, Value};

use bench::svg::{Bar, Layout};

use crate::Config;

fn num(results: &Value, pointer: &str) -> f64 {
    results.pointer(pointer).and_then(Value::as_f64).unwrap_or(f64::NAN)
}

/// Node / Rust: how many times faster (or smaller) Rust is.
fn ratio(results: &Value, pointer: &str) -> f64 {
    bench::stats::round(num(results, &format!("/node{pointer}")) / num(results, &format!("/rust{pointer}")))
}

struct Target {
    key: &'static str,
    what: &'static str,
    goal: &'static str,
    value: String,
    met: bool,
}

fn targets(results: &Value) -> Vec<Target> {
    let r = |p: &str| ratio(results, p);
    let cold = r("/cold_start_ms/median");
    let warm = r("/warm_us_net_of_harness_p50/p50");
    let (warm_at_harness, warm_logged) = (r("/warm_us/p50"), r("/handler_us_as_logged/p50"));
    let rss = num(results, "/rust/peak_rss_mb/after_warm_run");
    let zip = num(results, "/rust/artifact/zip_bytes") / 1e6;
    let own = num(results, "/own_overhead_ms/token_generator");
    let calls = |runtime: &str| -> (Vec<u64>, f64) {
        let per_cold: Vec<u64> = results[runtime]["ssm_get_parameters_calls"]["per_cold_start"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        (per_cold, num(results, &format!("/{runtime}/ssm_get_parameters_calls/per_warm_request")))
    };
    let (rust_cold_calls, rust_warm_calls) = calls("rust");
    let floor = num(results, "/criterion/build_and_sign_get/median_ns")
        / num(results, "/criterion/hmac_sha256_floor/median_ns");
    let describe_calls = |calls: &[u64]| {
        let (min, max) = (calls.iter().min().copied().unwrap_or(0), calls.iter().max().copied().unwrap_or(0));
        if min == max {
            format!("{min} (all {} cold starts)", calls.len())
        } else {
            format!("{min}–{max} over {} cold starts", calls.len())
        }
    };
    vec![
        Target { key: "cold_start", what: "cold start (median)", goal: "≥ 10× faster", value: format!("{cold:.1}×"), met: cold >= 10.0 },
        Target {
            key: "warm",
            what: "warm handler (p50, net of the harness floor)",
            goal: "≥ 10× faster",
            value: format!(
                "{warm:.1}× (at the harness, floor included: {warm_at_harness:.1}×; handler time as logged: {warm_logged:.1}×)"
            ),
            met: warm >= 10.0,
        },
        Target { key: "rss", what: "peak RSS of the Rust function", goal: "≤ 20 MB", value: format!("{rss:.1} MB"), met: rss <= 20.0 },
        Target {
            key: "own_overhead",
            what: "own cold-start overhead (cold start − hello-world − SSM's answer)",
            goal: "≤ 2 ms",
            value: format!("{own:.1} ms"),
            met: own <= 2.0,
        },
        Target { key: "artifact", what: "Rust deployment zip", goal: "≤ 2.5 MB", value: format!("{zip:.2} MB"), met: zip <= 2.5 },
        Target {
            key: "ssm_cold",
            what: "SSM GetParameters per cold start (Rust)",
            goal: "exactly 1",
            value: describe_calls(&rust_cold_calls),
            met: !rust_cold_calls.is_empty() && rust_cold_calls.iter().all(|c| *c == 1),
        },
        Target {
            key: "ssm_warm",
            what: "SSM GetParameters per warm request (Rust)",
            goal: "0",
            value: format!("{rust_warm_calls}"),
            met: rust_warm_calls == 0.0,
        },
        Target {
            key: "floor",
            what: "token build + sign vs bare HMAC-SHA256",
            goal: "≤ 3×",
            value: format!("{floor:.1}×"),
            met: floor <= 3.0,
        },
    ]
}

/// Every figure the outputs show must be there: a missing one is a broken harness.
fn check_complete(results: &Value) {
    let mut missing = Vec::new();
    let mut require = |pointer: String| {
        let value = num(results, &pointer);
        if !(value.is_finite() && value > 0.0) {
            missing.push(format!("{pointer} = {value}"));
        }
    };
    for runtime in ["rust", "node"] {
        for pointer in [
            "/cold_start_ms/median",
            "/cold_start_ms/p25",
            "/cold_start_ms/p75",
            "/warm_us/p50",
            "/warm_us/p99",
            "/warm_us_net_of_harness_p50/p50",
            "/handler_us_as_logged/p50",
            "/handler_us_as_logged/p99",
            "/peak_rss_mb/after_warm_run",
            "/peak_rss_mb/after_cold_start_median",
            "/artifact/zip_bytes",
            "/artifact/unzipped_bytes",
            "/monthly_cost/by_volume/0/total_usd",
            "/monthly_cost/by_volume/2/total_usd",
        ] {
            require(format!("/{runtime}{pointer}"));
        }
        for pointer in ["/plain_ms/median", "/tls_ms/median"] {
            require(format!("/ssm_over_tls/{runtime}{pointer}"));
        }
    }
    for pointer in [
        "/criterion/build_and_sign_get/median_ns",
        "/criterion/build_and_sign_post/median_ns",
        "/criterion/hmac_sha256_floor/median_ns",
        "/harness_floor/warm_us/p50",
        "/ssm_floor/first_call_ms",
        "/ssm_floor/raw_new_connection_ms/median",
        "/hello_world/cold_start_ms/median",
        "/webhook/cold_start_ms/median",
        "/webhook/cold_start_breakdown_ms_median/get_parameters",
    ] {
        require(pointer.to_string());
    }
    for runtime in ["rust", "node"] {
        // Zero is a figure here (no SSM call per warm request); only a missing one fails.
        let pointer = format!("/{runtime}/ssm_get_parameters_calls/per_warm_request");
        if !num(results, &pointer).is_finite() {
            missing.push(pointer);
        }
    }
    assert!(missing.is_empty(), "figures missing from the benchmark results: {missing:#?}");
}

pub fn write(config: &Config, results: &Value) {
    let mut results = results.clone();
    check_complete(&results);
    let ratios = json!({
        "what": "Node.js figure / Rust figure (how many times faster or smaller Rust is)",
        "cold_start_median": ratio(&results, "/cold_start_ms/median"),
        "warm_p50": ratio(&results, "/warm_us/p50"),
        "warm_p99": ratio(&results, "/warm_us/p99"),
        "warm_p50_net_of_harness": ratio(&results, "/warm_us_net_of_harness_p50/p50"),
        "handler_as_logged_p50": ratio(&results, "/handler_us_as_logged/p50"),
        "handler_as_logged_p99": ratio(&results, "/handler_us_as_logged/p99"),
        "peak_rss": ratio(&results, "/peak_rss_mb/after_warm_run"),
        "artifact_zip": ratio(&results, "/artifact/zip_bytes"),
        "sign_vs_hmac_floor": bench::stats::round(
            num(&results, "/criterion/build_and_sign_get/median_ns") / num(&results, "/criterion/hmac_sha256_floor/median_ns")
        ),
    });
    results["ratios"] = ratios;
    let targets = targets(&results);
    results["targets"] = targets
        .iter()
        .map(|t| json!({"target": t.key, "what": t.what, "goal": t.goal, "value": t.value, "met": t.met}))
        .collect::<Vec<_>>()
        .into();

    let json_path = config.out_dir.join("results.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&results).expect("JSON") + "\n")
        .expect("write results.json");
    let md_path = config.out_dir.join("RESULTS.md");
    std::fs::write(&md_path, markdown(&results, &targets)).expect("write RESULTS.md");
    let svg_path = config.out_dir.join("chart.svg");
    std::fs::write(&svg_path, chart(&results)).expect("write chart.svg");
    println!("{}", markdown_table(&results, &targets));
    println!("bench: wrote {}, {}, {}", json_path.display(), md_path.display(), svg_path.display());
    if !config.smoke {
        let docs = wire_tests::workspace_root().join("docs/benchmarks.md");
        update_generated_block(&docs, &generated_block(&results, &targets));
        let readme = wire_tests::workspace_root().join("README.md");
        update_generated_block(&readme, &readme_block(&results, &targets));
        println!("bench: updated the tables in {} and {}", docs.display(), readme.display());
    }
}

fn fmt(value: f64) -> String {
    if !value.is_finite() {
        "–".into()
    } else if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

fn check(met: bool) -> &'static str {
    if met {
        "✅"
    } else {
        "❌"
    }
}

fn markdown_table(results: &Value, targets: &[Target]) -> String {
    let row = |metric: &str, pointer: &str, scale: f64, unit: &str, target: Option<&Target>| -> String {
        let rust = num(results, &format!("/rust{pointer}")) * scale;
        let node = num(results, &format!("/node{pointer}")) * scale;
        let goal = target.map(|t| format!("{} {}", t.goal, check(t.met))).unwrap_or_default();
        format!("| {metric} | {} {unit} | {} {unit} | {}× | {goal} |\n", fmt(rust), fmt(node), fmt(node / rust))
    };
    let target = |key: &str| targets.iter().find(|t| t.key == key);
    let calls = |runtime: &str| -> String {
        let c = &results[runtime]["ssm_get_parameters_calls"];
        let per_cold: Vec<u64> =
            c["per_cold_start"].as_array().map(|a| a.iter().filter_map(Value::as_u64).collect()).unwrap_or_default();
        let (min, max) = (per_cold.iter().min().copied().unwrap_or(0), per_cold.iter().max().copied().unwrap_or(0));
        let cold = if min == max { format!("{min}") } else { format!("{min}–{max}") };
        format!("{cold} / {}", c["per_warm_request"].as_f64().unwrap_or(f64::NAN))
    };
    let mut out = String::new();
    out.push_str("| metric | Rust | Node.js | Node/Rust | target |\n| --- | ---: | ---: | ---: | --- |\n");
    out.push_str(&row("cold start, median", "/cold_start_ms/median", 1.0, "ms", target("cold_start")));
    let spread = |runtime: &str| {
        format!(
            "{}–{}",
            fmt(num(results, &format!("/{runtime}/cold_start_ms/p25"))),
            fmt(num(results, &format!("/{runtime}/cold_start_ms/p75")))
        )
    };
    let _ = writeln!(out, "| cold start, p25–p75 | {} ms | {} ms | | |", spread("rust"), spread("node"));
    out.push_str(&row("warm latency at the harness, p50", "/warm_us/p50", 1.0, "µs", None));
    out.push_str(&row("warm latency at the harness, p99", "/warm_us/p99", 1.0, "µs", None));
    out.push_str(&row(
        "warm, net of the harness floor, p50",
        "/warm_us_net_of_harness_p50/p50",
        1.0,
        "µs",
        target("warm"),
    ));
    out.push_str(&row("handler time as logged, p50", "/handler_us_as_logged/p50", 1.0, "µs", None));
    out.push_str(&row("handler time as logged, p99", "/handler_us_as_logged/p99", 1.0, "µs", None));
    out.push_str(&row("peak RSS", "/peak_rss_mb/after_warm_run", 1.0, "MB", target("rss")));
    out.push_str(&row("deployment zip", "/artifact/zip_bytes", 1e-6, "MB", target("artifact")));
    let ssm_met = target("ssm_cold").is_some_and(|t| t.met) && target("ssm_warm").is_some_and(|t| t.met);
    let _ = writeln!(
        out,
        "| SSM GetParameters per cold start / per warm request | {} | {} | | 1 / 0 {} |",
        calls("rust"),
        calls("node"),
        check(ssm_met)
    );
    out
}

fn markdown(results: &Value, targets: &[Target]) -> String {
    let machine = &results["machine"]["details"];
    let setup = &results["setup"];
    let mut out = String::new();
    let _ = writeln!(out, "# Benchmark results: Rust vs Node.js token function\n");
    let _ = writeln!(
        out,
        "<!-- generated by bench/run.sh ({} mode) on {}; do not edit -->\n",
        results["mode"].as_str().unwrap_or("?"),
        results["generated_at"].as_str().unwrap_or("?")
    );
    out.push_str(&markdown_table(results, targets));
    let _ = writeln!(
        out,
        "\n{} fresh processes per runtime for cold starts (spawn → first response, SSM fetch included), \
         {} warm invocations per runtime (GET and POST `/token` alternating), both through the Lambda \
         Runtime API on loopback with SSM on moto_server, in the same run. MB = 10⁶ bytes.\n",
        setup["cold_runs_per_runtime"], setup["warm_invocations_per_runtime"]
    );
    let c = &results["criterion"];
    let _ = writeln!(
        out,
        "## The floor (criterion, `shared/benches/token_signing.rs`, `{}` profile)\n",
        c["profile"].as_str().unwrap_or("?")
    );
    out.push_str("| what | median |\n| --- | ---: |\n");
    for (label, key) in [
        ("build + sign a GET token (livekit-api)", "build_and_sign_get"),
        ("build + sign a POST token with attributes", "build_and_sign_post"),
        ("bare HMAC-SHA256 over the same signing input", "hmac_sha256_floor"),
    ] {
        let _ = writeln!(out, "| {label} | {} ns |", fmt(num(results, &format!("/criterion/{key}/median_ns"))));
    }
    let floor = &results["harness_floor"]["warm_us"];
    let _ = writeln!(
        out,
        "\nHarness floor (a do-nothing runtime client through the same loopback Runtime API): p50 {} µs, p99 {} µs. \
         It is in every warm figure at the harness; \"net of the harness floor\" subtracts its p50 ({} µs Rust vs {} µs \
         Node.js, {}×). \"Handler time as logged\" is the `latency_ms` each function logs for itself per request \
         (inside the handler, without the runtime client or event (de)serialisation). moto's own GetParameters: \
         {} ms on a new connection, {} ms warm; it is inside both cold starts.\n",
        fmt(num(floor, "/p50")),
        fmt(num(floor, "/p99")),
        fmt(num(results, "/rust/warm_us_net_of_harness_p50/p50")),
        fmt(num(results, "/node/warm_us_net_of_harness_p50/p50")),
        fmt(num(results, "/ratios/warm_p50_net_of_harness")),
        fmt(num(results, "/ssm_floor/first_call_ms")),
        fmt(num(results, "/ssm_floor/warm_ms")),
    );
    out.push_str(&cold_start_breakdown(results));
    out.push_str(&tls_table(results));
    out.push_str(&cost_table(results));
    out.push_str("## Targets\n\n| target | goal | measured | met |\n| --- | --- | --- | --- |\n");
    for t in targets {
        let _ = writeln!(out, "| {} | {} | {} | {} |", t.what, t.goal, t.value, check(t.met));
    }
    let _ = writeln!(out, "\n## Machine\n");
    let _ = writeln!(
        out,
        "{} × {}, {:.0} GiB, {}, Linux {}; {}, Node.js {}. Load average {} before, {} after; run took {:.0} s.\n",
        machine["nproc"],
        machine["cpu_model"].as_str().unwrap_or("?"),
        num(machine, "/memory_gib"),
        machine["os"].as_str().unwrap_or("?"),
        machine["kernel"].as_str().unwrap_or("?"),
        machine["rustc"].as_str().unwrap_or("?"),
        machine["node"].as_str().unwrap_or("?"),
        results["machine"]["loadavg_before"].as_str().unwrap_or("?"),
        results["machine"]["loadavg_after"].as_str().unwrap_or("?"),
        num(results, "/duration_s"),
    );
    let v = &setup["versions"];
    let _ = writeln!(
        out,
        "Rust: `{}` ({} build). Node.js: livekit-server-sdk {}, @aws-sdk/client-ssm {}, run by aws-lambda-ric {}. SSM: {}. Commit {}.\n",
        setup["rust_bootstrap"].as_str().unwrap_or("?"),
        setup["rust_build"].as_str().unwrap_or("?"),
        v["livekit-server-sdk"].as_str().unwrap_or("?"),
        v["@aws-sdk/client-ssm"].as_str().unwrap_or("?"),
        v["aws-lambda-ric"].as_str().unwrap_or("?"),
        setup["ssm"].as_str().unwrap_or("?"),
        results["git_commit"].as_str().unwrap_or("?"),
    );
    out.push_str("Reproduce: `make bench` (or `bench/run.sh`); raw figures in `bench/results.json`, method in `bench/README.md`.\n");
    out
}

/// What `make bench` writes into docs/benchmarks.md: the comparison, the cold-start
/// breakdown and the monthly cost, with the run's machine load.
fn generated_block(results: &Value, targets: &[Target]) -> String {
    let mut out = markdown_table(results, targets);
    out.push('\n');
    out.push_str(&cold_start_breakdown(results));
    out.push_str(&tls_table(results));
    out.push_str(&cost_table(results));
    out.push_str(&run_line(results));
    out
}

/// When, at which commit and under what machine load the figures were taken.
fn run_line(results: &Value) -> String {
    format!(
        "Run of {} at commit {}, load average {} before and {} after.",
        results["generated_at"].as_str().unwrap_or("?"),
        results["git_commit"].as_str().unwrap_or("?"),
        results["machine"]["loadavg_before"].as_str().unwrap_or("?"),
        results["machine"]["loadavg_after"].as_str().unwrap_or("?"),
    )
}

/// What `make bench` writes into the README: the headline figures, our own cold-start
/// overhead and the monthly cost, with the run's load.
fn readme_block(results: &Value, targets: &[Target]) -> String {
    let target = |key: &str| targets.iter().find(|t| t.key == key);
    let mut out = String::from("| | Rust | Node.js | target |\n| --- | ---: | ---: | --- |\n");
    let goal = |key: &str| target(key).map(|t| format!("{} {}", t.goal, check(t.met))).unwrap_or_default();
    let figure = |pointer: &str, scale: f64| fmt(num(results, pointer) / scale);
    // (label, Rust figure, Node.js figure or none, scale to the unit, unit, target key)
    let rows = [
        (
            "cold start, median",
            "/rust/cold_start_ms/median",
            Some("/node/cold_start_ms/median"),
            1.0,
            "ms",
            "cold_start",
        ),
        ("own cold-start overhead", "/own_overhead_ms/token_generator", None, 1.0, "ms", "own_overhead"),
        ("peak RSS", "/rust/peak_rss_mb/after_warm_run", Some("/node/peak_rss_mb/after_warm_run"), 1.0, "MB", "rss"),
        ("deployment zip", "/rust/artifact/zip_bytes", Some("/node/artifact/zip_bytes"), 1e6, "MB", "artifact"),
    ];
    for (label, rust, node, scale, unit, key) in rows {
        let node = node.map_or_else(|| " ".to_string(), |pointer| format!(" {} {unit} ", figure(pointer, scale)));
        let _ = writeln!(out, "| {label} | {} {unit} |{node}| {} |", figure(rust, scale), goal(key));
    }
    out.push('\n');
    out.push_str(&cost_table(results).replacen("## ", "#### ", 1));
    out.push_str(&run_line(results));
    out
}

const BLOCK_BEGIN: &str = "<!-- generated by make bench: begin -->";
const BLOCK_END: &str = "<!-- generated by make bench: end -->";

/// Replaces the text between the markers of `path` with `block`.
fn update_generated_block(path: &std::path::Path, block: &str) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let (Some(begin), Some(end)) = (text.find(BLOCK_BEGIN), text.find(BLOCK_END)) else {
        panic!("{} has no `{BLOCK_BEGIN}` … `{BLOCK_END}` block for the bench to fill", path.display());
    };
    let updated = format!("{}{BLOCK_BEGIN}\n{}\n{}", &text[..begin], block.trim_end(), &text[end..]);
    std::fs::write(path, updated).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Where the Rust bootstraps' cold starts go, phase by phase (medians over the cold
/// starts), for the token generator and the webhook receiver, with moto's own GetParameters
/// time beside the phase that waits for it, and our own overhead against the hello-world.
fn cold_start_breakdown(results: &Value) -> String {
    let Some(token) = results["rust"]["cold_start_breakdown_ms_median"].as_object().filter(|p| !p.is_empty()) else {
        return String::new();
    };
    let webhook = results["webhook"]["cold_start_breakdown_ms_median"].as_object().cloned().unwrap_or_default();
    let mut out = String::from(
        "## Where the Rust cold start goes (median of each phase)\n\n| phase | token generator ms | webhook receiver ms | what |\n| --- | ---: | ---: | --- |\n",
    );
    let order = [
        ("process_start", "spawn → `main` (exec, dynamic loading, the tokio runtime)"),
        ("logging", "the log subscriber"),
        ("metrics", "the EMF recorder"),
        ("settings", "settings from the environment"),
        ("aws_config", "AWS config: region, credentials chain; the platform's root certificates are read here"),
        ("ssm_client", "the SSM client"),
        ("service", "the function's own set-up after it (the webhook receiver: its DynamoDB client's AWS config)"),
        ("get_parameters", "GetParameters, retries included (moto's own answer time below)"),
        ("first_invocation", "the first request: Runtime API round trip and the handler"),
    ];
    let (mut sum_token, mut sum_webhook) = (0.0, 0.0);
    for (name, what) in order {
        let (t, w) = (token.get(name).and_then(Value::as_f64), webhook.get(name).and_then(Value::as_f64));
        if t.is_none() && w.is_none() {
            continue;
        }
        sum_token += t.unwrap_or(0.0);
        sum_webhook += w.unwrap_or(0.0);
        let cell = |v: Option<f64>| v.map(fmt).unwrap_or_else(|| "–".into());
        let _ = writeln!(out, "| `{name}` | {} | {} | {what} |", cell(t), cell(w));
    }
    let own = &results["own_overhead_ms"];
    let _ = writeln!(
        out,
        "| sum of medians | {} | {} | the median cold starts are {} ms and {} ms |\n\n\
         moto's own GetParameters: {} ms on a new connection as a raw request (median), {} ms through the SDK on a new \
         connection, {} ms warm (measured alone): most of `get_parameters` is moto's, not ours. The webhook receiver is \
         cold-started with a signed `participant_joined` delivery and `STATE_TABLE` set, as deployed.\n\n\
         **Our own overhead** (median cold start − a lambda_http hello-world's {} ms − moto's {} ms, same run): token \
         generator **{} ms**, webhook receiver {} ms; target ≤ 2 ms.\n",
        fmt(sum_token),
        fmt(sum_webhook),
        fmt(num(results, "/rust/cold_start_ms/median")),
        fmt(num(results, "/webhook/cold_start_ms/median")),
        fmt(num(results, "/ssm_floor/raw_new_connection_ms/median")),
        fmt(num(results, "/ssm_floor/first_call_ms")),
        fmt(num(results, "/ssm_floor/warm_ms")),
        fmt(num(own, "/hello_world_ms")),
        fmt(num(own, "/ssm_answer_ms")),
        fmt(num(own, "/token_generator")),
        fmt(num(own, "/webhook_receiver")),
    );
    out
}

/// Cold starts with SSM over TLS and over plain HTTP, same trust settings.
fn tls_table(results: &Value) -> String {
    let t = &results["ssm_over_tls"];
    let mut out = String::from(
        "## Cold start with SSM behind TLS (median, same roots trusted in both)\n\n| runtime | plain HTTP | TLS | TLS costs |\n| --- | ---: | ---: | ---: |\n",
    );
    for (label, key) in [("Rust", "rust"), ("Node.js", "node")] {
        let _ = writeln!(
            out,
            "| {label} | {} ms | {} ms | {} ms |",
            fmt(num(t, &format!("/{key}/plain_ms/median"))),
            fmt(num(t, &format!("/{key}/tls_ms/median"))),
            fmt(num(t, &format!("/{key}/tls_cost_ms_median"))),
        );
    }
    let _ = writeln!(
        out,
        "\n{} cold starts per runtime and mode, alternating. {}. With `SSL_CERT_FILE` set, rustls-native-certs reads \
         that one bundle instead of the system's bundle and directory, so both columns start faster than the \
         shipped cold start above.\n",
        t["runs_per_mode"],
        t["how"].as_str().unwrap_or("?"),
    );
    out
}

/// The monthly bill of each runtime at three volumes, from this run's durations.
fn cost_table(results: &Value) -> String {
    let a = &results["cost_assumptions"];
    let mut out = format!(
        "## What a month costs ({} MB arm64, {}, prices of {})\n\n| requests / month | Rust | Node.js | of which HTTP API |\n| ---: | ---: | ---: | ---: |\n",
        num(a, "/memory_mb"),
        a["region"].as_str().unwrap_or("?"),
        a["prices_as_of"].as_str().unwrap_or("?"),
    );
    let rows = |runtime: &str| results[runtime]["monthly_cost"]["by_volume"].as_array().cloned().unwrap_or_default();
    for (rust, node) in rows("rust").iter().zip(rows("node").iter()) {
        let _ = writeln!(
            out,
            "| {} M | ${:.3} | ${:.3} | ${:.2} |",
            num(rust, "/requests") / 1e6,
            num(rust, "/total_usd"),
            num(node, "/total_usd"),
            num(rust, "/http_api_usd"),
        );
    }
    let _ = writeln!(
        out,
        "\nBilled per request: Rust {} ms warm, {} ms cold; Node.js {} ms warm, {} ms cold (Lambda rounds each \
         invocation up to 1 ms; a cold start's init is billed). Assumed: {}% of requests meet a cold start; Lambda \
         ${}/GB-s and ${}/M requests, HTTP API ${}/M requests; no free tier. API Gateway is most of the bill; the \
         runtime changes it by the cold starts' milliseconds. This machine runs both at full CPU; at {} MB Lambda gives a \
         function a fraction of a vCPU, so real durations are longer for both.\n",
        num(results, "/rust/monthly_cost/billed_ms_warm"),
        num(results, "/rust/monthly_cost/billed_ms_cold"),
        num(results, "/node/monthly_cost/billed_ms_warm"),
        num(results, "/node/monthly_cost/billed_ms_cold"),
        num(a, "/cold_start_share") * 100.0,
        num(a, "/lambda_arm64_per_gb_second_usd"),
        num(a, "/lambda_per_million_requests_usd"),
        num(a, "/http_api_per_million_requests_usd"),
        num(a, "/memory_mb"),
    );
    out
}

/// A bar chart, one panel per metric, each scaled to the larger of its two values.
fn chart(results: &Value) -> String {
    const RUST: &str = "#b7410e";
    const NODE: &str = "#3c873a";
    let panels: [(&str, &str, f64, &str); 6] = [
        ("Cold start (spawn → first response, SSM fetch included), median", "/cold_start_ms/median", 1.0, "ms"),
        ("Warm invocation at the harness, p50", "/warm_us/p50", 1.0, "µs"),
        ("Warm invocation at the harness, p99", "/warm_us/p99", 1.0, "µs"),
        ("Warm, net of the harness floor, p50", "/warm_us_net_of_harness_p50/p50", 1.0, "µs"),
        ("Peak RSS of the function process", "/peak_rss_mb/after_warm_run", 1.0, "MB"),
        ("Deployment zip", "/artifact/zip_bytes", 1e-6, "MB"),
    ];
    let layout = Layout {
        width: 860.0,
        left: 96.0,
        bar_width: 620.0,
        bar_height: 17.0,
        bar_step: 22.0,
        font_size: 12.0,
        baseline: 13.0,
        number: fmt,
    };
    let (top, panel_height) = (96.0, 76.0);
    let height = top + panel_height * panels.len() as f64 + 34.0;
    let machine = &results["machine"]["details"];
    let mut svg = layout.open(height, "LiveKit token Lambda: Rust vs Node.js (lower is better)");
    layout.notes(
        &mut svg,
        &[
            format!(
                "Same run, same machine: {} × {}, Linux {}, {}, Node.js {}.",
                machine["nproc"],
                machine["cpu_model"].as_str().unwrap_or("?"),
                machine["kernel"].as_str().unwrap_or("?"),
                machine["rustc"].as_str().unwrap_or("?").split(" (").next().unwrap_or("?"),
                machine["node"].as_str().unwrap_or("?"),
            ),
            "Both run as Lambda runs them, through the Runtime API on loopback, reading SSM from moto_server."
                .to_string(),
        ],
    );
    layout.legend(
        &mut svg,
        84.0,
        280.0,
        &[("Rust (bootstrap, provided.al2023)", RUST), ("Node.js (aws-lambda-ric, SDK v3, livekit-server-sdk)", NODE)],
    );
    for (i, (title, pointer, scale, unit)) in panels.iter().enumerate() {
        let rust = num(results, &format!("/rust{pointer}")) * scale;
        let node = num(results, &format!("/node{pointer}")) * scale;
        let ratio = node / rust;
        let verdict = if ratio >= 1.0 {
            format!("Rust {}× lower", fmt(ratio))
        } else {
            format!("Rust {}× higher", fmt(1.0 / ratio))
        };
        let bars = [
            Bar { label: "Rust".into(), value: rust, color: RUST },
            Bar { label: "Node.js".into(), value: node, color: NODE },
        ];
        layout.panel(&mut svg, top + i as f64 * panel_height, title, Some(&verdict), unit, &bars);
    }
    let footer = format!(
        "Each panel is scaled to its larger value. bench/run.sh, {} run, {}; all figures in bench/results.json.",
        results["mode"].as_str().unwrap_or("?"),
        results["generated_at"].as_str().unwrap_or("?"),
    );
    layout.close(svg, height - 12.0, &footer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_block_is_replaced_and_the_prose_around_it_kept() {
        let path = std::env::temp_dir().join(format!("bench-block-{}.md", std::process::id()));
        std::fs::write(&path, format!("intro\n{BLOCK_BEGIN}\nold table\n{BLOCK_END}\nprose after\n")).unwrap();
        update_generated_block(&path, "new table\n");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).ok();
        assert_eq!(text, format!("intro\n{BLOCK_BEGIN}\nnew table\n{BLOCK_END}\nprose after\n"));
    }

    /// The README's block is what `make bench` rendered from the committed results.json.
    #[test]
    fn the_readme_block_renders_from_the_published_results() {
        let root = wire_tests::workspace_root();
        let results: Value =
            serde_json::from_str(&std::fs::read_to_string(root.join("bench/results.json")).unwrap()).unwrap();
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        let (begin, end) = (readme.find(BLOCK_BEGIN).unwrap(), readme.find(BLOCK_END).unwrap());
        let published = readme[begin + BLOCK_BEGIN.len()..end].trim();
        assert_eq!(readme_block(&results, &targets(&results)).trim(), published);
    }
}
