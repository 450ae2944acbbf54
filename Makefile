# Two commands matter: `make dev` (run the functions locally) and `make test` (everything).
# Test tools are installed from the package registries into tests/.venv and
# tests/node/node_modules; stamp files keep a second run fast.

SHELL := /bin/bash
PYTHON ?= python3
VENV := tests/.venv
NODE_DIR := tests/node
export MOTO_SERVER := $(CURDIR)/$(VENV)/bin/moto_server

.PHONY: dev test test-deps lint fmt clippy unit clean help

help:
	@echo "make dev        run the local server on 127.0.0.1:\$${PORT:-8080} (LiveKit dev credentials unless configured)"
	@echo "make test       install test tools, then fmt check, clippy and the whole test suite"
	@echo "make test-deps  install only the test tools (moto_server, livekit-server-sdk)"

dev:
	cargo run -p local-server

test: test-deps lint
	cargo test --workspace

lint: fmt clippy

fmt:
	cargo fmt --all -- --check

clippy:
	cargo clippy --workspace --all-targets -- -D warnings

test-deps: $(VENV)/.installed $(NODE_DIR)/node_modules/.installed

$(VENV)/.installed: tests/python/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
	touch $@

$(NODE_DIR)/node_modules/.installed: $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

clean:
	cargo clean
	rm -rf $(VENV) $(NODE_DIR)/node_modules
