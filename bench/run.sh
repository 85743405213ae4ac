#!/usr/bin/env bash
# Latchkey's load figures, as ratios to floors measured in the same run on the same machine:
#   * an axum hello-world (bench/hello), the HTTP floor;
#   * the raw RSA-2048 / Ed25519 signing and argon2id rates on 2 threads (bench/raw), the CPU floors;
#   * node-oidc-provider 9 (../shared/peers/oidc-provider from the repo root), the peer, on the operations both have.
# Everything runs on 127.0.0.1 only, every load run is bounded (wrk -d), every server is stopped on
# exit. Servers are loaded one at a time, never two at once.
#
#   bash bench/run.sh
#
# Knobs (environment): DURATION=5 (seconds per wrk run), PASSWORD_DURATION=15 (the password
# grant's runs), REPS=3 (runs per operation; medians are reported), WARMUP=2 (an unrecorded run per
# server), THREADS=2 CONNS=32 (wrk -t/-c), BACKENDS="sqlite postgres", PEER=1 (0 skips the peer),
# PG_URL=postgres://postgres@127.0.0.1:5432, PEER_DIR=../shared/peers/oidc-provider,
# PEER_WORK=/var/tmp/oidc-peer (its node_modules are reused), CARGO_TARGET_DIR (default ./target),
# LATCHKEY_REV=REV (build that commit, from `git archive`, instead of the work tree: for a work tree
# others are editing), LATCHKEY_BIN=PATH (use that binary, no build), OPS="op ..." (run only these
# operations, by the names of their op_<name> functions: cc_jwt cc_opaque introspect
# introspect_jwt introspect_uncached password refresh login login_refresh code_exchange; default
# all; the raw floors and the hello-world always run, and a phase none of whose operations is asked
# for is skipped, the peer's included: `OPS="code_exchange login_refresh" bash bench/run.sh` takes
# ~3 min instead of ~13).
#
# Output: a table on stdout; bench/results/<date>.tsv (one row per backend and operation: medians,
# ratios, targets) and bench/results/<date>-runs.tsv (one row per wrk run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"

DURATION="${DURATION:-5}"
REPS="${REPS:-3}"
THREADS="${THREADS:-2}"
CONNS="${CONNS:-32}"
WARMUP="${WARMUP:-2}"
PASSWORD_DURATION="${PASSWORD_DURATION:-15}"
BACKENDS="${BACKENDS:-sqlite postgres}"
PEER="${PEER:-1}"
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432}"
OPS="${OPS:-}"
PEER_DIR="${PEER_DIR:-$ROOT/../shared/peers/oidc-provider}"
PEER_WORK="${PEER_WORK:-/var/tmp/oidc-peer}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
export BENCH_LUA_DIR="$ROOT/bench/lua"
export BENCH_THREADS="$THREADS"

STAMP="$(date -u +%Y-%m-%dT%H%MZ)"
RESULTS="$ROOT/bench/results"
SUMMARY="$RESULTS/$STAMP.tsv"
RUNS="$RESULTS/$STAMP-runs.tsv"
mkdir -p "$RESULTS"

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# --- tools and builds --------------------------------------------------------------------------------
if ! command -v wrk >/dev/null; then
  log "installing wrk"
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
for tool in wrk curl python3; do command -v "$tool" >/dev/null || { echo "error: $tool is missing" >&2; exit 1; }; done

# --- cleanup: every server we start is stopped, the PostgreSQL database dropped ----------------------
TMP="$(mktemp -d /tmp/latchkey-bench.XXXXXX)"
PIDS=()
PG_DB=""
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "$PG_DB" ]; then
    psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

RSS_LABEL=""
stop() { # PID: stop one server we started and wait for it, noting its peak memory (VmHWM)
  local hwm
  hwm="$(awk '/^VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || true)"
  if [ -n "$RSS_LABEL" ] && [ -n "$hwm" ]; then
    echo "peak_rss_mib_$RSS_LABEL=$((hwm / 1024))" >>"$TMP/rss.txt"
    log "  $RSS_LABEL: peak RSS $((hwm / 1024)) MiB"
  fi
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  local kept=() p
  for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || kept+=("$p"); done
  PIDS=("${kept[@]}")
}

free_port() { # a TCP port nobody listens on, from $1 up
  local p="$1"
  while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}

wait_http() { # URL SECONDS PID
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    curl -sf -o /dev/null "$1" && return 0
    kill -0 "$3" 2>/dev/null || { echo "error: the server for $1 exited" >&2; return 1; }
    sleep 0.1
  done
  echo "error: $1 did not answer within $2 s" >&2
  return 1
}

basic() { printf 'Basic %s' "$(printf '%s:%s' "$1" "$2" | base64 -w0)"; }

jwt_alg() { # a token response on stdin -> the access token's JOSE "alg"
  python3 -c 'import base64, json, sys
t = json.load(sys.stdin)["access_token"].split(".")[0]
print(json.loads(base64.urlsafe_b64decode(t + "=" * (-len(t) % 4)))["alg"])'
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# --- builds: the binaries are copied into $TMP, so a concurrent rebuild cannot swap them mid-run --------
mkdir -p "$TMP/bin"
if [ -n "${LATCHKEY_BIN:-}" ]; then
  log "latchkey: using $LATCHKEY_BIN"
  cp "$LATCHKEY_BIN" "$TMP/bin/latchkey"
  LATCHKEY_DESC="$LATCHKEY_BIN"
elif [ -n "${LATCHKEY_REV:-}" ]; then
  # The committed tree at that revision (not the work tree), built beside it with the same target
  # dir; the binary is kept per commit in /var/tmp/latchkey-bench-bin for the next run.
  rev="$(git rev-parse "$LATCHKEY_REV^{commit}")"
  cached="/var/tmp/latchkey-bench-bin/$rev/latchkey"
  if [ ! -x "$cached" ]; then
    log "building latchkey at $LATCHKEY_REV (git archive; release)"
    mkdir -p "$TMP/src" "$(dirname "$cached")"
    git archive "$rev" | tar -x -C "$TMP/src"
    (cd "$TMP/src" && cargo build --release -q -p latchkey)
    cp "$CARGO_TARGET_DIR/release/latchkey" "$cached.tmp" && mv "$cached.tmp" "$cached"
  fi
  cp "$cached" "$TMP/bin/latchkey"
  LATCHKEY_DESC="commit $(git rev-parse --short "$rev")"
else
  log "building latchkey from the work tree (release)"
  cargo build --release -q -p latchkey
  cp "$CARGO_TARGET_DIR/release/latchkey" "$TMP/bin/latchkey"
  LATCHKEY_DESC="work tree at $(git rev-parse --short HEAD)"
  changed="$(git diff --name-only HEAD -- crates Cargo.toml Cargo.lock 2>/dev/null | head -n 5 | paste -sd, -)"
  [ -z "$changed" ] || LATCHKEY_DESC="$LATCHKEY_DESC, uncommitted changes in: $changed"
fi
log "building the hello-world floor and the raw floors (release)"
cargo build --release -q --manifest-path bench/hello/Cargo.toml
cargo build --release -q --manifest-path bench/raw/Cargo.toml
cp "$CARGO_TARGET_DIR/release/latchkey-bench-hello" "$CARGO_TARGET_DIR/release/latchkey-bench-raw" "$TMP/bin/"
LATCHKEY="$TMP/bin/latchkey"
HELLO="$TMP/bin/latchkey-bench-hello"
RAW="$TMP/bin/latchkey-bench-raw"

printf 'phase\top\trep\turl\trequests\tduration_s\tok\tok_per_s\tnon2xx\tsocket_errors\tp50_ms\tp90_ms\tp99_ms\tmax_ms\treseeds\tserver_cpu_us_per_req\tserver_ctxsw_per_req\tdb_cpu_us_per_req\tloadavg\n' >"$RUNS"

# The measured server's CPU time (user+system of all its threads, dead ones included, in clock ticks)
# and context switches, and the CPU time of the PostgreSQL backends serving its database
# (MEASURE_PID, DB_NAME), so that each run also reports CPU microseconds per request: the server's
# own cost, which a noisy neighbour disturbs far less than a rate.
MEASURE_PID=""
DB_NAME=""
proc_cpu() { awk '{print $14 + $15}' "/proc/$MEASURE_PID/stat" 2>/dev/null || echo 0; }
proc_cs() { # (a thread may exit between the glob and cat)
  { cat /proc/"$MEASURE_PID"/task/*/status 2>/dev/null || true; } | awk '/ctxt_switches/ {s += $2} END {print s + 0}'
}
db_cpu() { # "PID:TICKS ..." for each backend (its title is "postgres: USER DATABASE HOST(PORT) STATE")
  [ -n "$DB_NAME" ] || return 0
  local p
  for p in $(ps -eo pid=,args= | awk -v db="$DB_NAME" 'index($0, "postgres: ") && index($0, " " db " ") {print $1}'); do
    printf '%s:%s ' "$p" "$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)"
  done
}
TICK="$(getconf CLK_TCK)"

# wrk_run PHASE OP REP URL SCRIPT: one bounded wrk run, appended to $RUNS (BENCH_* set by the caller).
wrk_run() {
  local phase="$1" op="$2" rep="$3" url="$4" script="$5" out line cpu0 cs0 db0 cpu1 cs1 db1
  cpu0="$(proc_cpu)"; cs0="$(proc_cs)"; db0="$(db_cpu)"
  out="$(wrk -t"$THREADS" -c"$CONNS" -d"${RUN_DURATION:-$DURATION}s" --latency -s "$BENCH_LUA_DIR/$script" "$url")"
  cpu1="$(proc_cpu)"; cs1="$(proc_cs)"; db1="$(db_cpu)"
  line="$(grep '^WRKJSON ' <<<"$out" | head -n1 | cut -d' ' -f2- || true)"
  if [ -z "$line" ]; then
    echo "error: wrk printed no summary for $phase/$op:" >&2
    echo "$out" >&2
    exit 1
  fi
  python3 - "$phase" "$op" "$rep" "$url" "$line" "$(loadavg)" "$((cpu1 - cpu0))" "$TICK" "$((cs1 - cs0))" "$db0" "$db1" "$DB_NAME" >>"$RUNS" <<'PY'
import json, sys
phase, op, rep, url, line, load, ticks, hz, cs, db0, db1, db_name = sys.argv[1:]
# Per backend process: a backend that started during the run counts whole; one that ended during it
# (sqlx closes a connection whose query was cancelled, as at the end of every wrk run) is not seen.
before = dict(x.split(":") for x in db0.split())
db_ticks = sum(int(t) - int(before.get(p, 0)) for p, t in (x.split(":") for x in db1.split()))
r = json.loads(line)
n = max(r["requests"], 1)
ok = r["requests"] - r["non2xx"] - r["reseeds"]
sock = r["connect_err"] + r["read_err"] + r["write_err"] + r["timeouts"]
cpu_us = int(ticks) * 1e6 / int(hz) / n
# Threads that exit during the run (tokio's blocking pool) take their switches with them.
ctxsw = round(int(cs) / n, 2) if int(cs) >= 0 else ""
db_us = round(int(db_ticks) * 1e6 / int(hz) / n, 1) if db_name else ""
print("\t".join(map(str, [phase, op, rep, url, r["requests"], r["duration_s"], ok,
    round(ok / r["duration_s"], 1), r["non2xx"], sock, r["p50_ms"], r["p90_ms"], r["p99_ms"],
    r["max_ms"], r["reseeds"], round(cpu_us, 1), ctxsw, db_us, load])))
PY
  tail -n1 "$RUNS" | awk -F'\t' '{printf "[bench]   %-9s %-13s rep %s: %9.1f ok/s  p50 %7.2f ms  p99 %7.2f ms  non-2xx %s  sock.err %s  server %6.1f us CPU/req (db %s) %s ctxsw/req\n", $1, $2, $3, $8, $11, $13, $9, $10, $16, ($18 == "" ? "-" : $18), $17}' >&2
}

warm() { # URL SCRIPT: a short unrecorded run (JIT, connection pools, caches)
  wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" -s "$BENCH_LUA_DIR/$2" "$1" >/dev/null
}

# wanted "op1 op2 ...": is any of these operations asked for (OPS)? hello always is.
wanted() {
  local op
  for op in $1; do
    if [ -z "$OPS" ] || [ "$op" = hello ] || [[ " $OPS " == *" $op "* ]]; then return 0; fi
  done
  return 1
}

# run_ops PHASE "op1 op2 ...": REPS rounds, each wanted op once per round (so drift spreads over all
# ops). Each op is a function op_<name> PHASE REP that sets BENCH_* and calls wrk_run.
run_ops() {
  local phase="$1" ops="$2" rep op
  for ((rep = 1; rep <= REPS; rep++)); do
    for op in $ops; do
      if wanted "$op"; then "op_$op" "$phase" "$rep"; fi
    done
  done
}

START_LOAD="$(loadavg)"
log "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $START_LOAD"

# --- raw floors --------------------------------------------------------------------------------------
RAWS=()
raw_floors() { # the CPU floors, once more (at the start, after each backend, after the peer)
  log "raw floors on $THREADS threads (RSA-2048 RS512/RS256, Ed25519, argon2id)"
  RAWS+=("$("$RAW" 0.6 "$THREADS" 4)")
  log "  ${RAWS[-1]}"
}
raw_floors

# --- hello-world floor: up (idle) all along, loaded in every round of every phase ----------------------
# so that each figure is a ratio to the hello-world measured in the same minutes.
HELLO_PORT="$(free_port 18300)"
"$HELLO" "$HELLO_PORT" 2>/dev/null &
HELLO_PID=$!
PIDS+=("$HELLO_PID")
wait_http "http://127.0.0.1:$HELLO_PORT/" 30 "$HELLO_PID"
op_hello() {
  MEASURE_PID="$HELLO_PID" DB_NAME="" wrk_run "$1" hello "$2" "http://127.0.0.1:$HELLO_PORT/" get.lua
}
warm "http://127.0.0.1:$HELLO_PORT/" get.lua

# --- Latchkey ----------------------------------------------------------------------------------------
CC_ID=bench-cc
CC_SECRET=bench-cc-secret-0123456789abcdef
IN_ID=bench-introspector
IN_SECRET=bench-introspector-secret-0123456789abcdef
PW_ID=bench-mobile
USER_NAME=bench
USER_PASSWORD='correct horse battery staple'
SEEDS=$((CONNS + 8))

# lk CMD...: the CLI, in the server's folder (latchkey.key) and on its database.
lk() { (cd "$LK_DIR" && RUST_LOG=warn "$LATCHKEY" --database-url "$LK_DB" "$@"); }

# wrk loads one account from one address with $CONNS connections. The per-address cap on sign-ins
# in flight, the account's attempts (which count while in flight) and the hashing queue are raised
# to fit them, so that the sign-in's capacity is measured rather than its refusals of one busy
# account (the sign-in limit tests and tests/interop/test_flood.py test those). So are the failure
# limits: wrk drops up to $CONNS sign-ins in flight at the end of each run, and a sign-in whose
# client went away counts as failed (else hanging up would be a free guess), so the password and
# login runs of one server would otherwise lock their own account and address. Binaries older than
# these settings refuse them, and run without.
LOAD_ENV=()
if LATCHKEY_THROTTLE__IP_IN_FLIGHT=1 "$LATCHKEY" --database-url "sqlite::memory:" migrate >/dev/null 2>&1; then
  LOAD_ENV=("LATCHKEY_THROTTLE__IP_IN_FLIGHT=$((CONNS * 2))" "LATCHKEY_THROTTLE__ACCOUNT_FAILURES=1000000"
    "LATCHKEY_THROTTLE__IP_FAILURES=1000000" "LATCHKEY_PASSWORDS__QUEUE_PER_CORE=$CONNS")
fi

lk_start() {
  LK_PORT="$(free_port 18310)"
  LK_URL="http://127.0.0.1:$LK_PORT"
  (cd "$LK_DIR" && RUST_LOG=warn exec env "${LOAD_ENV[@]}" "$LATCHKEY" --database-url "$LK_DB" serve \
    --listen "127.0.0.1:$LK_PORT" --issuer "$LK_URL/oauth2" 2>>"$LK_DIR/serve.log") &
  LK_PID=$!
  MEASURE_PID=$LK_PID
  RSS_LABEL="latchkey_${backend}_$1"
  PIDS+=("$LK_PID")
  wait_http "$LK_URL/health/live" 60 "$LK_PID"
}

lk_token() { # extra form fields...: a client_credentials token response from the cc client
  curl -sf -u "$CC_ID:$CC_SECRET" -d grant_type=client_credentials "$@" "$LK_URL/oauth2/access_token"
}

lk_check_alg() { # ALG: the server signs with ALG
  local got
  got="$(lk_token -d token_type=jwt | jwt_alg)"
  [ "$got" = "$1" ] || { echo "error: expected $1 JWTs, the server signs $got" >&2; exit 1; }
  log "  checked: the server signs $got JWTs"
}

PW_BODY=""
op_cc_jwt() { # the JWT op, named by the signing algorithm of the running server
  BENCH_BODY="grant_type=client_credentials&token_type=jwt" BENCH_AUTH="$(basic "$CC_ID" "$CC_SECRET")" \
    wrk_run "$1" "cc_jwt_$LK_ALG" "$2" "$LK_URL/oauth2/access_token" post.lua
}
op_cc_opaque() {
  BENCH_BODY="grant_type=client_credentials" BENCH_AUTH="$(basic "$CC_ID" "$CC_SECRET")" \
    wrk_run "$1" cc_opaque "$2" "$LK_URL/oauth2/access_token" post.lua
}
op_introspect() {
  BENCH_BODY="token=$LK_OPAQUE" BENCH_AUTH="$(basic "$IN_ID" "$IN_SECRET")" \
    wrk_run "$1" introspect "$2" "$LK_URL/oauth2/introspect" post.lua
}
op_introspect_jwt() { # the same answer signed as a JWT (RFC 9701): one RS512 signature each
  BENCH_BODY="token=$LK_OPAQUE" BENCH_AUTH="$(basic "$IN_ID" "$IN_SECRET")" \
    BENCH_ACCEPT=application/token-introspection+jwt \
    wrk_run "$1" introspect_jwt "$2" "$LK_URL/oauth2/introspect" post.lua
}
op_introspect_uncached() {
  BENCH_BODY="token=$LK_OPAQUE" BENCH_AUTH="$(basic "$IN_ID" "$IN_SECRET")" \
    wrk_run "$1" introspect_uncached "$2" "$LK_URL/oauth2/introspect" post.lua
}
op_password() {
  # Longer: wrk starts 32 requests at once and stops with up to 32 in flight, and each takes ~1 s
  # here, so a short run undercounts (by ~16 argon2id hashes' work: 4 % of a 15 s run).
  RUN_DURATION="$PASSWORD_DURATION" BENCH_BODY="$PW_BODY" BENCH_AUTH="" \
    wrk_run "$1" password "$2" "$LK_URL/oauth2/access_token" post.lua
}
op_refresh() {
  # Fresh refresh tokens for this run, by password grants (outside the timed run).
  local seeds="$LK_DIR/seeds.txt" i
  for ((i = 0; i < SEEDS; i++)); do echo "$i"; done |
    xargs -P 4 -I{} curl -sf -d "$PW_BODY" "$LK_URL/oauth2/access_token" |
    grep -o '"refresh_token":"[^"]*"' | cut -d'"' -f4 >"$seeds"
  [ "$(wc -l <"$seeds")" -ge "$CONNS" ] || { echo "error: could not seed refresh tokens" >&2; exit 1; }
  BENCH_SEEDS="$seeds" BENCH_CLIENT_ID="$PW_CLIENT" BENCH_TOKEN_TYPE=jwt BENCH_RESEED_BODY="$PW_BODY" \
    wrk_run "$1" refresh "$2" "$LK_URL/oauth2/access_token" refresh.lua
}

# The browser's operations. login: the JSON sign-in of a page script (CSRF double-submitted, as
# frontend-platform sends it), a session and the two JWT cookies each time; login_refresh: an MFE's
# renewal of its JWT cookies (one session read, one signature); code_exchange: a confidential
# client's authorization_code grant, on codes minted just before the run by a signed-in browser.
WEB_ID=bench-web
WEB_SECRET=bench-web-secret-0123456789abcdef
WEB_REDIRECT=http://127.0.0.1:9/callback
op_login() {
  RUN_DURATION="$PASSWORD_DURATION" BENCH_BODY="username=$USER_NAME&password=$PASSWORD_Q" BENCH_AUTH="" \
    BENCH_COOKIE="csrftoken=$CSRF_COOKIE" BENCH_CSRF="$CSRF_TOKEN" \
    wrk_run "$1" login "$2" "$LK_URL/login" post.lua
}
op_login_refresh() {
  BENCH_BODY="" BENCH_AUTH="" BENCH_COOKIE="sessionid=$SESSION_ID" BENCH_CSRF="" \
    wrk_run "$1" login_refresh "$2" "$LK_URL/login_refresh" post.lua
}
op_code_exchange() {
  local authorize="/oauth2/authorize?response_type=code&client_id=$WEB_ID&redirect_uri=$WEB_REDIRECT_Q&scope=read"
  rm -f "$LK_DIR/codes".*
  # Minted for longer than the run lasts (minting is cheaper than exchanging), within the codes' 60 s.
  BENCH_COOKIE="sessionid=$SESSION_ID" BENCH_CODES="$LK_DIR/codes" \
    wrk -t"$THREADS" -c"$CONNS" -d"$((DURATION + 2))s" -s "$BENCH_LUA_DIR/mint_codes.lua" "$LK_URL$authorize" >/dev/null
  BENCH_CODES="$LK_DIR/codes" BENCH_AUTH="$(basic "$WEB_ID" "$WEB_SECRET")" BENCH_REDIRECT_URI="$WEB_REDIRECT_Q" \
    BENCH_TOKEN_PATH=/oauth2/access_token BENCH_AUTHORIZE_PATH="$authorize" BENCH_COOKIE="sessionid=$SESSION_ID" \
    wrk_run "$1" code_exchange "$2" "$LK_URL/oauth2/access_token" exchange.lua
}
PASSWORD_Q="$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote_plus(sys.argv[1]))' "$USER_PASSWORD")"
WEB_REDIRECT_Q="$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote_plus(sys.argv[1]))' "$WEB_REDIRECT")"

browser_setup() { # the CSRF pair, a session, and a check that a code can be had and exchanged
  local jar="$LK_DIR/cookies.txt"
  rm -f "$jar"
  CSRF_TOKEN="$(curl -sf -c "$jar" "$LK_URL/csrf/api/v1/token" | python3 -c 'import json, sys; print(json.load(sys.stdin)["csrfToken"])')"
  CSRF_COOKIE="$(awk '$6 == "csrftoken" {print $7}' "$jar")"
  curl -sf -b "$jar" -c "$jar" -H "X-CSRFToken: $CSRF_TOKEN" -d "username=$USER_NAME&password=$PASSWORD_Q" \
    "$LK_URL/login" | grep -q '"success":true' || { echo "error: the browser sign-in failed" >&2; exit 1; }
  SESSION_ID="$(awk '$6 == "sessionid" {print $7}' "$jar")"
  [ -n "$SESSION_ID" ] || { echo "error: the sign-in set no session cookie" >&2; exit 1; }
  curl -sf -X POST -b "sessionid=$SESSION_ID" "$LK_URL/login_refresh" | grep -q '"expires_in"' ||
    { echo "error: /login_refresh failed" >&2; exit 1; }
  local code
  code="$(curl -s -o /dev/null -w '%{redirect_url}' -b "sessionid=$SESSION_ID" \
    "$LK_URL/oauth2/authorize?response_type=code&client_id=$WEB_ID&redirect_uri=$WEB_REDIRECT_Q&scope=read" |
    sed -n 's/.*[?&]code=\([^&]*\).*/\1/p')"
  [ -n "$code" ] || { echo "error: the authorize request gave no code" >&2; exit 1; }
  curl -sf -u "$WEB_ID:$WEB_SECRET" -d "grant_type=authorization_code&redirect_uri=$WEB_REDIRECT_Q&code=$code" \
    "$LK_URL/oauth2/access_token" | grep -q '"refresh_token"' || { echo "error: the code exchange failed" >&2; exit 1; }
}

for backend in $BACKENDS; do
  LK_DIR="$TMP/$backend"
  mkdir -p "$LK_DIR"
  case "$backend" in
    sqlite) LK_DB="sqlite://latchkey.db"; DB_NAME="" ;;
    postgres)
      PG="-h 127.0.0.1 -p 5432 -U postgres"
      if ! pg_isready $PG -q 2>/dev/null; then
        log "PostgreSQL is down; starting it"
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
        for _ in $(seq 1 30); do pg_isready $PG -q && break; sleep 1; done
      fi
      PG_DB="latchkey_bench_$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
      psql "$PG_URL/postgres" -qc "CREATE DATABASE \"$PG_DB\"" >/dev/null
      LK_DB="$PG_URL/$PG_DB"
      DB_NAME="$PG_DB"
      ;;
    *) echo "error: unknown backend $backend" >&2; exit 1 ;;
  esac
  log "latchkey on $backend: user and clients"
  printf '%s\n' "$USER_PASSWORD" | lk user create --username "$USER_NAME" --email bench@example.org --password-stdin >/dev/null
  lk client create bench-cc "$USER_NAME" --grant-type client-credentials --client-id "$CC_ID" --client-secret "$CC_SECRET" --json >/dev/null
  lk client create bench-introspector "$USER_NAME" --grant-type client-credentials --client-id "$IN_ID" --client-secret "$IN_SECRET" --permission introspect --json >/dev/null
  PW_CLIENT="$(lk client create bench-mobile "$USER_NAME" --grant-type password --public --client-id "$PW_ID" --json |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["client_id"])')"
  PW_BODY="grant_type=password&client_id=$PW_CLIENT&token_type=jwt&username=$USER_NAME&password=$PASSWORD_Q"
  lk client create bench-web "$USER_NAME" --grant-type authorization-code --client-id "$WEB_ID" --client-secret "$WEB_SECRET" \
    --redirect-uris "$WEB_REDIRECT" --skip-authorization --json >/dev/null

  # 1. The default key (RS512): every operation.
  lk_start RS512
  LK_ALG=RS512
  lk_check_alg RS512
  LK_OPAQUE="$(lk_token | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"
  curl -sf -u "$IN_ID:$IN_SECRET" -d "token=$LK_OPAQUE" "$LK_URL/oauth2/introspect" | grep -q '"active":true' ||
    { echo "error: introspection of the opaque token did not say active" >&2; exit 1; }
  curl -sf -d "$PW_BODY" "$LK_URL/oauth2/access_token" | grep -q '"refresh_token"' ||
    { echo "error: the password grant failed" >&2; exit 1; }
  BENCH_BODY="grant_type=client_credentials&token_type=jwt" BENCH_AUTH="$(basic "$CC_ID" "$CC_SECRET")" \
    warm "$LK_URL/oauth2/access_token" post.lua
  log "latchkey on $backend (RS512): $REPS rounds of hello, cc_jwt, cc_opaque, introspect, introspect_jwt, password, refresh"
  run_ops "$backend" "hello cc_jwt cc_opaque introspect introspect_jwt password refresh"
  if wanted "login login_refresh code_exchange"; then
    browser_setup
    log "latchkey on $backend (RS512): $REPS rounds of login, login_refresh, code_exchange"
    run_ops "$backend" "login login_refresh code_exchange"
  fi
  stop "$LK_PID"

  # 1b. Introspection with the answer cache off (tokens.introspection_cache = 0): every request
  # reads the token and its user from the database, as when the token is not the same as a moment
  # ago. `introspect` above asks about one token, as a resource server does on every call.
  if wanted introspect_uncached; then
    LATCHKEY_TOKENS__INTROSPECTION_CACHE=0 lk_start uncached
    BENCH_BODY="token=$LK_OPAQUE" BENCH_AUTH="$(basic "$IN_ID" "$IN_SECRET")" warm "$LK_URL/oauth2/introspect" post.lua
    log "latchkey on $backend (introspection cache off): $REPS x introspect_uncached, 1 x hello"
    run_ops "$backend" "introspect_uncached"
    op_hello "$backend" uncached
    stop "$LK_PID"
  fi

  # 2. and 3. A new key at once, on a fresh server instance: EdDSA, then RS256 (the peer's).
  if wanted cc_jwt; then
    for alg in EdDSA RS256; do
      lk keys rotate --alg "$alg" --now >/dev/null
      lk_start "$alg"
      LK_ALG="$alg"
      lk_check_alg "$alg"
      BENCH_BODY="grant_type=client_credentials&token_type=jwt" BENCH_AUTH="$(basic "$CC_ID" "$CC_SECRET")" \
        warm "$LK_URL/oauth2/access_token" post.lua
      log "latchkey on $backend ($alg): $REPS x cc_jwt, 1 x hello"
      run_ops "$backend" "cc_jwt"
      op_hello "$backend" "$alg"
      stop "$LK_PID"
    done
  fi
  # What the servers logged at warn and above (RUST_LOG=warn), counted by message.
  if [ -s "$LK_DIR/serve.log" ]; then
    log "latchkey on $backend logged $(wc -l <"$LK_DIR/serve.log") lines at warn or above; by message:"
    sed 's/\x1b\[[0-9;]*m//g; s/^[^ ]* *//' "$LK_DIR/serve.log" | sort | uniq -c | sort -rn | head -n 5 >&2
  fi
  if [ "$backend" = postgres ]; then
    psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null
    PG_DB=""
    DB_NAME=""
  fi
  raw_floors
done

# --- node-oidc-provider (alone: no Latchkey server runs now) ----------------------------------------
# Only for the operations it shares with Latchkey.
wanted "cc_jwt cc_opaque introspect introspect_uncached" || PEER=0
if [ "$PEER" = 1 ]; then
  PEER_PORT="$(free_port 18320)"
  PEER_URL="http://127.0.0.1:$PEER_PORT"
  mkdir -p "$PEER_WORK"
  log "node-oidc-provider on $PEER_PORT (work folder $PEER_WORK; npm ci the first time)"
  WORK="$PEER_WORK" bash "$PEER_DIR/run.sh" "$PEER_PORT" 2>"$TMP/peer.log" &
  PEER_PID=$!
  MEASURE_PID=$PEER_PID
  RSS_LABEL=peer
  PIDS+=("$PEER_PID")
  wait_http "$PEER_URL/.well-known/openid-configuration" 300 "$PEER_PID"
  P_CC="$(basic cc-client cc-client-secret-0123456789abcdef)"
  P_IN="$(basic introspector introspector-secret-0123456789abcdef)"
  P_OPAQUE_BODY="grant_type=client_credentials&scope=read&resource=http%3A%2F%2F127.0.0.1%2Fpeer-api-opaque"
  got="$(curl -sf -u cc-client:cc-client-secret-0123456789abcdef -d 'grant_type=client_credentials&scope=read' "$PEER_URL/token" | jwt_alg)"
  [ "$got" = RS256 ] || { echo "error: the peer signs $got, not RS256" >&2; exit 1; }
  P_OPAQUE="$(curl -sf -u cc-client:cc-client-secret-0123456789abcdef -d "$P_OPAQUE_BODY" "$PEER_URL/token" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"
  curl -sf -u introspector:introspector-secret-0123456789abcdef -d "token=$P_OPAQUE" "$PEER_URL/token/introspection" |
    grep -q '"active":true' || { echo "error: the peer's introspection did not say active" >&2; exit 1; }
  op_peer_cc_jwt() { BENCH_BODY="grant_type=client_credentials&scope=read" BENCH_AUTH="$P_CC" wrk_run peer cc_jwt_RS256 "$2" "$PEER_URL/token" post.lua; }
  op_peer_cc_opaque() { BENCH_BODY="$P_OPAQUE_BODY" BENCH_AUTH="$P_CC" wrk_run peer cc_opaque "$2" "$PEER_URL/token" post.lua; }
  op_peer_introspect() { BENCH_BODY="token=$P_OPAQUE" BENCH_AUTH="$P_IN" wrk_run peer introspect "$2" "$PEER_URL/token/introspection" post.lua; }
  BENCH_BODY="grant_type=client_credentials&scope=read" BENCH_AUTH="$P_CC" warm "$PEER_URL/token" post.lua
  log "node-oidc-provider: $REPS rounds of hello, cc_jwt_RS256, cc_opaque, introspect"
  run_ops peer "hello peer_cc_jwt peer_cc_opaque peer_introspect"
  stop "$PEER_PID"
fi

RSS_LABEL=hello
stop "$HELLO_PID"
[ "$PEER" = 1 ] && raw_floors
END_LOAD="$(loadavg)"

# --- summary -----------------------------------------------------------------------------------------
RAW_ARGS=()
for r in "${RAWS[@]}"; do RAW_ARGS+=(--raw "$r"); done
while read -r m; do RAW_ARGS+=(--meta "$m"); done < <(cat "$TMP/rss.txt" 2>/dev/null || true)
python3 "$ROOT/bench/summarize.py" "$RUNS" "$SUMMARY" "${RAW_ARGS[@]}" --backends "$BACKENDS" \
  --meta "date=$STAMP" \
  --meta "command=bash bench/run.sh (DURATION=$DURATION REPS=$REPS THREADS=$THREADS CONNS=$CONNS)" \
  --meta "latchkey=$LATCHKEY_DESC" \
  --meta "machine=$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
  --meta "loadavg_start=$START_LOAD" --meta "loadavg_end=$END_LOAD"
log "wrote $SUMMARY and $RUNS"
