#!/usr/bin/env bash
# CycloneDX SBOMs of the deployed functions: target/sbom/<function>.cdx.json for
# token-generator, webhook-receiver, subtitle-dispatcher and room-controls (`make sbom`), for a user's own
# vulnerability scanner. Every crate the function's binary is built from on the Lambda target
# (SBOM_TARGET, default aarch64-unknown-linux-gnu as template.yaml's default Architecture arm64;
# x86_64-unknown-linux-gnu for x86_64), with versions, purls, licenses and Cargo.lock checksums;
# build-only dependencies are listed with scope "excluded", dev-dependencies not at all.
# SOURCE_DATE_EPOCH is the last commit's time, so a rerun on the same tree gives the same files.
#
# Installs the pinned cargo-cyclonedx into target/tools when it is missing or another version
# (`cargo install --locked` compiles it, a few minutes on 2 cores); later runs reuse it.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_CYCLONEDX_VERSION="${CARGO_CYCLONEDX_VERSION:-0.5.9}"
SBOM_TARGET="${SBOM_TARGET:-aarch64-unknown-linux-gnu}"
FUNCTIONS=(token-generator webhook-receiver subtitle-dispatcher room-controls)
tools="$PWD/target/tools"
out="$PWD/target/sbom"

bin="$tools/bin/cargo-cyclonedx"
# `cargo-cyclonedx cyclonedx --version` prints "cargo-cyclonedx-cyclonedx <version>".
installed="$("$bin" cyclonedx --version 2>/dev/null || true)"
if [ "${installed##* }" != "$CARGO_CYCLONEDX_VERSION" ]; then
  echo "installing cargo-cyclonedx $CARGO_CYCLONEDX_VERSION into $tools (found: ${installed:-none}); it compiles from source" >&2
  cargo install --locked --root "$tools" "cargo-cyclonedx@$CARGO_CYCLONEDX_VERSION"
fi

# cargo-cyclonedx writes one file beside every workspace member's Cargo.toml; give them a name
# nobody else uses and move the functions' ones to target/sbom (the others are removed).
tmpname=".sbom-$$"
cleanup() { rm -f -- */"$tmpname".json functions/*/"$tmpname".json; }
trap cleanup EXIT
mkdir -p "$out"
SOURCE_DATE_EPOCH="$(git log -1 --format=%ct 2>/dev/null || date +%s)" \
  "$bin" cyclonedx --manifest-path Cargo.toml --format json --spec-version 1.5 --all \
  --target "$SBOM_TARGET" --override-filename "$tmpname" --quiet
for fn in "${FUNCTIONS[@]}"; do
  src="functions/$fn/$tmpname.json"
  [ -s "$src" ] || { echo "sbom: cargo-cyclonedx wrote no SBOM for $fn" >&2; exit 1; }
  mv -- "$src" "$out/$fn.cdx.json"
  echo "$out/$fn.cdx.json"
done
