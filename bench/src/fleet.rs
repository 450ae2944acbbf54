//! `make fleet-sim` (issue 14): the fleet simulation of `tests/src/fleet.rs` at N = 10,
//! 1,000 and 10,000 rooms with dial-in rules: K webhook-receiver and K subtitle-dispatcher
//! bootstraps sharing DynamoDB on moto_server and the LiveKit Twirp test server, every event
//! delivered to 2-3 containers at once and redelivered. "before" runs bootstraps built from
//! the code before issue 14 (`--baseline-bootstrap-dir`; `STATE_TABLE` unset, as that code
//! has no table) and only records; "after" runs the current bootstraps with `STATE_TABLE`
//! set and fails when a fleet property does not hold. Writes `bench/fleet/results.json`,
//! `RESULTS.md` (the before/after table) and `chart.svg`.
//!
//!   fleet-sim [--bootstrap-dir target/debug] [--baseline-bootstrap-dir PATH] [--only before|after]
//!             [--sizes 10,1000,10000] [--containers 3] [--meetings 5] [--participants 4]
//!             [--redeliveries 1] [--out bench/fleet]

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use bench::machine::{load_average, machine};
use bench::svg::{Bar, Layout};
use serde_json::{json, Value};
use wire_tests::fleet::{self, Bootstraps, FleetConfig, FleetReport, Store};
use wire_tests::{comma_list, workspace_root, MotoServer};

struct Args {
    bootstrap_dir: PathBuf,
    baseline_dir: Option<PathBuf>,
    only: Option<String>,
    sizes: Vec<usize>,
    /// `FleetConfig::new`'s defaults with the flags' changes; each run sets its label,
    /// bootstraps, store and N.
    fleet: FleetConfig,
    out: PathBuf,
}

fn args() -> Args {
    let root = workspace_root();
    let fleet = FleetConfig::new("", Bootstraps::default(), Store::DynamoDb, 0, root.join("target/fleet-sim/logs"));
    let mut args = Args {
        bootstrap_dir: root.join("target/debug"),
        baseline_dir: None,
        only: None,
        sizes: vec![10, 1000, 10000],
        fleet,
        out: root.join("bench/fleet"),
    };
    let mut raw = std::env::args().skip(1);
    while let Some(flag) = raw.next() {
        let value = raw.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        let number = || value.parse::<usize>().unwrap_or_else(|_| panic!("{flag} takes a number"));
        match flag.as_str() {
            "--bootstrap-dir" => args.bootstrap_dir = value.into(),
            "--baseline-bootstrap-dir" => {
                args.baseline_dir = Some(value.into()).filter(|p: &PathBuf| !p.as_os_str().is_empty())
            }
            "--only" => args.only = Some(value).filter(|v| !v.is_empty()),
            "--sizes" => args.sizes = comma_list(&value),
            "--containers" => args.fleet.containers = number(),
            "--meetings" => args.fleet.meetings = number(),
            "--participants" => args.fleet.participants = number(),
            "--redeliveries" => args.fleet.redeliveries = number(),
            "--out" => args.out = value.into(),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

fn ms(value: f64) -> String {
    if value.is_nan() {
        "–".into()
    } else if value < 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.0}")
    }
}

fn calls(map: &std::collections::BTreeMap<String, f64>) -> String {
    if map.is_empty() {
        return "none".into();
    }
    map.iter().map(|(k, v)| format!("{} {v:.2}", k.rsplit('.').next().unwrap_or(k))).collect::<Vec<_>>().join(", ")
}

fn row(r: &FleetReport) -> String {
    let notices_max = r.notices_per_egress.iter().max().copied().unwrap_or(0);
    let notices_total: usize = r.notices_per_egress.iter().sum();
    let rules_max = r.rules_per_room.iter().max().copied().unwrap_or(0);
    let passed_max = r.subtitles.iter().map(|s| s.not_limited).max().unwrap_or(0);
    format!(
        "| {} | {} | {} | {:.2} (max {notices_max}) | {rules_max} | {} | {passed_max} of {} (limit {}) | {} | {:.2} ({}) | {:.0} | {:.0} | {:.2} ({}) | {} / {} | {} / {} | {} |",
        r.config.label,
        r.config.background_rooms,
        r.config.containers,
        notices_total as f64 / r.notices_per_egress.len().max(1) as f64,
        r.rules_left,
        r.subtitles.first().map_or(0, |s| s.requests),
        r.config.subtitle_limit,
        r.lost_deliveries,
        r.per_join.livekit_calls_total,
        calls(&r.per_join.livekit_calls),
        r.per_join.rules_listed,
        r.per_join.livekit_bytes,
        r.per_join.store_calls_total,
        calls(&r.per_join.store_calls),
        ms(r.per_join.p50_ms),
        ms(r.per_join.p99_ms),
        ms(r.per_leave.p50_ms.max(r.per_room_finished.p50_ms)),
        ms(r.per_leave.p99_ms.max(r.per_room_finished.p99_ms)),
        r.violations.len(),
    )
}

fn phase_row(r: &FleetReport, name: &str, cost: &wire_tests::fleet::PhaseCost) -> String {
    format!(
        "| {} | {} | {name} | {} | {} | {:.2} ({}) | {:.0} | {:.2} ({}) | {} | {} |",
        r.config.label,
        r.config.background_rooms,
        cost.events,
        cost.deliveries,
        cost.livekit_calls_total,
        calls(&cost.livekit_calls),
        cost.rules_listed,
        cost.store_calls_total,
        calls(&cost.store_calls),
        ms(cost.p50_ms),
        ms(cost.p99_ms),
    )
}

/// One panel per metric, a bar per (N, before/after), each panel scaled to its largest bar
/// (the approach of bench/chart.svg).
fn chart(reports: &[FleetReport]) -> String {
    const BEFORE: &str = "#b7410e";
    const AFTER: &str = "#2b6cb0";
    type Metric = fn(&FleetReport) -> f64;
    let panels: [(&str, Metric, &str); 6] = [
        ("LiveKit calls per join", |r| r.per_join.livekit_calls_total, ""),
        ("Dispatch rules returned by LiveKit per join", |r| r.per_join.rules_listed, ""),
        ("DynamoDB calls per join", |r| r.per_join.store_calls_total, ""),
        ("Join delivery → answer, p99", |r| r.per_join.p99_ms, "ms"),
        (
            "Recording notices per egress (want 1)",
            |r| r.notices_per_egress.iter().sum::<usize>() as f64 / r.notices_per_egress.len().max(1) as f64,
            "",
        ),
        (
            "Subtitle requests let through per identity and minute (limit)",
            |r| r.subtitles.iter().map(|s| s.not_limited).max().unwrap_or(0) as f64,
            "",
        ),
    ];
    let layout = Layout {
        width: 900.0,
        left: 210.0,
        bar_width: 560.0,
        bar_height: 15.0,
        bar_step: 19.0,
        font_size: 11.5,
        baseline: 12.0,
        number: ms,
    };
    let top = 84.0;
    let panel_height = 34.0 + reports.len() as f64 * 19.0;
    let height = top + panel_height * panels.len() as f64 + 30.0;
    let mut svg =
        layout.open(height, "Fleet simulation: work per join as the project's rooms grow, before and after issue 14");
    let k = reports.first().map_or(0, |r| r.config.containers);
    layout.notes(&mut svg, &[format!(
        "{k} webhook receivers + {k} subtitle dispatchers, every event to 2-3 of them at once and redelivered; N rooms already have dial-in rules."
    )]);
    layout.legend(
        &mut svg,
        68.0,
        300.0,
        &[("before (in-memory, lists every rule)", BEFORE), ("after (DynamoDB store)", AFTER)],
    );
    for (i, (title, metric, unit)) in panels.iter().enumerate() {
        let bars: Vec<Bar> = reports
            .iter()
            .map(|r| Bar {
                label: format!(
                    "{} · N = {}",
                    r.config.label.split(' ').next().unwrap_or("?"),
                    r.config.background_rooms
                ),
                value: metric(r),
                color: if r.config.label.starts_with("before") { BEFORE } else { AFTER },
            })
            .collect();
        layout.panel(&mut svg, top + i as f64 * panel_height, title, None, unit, &bars);
    }
    layout.close(
        svg,
        height - 10.0,
        "Each panel is scaled to its largest bar. make fleet-sim (bench/src/fleet.rs); every figure in bench/fleet/results.json.",
    )
}

/// The "before" runs of the last `results.json` in `out`, with their load averages marked
/// as kept from that run.
fn earlier_before_runs(out: &std::path::Path) -> Vec<(FleetReport, Value)> {
    let Ok(text) = std::fs::read_to_string(out.join("results.json")) else { return Vec::new() };
    let Ok(document) = serde_json::from_str::<Value>(&text) else { return Vec::new() };
    let runs = document["runs"].as_array().cloned().unwrap_or_default();
    runs.into_iter()
        .filter(|run| run["store"] == "in_process")
        .filter_map(|run| {
            let mut load = run["load_average"].clone();
            load["kept_from_an_earlier_run"] = json!(true);
            match serde_json::from_value::<FleetReport>(run) {
                Ok(report) => Some((report, load)),
                Err(error) => {
                    eprintln!("fleet-sim: an earlier before run in results.json is unreadable ({error}); dropped");
                    None
                }
            }
        })
        .collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = args();
    let after = Bootstraps::in_dir(&args.bootstrap_dir);
    let before = args.baseline_dir.as_deref().map(Bootstraps::in_dir);
    let run_before = before.is_some() && args.only.as_deref() != Some("after");
    let run_after = args.only.as_deref() != Some("before");
    if run_after {
        after.check();
    }
    if let Some(b) = &before {
        b.check();
    }
    std::fs::create_dir_all(&args.out).expect("output directory");
    let mut machine = machine();
    machine["load_average_at_start"] = json!(load_average());
    let moto = MotoServer::start_serial();

    // Without a baseline this run has no "before": keep the one the last run recorded, so
    // the published table stays a before/after table.
    let mut entries: Vec<(FleetReport, Value)> = if run_before { Vec::new() } else { earlier_before_runs(&args.out) };
    let mut failures = Vec::new();
    for &size in &args.sizes {
        let mut runs = Vec::new();
        if let (true, Some(b)) = (run_before, &before) {
            runs.push(("before (today's code)", b.clone(), Store::InProcess));
        }
        if run_after {
            runs.push(("after (STATE_TABLE)", after.clone(), Store::DynamoDb));
        }
        for (label, bootstraps, store) in runs {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let load = load_average();
            eprintln!("fleet-sim: {label} N={size} (load {load})");
            let config =
                FleetConfig { label: label.into(), bootstraps, store, background_rooms: size, ..args.fleet.clone() };
            let report = fleet::run(&moto, &config).await;
            eprintln!("{}", fleet::summary(&report));
            if store == Store::DynamoDb {
                failures.extend(report.violations.iter().map(|v| format!("N={size}: {v}")));
            }
            entries.push((report, json!({"before": load, "after": load_average()})));
        }
    }
    entries.sort_by_key(|(r, _)| (r.config.background_rooms, r.config.store == Store::DynamoDb));
    let (reports, loads): (Vec<FleetReport>, Vec<Value>) = entries.into_iter().unzip();
    // Work per join must not grow with the rooms (after only).
    let afters: Vec<&FleetReport> = reports.iter().filter(|r| r.config.store == Store::DynamoDb).collect();
    if let (Some(first), Some(last)) = (afters.first(), afters.last()) {
        if last.per_join.livekit_calls_total > first.per_join.livekit_calls_total + 0.5
            || last.per_join.store_calls_total > first.per_join.store_calls_total + 0.5
        {
            failures.push(format!(
                "work per join grew from N={} to N={}: LiveKit {:.2} → {:.2}, store {:.2} → {:.2}",
                first.config.background_rooms,
                last.config.background_rooms,
                first.per_join.livekit_calls_total,
                last.per_join.livekit_calls_total,
                first.per_join.store_calls_total,
                last.per_join.store_calls_total
            ));
        }
    }

    let document = json!({
        "what": "K webhook-receiver and K subtitle-dispatcher bootstraps sharing DynamoDB (moto_server) and LiveKit (Twirp test server), N rooms' dial-in rules seeded, M meetings delivered to 2-3 containers at once with redeliveries (issue 14)",
        "machine": machine,
        "load_average_at_end": load_average(),
        "runs": reports.iter().zip(&loads).map(|(r, l)| {
            let mut v = serde_json::to_value(r).expect("report JSON");
            v["load_average"] = l.clone();
            v
        }).collect::<Vec<_>>(),
        "failures": failures,
    });
    let json_path = args.out.join("results.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&document).expect("JSON")).expect("write results.json");

    let rows: Vec<String> = reports.iter().map(row).collect();
    let mut phases = Vec::new();
    for r in &reports {
        for (name, cost) in [
            ("participant_joined", &r.per_join),
            ("egress_updated / egress_ended", &r.per_egress_event),
            ("participant_left", &r.per_leave),
            ("room_finished", &r.per_room_finished),
            ("POST subtitles", &r.per_subtitle_request),
        ] {
            phases.push(phase_row(r, name, cost));
        }
    }
    let mut violations = String::new();
    for r in &reports {
        for v in &r.violations {
            let _ = writeln!(violations, "- {} N = {}: {v}", r.config.label, r.config.background_rooms);
        }
    }
    let first = reports.first();
    let markdown = format!(
        "# Fleet simulation: {k} webhook receivers and {k} subtitle dispatchers sharing one store\n\n\
         Generated by `make fleet-sim` (`bench/src/fleet.rs`, `tests/src/fleet.rs`); every figure is in `results.json`.\n\
         Each container is a real bootstrap on its own loopback Lambda Runtime API (debug build). LiveKit is the Twirp\n\
         test server seeded with N rooms whose dial-in rules exist; DynamoDB is moto_server. Per size, {m} meetings of\n\
         {p} run one after the other: everyone joins at once, an egress hits its limit (`egress_updated` and `egress_ended`\n\
         both `EGRESS_LIMIT_REACHED`), one participant asks for subtitles {s} times through every container (limit\n\
         {limit}/min), everyone leaves, the room finishes. Every event goes to 2-3 containers at once and is redelivered\n\
         {red} time(s) afterwards; a 5xx or a lost answer is retried like LiveKit's client ({attempts} attempts, backoff\n\
         {base}–{cap} ms, scaled down from LiveKit's 1–30 s). Calls are counted by proxies in front of LiveKit and DynamoDB.\n\n\
         Machine: {nproc} cores ({cpu}); load average at start {load_start}, at end {load_end} (per run in `results.json`).\n\
         {kept}\n\
         | code | N rooms with rules | K | notices per egress | rules per room | rules left after finish | subtitle requests let through per identity | lost deliveries | LiveKit calls per join | rules returned per join | LiveKit bytes per join | DynamoDB calls per join | join p50 / p99 ms | leave, finish p50 / p99 ms | violations |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n{rows}\n\n\
         Per event, by kind (calls per event; times are each delivery's, from the Runtime API handing it over to the\n\
         answer, queueing behind other deliveries to the same container included):\n\n\
         | code | N | event | events | deliveries | LiveKit calls per event | rules returned per event | DynamoDB calls per event | p50 ms | p99 ms |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n{phases}\n\n\
         ## Properties that did not hold\n\n{violations}\n{failures}",
        k = first.map_or(0, |r| r.config.containers),
        m = first.map_or(0, |r| r.config.meetings),
        p = first.map_or(0, |r| r.config.participants),
        s = first.and_then(|r| r.subtitles.first()).map_or(0, |s| s.requests),
        limit = first.map_or(0, |r| r.config.subtitle_limit),
        red = first.map_or(0, |r| r.config.redeliveries),
        attempts = first.map_or(0, |r| r.config.retry.attempts),
        base = first.map_or(0, |r| r.config.retry.base_ms),
        cap = first.map_or(0, |r| r.config.retry.cap_ms),
        nproc = document["machine"]["nproc"],
        cpu = document["machine"]["cpu_model"].as_str().unwrap_or("?"),
        load_start = document["machine"]["load_average_at_start"].as_str().unwrap_or("?"),
        load_end = document["load_average_at_end"].as_str().unwrap_or("?"),
        kept = if loads.iter().any(|l| l["kept_from_an_earlier_run"] == true) {
            "The before runs were recorded by an earlier `make fleet-sim` with `FLEET_BASELINE_DIR` (kept from `results.json`).\n"
        } else {
            ""
        },
        rows = rows.join("\n"),
        phases = phases.join("\n"),
        violations = if violations.is_empty() { "None.\n".to_string() } else { violations },
        failures = if failures.is_empty() {
            String::new()
        } else {
            format!("\n**Failed (after):** {}\n", failures.join("; "))
        },
    );
    std::fs::write(args.out.join("RESULTS.md"), markdown).expect("write RESULTS.md");
    std::fs::write(args.out.join("chart.svg"), chart(&reports)).expect("write chart.svg");
    eprintln!("fleet-sim: wrote {}, RESULTS.md and chart.svg", json_path.display());
    if !failures.is_empty() {
        eprintln!("fleet-sim: FAILED: {}", failures.join("; "));
        std::process::exit(1);
    }
}
