# Two commands matter: `make dev` (run the functions locally) and `make test` (everything).
# Test tools are installed from the package registries into tests/.venv and
# tests/node/node_modules; stamp files keep a second run fast.

SHELL := /bin/bash
PYTHON ?= python3
VENV := tests/.venv
NODE_DIR := tests/node
INFRA_VENV := infra/.venv
SAM_ENV := SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1
export MOTO_SERVER := $(CURDIR)/$(VENV)/bin/moto_server

.PHONY: dev test test-deps infra-deps lint fmt clippy deny deny-advisories deny-advisories-offline advisory-db-refresh sbom burst-sim fleet-sim fuzz-long sam-validate sam-build sam-test conformance conformance-matrix docs bench bench-smoke clean help

help:
	@echo "make dev        run the local server on 127.0.0.1:\$${PORT:-8080} (LiveKit dev credentials unless configured)"
	@echo "make test       install test tools, then fmt check, clippy and the whole test suite"
	@echo "make test-deps  install only the test tools (moto_server, livekit-server-sdk, sam, cfn-lint)"
	@echo "make deny       cargo-deny: licenses, bans, sources (offline); DENY_VERBOSE=1 for its whole report"
	@echo "make deny-advisories-offline  RustSec advisories against the snapshot in infra/advisory-db (part of make test)"
	@echo "make deny-advisories          RustSec advisories against the live database (needs GitHub)"
	@echo "make advisory-db-refresh      replace the snapshot in infra/advisory-db with the live database (needs GitHub)"
	@echo "make docs       redraw what the docs take from the template and the route table (then commit)"
	@echo "make conformance-matrix  run the conformance suites and rewrite MATRIX.md and docs/conformance.md"
	@echo "make sbom       CycloneDX SBOM per function: target/sbom/<function>.cdx.json"
	@echo "make fuzz-long  the property tests and the Lambda-event fuzzing with PROPTEST_CASES=100000"
	@echo "make bench      Rust vs Node.js benchmarks (a few minutes; bench/RESULTS.md)"
	@echo "make burst-sim  N = 100/300/500 cold starts at once against a throttled SSM (bench/burst/RESULTS.md)"
	@echo "make fleet-sim  K containers sharing DynamoDB, 10/1,000/10,000 rooms with dial-in rules (bench/fleet/RESULTS.md)"
	@echo "make sam-build  sam build every function (arm64 when the rustup target can be had, else x86_64)"
	@echo "make sam-test   sam build, then run the built bootstrap through the Lambda Runtime API"

dev:
	cargo run -p local-server

# One build for the bootstraps the wire tests run and for the tests themselves: `--bins
# --tests` resolves features with the dev-dependencies, as `cargo test` does, so the test
# run and the benchmark smoke pass reuse it instead of compiling the dependencies again.
test: test-deps lint deny deny-advisories-offline sam-validate
	cargo build --workspace --bins --tests
	cargo test --workspace
	$(MAKE) conformance
	$(MAKE) bench-smoke

# Rust vs Node.js through the Lambda Runtime API (bench/README.md): writes
# bench/results.json, bench/RESULTS.md and bench/chart.svg. A few minutes after the builds.
bench:
	bench/run.sh

# A few iterations of every benchmark step against the debug build, so the harness cannot rot.
bench-smoke:
	bench/run.sh --smoke

# Issue 15: N = 100, 300, 500 release bootstraps cold-started at once against an SSM
# stand-in throttling at 40 calls/s, the retry policy before and after, then the Node.js
# peer (BURST_NODE_SIZES, default 200). Writes bench/burst/RESULTS.md and results.json.
burst-sim: test-deps
	bench/burst-sim.sh

# Issue 14: K = 3 webhook-receiver and 3 subtitle-dispatcher bootstraps sharing DynamoDB on
# moto_server and the LiveKit test server seeded with N = 10, 1,000, 10,000 rooms' rules,
# every event delivered to 2-3 of them at once and redelivered. FLEET_BASELINE_DIR (built
# from the code before issue 14) adds the "before" runs. Writes bench/fleet/RESULTS.md,
# results.json and chart.svg.
fleet-sim: test-deps
	bench/fleet-sim.sh

# LiveKit's own clients as the judge: livekit-client in headless Chromium, the Node and
# Python server SDKs. Checks tests/conformance/MATRIX.md and the matrix in docs/conformance.md
# against the run (a test run changes no tracked file); `make conformance-matrix` writes them.
conformance:
	LOCAL_SERVER_BIN=$(CURDIR)/target/debug/local-server CONFORMANCE_VENV=$(CURDIR)/$(VENV) tests/conformance/run.sh

conformance-matrix:
	cargo build -p local-server
	CONFORMANCE_UPDATE=1 $(MAKE) conformance

# What the docs take from the template, the route table and the test list (the dashboard
# picture, docs/deploy.md's routes and outputs): `make test` fails when a copy is stale and
# names this target.
docs:
	UPDATE_DOCS=1 cargo test -p wire-tests --test suite -- template::the_dashboard_picture template::the_deploy_page_shows

lint: fmt clippy

# Dependency policy (deny.toml): licenses, bans, sources; offline. The first run installs
# the pinned cargo-deny (it compiles, ~4 min on 2 cores).
deny:
	infra/deny.sh

# RustSec advisories against the live database, cloned from GitHub: only on machines that reach it.
deny-advisories:
	infra/deny.sh advisories

# RustSec advisories with no network, against the snapshot committed in infra/advisory-db
# (its date is printed; older than 90 days, a warning); part of `make test`.
deny-advisories-offline:
	infra/deny.sh advisories-offline

# Replaces the committed snapshot with the live database's newest commit (needs GitHub).
advisory-db-refresh:
	infra/deny.sh refresh-advisory-db

# CycloneDX SBOMs of the three functions (infra/sbom.sh); not in `make test`: the first run
# compiles the pinned cargo-cyclonedx into target/tools.
sbom:
	infra/sbom.sh

# A long property-test run, the Lambda-event fuzzing included (a bounded one is part of
# `cargo test`): ~3-4 min at 100000.
PROPTEST_CASES ?= 100000
fuzz-long:
	PROPTEST_CASES=$(PROPTEST_CASES) cargo test -p wire-tests --test suite properties:: event_fuzz::

fmt:
	cargo fmt --all -- --check

clippy:
	cargo clippy --workspace --all-targets -- -D warnings

test-deps: $(VENV)/.installed $(NODE_DIR)/node_modules/.installed infra-deps

infra-deps: $(INFRA_VENV)/.installed

$(INFRA_VENV)/.installed: infra/requirements.txt
	$(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/requirements.txt
	touch $@

# Offline, no credentials: SAM's own validation plus cfn-lint, which fails on warnings too.
sam-validate: infra-deps
	$(SAM_ENV) $(INFRA_VENV)/bin/sam validate --lint
	$(SAM_ENV) $(INFRA_VENV)/bin/cfn-lint template.yaml

sam-build: infra-deps
	infra/sam-build.sh

sam-test: test-deps
	infra/sam-test.sh

$(VENV)/.installed: tests/python/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
	touch $@

$(NODE_DIR)/node_modules/.installed: $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

clean:
	cargo clean
	rm -rf $(VENV) $(NODE_DIR)/node_modules $(INFRA_VENV) .aws-sam
	rm -rf tests/conformance/node_modules tests/conformance/page/dist tests/conformance/.results
	rm -rf bench/node-peer/node_modules bench/node-ric/node_modules
