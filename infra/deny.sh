#!/usr/bin/env bash
# The dependency policy in deny.toml, checked with cargo-deny.
#
# Known vulnerabilities: `make test` checks Cargo.lock against the RustSec advisory database
# with no network (`make deny-advisories-offline`, mode advisories-offline below). The database
# comes from a snapshot, ../shared/rustsec-advisory-db.tar.gz beside the project (a git
# repository; override the path with ADVISORY_DB_ARCHIVE), unpacked into target/advisory-db
# again whenever the archive changes, and read through a copy of deny.toml with `db-path` added
# (target/advisory-db/deny.toml). A vulnerability fails the build; the snapshot's date (its last
# commit) is printed first, so an old snapshot is visible. `make deny-advisories` checks against
# a freshly fetched database instead, on machines that reach GitHub.
#
#   infra/deny.sh                       licenses, bans, sources: no advisory database, no network
#                                       beyond crates.io (cargo metadata may fetch crate sources)
#   infra/deny.sh advisories            RustSec advisories: clones github.com/RustSec/advisory-db
#                                       into ~/.cargo/advisory-dbs, so it needs access to GitHub
#   infra/deny.sh advisories-offline    RustSec advisories against the snapshot, offline
#                                       (no network when cargo's cache holds every crate of
#                                       Cargo.lock; missing ones come from crates.io first)
#
# Staleness: cargo-deny --offline refuses a database older than `maximum-db-staleness`. The
# snapshot's HEAD is given its commit date, so that age is the snapshot's real age;
# ADVISORY_DB_MAX_STALENESS (an RFC 3339 duration, e.g. P90D) sets the limit, by default ten
# years: a snapshot over 90 days old gets a printed note, not a failed `make test`.
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

advisories_offline() {
  local archive="${ADVISORY_DB_ARCHIVE:-$PWD/../shared/rustsec-advisory-db.tar.gz}"
  local max_staleness="${ADVISORY_DB_MAX_STALENESS:-P3650D}"
  if [ ! -f "$archive" ]; then
    echo "offline advisory check: no RustSec advisory database snapshot at $archive" >&2
    echo "  it is expected in the shared/ folder beside the project; point ADVISORY_DB_ARCHIVE at one" >&2
    echo "  (make ADVISORY_DB_ARCHIVE=/path/rustsec-advisory-db.tar.gz), or use 'make deny-advisories' online" >&2
    exit 1
  fi
  archive="$(cd "$(dirname "$archive")" && pwd)/$(basename "$archive")"

  # cargo-deny looks for a database under <db-path>/<last URL segment>-<hash of the URL>; with
  # no db-urls configured that is the default https://github.com/rustsec/advisory-db.
  local root="$PWD/target/advisory-db"
  local db="$root/advisory-db-3157b0e258782691"
  local stamp="$root/.unpacked-from" want
  want="$archive $(stat -c '%s %Y' "$archive")"
  if [ ! -d "$db/.git" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "unpacking $archive into $db" >&2
    mkdir -p "$root"
    rm -f "$stamp"
    local tmp repo
    tmp="$(mktemp -d "$root/.unpack.XXXXXX")"
    tar --no-same-owner -xzf "$archive" -C "$tmp" \
      || { rm -rf "$tmp"; echo "offline advisory check: cannot unpack $archive" >&2; exit 1; }
    if [ -d "$tmp/.git" ]; then
      repo="$tmp"
    else
      repo="$(find "$tmp" -mindepth 2 -maxdepth 2 -name .git -type d -printf '%h\n')"
    fi
    if [ -z "$repo" ] || [ "$(printf '%s\n' "$repo" | wc -l)" != 1 ] \
       || ! git -C "$repo" rev-parse --quiet --verify HEAD >/dev/null; then
      rm -rf "$tmp"
      echo "offline advisory check: $archive does not hold one git repository of the advisory database" >&2
      exit 1
    fi
    rm -rf "$db"
    mv "$repo" "$db"
    rm -rf "$tmp"
    # cargo-deny dates the database by max(HEAD's commit date, mtime of .git/HEAD); make it the commit date.
    touch -d "@$(git -C "$db" show -s --format=%ct HEAD)" "$db/.git/HEAD"
    printf '%s\n' "$want" >"$stamp"
  fi

  # deny.toml with db-path (and the staleness limit) added to its [advisories] table.
  local cfg="$root/deny.toml"
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

  local date commit days
  date="$(git -C "$db" show -s --format=%cs HEAD)"
  commit="$(git -C "$db" show -s --format=%h HEAD)"
  days=$(( ($(date +%s) - $(git -C "$db" show -s --format=%ct HEAD)) / 86400 ))
  echo "RustSec advisory database: snapshot of $date (commit $commit, $days days old), from $archive"
  if [ "$days" -gt 90 ]; then
    echo "note: the snapshot is older than 90 days; advisories published since $date are not checked (refresh it, or run 'make deny-advisories' online)"
  fi
  # cargo metadata --offline needs every package of Cargo.lock in cargo's cache, those of other
  # platforms too (a build fetches only the host's): fetch the missing ones from crates.io.
  cargo fetch --locked --offline --quiet 2>/dev/null || cargo fetch --locked --quiet
  exec cargo deny --offline --locked --config "$cfg" check advisories
}

case "${1:-offline}" in
  offline) exec cargo deny --locked check licenses bans sources ;;
  advisories) exec cargo deny --locked check advisories ;;
  advisories-offline) advisories_offline ;;
  *)
    echo "usage: $0 [offline|advisories|advisories-offline]" >&2
    exit 2
    ;;
esac
