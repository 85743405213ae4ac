#!/usr/bin/env bash
# An alternating A/B of two latchkey binaries on one operation: client_credentials with an EdDSA
# JWT (the cheapest issuance, so the one where overheads outside the crypto show most), on SQLite,
# wrk 2 threads x 32 connections. The binaries take turns on the same database, ROUNDS times, so
# that a noisy neighbour's burst spreads over both; reported: each run, each binary's medians (rate
# and server CPU per request, the steadier of the two), and B's over A's.
#
#   bash bench/ab.sh BINARY_A BINARY_B        # ROUNDS=3 DURATION=5 WARMUP=2 (environment)
set -euo pipefail
A="$(realpath "$1")"
B="$(realpath "$2")"
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-5}"
WARMUP="${WARMUP:-2}"
command -v wrk >/dev/null || apt-get install -y wrk >/dev/null
DIR="$(mktemp -d /tmp/latchkey-ab.XXXXXX)"
PID=""
trap '[ -z "$PID" ] || kill "$PID" 2>/dev/null || true; rm -rf "$DIR"' EXIT
cd "$DIR"
export RUST_LOG=warn
SECRET=ab-cc-secret-0123456789abcdef
echo 'correct horse battery staple' | "$A" user create --username ab --email ab@example.org --password-stdin >/dev/null
"$A" client create ab-cc ab --grant-type client-credentials --client-id ab-cc --client-secret "$SECRET" --json >/dev/null
"$A" keys rotate --alg EdDSA --now >/dev/null
cat >post.lua <<LUA
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&token_type=jwt"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $(printf 'ab-cc:%s' "$SECRET" | base64 -w0)"
LUA
PORT=18450
URL="http://127.0.0.1:$PORT/oauth2/access_token"
declare -A RATES CPUS
for ((round = 1; round <= ROUNDS; round++)); do
  for side in A B; do
    bin="${!side}"
    "$bin" serve --listen "127.0.0.1:$PORT" 2>>serve.log &
    PID=$!
    for _ in $(seq 1 50); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/health/live" && break; sleep 0.1; done
    wrk -t2 -c32 -d"${WARMUP}s" -s post.lua "$URL" >/dev/null
    ticks0="$(awk '{print $14 + $15}' "/proc/$PID/stat")"
    out="$(wrk -t2 -c32 -d"${DURATION}s" -s post.lua "$URL")"
    ticks1="$(awk '{print $14 + $15}' "/proc/$PID/stat")"
    kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
    rate="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
    total="$(awk '/requests in/ {print $1}' <<<"$out")"
    non2xx="$(awk '/Non-2xx/ {print $NF}' <<<"$out")"
    [ -z "$non2xx" ] || { echo "error: $side answered $non2xx non-2xx responses" >&2; exit 1; }
    cpu="$(python3 -c "print(round(($ticks1 - $ticks0) * 1e6 / $(getconf CLK_TCK) / $total, 1))")"
    printf 'round %d  %s  %10s req/s  %6s us CPU/req\n' "$round" "$side" "$rate" "$cpu"
    RATES[$side]="${RATES[$side]:-} $rate"
    CPUS[$side]="${CPUS[$side]:-} $cpu"
  done
done
python3 - "${RATES[A]}" "${RATES[B]}" "${CPUS[A]}" "${CPUS[B]}" <<'PY'
import statistics, sys
a, b, ca, cb = (statistics.median(float(x) for x in s.split()) for s in sys.argv[1:])
print(f"median A {a:.0f} req/s, B {b:.0f} req/s: B/A = {b / a:.3f}; "
      f"CPU A {ca:.1f} us/req, B {cb:.1f} us/req: B/A = {cb / ca:.3f}")
PY
