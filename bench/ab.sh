#!/usr/bin/env bash
# An alternating A/B of two latchkey binaries on the hot paths, on SQLite, wrk 2 threads x 32
# connections: client_credentials with an EdDSA JWT (the cheapest issuance, where overheads outside
# the crypto show most), opaque issuance, introspection of one opaque token (as a resource server
# asks on every call) and refresh-token rotation. The binaries take turns, ROUNDS times per
# operation, so that a noisy neighbour's burst spreads over both. Each binary keeps its own
# database: a newer binary migrates its database, which an older one then refuses to open.
# Reported: each run, and per operation each binary's medians (rate and server CPU per request,
# the steadier of the two) and B's over A's.
#
#   bash bench/ab.sh BINARY_A BINARY_B        # ROUNDS=3 DURATION=5 WARMUP=2 OPS="..." (environment)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
A="$(realpath "$1")"
B="$(realpath "$2")"
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-5}"
WARMUP="${WARMUP:-2}"
OPS="${OPS:-cc_eddsa cc_opaque introspect refresh}"
THREADS=2
CONNS=32
command -v wrk >/dev/null || apt-get install -y wrk >/dev/null
DIR="$(mktemp -d /tmp/latchkey-ab.XXXXXX)"
PID=""
trap '[ -z "$PID" ] || kill "$PID" 2>/dev/null || true; rm -rf "$DIR"' EXIT
export RUST_LOG=warn BENCH_LUA_DIR="$ROOT/bench/lua" BENCH_THREADS="$THREADS"
PORT=18450
URL="http://127.0.0.1:$PORT"
CC_SECRET=ab-cc-secret-0123456789abcdef
IN_SECRET=ab-in-secret-0123456789abcdef
PASSWORD='correct horse battery staple'
PW_BODY="grant_type=password&client_id=ab-mobile&username=ab&password=$(sed 's/ /+/g' <<<"$PASSWORD")&token_type=jwt"
basic() { printf 'Basic %s' "$(printf '%s:%s' "$1" "$2" | base64 -w0)"; }
# One installation per side, made by that side's own binary.
for side in A B; do
  bin="${!side}"
  mkdir -p "$DIR/$side"
  (
    cd "$DIR/$side"
    echo "$PASSWORD" | "$bin" user create --username ab --email ab@example.org --password-stdin >/dev/null
    "$bin" client create ab-cc ab --grant-type client-credentials --client-id ab-cc --client-secret "$CC_SECRET" --json >/dev/null
    "$bin" client create ab-in ab --grant-type client-credentials --client-id ab-in --client-secret "$IN_SECRET" --permission introspect --json >/dev/null
    "$bin" client create ab-mobile ab --grant-type password --public --client-id ab-mobile --json >/dev/null
    "$bin" keys rotate --alg EdDSA --now >/dev/null
  )
done

start() { # SIDE: serves that side's installation on $PORT, or fails with its log
  local bin="${!1}"
  (cd "$DIR/$1" && exec env LATCHKEY_THROTTLE__IP_IN_FLIGHT=$((CONNS * 2)) \
    LATCHKEY_THROTTLE__ACCOUNT_FAILURES=$((CONNS * 2)) LATCHKEY_PASSWORDS__QUEUE_PER_CORE=$CONNS \
    "$bin" serve --listen "127.0.0.1:$PORT" --issuer "$URL/oauth2" 2>>serve.log) &
  PID=$!
  for _ in $(seq 1 100); do
    curl -sf -o /dev/null "$URL/health/live" && return 0
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "error: $1 ($bin) did not start; its log:" >&2
  tail -20 "$DIR/$1/serve.log" >&2
  exit 1
}

load() { # OP SECONDS: one wrk run of OP against the running server; prints wrk's output
  local op="$1" secs="$2"
  case "$op" in
    cc_eddsa) BENCH_BODY="grant_type=client_credentials&token_type=jwt" BENCH_AUTH="$(basic ab-cc "$CC_SECRET")" \
      wrk -t$THREADS -c$CONNS -d"${secs}s" -s "$ROOT/bench/lua/post.lua" "$URL/oauth2/access_token" ;;
    cc_opaque) BENCH_BODY="grant_type=client_credentials" BENCH_AUTH="$(basic ab-cc "$CC_SECRET")" \
      wrk -t$THREADS -c$CONNS -d"${secs}s" -s "$ROOT/bench/lua/post.lua" "$URL/oauth2/access_token" ;;
    introspect) BENCH_BODY="token=$OPAQUE" BENCH_AUTH="$(basic ab-in "$IN_SECRET")" \
      wrk -t$THREADS -c$CONNS -d"${secs}s" -s "$ROOT/bench/lua/post.lua" "$URL/oauth2/introspect" ;;
    refresh)
      # Fresh refresh tokens by password grants, outside the timed run (refresh.lua explains).
      local seeds="$DIR/seeds.txt"
      seq 1 $((CONNS + 8)) | xargs -P 4 -I{} curl -sf -d "$PW_BODY" "$URL/oauth2/access_token" |
        grep -o '"refresh_token":"[^"]*"' | cut -d'"' -f4 >"$seeds"
      BENCH_SEEDS="$seeds" BENCH_CLIENT_ID=ab-mobile BENCH_TOKEN_TYPE=jwt BENCH_RESEED_BODY="$PW_BODY" \
        wrk -t$THREADS -c$CONNS -d"${secs}s" -s "$ROOT/bench/lua/refresh.lua" "$URL/oauth2/access_token" ;;
    *) echo "error: unknown operation $op (expected cc_eddsa, cc_opaque, introspect or refresh)" >&2; exit 1 ;;
  esac
}

declare -A RATES CPUS
for op in $OPS; do
  for ((round = 1; round <= ROUNDS; round++)); do
    for side in A B; do
      start "$side"
      OPAQUE="$(curl -sf -u "ab-cc:$CC_SECRET" -d grant_type=client_credentials "$URL/oauth2/access_token" |
        grep -o '"access_token":"[^"]*"' | cut -d'"' -f4)"
      load "$op" "$WARMUP" >/dev/null
      ticks0="$(awk '{print $14 + $15}' "/proc/$PID/stat")"
      out="$(load "$op" "$DURATION")"
      ticks1="$(awk '{print $14 + $15}' "/proc/$PID/stat")"
      kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
      stats="$(sed -n 's/^WRKJSON //p' <<<"$out")"
      read -r rate cpu non2xx < <(python3 - "$stats" "$ticks0" "$ticks1" "$(getconf CLK_TCK)" <<'PY'
import json, sys
s = json.loads(sys.argv[1]); t0, t1, hz = (float(x) for x in sys.argv[2:])
ops = s["requests"] - s["reseeds"]
print(f"{ops / s['duration_s']:.0f} {(t1 - t0) * 1e6 / hz / s['requests']:.1f} {s['non2xx'] + s['reseeds']}")
PY
      )
      [ "$non2xx" = 0 ] || { echo "error: $side answered $non2xx failed $op requests" >&2; exit 1; }
      printf '%-10s round %d  %s  %8s req/s  %7s us CPU/req\n' "$op" "$round" "$side" "$rate" "$cpu"
      RATES[$op$side]="${RATES[$op$side]:-} $rate"
      CPUS[$op$side]="${CPUS[$op$side]:-} $cpu"
    done
  done
done
echo
printf '%-10s %10s %10s %7s %11s %11s %7s\n' op "A req/s" "B req/s" "B/A" "A us/req" "B us/req" "B/A"
for op in $OPS; do
  python3 - "$op" "${RATES[${op}A]}" "${RATES[${op}B]}" "${CPUS[${op}A]}" "${CPUS[${op}B]}" <<'PY'
import statistics, sys
op = sys.argv[1]
a, b, ca, cb = (statistics.median(float(x) for x in s.split()) for s in sys.argv[2:])
print(f"{op:<10} {a:>10.0f} {b:>10.0f} {b / a:>7.3f} {ca:>11.1f} {cb:>11.1f} {cb / ca:>7.3f}")
PY
done
