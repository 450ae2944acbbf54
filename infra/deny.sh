#!/usr/bin/env bash
# The dependency policy in deny.toml, checked with cargo-deny.
#
#   infra/deny.sh                       licenses, bans, sources: no advisory database, no network
#                                       beyond crates.io (cargo metadata may fetch crate sources)
#   infra/deny.sh advisories-offline    RustSec advisories against the snapshot committed in
#                                       infra/advisory-db/, with no network: part of `make test`
#   infra/deny.sh advisories            RustSec advisories against the live database: cargo-deny
#                                       clones github.com/RustSec/advisory-db into
#                                       ~/.cargo/advisory-dbs, so it needs access to GitHub
#   infra/deny.sh refresh-advisory-db   replaces the committed snapshot with the live database's
#                                       newest commit (needs GitHub; commit the result)
#
# The snapshot (infra/advisory-db/, see its README.md): rustsec-advisory-db.tar.gz holds the
# database's files (crates/, rust/, the licenses), SNAPSHOT its source, commit and date. The
# check unpacks it into target/advisory-db again whenever either changes, makes it a git
# repository dated at the snapshot's commit (cargo-deny reads the database's age from git),
# and reads it through a copy of deny.toml with `db-path` added (target/advisory-db/deny.toml).
# A vulnerability fails the build; the snapshot's date is printed first, and one older than
# 90 days gets a warning, not a failed `make test` (ADVISORY_DB_MAX_STALENESS, an RFC 3339
# duration, sets cargo-deny's own limit: ten years by default).
#
# Output: cargo-deny's duplicate-version warnings are most of its report, so each run prints
# its errors in full and a count of the warnings, and lists them in target/deny/<check>.txt
# (infra/deny-summary.py). DENY_VERBOSE=1 prints cargo-deny's own report instead.
#
# Installs the pinned cargo-deny into cargo's default bin directory ($CARGO_HOME/bin)
# when it is missing or another version; `cargo install` compiles it from source
# (about 4 minutes on 2 cores), later runs reuse it. Exits non-zero when a check fails.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DENY_VERSION="${CARGO_DENY_VERSION:-0.20.2}"
SNAPSHOT_DIR="infra/advisory-db"
SNAPSHOT_ARCHIVE="$SNAPSHOT_DIR/rustsec-advisory-db.tar.gz"
SNAPSHOT_INFO="$SNAPSHOT_DIR/SNAPSHOT"
LIVE_DB_URL="https://github.com/rustsec/advisory-db"
STALE_AFTER_DAYS=90

install_cargo_deny() {
  local installed
  installed="$(cargo deny --version 2>/dev/null || true)"
  if [ "$installed" != "cargo-deny $CARGO_DENY_VERSION" ]; then
    echo "installing cargo-deny $CARGO_DENY_VERSION (found: ${installed:-none}); it compiles from source" >&2
    cargo install --locked "cargo-deny@$CARGO_DENY_VERSION"
  fi
}

# run_deny LABEL ARGS...: cargo deny ARGS, summarised (see the header).
run_deny() {
  local label="$1" status=0
  shift
  if [ "${DENY_VERBOSE:-}" = 1 ]; then
    cargo deny "$@"
    return
  fi
  mkdir -p target/deny
  cargo deny --format json "$@" 2>"target/deny/$label.jsonl" || status=$?
  python3 infra/deny-summary.py "$label" "target/deny/$label.jsonl" "target/deny/$label.txt" || true
  return "$status"
}

# snapshot_value KEY: a line of SNAPSHOT (`key=value`).
snapshot_value() {
  sed -n "s/^$1=//p" "$SNAPSHOT_INFO" | head -n 1
}

advisories_offline() {
  if [ ! -f "$SNAPSHOT_ARCHIVE" ] || [ ! -f "$SNAPSHOT_INFO" ]; then
    echo "offline advisory check: the committed snapshot ($SNAPSHOT_ARCHIVE, $SNAPSHOT_INFO) is missing" >&2
    echo "  restore it from git, or run 'make advisory-db-refresh' where GitHub is reachable" >&2
    exit 1
  fi
  local commit date epoch
  commit="$(snapshot_value commit)"
  date="$(snapshot_value date)"
  epoch="$(date -d "$date" +%s 2>/dev/null)" \
    || { echo "offline advisory check: $SNAPSHOT_INFO has no valid date= line" >&2; exit 1; }

  # cargo-deny looks for a database under <db-path>/<last URL segment>-<hash of the URL>; with
  # no db-urls configured that is the default https://github.com/rustsec/advisory-db.
  local root="$PWD/target/advisory-db"
  local db="$root/advisory-db-3157b0e258782691"
  local stamp="$root/.unpacked-from" want
  want="$(sha256sum "$SNAPSHOT_ARCHIVE" "$SNAPSHOT_INFO" | cut -d' ' -f1 | tr '\n' ' ')"
  if [ ! -d "$db/.git" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "unpacking $SNAPSHOT_ARCHIVE into $db" >&2
    mkdir -p "$root"
    rm -f "$stamp"
    rm -rf "$db"
    local tmp
    tmp="$(mktemp -d "$root/.unpack.XXXXXX")"
    tar --no-same-owner -xzf "$SNAPSHOT_ARCHIVE" -C "$tmp" \
      || { rm -rf "$tmp"; echo "offline advisory check: cannot unpack $SNAPSHOT_ARCHIVE" >&2; exit 1; }
    [ -d "$tmp/crates" ] \
      || { rm -rf "$tmp"; echo "offline advisory check: $SNAPSHOT_ARCHIVE holds no crates/ folder" >&2; exit 1; }
    # One commit dated at the snapshot's: cargo-deny dates the database by that commit (and
    # by the mtime of .git/HEAD, set to the same instant).
    git -C "$tmp" init --quiet
    git -C "$tmp" add --all
    GIT_AUTHOR_DATE="@$epoch +0000" GIT_COMMITTER_DATE="@$epoch +0000" \
      git -C "$tmp" -c user.name=advisory-db-snapshot -c user.email=snapshot@localhost \
      -c commit.gpgsign=false commit --quiet --no-verify -m "RustSec advisory-db at $commit"
    touch -d "@$epoch" "$tmp/.git/HEAD"
    mv "$tmp" "$db"
    printf '%s\n' "$want" >"$stamp"
  fi

  # deny.toml with db-path (and the staleness limit) added to its [advisories] table.
  local cfg="$root/deny.toml" max_staleness="${ADVISORY_DB_MAX_STALENESS:-P3650D}"
  if grep -Eq '^[[:space:]]*(db-path|db-urls|maximum-db-staleness)[[:space:]]*=' deny.toml; then
    echo "offline advisory check: deny.toml sets db-path, db-urls or maximum-db-staleness itself; infra/deny.sh adds them" >&2
    exit 1
  fi
  awk -v root="$root" -v stale="$max_staleness" '
    { print }
    $0 == "[advisories]" { print "db-path = \x27" root "\x27"; print "maximum-db-staleness = \"" stale "\""; n++ }
    END { if (n != 1) exit 1 }' deny.toml >"$cfg.tmp" \
    || { echo "offline advisory check: deny.toml has no [advisories] table" >&2; exit 1; }
  mv "$cfg.tmp" "$cfg"

  local days=$(( ($(date +%s) - epoch) / 86400 ))
  echo "RustSec advisory database: snapshot of ${date%%T*} (commit ${commit:0:12}, $days days old), from $SNAPSHOT_DIR"
  if [ "$days" -gt "$STALE_AFTER_DAYS" ]; then
    echo "warning: the snapshot is older than $STALE_AFTER_DAYS days: advisories published since ${date%%T*} are not checked."
    echo "  Refresh it where GitHub is reachable (make advisory-db-refresh, then commit), or check live (make deny-advisories)."
  fi
  # cargo metadata --offline needs every package of Cargo.lock in cargo's cache, those of other
  # platforms too (a build fetches only the host's): fetch the missing ones from crates.io.
  cargo fetch --locked --offline --quiet 2>/dev/null || cargo fetch --locked --quiet
  run_deny advisories-offline --offline --locked --config "$cfg" check advisories
}

# The live database's newest commit, written over the committed snapshot: its files (no git
# history) as a reproducible archive, and SNAPSHOT with where and when it came from.
refresh_advisory_db() {
  local tmp
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  echo "cloning $LIVE_DB_URL (depth 1)" >&2
  git clone --quiet --depth 1 "$LIVE_DB_URL" "$tmp/db" \
    || { echo "refresh: cannot clone $LIVE_DB_URL (GitHub unreachable?); the snapshot is unchanged" >&2; exit 1; }
  local commit epoch date
  commit="$(git -C "$tmp/db" rev-parse HEAD)"
  epoch="$(git -C "$tmp/db" show -s --format=%ct HEAD)"
  date="$(git -C "$tmp/db" show -s --format=%cI HEAD)"
  (cd "$tmp/db" && tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
    -cf - crates rust support.toml LICENSE.txt LICENSES) | gzip -n -9 >"$tmp/archive.tar.gz"
  mkdir -p "$SNAPSHOT_DIR"
  mv "$tmp/archive.tar.gz" "$SNAPSHOT_ARCHIVE"
  printf 'source=%s\ncommit=%s\ndate=%s\n' "$LIVE_DB_URL" "$commit" "$date" >"$SNAPSHOT_INFO"
  echo "snapshot refreshed: commit ${commit:0:12} of $date ($(du -h "$SNAPSHOT_ARCHIVE" | cut -f1)); commit $SNAPSHOT_DIR"
}

case "${1:-offline}" in
  offline)
    install_cargo_deny
    run_deny licenses-bans-sources --locked check licenses bans sources
    ;;
  advisories)
    install_cargo_deny
    run_deny advisories --locked check advisories
    ;;
  advisories-offline)
    install_cargo_deny
    advisories_offline
    ;;
  refresh-advisory-db) refresh_advisory_db ;;
  *)
    echo "usage: $0 [offline|advisories|advisories-offline|refresh-advisory-db]" >&2
    exit 2
    ;;
esac
