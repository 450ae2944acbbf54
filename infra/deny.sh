#!/usr/bin/env bash
# The dependency policy in deny.toml, checked with cargo-deny.
#
#   infra/deny.sh              licenses, bans, sources: no advisory database, no network
#                              beyond crates.io (cargo metadata may fetch crate sources)
#   infra/deny.sh advisories   RustSec advisories: clones github.com/RustSec/advisory-db
#                              into ~/.cargo/advisory-dbs, so it needs access to GitHub
#
# Installs the pinned cargo-deny into cargo's default bin directory ($CARGO_HOME/bin)
# when it is missing or another version; `cargo install` compiles it from source
# (about 4 minutes on 2 cores), later runs reuse it. Exits non-zero when a check fails.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DENY_VERSION="${CARGO_DENY_VERSION:-0.20.2}"

installed="$(cargo deny --version 2>/dev/null || true)"
if [ "$installed" != "cargo-deny $CARGO_DENY_VERSION" ]; then
  echo "installing cargo-deny $CARGO_DENY_VERSION (found: ${installed:-none}); it compiles from source" >&2
  cargo install --locked "cargo-deny@$CARGO_DENY_VERSION"
fi

case "${1:-offline}" in
  offline) exec cargo deny --locked check licenses bans sources ;;
  advisories) exec cargo deny --locked check advisories ;;
  *)
    echo "usage: $0 [offline|advisories]" >&2
    exit 2
    ;;
esac
