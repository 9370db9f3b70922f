#!/usr/bin/env python3
"""load-summary.py OUT: the table load.sh prints (and README shows) from OUT/runs.jsonl, starts.jsonl, store.txt."""
import json, os, statistics, sys

out = sys.argv[1]
runs = [json.loads(l) for l in open(os.path.join(out, "runs.jsonl"))]
starts = [json.loads(l) for l in open(os.path.join(out, "starts.jsonl"))] if os.path.exists(os.path.join(out, "starts.jsonl")) else []
names = {"bolt": "Bolt peer (Node), /breakglass ack", "floor": "bare ASP.NET floor, /breakglass ack",
         "declare": "**bot: declaration** (durable)", "status": "bot: `status`", "help": "bot: `help`", "click": "bot: button click (Details)"}
by = {}
for r in runs:
    by.setdefault(r["label"].split()[0], []).append(r)

def med(xs):
    return statistics.median(xs) if xs else float("nan")

def cell(xs, f):
    if not xs: return "–"
    return f(med(xs)) if len(xs) == 1 else f"{f(med(xs))} ({f(min(xs))}–{f(max(xs))})"

rows = ["| what | runs | req/s | p50 ms | p99 ms | CPU µs/req | peak RSS (VmHWM) MiB | non-2xx + errors |", "|---|---:|---|---|---|---|---|---:|"]
for k in ["bolt", "declare", "floor", "status", "help", "click"]:
    rs = by.get(k, [])
    if not rs: continue
    rows.append("| " + " | ".join([
        names[k], str(len(rs)),
        cell([r["rps"] for r in rs], lambda v: f"{v:.0f}"),
        cell([r["p50_us"] / 1000 for r in rs], lambda v: f"{v:.2f}"),
        cell([r["p99_us"] / 1000 for r in rs], lambda v: f"{v:.1f}"),
        cell([r.get("server_cpu_us_per_req", 0) for r in rs], lambda v: f"{v:.0f}"),
        cell([r.get("server_vmhwm_kb", 0) / 1024 for r in rs], lambda v: f"{v:.0f}"),
        str(sum(r["non2xx"] + r["socket_errors"] for r in rs))]) + " |")
print("\n".join(rows))

def m(k, f): return med([f(r) for r in by.get(k, [])])
bolt_rps, decl_rps, floor_rps = m("bolt", lambda r: r["rps"]), m("declare", lambda r: r["rps"]), m("floor", lambda r: r["rps"])
bolt_p99, decl_p99 = m("bolt", lambda r: r["p99_us"]), m("declare", lambda r: r["p99_us"])
bolt_hwm, decl_hwm = m("bolt", lambda r: r.get("server_vmhwm_kb", 0)), max([r.get("server_vmhwm_kb", 0) for k in ("declare", "status", "help", "click") for r in by.get(k, [])] or [0])
ro = min(m("status", lambda r: r["rps"]), m("help", lambda r: r["rps"]))
bot_starts = [s["ready_ms"] for s in starts if s["impl"] == "bot"]
ok = lambda b: "met" if b else "**missed**"
print()
print("| target | measured (medians of this run) | |")
print("|---|---|---|")
print(f"| declarations ≥ 1.5× Bolt req/s | {decl_rps:.0f} vs {bolt_rps:.0f} = {decl_rps / bolt_rps:.2f}× | {ok(decl_rps >= 1.5 * bolt_rps)} |")
print(f"| declaration p99 ≤ Bolt p99 | {decl_p99 / 1000:.1f} ms vs {bolt_p99 / 1000:.1f} ms | {ok(decl_p99 <= bolt_p99)} |")
print(f"| read-only ≥ ½ floor req/s | slower of status/help {ro:.0f} vs floor {floor_rps:.0f} = {ro / floor_rps:.2f}× | {ok(ro >= floor_rps / 2)} |")
print(f"| peak memory < Bolt's | bot max {decl_hwm / 1024:.0f} MiB vs Bolt median {bolt_hwm / 1024:.0f} MiB | {ok(decl_hwm < bolt_hwm)} |")
if bot_starts:
    print(f"| start-up to healthy /healthz < 2 s | median {med(bot_starts):.0f} ms, max {max(bot_starts)} ms over {len(bot_starts)} starts | {ok(max(bot_starts) < 2000)} |")
store = os.path.join(out, "store.txt")
if os.path.exists(store):
    for line in open(store):
        if line.startswith("STORE ") and " warm " in line and any(w in line for w in ("overdue", "digest", "sweep")):
            name = line[6:41].strip(); warm = float(line.split(" warm ")[1].split()[0])
            print(f"| 100k changes: {name} < 200 ms | {warm:.0f} ms (warm; cold {float(line.split(' cold ')[1].split()[0]):.0f} ms) | {ok(warm < 200)} |")
dur = os.path.join(out, "durability.jsonl")
if os.path.exists(dur):
    d = [json.loads(l) for l in open(dur)]
    print(f"\nDurability: after each declaration run the bot was stopped and its LiteDB file counted: "
          + ", ".join(f"{x['stored']} stored for {x['measured_2xx']} measured 2xx (+ warm-up)" for x in d) + ".")
