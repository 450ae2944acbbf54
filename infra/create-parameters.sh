#!/usr/bin/env bash
# Create (or update) the SSM parameters the LiveKit token functions read.
#
#   infra/create-parameters.sh [--keys-only] [PREFIX]
#
# PREFIX: first argument, else $LIVEKIT_SSM_PREFIX, else /dissertation-editor/livekit (the
# template's default: the platform this project was first built for; choose your own, one
# per deployment, e.g. /myapp/livekit). It must match the stack's SsmPrefix parameter.
#
# Values come from the environment, or are prompted for (the secret without echo):
#   LIVEKIT_API_KEY and LIVEKIT_API_SECRET
#                        -> ${PREFIX}/current-key (SecureString `key: secret`, written first:
#                           one write switches both), then ${PREFIX}/api-key and
#                           ${PREFIX}/api-secret (SecureString; for functions deployed
#                           before current-key existed)
#   LIVEKIT_URL          -> ${PREFIX}/url         (SecureString, wss://... handed to browsers)
#   LIVEKIT_API_URL      -> ${PREFIX}/api-url     (optional; https://... for server API calls;
#                                                  derived from the url when absent)
#   LIVEKIT_KEYS         -> ${PREFIX}/api-keys    (optional SecureString: the keys that verify
#   or LIVEKIT_KEYS_FILE                           during a rotation, LiveKit's `key: secret`
#                                                  format, one per line or comma-separated;
#                                                  see docs/key-rotation.md). Never prompted for.
#   ROOM_LINK_KEYS       -> ${PREFIX}/room-link-keys (optional SecureString: room links' own
#                                                  keys with RoomLinks=on, same format, the
#                                                  first listed signs, secrets of 32+ chars,
#                                                  never a LiveKit secret; docs/room-links.md).
#                                                  Never prompted for.
#   KMS_KEY_ID           -> optional customer managed key (ARN/id/alias) instead of aws/ssm;
#                           pass its key ARN to the stack's KmsKeyArn parameter too.
#
# --keys-only writes only ${PREFIX}/api-keys (rotation steps: add a verifier, retire a key).
#
# Uses the normal AWS CLI (v1 or v2) credentials/region (AWS_PROFILE, AWS_REGION, ...);
# `make infra-deps` installs AWS CLI v1 into infra/.venv. v1 reads only AWS_DEFAULT_REGION,
# so AWS_REGION is passed on as that when only it is set.
# Existing parameters are overwritten. Each value goes to the CLI as `--value file://...`
# from a temporary mode-600 file: never on a command line (visible in `ps`), never
# printed, and an https:// value is not fetched as a URL by AWS CLI v1.
set -euo pipefail

keys_only=""
if [[ "${1:-}" == "--keys-only" ]]; then
  keys_only=1
  shift
fi
prefix="${1:-${LIVEKIT_SSM_PREFIX:-/dissertation-editor/livekit}}"
prefix="${prefix%/}"
case "$prefix" in
  /*) ;;
  *) echo "error: prefix must start with '/': $prefix" >&2; exit 2 ;;
esac
command -v aws >/dev/null \
  || { echo "error: the AWS CLI (aws) is not on PATH: 'make infra-deps' installs it into infra/.venv/bin" >&2; exit 2; }
if [[ -z "${AWS_DEFAULT_REGION:-}" && -n "${AWS_REGION:-}" ]]; then
  export AWS_DEFAULT_REGION="$AWS_REGION"
fi

prompt() { # prompt VAR "label" [silent]
  local var="$1" label="$2" silent="${3:-}" value="${!1:-}"
  if [[ -z "$value" ]]; then
    [[ -t 0 ]] || { echo "error: $var is not set and stdin is not a terminal" >&2; exit 2; }
    if [[ -n "$silent" ]]; then
      read -r -s -p "$label: " value; echo >&2
    else
      read -r -p "$label: " value
    fi
  fi
  printf -v "$var" '%s' "$value"
}

# The keys that verify: from LIVEKIT_KEYS, or read from the file LIVEKIT_KEYS_FILE names.
keys="${LIVEKIT_KEYS:-}"
if [[ -z "$keys" && -n "${LIVEKIT_KEYS_FILE:-}" ]]; then
  [[ -r "$LIVEKIT_KEYS_FILE" ]] || { echo "error: cannot read LIVEKIT_KEYS_FILE" >&2; exit 2; }
  keys="$(<"$LIVEKIT_KEYS_FILE")"
fi
check_key_set() { # check_key_set NAME VARIABLE VALUE MIN_SECRET_CHARS
  # Light check (the functions parse strictly): every entry is `key: secret`. Entries are
  # counted, never printed.
  local n=0 entry secret
  while IFS= read -r entry; do
    entry="${entry#"${entry%%[![:space:]]*}"}"
    [[ -z "$entry" || "$entry" == \#* ]] && continue
    n=$((n + 1))
    [[ "$entry" == *:* ]] || { echo "error: $1 entry $n is not 'key: secret'" >&2; exit 2; }
    secret="${entry#*:}"; secret="${secret//[[:space:]\"\']/}"
    (( ${#secret} >= $4 )) || { echo "error: $1 entry $n has a secret shorter than $4 characters" >&2; exit 2; }
  done < <(printf '%s\n' "$3" | tr ',' '\n')
  (( n > 0 )) || { echo "error: $2 has no entries" >&2; exit 2; }
}
if [[ -n "$keys" ]]; then
  check_key_set api-keys LIVEKIT_KEYS "$keys" 1
elif [[ -n "$keys_only" ]]; then
  echo "error: --keys-only needs LIVEKIT_KEYS or LIVEKIT_KEYS_FILE" >&2; exit 2
fi

room_link_keys="${ROOM_LINK_KEYS:-}"
if [[ -n "$room_link_keys" ]]; then
  check_key_set room-link-keys ROOM_LINK_KEYS "$room_link_keys" 32
fi

if [[ -z "$keys_only" ]]; then
  prompt LIVEKIT_API_KEY "LiveKit API key"
  prompt LIVEKIT_API_SECRET "LiveKit API secret (not echoed)" silent
  prompt LIVEKIT_URL "LiveKit URL (wss://...)"
  if [[ -z "${LIVEKIT_API_URL+x}" && -t 0 ]]; then
    read -r -p "LiveKit API URL (https://..., empty to derive from the URL): " LIVEKIT_API_URL
  fi
  LIVEKIT_API_URL="${LIVEKIT_API_URL:-}"

  for v in LIVEKIT_API_KEY LIVEKIT_API_SECRET LIVEKIT_URL; do
    [[ -n "${!v}" ]] || { echo "error: $v is empty" >&2; exit 2; }
  done
  # current-key is LiveKit's `key: secret` format: neither may hold what separates them.
  [[ "$LIVEKIT_API_KEY" =~ ^[^[:space:]:\"\',]+$ ]] \
    || { echo "error: LIVEKIT_API_KEY contains spaces, quotes, commas or ':'" >&2; exit 2; }
  [[ "$LIVEKIT_API_SECRET" =~ ^[^[:space:],]+$ ]] \
    || { echo "error: LIVEKIT_API_SECRET contains spaces or commas" >&2; exit 2; }
  case "$LIVEKIT_URL" in
    wss://*|ws://*) ;;
    *) echo "error: LIVEKIT_URL must start with wss:// or ws://" >&2; exit 2 ;;
  esac
fi

tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
chmod 600 "$tmp"

put() { # put NAME VALUE
  # printf is a shell builtin: the value never appears in a process's arguments.
  printf '%s' "$2" >"$tmp"
  aws ssm put-parameter --name "$1" --type SecureString --overwrite \
    ${KMS_KEY_ID:+--key-id "$KMS_KEY_ID"} \
    --value "file://$tmp" --output text --query Version >/dev/null
  : >"$tmp"
  echo "put $1 (SecureString)"
}

# api-keys first: during a rotation the new current key must already verify everywhere.
if [[ -n "$keys" ]]; then
  put "$prefix/api-keys" "$keys"
fi
if [[ -z "$keys_only" ]]; then
  # The current key and secret in one parameter first: a rotation's switch is one write,
  # and no function reads the new key with the old secret. The two parameters after it
  # are for functions deployed before `current-key` existed (this version ignores them
  # while `current-key` is there).
  put "$prefix/current-key" "$LIVEKIT_API_KEY: $LIVEKIT_API_SECRET"
  put "$prefix/api-key" "$LIVEKIT_API_KEY"
  put "$prefix/api-secret" "$LIVEKIT_API_SECRET"
  put "$prefix/url" "$LIVEKIT_URL"
  if [[ -n "$LIVEKIT_API_URL" ]]; then
    put "$prefix/api-url" "$LIVEKIT_API_URL"
  else
    echo "skipped $prefix/api-url (derived from the url at run time)"
  fi
  if [[ -n "$room_link_keys" ]]; then
    put "$prefix/room-link-keys" "$room_link_keys"
  fi
fi
echo "done. Deploy with SsmPrefix=$prefix"
