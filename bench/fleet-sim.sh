#!/usr/bin/env bash
# The fleet simulation (issue 14; `make fleet-sim`): K webhook-receiver and K
# subtitle-dispatcher bootstraps sharing DynamoDB (moto_server) and the LiveKit Twirp test
# server seeded with N = 10, 1,000, 10,000 rooms' dial-in rules; every event delivered to
# 2-3 containers at once and redelivered. Writes bench/fleet/RESULTS.md, results.json and
# chart.svg (bench/src/fleet.rs; docs/large-meetings.md reads them).
#
#   FLEET_SIZES=10,1000,10000 FLEET_CONTAINERS=3 FLEET_MEETINGS=5 FLEET_PARTICIPANTS=4
#   FLEET_REDELIVERIES=1
#   FLEET_BASELINE_DIR=/path   a directory with webhook-receiver and subtitle-dispatcher
#                              built from the code before issue 14: adds the "before" runs
#   FLEET_ONLY=before|after    only one of the two
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac
cd "$ROOT"

# The same build `make test` makes (one feature set, so nothing compiles twice).
cargo build --workspace --bins
"$TARGET/debug/fleet-sim" --bootstrap-dir "$TARGET/debug" \
  --baseline-bootstrap-dir "${FLEET_BASELINE_DIR-}" --only "${FLEET_ONLY-}" \
  --sizes "${FLEET_SIZES:-10,1000,10000}" --containers "${FLEET_CONTAINERS:-3}" \
  --meetings "${FLEET_MEETINGS:-5}" --participants "${FLEET_PARTICIPANTS:-4}" \
  --redeliveries "${FLEET_REDELIVERIES:-1}" --out "$ROOT/bench/fleet"
