#!/usr/bin/env bash
# How long `latchkey import openedx` takes, and how much memory it holds, on an export of an Open
# edX LMS with USERS users (default 100 000) made by tests/openedx/generate_export.py --fast:
# their profiles, anonymous ids, applications and tokens. One import into an empty SQLite file
# and one into an empty PostgreSQL database, then a second run of each (nothing to change).
# Peak RSS is the kernel's VmHWM of the import process (/usr/bin/time -v's "Maximum resident set
# size"). Issue 16's targets: under 60 s and under 100 MiB each.
#
#   bash bench/import.sh
#
# Knobs: USERS=100000, SEED=1, BACKENDS="sqlite postgres", PG_URL=postgres://postgres@127.0.0.1:5432,
# LATCHKEY_BIN=PATH (else the release binary is built into $CARGO_TARGET_DIR, default ./target),
# OPENEDX_VENV (the generator's venv with tests/openedx/requirements.txt; made when missing,
# default /var/tmp/latchkey-openedx-venv).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"
USERS="${USERS:-100000}"
SEED="${SEED:-1}"
BACKENDS="${BACKENDS:-sqlite postgres}"
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432}"
VENV="${OPENEDX_VENV:-/var/tmp/latchkey-openedx-venv}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

log() { printf '[import-bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

command -v /usr/bin/time >/dev/null || apt-get install -y time >/dev/null 2>&1 \
  || { apt-get update >/dev/null && apt-get install -y time >/dev/null; }
if [ -z "${LATCHKEY_BIN:-}" ]; then
  cargo build --release -p latchkey >&2
  LATCHKEY_BIN="$CARGO_TARGET_DIR/release/latchkey"
fi
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r tests/openedx/requirements.txt

TMP="$(mktemp -d /tmp/latchkey-import-bench.XXXXXX)"
PG_DB=""
cleanup() {
  [ -n "$PG_DB" ] && psql "$PG_URL/postgres" -qAtc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

log "generating $USERS users (seed $SEED)"
"$VENV/bin/python" tests/openedx/generate_export.py --users "$USERS" --seed "$SEED" --fast \
  --out "$TMP/export.json"
SIZE_MB=$(( $(stat -c %s "$TMP/export.json") / 1000000 ))
ROWS=$(grep -c '"model"' "$TMP/export.json")
log "export: $SIZE_MB MB, $ROWS rows"

# One import: prints "seconds peak_kib" and keeps the summary.
measure() {
  local url="$1" name="$2"
  (cd "$TMP" && /usr/bin/time -v -o "$TMP/$name.time" \
    env LATCHKEY_DATABASE_URL="$url" "$LATCHKEY_BIN" import openedx --json export.json \
    > "$TMP/$name.json" 2> "$TMP/$name.err") || { cat "$TMP/$name.err" >&2; exit 1; }
  local secs kib
  secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,p,":"); s=0; for(i=1;i<=n;i++) s=s*60+p[i]; print s}' "$TMP/$name.time")
  kib=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$TMP/$name.time")
  echo "$secs $kib"
}

printf '| backend | run | users imported | seconds | peak RSS (MiB) | users/s |\n|---|---|---|---|---|---|\n'
for backend in $BACKENDS; do
  case "$backend" in
    sqlite) url="sqlite://$TMP/latchkey.db" ;;
    postgres)
      PG_DB="latchkey_import_bench_$$"
      psql "$PG_URL/postgres" -qAtc "CREATE DATABASE $PG_DB" >/dev/null
      url="$PG_URL/$PG_DB" ;;
  esac
  # The first start makes the key file and migrates: not part of the import's time.
  (cd "$TMP" && LATCHKEY_DATABASE_URL="$url" "$LATCHKEY_BIN" migrate >/dev/null)
  for run in first second; do
    read -r secs kib < <(measure "$url" "$backend-$run")
    imported=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["users"]["imported"])' "$TMP/$backend-$run.json")
    python3 - "$backend" "$run" "$imported" "$secs" "$kib" "$USERS" <<'PY'
import sys
backend, run, imported, secs, kib, users = sys.argv[1:]
secs = float(secs)
print(f"| {backend} | {run} | {imported} | {secs:.1f} | {int(kib) / 1024:.0f} | {int(users) / secs:,.0f} |")
PY
  done
done
