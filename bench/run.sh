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

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PASSWORD_DURATION="${PASSWORD_DURATION:-15}"
BACKENDS="${BACKENDS:-sqlite postgres}"
PEER="${PEER:-1}"
OPS="${OPS:-}"
PEER_DIR="${PEER_DIR:-$ROOT/../shared/peers/oidc-provider}"
PEER_WORK="${PEER_WORK:-/var/tmp/oidc-peer}"

SUMMARY="$RESULTS/$STAMP.tsv"
RUNS="$RESULTS/$STAMP-runs.tsv"

# --- builds: the binaries are copied into $TMP, so a concurrent rebuild cannot swap them mid-run --------
latchkey_binary
log "building the hello-world floor and the raw floors (release)"
cargo build --release -q --manifest-path bench/hello/Cargo.toml
cargo build --release -q --manifest-path bench/raw/Cargo.toml
cp "$CARGO_TARGET_DIR/release/latchkey-bench-hello" "$CARGO_TARGET_DIR/release/latchkey-bench-raw" "$TMP/bin/"
HELLO="$TMP/bin/latchkey-bench-hello"
RAW="$TMP/bin/latchkey-bench-raw"

runs_header "$RUNS"

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
log "machine: $(machine), load average $START_LOAD"

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
load_env

lk_start() {
  LK_PORT="$(free_port 18310)"
  LK_URL="http://127.0.0.1:$LK_PORT"
  RSS_LABEL="latchkey_${backend}_$1"
  lk_serve "$LK_PORT" "$LK_URL/oauth2"
  MEASURE_PID=$LK_PID
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
# The browser's operations. login: the JSON sign-in of a page script (CSRF double-submitted, as
# frontend-platform sends it), a session and the two JWT cookies each time; login_refresh: an MFE's
# renewal of its JWT cookies (one session read, one signature); code_exchange: a confidential
# client's authorization_code grant, on codes minted just before the run by a signed-in browser.
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
    postgres) pg_database ;;
    *) echo "error: unknown backend $backend" >&2; exit 1 ;;
  esac
  log "latchkey on $backend: user and clients"
  lk_setup

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
  serve_log_summary "$backend"
  [ "$backend" != postgres ] || pg_drop
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
  --meta "machine=$(machine)" \
  --meta "loadavg_start=$START_LOAD" --meta "loadavg_end=$END_LOAD"
log "wrote $SUMMARY and $RUNS"
