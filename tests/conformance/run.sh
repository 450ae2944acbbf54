#!/usr/bin/env bash
# Conformance with LiveKit's own clients and SDKs (issue 7). Installs what it needs
# (idempotently: stamps skip a second install) and runs:
#   browser.test.mjs   livekit-client (npm) in headless Debian Chromium via playwright-core
#   browser-auth.test.mjs  the same, with authentication on: the JWT authorizer's 401 is
#                      readable from an allowed origin only (issue 20, item 6); with room
#                      links on, a guest without an account redeems a link through
#                      TokenSource.endpoint, and a refused link's 401 is readable there too
#   sdk.test.mjs       livekit-server-sdk (npm): TokenVerifier over every token form, and
#                      WebhookReceiver vs our POST /webhook over cases/webhooks.json
#   test_python_sdk.py livekit-api (PyPI): TokenVerifier and WebhookReceiver, same corpora
# then renders the matrix from what the suites recorded and checks the committed MATRIX.md
# against it (CONFORMANCE_UPDATE=1 writes it instead). Exits non-zero if any check fails
# or the committed matrix is stale.
#
# Environment: LOCAL_SERVER_BIN (default: `cargo build -p local-server`, then
# ../../target/debug/local-server), CHROMIUM_PATH (default /usr/bin/chromium),
# CONFORMANCE_VENV (default ../.venv, the venv `make test-deps` creates), PYTHON (python3).
set -euo pipefail
cd "$(dirname "$0")"
HERE=$(pwd)
CHROMIUM_PATH=${CHROMIUM_PATH:-/usr/bin/chromium}
VENV=${CONFORMANCE_VENV:-$HERE/../.venv}
PYTHON=${PYTHON:-python3}
export CHROMIUM_PATH

step() { printf '\n== conformance: %s\n' "$*"; }

# 1. Debian's Chromium (never a browser download).
if [[ ! -x "$CHROMIUM_PATH" ]]; then
  step "installing Debian chromium"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

# 2. npm packages, pinned by package-lock.json.
if [[ ! -f node_modules/.installed || package-lock.json -nt node_modules/.installed || package.json -nt node_modules/.installed ]]; then
  step "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules/.installed
fi

# 3. Python: livekit-api + pytest into the tests venv.
if [[ ! -x "$VENV/bin/python" ]]; then
  step "creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
if [[ ! -f "$VENV/.conformance-installed" || requirements.txt -nt "$VENV/.conformance-installed" ]]; then
  step "pip install -r requirements.txt"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r requirements.txt
  touch "$VENV/.conformance-installed"
fi

# 4. The server under test.
if [[ -z "${LOCAL_SERVER_BIN:-}" ]]; then
  step "cargo build -p local-server"
  cargo build --quiet -p local-server
  LOCAL_SERVER_BIN=$HERE/../../target/debug/local-server
fi
export LOCAL_SERVER_BIN
echo "server under test: $LOCAL_SERVER_BIN"
echo "browser: $("$CHROMIUM_PATH" --version 2>/dev/null | head -1)"

# 5. The suites. Each records its matrix rows in .results/; a failure does not stop the others.
rm -rf .results
status=0
step "bundle the test page (esbuild)"
node build.mjs
step "node --test (livekit-client in Chromium, livekit-server-sdk)"
node --test --test-concurrency=1 browser.test.mjs browser-auth.test.mjs sdk.test.mjs || status=1
step "pytest (livekit-api)"
"$VENV/bin/python" -m pytest test_python_sdk.py || status=1

step "MATRIX.md (checked against the committed copy; CONFORMANCE_UPDATE=1 writes it)"
# A suite that crashed before its first check (e.g. a collection error) records nothing:
# its rows would silently vanish from the matrix, so that is a failure too.
for suite in browser-livekit-client browser-auth-refusals node-server-sdk python-livekit-api; do
  [[ -f .results/$suite.json ]] || { echo "conformance: suite $suite recorded no matrix rows"; status=1; }
done
# The run renders into .results/MATRIX.md and compares it with the committed MATRIX.md and
# the <!-- conformance-matrix:begin/end --> block of docs/conformance.md, so `make test`
# leaves the tree as it found it; `make conformance-matrix` (CONFORMANCE_UPDATE=1) writes them.
write=()
[[ "${CONFORMANCE_UPDATE:-}" == 1 ]] && write=(--write)
node lib/matrix.mjs --readme ../../docs/conformance.md "${write[@]}" || status=1
exit $status
