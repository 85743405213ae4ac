#!/usr/bin/env bash
# Several Latchkey nodes on one PostgreSQL database: what a second node costs. Each operation runs
# with one node (one wrk against it) and with two (the same total load split over both: one wrk per
# node, each with half the threads and connections, run at once, counts summed). The nodes are
# `latchkey serve` processes on one fresh database with the same issuer and the same master secret
# (secret_key), started for each run and stopped after it, warmed up first by a short run of the
# same operation. 1-node and 2-node runs alternate, in swapped order every round, so that a noisy
# neighbour's bursts fall on both.
# Both nodes share this machine's cores: two nodes cannot serve more than one here, and the figure
# that says what a second node costs is the CPU per request (the nodes' own, and their PostgreSQL
# backends'), whose ratio 2 nodes / 1 node the target bounds (under 1.10).
# Operations: client_credentials with an opaque token (group-committed inserts), with an EdDSA JWT
# (no write), and refresh-token rotation (EdDSA JWT; every request a refresh token never used before,
# bench/lua/refresh.lua). Everything runs on 127.0.0.1; every server is stopped on exit and the
# database dropped.
#
#   bash bench/cluster.sh
#
# Knobs (environment): DURATION=5 (seconds per wrk run), REPS=3 (rounds; medians are reported),
# WARMUP=2 (seconds of the unrecorded run after each start), THREADS=2 CONNS=32 (wrk -t/-c in total; even
# numbers), CONNS_1NODE=CONNS (the 1-node runs' connections: CONNS/2 gives the one node the load
# each of two nodes has, to tell what a second node costs from what a smaller load per node costs),
# OPS="cc_opaque cc_jwt refresh", PG_URL=postgres://postgres@127.0.0.1:5432,
# CARGO_TARGET_DIR (default ./target), LATCHKEY_REV=REV or LATCHKEY_BIN=PATH (as bench/run.sh).
#
# Output: a table on stdout; bench/results/<date>-cluster.tsv (per operation: medians and ratios) and
# bench/results/<date>-cluster-runs.tsv (one row per wrk run; `pg_xact_per_req` there is PostgreSQL's
# committed transactions, reads included, per request over the nodes' whole life: warm-up, seeds
# and run).

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OPS="${OPS:-cc_opaque cc_jwt refresh}"
CONNS_1NODE="${CONNS_1NODE:-$CONNS}"

SUMMARY="$RESULTS/$STAMP-cluster.tsv"
RUNS_OUT="$RESULTS/$STAMP-cluster-runs.tsv"

latchkey_binary
load_env
START_LOAD="$(loadavg)"
log "machine: $(machine), load average $START_LOAD"

# --- one database, one installation, one master secret for every node and the CLI ----------------------
pg_database
LK_DIR="$TMP/cluster"
mkdir -p "$LK_DIR"
LATCHKEY_SECRET_KEY="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
export LATCHKEY_SECRET_KEY
log "latchkey on PostgreSQL ($PG_DB): user, clients, an EdDSA key"
lk_setup
lk keys rotate --alg EdDSA --now >/dev/null
LK_ALG=EdDSA
PORTS=("$(free_port 18500)")
PORTS+=("$(free_port $((PORTS[0] + 1)))")
ORIGINS=("http://127.0.0.1:${PORTS[0]}" "http://127.0.0.1:${PORTS[1]}")
ISSUER="${ORIGINS[0]}/oauth2"
LK_URL="${ORIGINS[0]}"

NODE_PIDS=()
nodes_up() { # N: N fresh nodes (the first N ports), measured together, the load split over them
  local k
  NODE_PIDS=()
  for ((k = 0; k < $1; k++)); do
    lk_serve "${PORTS[k]}" "$ISSUER"
    NODE_PIDS+=("$LK_PID")
  done
  MEASURE_PID="${NODE_PIDS[*]}"
  SPLIT_OVER=""
  (($1 == 1)) || SPLIT_OVER="${ORIGINS[*]:0:$1}"
}
nodes_down() {
  local p
  for p in "${NODE_PIDS[@]}"; do stop "$p"; done
  NODE_PIDS=()
}

pg_xacts() { # transactions committed in the database so far, once its backends are gone (a backend
  # reports its counts on exit at the latest)
  local i
  for ((i = 0; i < 50; i++)); do
    [ "$(psql "$PG_URL/postgres" -Atc "SELECT count(*) FROM pg_stat_activity WHERE datname = '$PG_DB'")" = 0 ] && break
    sleep 0.1
  done
  psql "$PG_URL/postgres" -Atc "SELECT xact_commit FROM pg_stat_database WHERE datname = '$PG_DB'"
}

# The nodes agree: a token issued by one is known to the other, and both sign with the EdDSA key.
nodes_up 2
lk_check_alg EdDSA
opaque="$(lk_token | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"
curl -sf -u "$IN_ID:$IN_SECRET" -d "token=$opaque" "${ORIGINS[1]}/oauth2/introspect" | grep -q '"active":true' ||
  { echo "error: node 2 does not know node 1's opaque token" >&2; exit 1; }
got="$(curl -sf -u "$CC_ID:$CC_SECRET" -d grant_type=client_credentials -d token_type=jwt "${ORIGINS[1]}/oauth2/access_token" | jwt_alg)"
[ "$got" = EdDSA ] || { echo "error: node 2 signs $got, not EdDSA" >&2; exit 1; }
nodes_down
log "  checked: node 2 knows node 1's tokens and signs EdDSA JWTs"

RUNS="$TMP/runs.tsv"
runs_header "$RUNS"
XACTS=()
run_one() { # N OP REP: one measured run of OP on N fresh nodes, after a warm-up run of OP itself
  local n="$1" op="$2" rep="$3" x0 warm_reqs seeded=0 phase="${1}node"
  ((n == 1)) || phase="${n}nodes"
  x0="$(pg_xacts)"
  nodes_up "$n"
  local conns="$CONNS"
  ((n > 1)) || conns="$CONNS_1NODE"
  CONNS="$conns" RUN_DURATION="$WARMUP" RUNS="$TMP/warmup.tsv" "op_$op" warmup "$rep"
  warm_reqs="$(tail -n1 "$TMP/warmup.tsv" | cut -f5)"
  CONNS="$conns" "op_$op" "$phase" "$rep"
  nodes_down
  [ "$op" != refresh ] || seeded=$((2 * SEEDS))
  XACTS+=("$(($(pg_xacts) - x0)) $((warm_reqs + seeded))")
}

# REPS rounds; in each, every operation with 1 node and with 2, the order swapped every round.
log "$REPS rounds of: $OPS; each with 1 node and with 2 (${DURATION} s, wrk $THREADS x $CONNS in total, $CONNS_1NODE connections with 1 node)"
for ((rep = 1; rep <= REPS; rep++)); do
  order="1 2"
  ((rep % 2)) || order="2 1"
  for op in $OPS; do
    for n in $order; do run_one "$n" "$op" "$rep"; done
  done
done
END_LOAD="$(loadavg)"
serve_log_summary "PostgreSQL, 1 and 2 nodes"

# The runs, each with PostgreSQL's transactions per request over its nodes' life.
{
  IFS= read -r header
  printf '%s\tpg_xact_per_req\n' "$header"
  i=0
  while IFS= read -r row; do
    read -r xacts other <<<"${XACTS[i]}"
    requests="$(cut -f5 <<<"$row")"
    printf '%s\t%s\n' "$row" "$(python3 -c "print(round($xacts / ($requests + $other), 3))")"
    i=$((i + 1))
  done
} <"$RUNS" >"$RUNS_OUT"

python3 - "$RUNS_OUT" "$SUMMARY" \
  "date=$STAMP" \
  "command=bash bench/cluster.sh (DURATION=$DURATION REPS=$REPS THREADS=$THREADS CONNS=$CONNS CONNS_1NODE=$CONNS_1NODE WARMUP=$WARMUP)" \
  "latchkey=$LATCHKEY_DESC" "machine=$(machine)" "loadavg_start=$START_LOAD" "loadavg_end=$END_LOAD" <<'PY'
import csv, statistics, sys
runs, summary, meta = sys.argv[1], sys.argv[2], sys.argv[3:]
rows = list(csv.DictReader(open(runs), delimiter="\t"))
med = lambda op, phase, col: statistics.median(
    float(r[col]) for r in rows if r["op"] == op and r["phase"] == phase)
cols = ["op", "req_s_1", "req_s_2", "req_s_ratio", "cpu_us_1", "cpu_us_2", "cpu_ratio", "cpu_ratio_paired",
        "server_us_1", "server_us_2", "server_ratio", "db_us_1", "db_us_2", "ctxsw_1", "ctxsw_2",
        "pg_xact_1", "pg_xact_2", "p99_ms_1", "p99_ms_2", "non2xx", "socket_errors", "reseeds"]
out = []
for op in dict.fromkeys(r["op"] for r in rows):
    m = {}
    for n, phase in (("1", "1node"), ("2", "2nodes")):
        m["req_s_" + n] = med(op, phase, "ok_per_s")
        m["server_us_" + n] = med(op, phase, "server_cpu_us_per_req")
        m["db_us_" + n] = med(op, phase, "db_cpu_us_per_req")
        # Per run, then the median: the servers' and their backends' CPU for one request.
        m["cpu_us_" + n] = statistics.median(
            float(r["server_cpu_us_per_req"]) + float(r["db_cpu_us_per_req"])
            for r in rows if r["op"] == op and r["phase"] == phase)
        m["ctxsw_" + n] = med(op, phase, "server_ctxsw_per_req")
        m["pg_xact_" + n] = med(op, phase, "pg_xact_per_req")
        m["p99_ms_" + n] = med(op, phase, "p99_ms")
    m["req_s_ratio"] = m["req_s_2"] / m["req_s_1"]
    m["cpu_ratio"] = m["cpu_us_2"] / m["cpu_us_1"]
    m["server_ratio"] = m["server_us_2"] / m["server_us_1"]
    mine = [r for r in rows if r["op"] == op]
    # Each round's 2-node run against its own 1-node run (minutes apart at most), then the median:
    # steadier than the ratio of the medians when the machine's load drifts.
    cpu = {(r["phase"], r["rep"]): float(r["server_cpu_us_per_req"]) + float(r["db_cpu_us_per_req"])
           for r in mine}
    m["cpu_ratio_paired"] = statistics.median(
        cpu[("2nodes", rep)] / cpu[("1node", rep)] for ph, rep in cpu if ph == "1node")
    for c in ("non2xx", "socket_errors", "reseeds"):
        m[c] = sum(int(r[c]) for r in mine)
    m["op"] = op
    out.append(m)
fmt = lambda v: f"{v:.3f}" if isinstance(v, float) and v < 10 else (f"{v:.1f}" if isinstance(v, float) else str(v))
with open(summary, "w") as f:
    for x in meta:
        f.write(f"# {x}\n")
    f.write("\t".join(cols) + "\n")
    for m in out:
        f.write("\t".join(fmt(m[c]) for c in cols) + "\n")
for x in meta:
    print(f"# {x}")
print(f"{'operation':<14} {'1 node req/s':>12} {'2 nodes':>9} {'ratio':>6} {'CPU us/req 1':>13} {'2 nodes':>8} "
      f"{'ratio':>6} {'paired':>6}  {'nodes':>13} {'ratio':>6} {'db':>13} {'ctxsw/req':>11} {'pg xact/req':>12} {'p99 ms':>11}")
for m in out:
    print(f"{m['op']:<14} {m['req_s_1']:>12.0f} {m['req_s_2']:>9.0f} {m['req_s_ratio']:>6.3f} "
          f"{m['cpu_us_1']:>13.1f} {m['cpu_us_2']:>8.1f} {m['cpu_ratio']:>6.3f} {m['cpu_ratio_paired']:>6.3f}  "
          f"{m['server_us_1']:>6.1f}/{m['server_us_2']:<6.1f} {m['server_ratio']:>6.3f} {m['db_us_1']:>6.1f}/{m['db_us_2']:<6.1f} "
          f"{m['ctxsw_1']:>5.1f}/{m['ctxsw_2']:<5.1f} {m['pg_xact_1']:>5.3f}/{m['pg_xact_2']:<6.3f} "
          f"{m['p99_ms_1']:>5.1f}/{m['p99_ms_2']:<5.1f}")
    if m["non2xx"] or m["socket_errors"] or m["reseeds"]:
        print(f"  {m['op']}: {m['non2xx']} non-2xx, {m['socket_errors']} socket errors, {m['reseeds']} reseeds")
print("CPU us/req: the nodes' and their PostgreSQL backends' (the split after it: nodes, db); "
      "paired: the median of each round's own ratio; target: with 2 nodes under 1.10 x that of 1 node")
PY
log "wrote $SUMMARY and $RUNS_OUT"
