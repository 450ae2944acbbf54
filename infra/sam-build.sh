#!/usr/bin/env bash
# `sam build` for every function, the way users run it, with cargo-lambda (and its zig)
# from infra/.venv first on PATH.
#
# Architecture: arm64 (the template's default) when the aarch64-unknown-linux-gnu rustup
# target is installed or can be installed; otherwise x86_64 through the template's
# Architecture parameter, said loudly. Force one with SAM_ARCH=arm64|x86_64.
# Prints the architecture it built as the last line: `built: <arch>`.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="$PWD/infra/.venv"
[ -x "$venv/bin/sam" ] || { echo "infra/.venv is missing: run 'make infra-deps'" >&2; exit 1; }

arch="${SAM_ARCH:-}"
if [ -z "$arch" ]; then
  if rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu \
     || rustup target add aarch64-unknown-linux-gnu >&2; then
    arch=arm64
  else
    arch=x86_64
    echo "WARNING: the aarch64-unknown-linux-gnu rustup target cannot be installed here;" >&2
    echo "WARNING: building x86_64 instead (Architecture=x86_64). Deploy arm64 from a machine that has it." >&2
  fi
fi
echo "sam build: architecture $arch" >&2
export PATH="$venv/bin:$PATH" SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
sam build --parameter-overrides "Architecture=$arch" >&2
for dir in .aws-sam/build/*Function; do
  [ -x "$dir/bootstrap" ] || { echo "no bootstrap in $dir" >&2; exit 1; }
  echo "$dir/bootstrap: $(du -h "$dir/bootstrap" | cut -f1)" >&2
done
echo "built: $arch"
