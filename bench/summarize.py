#!/usr/bin/env python3
"""Turns bench/run.sh's per-run TSV into the summary: medians per backend and operation, ratios to
the floors and to the peer measured in the same run, and the issue's targets, met or not. Writes
SUMMARY (TSV with `#` metadata lines) and prints a table.

    summarize.py RUNS.tsv SUMMARY.tsv --raw JSON... --backends "sqlite postgres" [--meta key=value]...

Ratios to the hello-world use the hello-world runs of the same phase (run.sh loads it in every
round, so it saw the same neighbours). Ratios to the raw floors use the two raw measurements that
bracket the backend's phase (run.sh measures them at the start and after each phase). Besides rates,
the CPU time per request (the server's, plus PostgreSQL's backends for that database) is set against
the raw CPU time of the floor operation: `floor_cpu_share`, the share of the work that is the
unavoidable crypto, which neighbours disturb far less than a rate.
"""

import argparse
import csv
import json
import statistics
import sys

ORDER = ["hello", "cc_jwt_RS512", "cc_jwt_EdDSA", "cc_jwt_RS256", "cc_opaque", "introspect", "introspect_jwt", "introspect_uncached", "password", "refresh", "login", "login_refresh", "code_exchange"]
# Operation -> (floor name, raw key) for the CPU floor it is a ratio to.
FLOORS = {
    "cc_jwt_RS512": ("RSA-2048 RS512 sign", "rs512_sign"),
    "cc_jwt_RS256": ("RSA-2048 RS256 sign", "rs256_sign"),
    "cc_jwt_EdDSA": ("Ed25519 sign", "eddsa_sign"),
    "password": ("argon2id verify", "argon2id_verify"),
    "refresh": ("RSA-2048 RS512 sign", "rs512_sign"),
    "introspect_jwt": ("RSA-2048 RS512 sign", "rs512_sign"),
    "login": ("argon2id verify", "argon2id_verify"),
    "login_refresh": ("RSA-2048 RS512 sign", "rs512_sign"),
    "code_exchange": ("RSA-2048 RS512 sign", "rs512_sign"),
}
SHARED = {"cc_jwt_RS256", "cc_opaque", "introspect", "introspect_uncached"}
# Our operation -> the peer's operation it is compared with.
PEER_OP = {"introspect_uncached": "introspect"}
CC_OPS = {"cc_jwt_RS512", "cc_jwt_EdDSA", "cc_jwt_RS256", "cc_opaque"}


def num(x):
    return float(x) if x not in ("", None) else None


def med(rows, key):
    vals = [num(r[key]) for r in rows if num(r.get(key)) is not None]
    return statistics.median(vals) if vals else None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs")
    ap.add_argument("summary")
    ap.add_argument("--raw", action="append", default=[])
    ap.add_argument("--backends", default="sqlite postgres")
    ap.add_argument("--meta", action="append", default=[])
    a = ap.parse_args()

    with open(a.runs, newline="") as f:
        runs = list(csv.DictReader(f, delimiter="\t"))
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in runs:
        groups.setdefault((r["phase"], r["op"]), []).append(r)

    raws = [json.loads(x) for x in a.raw]
    backends = a.backends.split()

    def raw_for(phase):
        """The raw floors bracketing a backend's phase (all of them for anything else)."""
        if phase in backends and len(raws) > backends.index(phase) + 1:
            i = backends.index(phase)
            chosen = raws[i : i + 2]
        else:
            chosen = raws
        return {k: statistics.median(float(x[k]) for x in chosen) for k in chosen[0] if k != "argon2id_params"}

    peer = {op: med(rows, "ok_per_s") for (ph, op), rows in groups.items() if ph == "peer"}
    all_hello = [r for (ph, op), rows in groups.items() if op == "hello" for r in rows]

    out = []
    for phase in backends + ["peer"]:
        hello_rows = groups.get((phase, "hello"), [])
        hello = med(hello_rows, "ok_per_s") or med(all_hello, "ok_per_s")
        raw = raw_for(phase)
        for op in ORDER:
            rows = groups.get((phase, op))
            if not rows:
                continue
            rps = med(rows, "ok_per_s")
            cpu = med(rows, "server_cpu_us_per_req")
            db = med(rows, "db_cpu_us_per_req")
            d = {
                "backend": phase,
                "op": op,
                "reps": len(rows),
                "ok_per_s": round(rps, 1),
                "p50_ms": round(med(rows, "p50_ms"), 2),
                "p99_ms": round(med(rows, "p99_ms"), 2),
                "non2xx": sum(int(r["non2xx"]) for r in rows),
                "socket_errors": sum(int(r["socket_errors"]) for r in rows),
                "reseeds": sum(int(r["reseeds"]) for r in rows),
                "cpu_us_per_req": round(cpu, 1),
                "db_cpu_us_per_req": round(db, 1) if db is not None else "",
                "ctxsw_per_req": round(med(rows, "server_ctxsw_per_req"), 2)
                if med(rows, "server_ctxsw_per_req") is not None
                else "",
                "hello_per_s": round(hello, 1),
                "x_hello": round(rps / hello, 4),
                "floor": "",
                "floor_per_s": "",
                "x_floor": "",
                "floor_cpu_us": "",
                "floor_cpu_share": "",
                "peer_per_s": "",
                "x_peer": "",
                "targets": "",
                "met": "",
            }
            if phase != "peer" and op in FLOORS:
                name, key = FLOORS[op]
                d["floor"] = f"{name} ({key}_per_s, 2 threads)"
                d["floor_per_s"] = round(raw[key + "_per_s"], 1)
                d["x_floor"] = round(rps / raw[key + "_per_s"], 4)
                d["floor_cpu_us"] = round(raw[key + "_cpu_us"], 1)
                total = cpu + (db or 0.0)
                if total > 0:
                    d["floor_cpu_share"] = round(raw[key + "_cpu_us"] / total, 3)
            peer_op = PEER_OP.get(op, op)
            if phase != "peer" and op in SHARED and peer.get(peer_op):
                d["peer_per_s"] = round(peer[peer_op], 1)
                d["x_peer"] = round(rps / peer[peer_op], 3)
            if phase != "peer":
                checks = []
                if op == "cc_jwt_RS512":
                    checks.append(("x_floor>=0.70", d["x_floor"] >= 0.70))
                if op in ("cc_jwt_EdDSA", "introspect"):
                    checks.append(("x_hello>=0.25", d["x_hello"] >= 0.25))
                if op in ("password", "login"):
                    checks.append(("x_floor>=0.90", d["x_floor"] >= 0.90))
                if op == "login_refresh":
                    checks.append(("x_floor>=0.70", d["x_floor"] >= 0.70))
                if op == "code_exchange":
                    checks.append(("x_floor>=0.60", d["x_floor"] >= 0.60))
                if op in CC_OPS:
                    checks.append(("p99<15ms", d["p99_ms"] < 15.0))
                if d["x_peer"] != "":
                    checks.append(("x_peer>1", d["x_peer"] > 1.0))
                d["targets"] = "; ".join(c for c, _ in checks)
                d["met"] = "; ".join("yes" if ok else "NO" for _, ok in checks)
            out.append(d)

    meta = list(a.meta)
    for phase in backends + ["peer"]:
        rows = groups.get((phase, "hello"), [])
        if rows:
            meta.append(f"hello_{phase}_per_s=" + ",".join(r["ok_per_s"] for r in rows))
    for i, x in enumerate(raws):
        meta.append(f"raw_{i + 1}={json.dumps(x, separators=(',', ':'))}")
    with open(a.summary, "w", newline="") as f:
        for m in meta:
            f.write(f"# {m}\n")
        w = csv.DictWriter(f, fieldnames=list(out[0].keys()), delimiter="\t", lineterminator="\n")
        w.writeheader()
        w.writerows(out)

    for m in meta:
        print(f"# {m}")
    hdr = (f"{'backend':<9} {'operation':<13} {'ok req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'non2xx':>6} "
           f"{'x hello':>7} {'x floor':>7} {'x peer':>6} {'us CPU':>8} {'db us':>6} {'ctxsw':>6} {'floor CPU':>9}  targets -> met")
    print(hdr)
    print("-" * len(hdr))
    for d in out:
        f = lambda k, fmt: format(d[k], fmt) if d[k] != "" else ""
        tm = f"{d['targets']} -> {d['met']}" if d["targets"] else ""
        print(f"{d['backend']:<9} {d['op']:<13} {d['ok_per_s']:>9.1f} {d['p50_ms']:>7.2f} {d['p99_ms']:>7.2f} "
              f"{d['non2xx']:>6} {d['x_hello']:>7.4f} {f('x_floor', '.3f'):>7} {f('x_peer', '.2f'):>6} "
              f"{d['cpu_us_per_req']:>8.1f} {f('db_cpu_us_per_req', '.1f'):>6} {f('ctxsw_per_req', '.2f'):>6} "
              f"{f('floor_cpu_share', '.3f'):>9}  {tm}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
