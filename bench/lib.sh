# Shared by the load scripts (bench/run.sh, bench/cluster.sh), sourced first: the knobs they share,
# the cleanup trap, starting and stopping servers, the latchkey binary, a PostgreSQL database per
# run, one installation's user and clients, and the measured wrk run with its server CPU.
# Everything runs on 127.0.0.1 only; every server started through these helpers is stopped on exit.
# Knobs (environment): DURATION=5 REPS=3 WARMUP=2 THREADS=2 CONNS=32, PG_URL, CARGO_TARGET_DIR
# (default ./target), LATCHKEY_REV or LATCHKEY_BIN (latchkey_binary); results go to bench/results,
# named by STAMP.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"

DURATION="${DURATION:-5}"
REPS="${REPS:-3}"
THREADS="${THREADS:-2}"
CONNS="${CONNS:-32}"
WARMUP="${WARMUP:-2}"
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
export BENCH_LUA_DIR="$ROOT/bench/lua"
export BENCH_THREADS="$THREADS"

STAMP="$(date -u +%Y-%m-%dT%H%MZ)"
RESULTS="$ROOT/bench/results"
mkdir -p "$RESULTS"

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

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

machine() { echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"; }

# --- the latchkey binary, copied into $TMP so that a concurrent rebuild cannot swap it mid-run ---------
# Sets LATCHKEY (the copy) and LATCHKEY_DESC (what it was built from).
latchkey_binary() {
  mkdir -p "$TMP/bin"
  if [ -n "${LATCHKEY_BIN:-}" ]; then
    log "latchkey: using $LATCHKEY_BIN"
    cp "$LATCHKEY_BIN" "$TMP/bin/latchkey"
    # Its content, not its path: the results go into the repository.
    LATCHKEY_DESC="a given binary, sha256 $(sha256sum "$LATCHKEY_BIN" | cut -c1-12)"
  elif [ -n "${LATCHKEY_REV:-}" ]; then
    # The committed tree at that revision (not the work tree), built beside it with the same target
    # dir; the binary is kept per commit in /var/tmp/latchkey-bench-bin for the next run. Extracted
    # with fresh times (-m): with the commit's own, older than what the target dir last built from
    # another tree, cargo would take that build for this one.
    local rev cached
    rev="$(git rev-parse "$LATCHKEY_REV^{commit}")"
    cached="/var/tmp/latchkey-bench-bin/$rev/latchkey"
    if [ ! -x "$cached" ]; then
      log "building latchkey at $LATCHKEY_REV (git archive; release)"
      mkdir -p "$TMP/src" "$(dirname "$cached")"
      git archive "$rev" | tar -x -m -C "$TMP/src"
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
    local changed
    changed="$(git diff --name-only HEAD -- crates Cargo.toml Cargo.lock 2>/dev/null | head -n 5 | paste -sd, -)"
    [ -z "$changed" ] || LATCHKEY_DESC="$LATCHKEY_DESC, uncommitted changes in: $changed"
  fi
  LATCHKEY="$TMP/bin/latchkey"
}

# --- PostgreSQL: a fresh database, dropped by the cleanup -----------------------------------------------
pg_database() { # sets PG_DB, LK_DB and DB_NAME (starting the machine's PostgreSQL if it is down)
  local pg="-h 127.0.0.1 -p 5432 -U postgres"
  if ! pg_isready $pg -q 2>/dev/null; then
    log "PostgreSQL is down; starting it"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
    for _ in $(seq 1 30); do pg_isready $pg -q && break; sleep 1; done
  fi
  PG_DB="latchkey_bench_$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
  psql "$PG_URL/postgres" -qc "CREATE DATABASE \"$PG_DB\"" >/dev/null
  LK_DB="$PG_URL/$PG_DB"
  DB_NAME="$PG_DB"
}

pg_drop() { # the database of pg_database, now
  psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null
  PG_DB=""
  DB_NAME=""
}

# --- the measured wrk run ------------------------------------------------------------------------------
runs_header() { # FILE: the header of the per-run TSV that wrk_run appends to ($RUNS)
  printf 'phase\top\trep\turl\trequests\tduration_s\tok\tok_per_s\tnon2xx\tsocket_errors\tp50_ms\tp90_ms\tp99_ms\tmax_ms\treseeds\tserver_cpu_us_per_req\tserver_ctxsw_per_req\tdb_cpu_us_per_req\tloadavg\n' >"$1"
}

# The measured servers' CPU time (user+system of all their threads, dead ones included, in clock
# ticks) and context switches (MEASURE_PID: one PID, or several separated by spaces, summed), and the
# CPU time of the PostgreSQL backends serving their database (DB_NAME), so that each run also reports
# CPU microseconds per request: the servers' own cost, which a noisy neighbour disturbs far less than
# a rate.
MEASURE_PID=""
DB_NAME=""
proc_cpu() {
  local p
  for p in $MEASURE_PID; do cat "/proc/$p/stat" 2>/dev/null || true; done | awk '{s += $14 + $15} END {print s + 0}'
}
proc_cs() { # (a thread may exit between the glob and cat)
  local p
  for p in $MEASURE_PID; do cat /proc/"$p"/task/*/status 2>/dev/null || true; done |
    awk '/ctxt_switches/ {s += $2} END {print s + 0}'
}
db_cpu() { # "PID:TICKS ..." for each backend (its title is "postgres: USER DATABASE HOST(PORT) STATE")
  [ -n "$DB_NAME" ] || return 0
  local p
  for p in $(ps -eo pid=,args= | awk -v db="$DB_NAME" 'index($0, "postgres: ") && index($0, " " db " ") {print $1}'); do
    printf '%s:%s ' "$p" "$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)"
  done
}
TICK="$(getconf CLK_TCK)"

# wrk_load SECONDS SCRIPT URL: wrk's output for one bounded run of THREADS x CONNS. With SPLIT_OVER
# set (origins, "http://127.0.0.1:A http://127.0.0.1:B"), the same total load is split over them:
# one wrk per origin, run at once, each with its share of the threads and connections and told its
# part (BENCH_SHARD of BENCH_SHARDS) so that scripts with seeds (refresh.lua) take disjoint ones;
# their WRKJSON lines are merged into one (counts summed; duration and latencies the largest part's).
wrk_load() {
  local secs="$1" script="$BENCH_LUA_DIR/$2" url="$3"
  if [ -z "${SPLIT_OVER:-}" ]; then
    wrk -t"$THREADS" -c"$CONNS" -d"${secs}s" --latency -s "$script" "$url"
    return
  fi
  local origins=($SPLIT_OVER) n k path pids=()
  n="${#origins[@]}"
  if ((THREADS % n || CONNS % n)); then
    echo "error: THREADS=$THREADS and CONNS=$CONNS must divide by $n origins" >&2
    exit 1
  fi
  path="/${url#*://*/}"
  for ((k = 0; k < n; k++)); do
    BENCH_THREADS=$((THREADS / n)) BENCH_SHARD=$k BENCH_SHARDS=$n \
      wrk -t$((THREADS / n)) -c$((CONNS / n)) -d"${secs}s" --latency -s "$script" "${origins[k]}$path" \
      >"$TMP/wrk.$k" &
    pids+=($!)
  done
  for k in "${!pids[@]}"; do wait "${pids[k]}"; done
  grep -h '^WRKJSON ' "$TMP"/wrk.* | python3 -c 'import json, sys
parts = [json.loads(l.split(" ", 1)[1]) for l in sys.stdin]
merged = {k: (max if k == "duration_s" or k.endswith("_ms") else sum)(p[k] for p in parts) for k in parts[0]}
print("WRKJSON " + json.dumps(merged))'
  rm -f "$TMP"/wrk.*
}

# wrk_run PHASE OP REP URL SCRIPT: one bounded wrk run, appended to $RUNS (BENCH_* set by the caller).
wrk_run() {
  local phase="$1" op="$2" rep="$3" url="$4" script="$5" out line cpu0 cs0 db0 cpu1 cs1 db1
  cpu0="$(proc_cpu)"; cs0="$(proc_cs)"; db0="$(db_cpu)"
  out="$(wrk_load "${RUN_DURATION:-$DURATION}" "$script" "$url")"
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
  wrk_load "$WARMUP" "$2" "$1" >/dev/null
}

# --- a Latchkey installation: its user and clients, its servers, the machine clients' operations -------
CC_ID=bench-cc
CC_SECRET=bench-cc-secret-0123456789abcdef
IN_ID=bench-introspector
IN_SECRET=bench-introspector-secret-0123456789abcdef
PW_ID=bench-mobile
USER_NAME=bench
USER_PASSWORD='correct horse battery staple'
SEEDS=$((CONNS + 8))
PASSWORD_Q="$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote_plus(sys.argv[1]))' "$USER_PASSWORD")"
WEB_ID=bench-web
WEB_SECRET=bench-web-secret-0123456789abcdef
WEB_REDIRECT=http://127.0.0.1:9/callback
WEB_REDIRECT_Q="$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote_plus(sys.argv[1]))' "$WEB_REDIRECT")"

# lk CMD...: the CLI, in the server's folder (latchkey.key) and on its database.
lk() { (cd "$LK_DIR" && RUST_LOG=warn "$LATCHKEY" --database-url "$LK_DB" "$@"); }

# wrk loads one account from one address with $CONNS connections. The per-address cap on sign-ins
# in flight, the account's attempts (which count while in flight) and the hashing queue are raised
# to fit them, so that the sign-in's capacity is measured rather than its refusals of one busy
# account (the sign-in limit tests and tests/interop/test_flood.py test those). So are the failure
# limits: wrk drops up to $CONNS sign-ins in flight at the end of each run, and a sign-in whose
# client went away counts as failed (else hanging up would be a free guess), so the password and
# login runs of one server would otherwise lock their own account and address. Binaries older than
# these settings refuse them, and run without. (Call after latchkey_binary.)
load_env() {
  LOAD_ENV=()
  if LATCHKEY_THROTTLE__IP_IN_FLIGHT=1 "$LATCHKEY" --database-url "sqlite::memory:" migrate >/dev/null 2>&1; then
    LOAD_ENV=("LATCHKEY_THROTTLE__IP_IN_FLIGHT=$((CONNS * 2))" "LATCHKEY_THROTTLE__ACCOUNT_FAILURES=1000000"
      "LATCHKEY_THROTTLE__IP_FAILURES=1000000" "LATCHKEY_PASSWORDS__QUEUE_PER_CORE=$CONNS")
  fi
}

lk_setup() { # the user and the clients, in $LK_DIR on $LK_DB; sets PW_CLIENT and PW_BODY
  printf '%s\n' "$USER_PASSWORD" | lk user create --username "$USER_NAME" --email bench@example.org --password-stdin >/dev/null
  lk client create bench-cc "$USER_NAME" --grant-type client-credentials --client-id "$CC_ID" --client-secret "$CC_SECRET" --json >/dev/null
  lk client create bench-introspector "$USER_NAME" --grant-type client-credentials --client-id "$IN_ID" --client-secret "$IN_SECRET" --permission introspect --json >/dev/null
  PW_CLIENT="$(lk client create bench-mobile "$USER_NAME" --grant-type password --public --client-id "$PW_ID" --json |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["client_id"])')"
  PW_BODY="grant_type=password&client_id=$PW_CLIENT&token_type=jwt&username=$USER_NAME&password=$PASSWORD_Q"
  lk client create bench-web "$USER_NAME" --grant-type authorization-code --client-id "$WEB_ID" --client-secret "$WEB_SECRET" \
    --redirect-uris "$WEB_REDIRECT" --skip-authorization --json >/dev/null
}

# lk_serve PORT ISSUER [ENV=VALUE...]: `latchkey serve` on 127.0.0.1:PORT, in $LK_DIR on $LK_DB, with
# LOAD_ENV and the extra settings; sets LK_PID once it answers.
lk_serve() {
  local port="$1" issuer="$2"
  shift 2
  (cd "$LK_DIR" && RUST_LOG=warn exec env "${LOAD_ENV[@]}" "$@" "$LATCHKEY" --database-url "$LK_DB" serve \
    --listen "127.0.0.1:$port" --issuer "$issuer" 2>>"$LK_DIR/serve.log") &
  LK_PID=$!
  PIDS+=("$LK_PID")
  wait_http "http://127.0.0.1:$port/health/live" 60 "$LK_PID"
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

serve_log_summary() { # what the servers logged at warn and above (RUST_LOG=warn), counted by message
  if [ -s "$LK_DIR/serve.log" ]; then
    log "latchkey on $1 logged $(wc -l <"$LK_DIR/serve.log") lines at warn or above; by message:"
    sed 's/\x1b\[[0-9;]*m//g; s/^[^ ]* *//' "$LK_DIR/serve.log" | sort | uniq -c | sort -rn | head -n 5 >&2
  fi
}

# The machine clients' operations: op_<name> PHASE REP sets BENCH_* and calls wrk_run on $LK_URL.
op_cc_jwt() { # the JWT op, named by the signing algorithm of the running server
  BENCH_BODY="grant_type=client_credentials&token_type=jwt" BENCH_AUTH="$(basic "$CC_ID" "$CC_SECRET")" \
    wrk_run "$1" "cc_jwt_$LK_ALG" "$2" "$LK_URL/oauth2/access_token" post.lua
}
op_cc_opaque() {
  BENCH_BODY="grant_type=client_credentials" BENCH_AUTH="$(basic "$CC_ID" "$CC_SECRET")" \
    wrk_run "$1" cc_opaque "$2" "$LK_URL/oauth2/access_token" post.lua
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
