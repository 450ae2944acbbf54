#!/usr/bin/env bash
# Rust vs Node.js token functions, side by side (issue 8). See bench/README.md.
#
#   bench/run.sh           full run (a few minutes on 2 cores): release bootstrap, 30 cold
#                          starts and 10,000 warm invocations per runtime, criterion floor;
#                          writes bench/results.json, bench/RESULTS.md, bench/chart.svg
#   bench/run.sh --smoke   a few iterations of everything (< 60 s after the builds), for
#                          `make test`: fails on any broken step or missing figure; writes
#                          to target/bench-smoke/ and never touches the published results
#
# BENCH_RUST_BOOTSTRAP=<path> benchmarks that binary instead of building one (smoke mode
# defaults to the debug build, target/debug/token-generator).
# Installs what it needs, idempotently: npm packages (bench/node-peer, bench/node-ric, from
# their lockfiles), Debian's cmake/autoconf/automake/libtool for aws-lambda-ric's native
# client, and moto_server (`make test-deps`) when tests/.venv/bin/moto_server is missing.
set -euo pipefail

MODE=full
case "${1:-}" in
  "") ;;
  --smoke) MODE=smoke ;;
  *) echo "usage: bench/run.sh [--smoke]" >&2; exit 2 ;;
esac

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/bench"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac
START=$SECONDS
step() { printf '\n== bench: %s (%ss)\n' "$*" "$((SECONDS - START))"; }
die() { echo "bench/run.sh: $*" >&2; exit 1; }

cd "$ROOT"
command -v node >/dev/null || die "node is not installed (Node.js 20 or newer)"
command -v npm >/dev/null || die "npm is not installed"
command -v python3 >/dev/null || die "python3 is not installed"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
  die "Node.js 20 or newer is needed, found $(node --version)"

# --- tools ---------------------------------------------------------------------------
step "tools"
APT_PACKAGES=(cmake autoconf automake libtool)
if ! dpkg -s "${APT_PACKAGES[@]}" >/dev/null 2>&1; then
  command -v apt-get >/dev/null || die "aws-lambda-ric builds a native client and needs: ${APT_PACKAGES[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing ${APT_PACKAGES[*]} (aws-lambda-ric's native build)"
  $SUDO apt-get install -y --no-install-recommends "${APT_PACKAGES[@]}" >/dev/null ||
    { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y --no-install-recommends "${APT_PACKAGES[@]}" >/dev/null; }
fi

npm_install() { # dir: npm ci from the lockfile, once per lockfile change
  local dir="$1" stamp="$1/node_modules/.bench-installed"
  if [ ! -f "$stamp" ] || [ "$dir/package-lock.json" -nt "$stamp" ] || [ "$dir/package.json" -nt "$stamp" ]; then
    echo "npm ci in ${dir#"$ROOT"/}"
    (cd "$dir" && npm ci --omit=dev --no-audit --no-fund --loglevel=error)
    touch "$stamp"
  fi
}
npm_install "$BENCH/node-peer"
npm_install "$BENCH/node-ric"

MOTO="${MOTO_SERVER:-$ROOT/tests/.venv/bin/moto_server}"
if [ ! -x "$MOTO" ]; then
  echo "moto_server is missing at $MOTO: make test-deps"
  make -C "$ROOT" test-deps
  [ -x "$MOTO" ] || die "make test-deps did not install $MOTO"
fi

# --- builds --------------------------------------------------------------------------
if [ -n "${BENCH_RUST_BOOTSTRAP:-}" ]; then
  BOOTSTRAP="$BENCH_RUST_BOOTSTRAP"
  [ -x "$BOOTSTRAP" ] || die "BENCH_RUST_BOOTSTRAP=$BOOTSTRAP is not an executable"
elif [ "$MODE" = smoke ]; then
  # The build `make test` just made (same features): nothing compiles again.
  step "build: token-generator and the harness (debug, the make test build)"
  cargo build --workspace --bins --tests
  BOOTSTRAP="$TARGET/debug/token-generator"
else
  step "build: token-generator, webhook-receiver and the hello-world floor (release, x86_64 native)"
  cargo build --release -p token-generator -p webhook-receiver -p bench-hello
  BOOTSTRAP="$TARGET/release/token-generator"
fi

if [ "$MODE" = smoke ]; then
  cargo build --workspace --bins --tests # a no-op after the step above or make test
else
  step "build: harness"
  cargo build -p bench
fi
HARNESS="$TARGET/debug/bench"

# --- the floor: criterion ------------------------------------------------------------
CRITERION_DIR="$TARGET/criterion/token_signing"
rm -rf "$CRITERION_DIR" # never read a previous run's estimates
if [ "$MODE" = smoke ]; then
  step "criterion floor (dev profile, a few samples)"
  cargo bench --workspace --bench token_signing --profile dev -- \
    --warm-up-time 0.05 --measurement-time 0.1 --sample-size 10
  PROFILE=dev
  OUT="$TARGET/bench-smoke"
else
  step "criterion floor (bench profile)"
  cargo bench -p livekit-lambda-shared --bench token_signing
  PROFILE=bench
  OUT="$BENCH"
fi

# --- the functions -------------------------------------------------------------------
step "harness: Rust ($BOOTSTRAP) vs Node.js, $MODE run"
ARGS=(--rust-bootstrap "$BOOTSTRAP" --criterion "$CRITERION_DIR" --criterion-profile "$PROFILE" --out "$OUT")
[ "$MODE" = smoke ] && ARGS=(--smoke "${ARGS[@]}")
"$HARNESS" "${ARGS[@]}"

step "done: $OUT/RESULTS.md"
