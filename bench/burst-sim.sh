#!/usr/bin/env bash
# The meeting-start burst simulation (issue 15; `make burst-sim`): N = 100, 300, 500
# token-generator release bootstraps cold-started at once against an SSM stand-in that
# throttles at 40 GetParameters/s, with the retry policy before issue 15 and with ours,
# then the Node.js peer of bench/ at BURST_NODE_SIZES. Writes bench/burst/RESULTS.md and
# bench/burst/results.json (bench/src/burst.rs; docs/large-meetings.md reads them).
#
#   BURST_SIZES=100,300,500 BURST_MODES=legacy,budget BURST_RATE=40 BURST_NODE_SIZES=200
#   BURST_ALT_MODES=standard,adaptive,budget:SSM_RETRY_CAP_MS=5000 (at the largest N)
#   (BURST_NODE_SIZES= skips the Node.js peer, BURST_ALT_MODES= the other policies)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac
cd "$ROOT"

SIZES="${BURST_SIZES:-100,300,500}"
MODES="${BURST_MODES:-legacy,budget}"
RATE="${BURST_RATE:-40}"
NODE_SIZES="${BURST_NODE_SIZES-200}"
# Other policies, at the largest N only: the SDK's own strategies and a longer backoff cap.
ALT_MODES="${BURST_ALT_MODES-standard,adaptive,budget:SSM_RETRY_CAP_MS=5000}"

# Each process holds a few descriptors (its log, the Runtime API and SSM sockets).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

if [ -n "$NODE_SIZES" ]; then
  # The Node.js peer and its runtime interface client, as bench/run.sh installs them.
  APT_PACKAGES=(cmake autoconf automake libtool)
  if ! dpkg -s "${APT_PACKAGES[@]}" >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get install -y --no-install-recommends "${APT_PACKAGES[@]}" >/dev/null ||
      { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y --no-install-recommends "${APT_PACKAGES[@]}" >/dev/null; }
  fi
  for dir in bench/node-peer bench/node-ric; do
    stamp="$dir/node_modules/.bench-installed"
    if [ ! -f "$stamp" ] || [ "$dir/package-lock.json" -nt "$stamp" ]; then
      (cd "$dir" && npm ci --omit=dev --no-audit --no-fund --loglevel=error)
      touch "$stamp"
    fi
  done
fi

# `measure`: the SSM retry modes it compares (legacy, standard, adaptive) are built only on
# request; a deployed function has `budget` alone (shared/Cargo.toml).
cargo build --release -p token-generator --features livekit-lambda-shared/measure
cargo build -p bench --bin burst-sim
"$TARGET/debug/burst-sim" --bootstrap "$TARGET/release/token-generator" --sizes "$SIZES" --modes "$MODES" \
  --rate "$RATE" --alt-modes "$ALT_MODES" --node-sizes "$NODE_SIZES" --out "$ROOT/bench/burst"
