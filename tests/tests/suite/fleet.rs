//! The fleet simulation, small (issue 14): three webhook-receiver and three
//! subtitle-dispatcher bootstraps share DynamoDB (moto_server, `STATE_TABLE` set) and
//! LiveKit (the Twirp test server seeded with 10, then 1,000 rooms' dial-in rules). Every
//! event goes to two or three containers at once and once more afterwards; a 5xx is
//! retried as LiveKit retries it. The fleet must act once: one recording notice per egress,
//! one rule per room with a unique PIN, none left once the room finished, the subtitle limit
//! held across containers, no delivery lost, and the work per join the same at 1,000 rooms
//! as at 10. The full run is `make fleet-sim` (bench/fleet/RESULTS.md).

use std::path::PathBuf;

use wire_tests::fleet::{self, Bootstraps, FleetConfig, FleetReport, Store};
use wire_tests::{workspace_root, MotoServer};

fn bootstraps() -> Bootstraps {
    let dir = match std::env::var_os("FLEET_BOOTSTRAP_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => workspace_root().join("target/debug"),
    };
    let bootstraps = Bootstraps::in_dir(&dir);
    bootstraps.check();
    bootstraps
}

async fn run(moto: &MotoServer, background_rooms: usize) -> FleetReport {
    let log_dir = std::env::temp_dir().join(format!("fleet-smoke-{}", std::process::id()));
    let config = FleetConfig {
        meetings: 2,
        participants: 3,
        subtitle_requests: 6,
        subtitle_limit: 2,
        ..FleetConfig::new("smoke", bootstraps(), Store::DynamoDb, background_rooms, log_dir)
    };
    let report = fleet::run(moto, &config).await;
    eprintln!("{}", fleet::summary(&report));
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_of_containers_acts_once_per_event_at_10_and_1000_rooms() {
    let moto = MotoServer::start_serial();
    let small = run(&moto, 10).await;
    let large = run(&moto, 1000).await;

    // Every property is checked before any assertion fails, so one run shows them all.
    let mut failures = Vec::new();
    for report in [&small, &large] {
        for violation in &report.violations {
            failures.push(format!("N={}: {violation}", report.config.background_rooms));
        }
    }
    // O(1) per join: no more LiveKit or store calls per join at 1,000 rooms than at 10
    // (half a call of slack for which container wins a race), and no rule listed.
    let (a, b) = (&small.per_join, &large.per_join);
    if b.livekit_calls_total > a.livekit_calls_total + 0.5 {
        failures.push(format!(
            "LiveKit calls per join grew with the rooms: {:.2} at N=10, {:.2} at N=1000",
            a.livekit_calls_total, b.livekit_calls_total
        ));
    }
    if b.store_calls_total > a.store_calls_total + 0.5 {
        failures.push(format!(
            "store calls per join grew with the rooms: {:.2} at N=10, {:.2} at N=1000",
            a.store_calls_total, b.store_calls_total
        ));
    }
    if b.livekit_bytes > a.livekit_bytes * 2.0 + 1024.0 {
        failures.push(format!(
            "LiveKit's answers per join grew with the rooms: {:.0} bytes at N=10, {:.0} at N=1000",
            a.livekit_bytes, b.livekit_bytes
        ));
    }
    assert!(
        failures.is_empty(),
        "the fleet is not correct ({} failures):\n  {}\n\n{}\n{}",
        failures.len(),
        failures.join("\n  "),
        fleet::summary(&small),
        fleet::summary(&large)
    );
}
