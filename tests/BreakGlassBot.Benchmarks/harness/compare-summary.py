#!/usr/bin/env python3
"""compare-summary.py OUT: the Markdown tables of a compare.sh run (OUT/runs.jsonl, starts.jsonl, durability.jsonl)."""
import json
import os
import statistics
import sys

NAMES = {"bot": "BreakGlassBot (declaration, durable)", "bolt": "Bolt for JavaScript peer", "floor": "bare ASP.NET Core floor",
         # ha-compare.sh's configurations
         "embedded": "bot, embedded store (LiteDB)", "embedded-proxy": "bot, embedded store, behind the proxy",
         "embedded-x2-proxy": "2 bots, embedded stores (separate), behind the proxy",
         "pg": "bot, PostgreSQL", "pg-proxy": "bot, PostgreSQL, behind the proxy",
         "pg-x2-proxy": "2 bots, one PostgreSQL, behind the proxy"}
ORDER = ["bot", "embedded", "embedded-proxy", "embedded-x2-proxy", "pg", "pg-proxy", "pg-x2-proxy", "bolt", "floor"]
# Ratios worth reading, first / second; a pair is shown when both were measured in the same rounds.
PAIRS = [("bot", "bolt"), ("floor", "bolt"), ("bot", "floor"),
         ("embedded", "bolt"), ("pg", "bolt"), ("pg-x2-proxy", "bolt"), ("pg", "embedded"), ("pg-x2-proxy", "embedded"),
         ("pg-proxy", "pg"), ("pg-x2-proxy", "pg-proxy"), ("pg-x2-proxy", "pg"),
         ("embedded-proxy", "embedded"), ("embedded-x2-proxy", "embedded-proxy"), ("embedded-x2-proxy", "embedded")]
START_NAMES = {"embedded": "bot, embedded store", "pg": "bot, PostgreSQL (replicas start together)", "proxy": "nginx"}
ROLES = {"bot": "bots", "proxy": "proxy (nginx)", "db": "PostgreSQL"}


def jsonl(path):
    return [json.loads(l) for l in open(path) if l.strip()] if os.path.exists(path) else []


def spread(xs, fmt):
    xs = sorted(xs)
    if not xs:
        return "–"
    m = fmt(statistics.median(xs))
    return m if len(xs) == 1 else f"{m} ({fmt(xs[0])}–{fmt(xs[-1])})"


def main(out):
    runs = jsonl(os.path.join(out, "runs.jsonl"))
    groups = {}  # (impl, conns) -> {round: run}
    for r in runs:
        impl, c, rnd = r["label"].split()
        groups.setdefault((impl, int(c[2:])), {})[int(rnd.split("=")[1])] = r
    f0, f2, f1 = (lambda v: f"{v:.0f}"), (lambda v: f"{v:.2f}"), (lambda v: f"{v:.1f}")
    rounds = max((len(g) for g in groups.values()), default=0)
    print(f"median{' (min–max)' if rounds > 1 else ''} over {rounds} round(s); latency in ms; CPU is the server's own "
          "(utime+stime over the measured run)\n")
    print("| server | conns | runs | req/s | p50 ms | p90 ms | p99 ms | CPU µs/req | peak RSS MiB | non-2xx + socket errors |")
    print("|---|---:|---:|---|---|---|---|---|---|---:|")
    for c in sorted({k[1] for k in groups}):
        for impl in sorted({k[0] for k in groups if k[1] == c}, key=lambda i: ORDER.index(i) if i in ORDER else 9):
            rs = list(groups[(impl, c)].values())
            print("| " + " | ".join([
                NAMES.get(impl, impl), str(c), str(len(rs)),
                spread([r["rps"] for r in rs], f0),
                spread([r["p50_us"] / 1000 for r in rs], f2),
                spread([r["p90_us"] / 1000 for r in rs], f2),
                spread([r["p99_us"] / 1000 for r in rs], f1),
                spread([r["server_cpu_us_per_req"] for r in rs if r.get("server_cpu_us_per_req")], f0),
                spread([r["server_vmhwm_kb"] / 1024 for r in rs if "server_vmhwm_kb" in r], f0),
                str(sum(r["non2xx"] + r["socket_errors"] for r in rs))]) + " |")

    lines = []
    for a, b in PAIRS:
        for c in sorted({k[1] for k in groups}):
            ga, gb = groups.get((a, c), {}), groups.get((b, c), {})
            common = sorted(i for i in set(ga) & set(gb) if gb[i]["rps"] and gb[i]["p99_us"])
            if not common:
                continue
            rps = [ga[i]["rps"] / gb[i]["rps"] for i in common]
            p99 = [ga[i]["p99_us"] / gb[i]["p99_us"] for i in common]
            fx = lambda v: f"{v:.2f}×"
            lines.append(f"| {a} / {b} | {c} | {spread(rps, fx)} | {spread(p99, fx)} |")
    if lines:
        print("\nratios, paired round by round (req/s above 1×: the first serves more; p99 below 1×: the first's tail is shorter):\n")
        print("| pair | conns | req/s ratio | p99 ratio |")
        print("|---|---:|---|---|")
        print("\n".join(lines))

    split = [(k, rs) for k, rs in sorted(groups.items(), key=lambda kv: (kv[0][1], ORDER.index(kv[0][0]) if kv[0][0] in ORDER else 9))
             if any(len(r.get("server_cpu_by_role", {})) > 1 for r in rs.values())]
    if split:
        print("\nCPU µs per request by process (each with its children: nginx's workers, PostgreSQL's backends and "
              "background processes); the RSS column above sums the listed processes only (bots, nginx's master, "
              "the postmaster):\n")
        print("| server | conns | " + " | ".join(ROLES.values()) + " |")
        print("|---|---:|" + "---|" * len(ROLES))
        for (impl, c), rs in split:
            cells = [spread([r["server_cpu_by_role"][role] * 1e6 / r["requests"] for r in rs.values()
                             if role in r.get("server_cpu_by_role", {}) and r["requests"]], f0) for role in ROLES]
            print(f"| {NAMES.get(impl, impl)} | {c} | " + " | ".join(cells) + " |")

    starts = jsonl(os.path.join(out, "starts.jsonl"))
    if starts:
        print("\nstart-up (every fresh process of the run, to its first answer):\n")
        print("| server | starts | ready ms | idle RSS MiB |")
        print("|---|---:|---|---|")
        for impl in sorted({s["impl"] for s in starts}, key=lambda i: ORDER.index(i) if i in ORDER else 9):
            ss = [s for s in starts if s["impl"] == impl]
            print(f"| {START_NAMES.get(impl, NAMES.get(impl, impl))} | {len(ss)} | {spread([s['ready_ms'] for s in ss], f0)} "
                  f"| {spread([s['idle_rss_kb'] / 1024 for s in ss], f0)} |")

    dur = jsonl(os.path.join(out, "durability.jsonl"))
    if dur:
        print("\ndurability: after each bot run the bots were stopped and their store counted: "
              + "; ".join(f"{d.get('impl', 'bot')} c={d['conns']} r{d['round']}: {d['stored']} stored for {d['measured_2xx']} measured 2xx (+ warm-up)"
                          for d in dur) + ".")

    print("\nper run, in the order run:\n")
    print("| label | req/s | p50 ms | p99 ms | CPU s | requests | records Δ |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in runs:
        print(f"| {r['label']} | {r['rps']:.0f} | {r['p50_us'] / 1000:.3f} | {r['p99_us'] / 1000:.3f} "
              f"| {r.get('server_cpu_s', float('nan')):.2f} | {r['requests']} | {r.get('records_delta', '–')} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
