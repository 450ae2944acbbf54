#!/usr/bin/env bash
# Builds every function with `sam build` and runs the runtime-API test against the
# built `bootstrap` itself (not the workspace's debug build). An arm64 artifact on an
# x86_64 machine runs under qemu-user with Debian's arm64 C library.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=$(infra/sam-build.sh | tail -n 1 | sed 's/^built: //')

runner=""
if [ "$arch" = arm64 ] && [ "$(uname -m)" != aarch64 ]; then
  if ! command -v qemu-aarch64 >/dev/null || [ ! -d /usr/aarch64-linux-gnu/lib ]; then
    echo "installing qemu-user and the arm64 C library to run the arm64 bootstrap" >&2
    apt-get update -qq >&2 && apt-get install -y -qq qemu-user libc6-arm64-cross libgcc-s1-arm64-cross >&2
  fi
  runner="qemu-aarch64 -L /usr/aarch64-linux-gnu"
fi

echo "testing every .aws-sam/build/*Function/bootstrap ($arch${runner:+, under $runner})" >&2
LAMBDA_BOOTSTRAP_DIR="$PWD/.aws-sam/build" LAMBDA_BOOTSTRAP_RUNNER="$runner" \
  cargo test -p wire-tests --test suite bootstrap::
