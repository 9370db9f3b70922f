#!/usr/bin/env bash
# compare.sh — BreakGlassBot, the Bolt for JavaScript peer and the bare ASP.NET Core floor, side by side, on loopback.
#
#   bash tests/BreakGlassBot.Benchmarks/harness/compare.sh [ROUNDS=3] [SECONDS=15]
#
# Every server gets the same signed /breakglass slash command (slack-load.py: Slack v0 signature, the declaration
# text below): the Bolt peer and the floor verify it, store it in memory and ack; the bot verifies it and records a
# durable declaration (LiteDB, group commit) before it acks, its outbox then announcing it to a fake Slack Web API.
# For every round and every connection level, each server in IMPLS is measured once, the order flipping at every
# step; each measurement is a fresh process: start, wait until it answers, WARMUP s of unrecorded load, SECONDS
# measured with wrk -t1, stop. The bot's LiteDB file is then counted: it must hold every 2xx it answered.
#
# Environment: IMPLS ("bolt floor bot"), CONN_LEVELS ("1 32"), WARMUP (5), PIN (0; 1: server on CPU 0 and wrk on
#   CPU 1 with taskset), OUT (a new temp folder), SLACK_SIGNING_SECRET (a throwaway one by default).
# Output: OUT/summary.md (the table), OUT/runs.jsonl, starts.jsonl, durability.jsonl, reject.txt, versions.txt, logs/.
# Needs: dotnet, node + npm (npm ci on first use), python3, curl, wrk (apt-get install -y wrk if missing, as root).
# The build, the servers and one measurement are servers.sh's, shared with ha-compare.sh and load.sh.
set -euo pipefail
HARNESS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HARNESS/../../.." && pwd)"
ROUNDS="${1:-3}"; SECS="${2:-15}"
IMPLS="${IMPLS:-bolt floor bot}"; CONN_LEVELS="${CONN_LEVELS:-1 32}"; WARMUP="${WARMUP:-5}"; PIN="${PIN:-0}"
OUT="${OUT:-$(mktemp -d /tmp/breakglass-compare.XXXXXX)}"
mkdir -p "$OUT/logs"
source "$HARNESS/servers.sh"

build_all
print_versions "rounds: $ROUNDS, seconds: $SECS, warm-up: $WARMUP, connections: $CONN_LEVELS, servers: $IMPLS, pinned: $PIN"

# --- servers ---------------------------------------------------------------------------------------------------
SERVER_PID=""; DATA=""
stop_server() { [ -z "$SERVER_PID" ] || stop_pids "$SERVER_PID"; SERVER_PID=""; }
cleanup() { stop_server; stop_fake_slack; [ -z "$DATA" ] || rm -rf "$DATA"; }
trap cleanup EXIT

port_of() { case "$1" in bolt) echo $BOLT_PORT ;; floor) echo $FLOOR_PORT ;; bot) echo $BOT_PORT ;; esac; }
ready_url() { case "$1" in bot) echo "http://127.0.0.1:$BOT_PORT/healthz" ;; *) echo "http://127.0.0.1:$(port_of "$1")/bench/records" ;; esac; }
path_of() { case "$1" in bot) echo /slack/commands ;; *) echo /slack/events ;; esac; }

start_server() {  # $1 impl, $2 log file; sets SERVER_PID
  local impl="$1" logf="$2" t0
  t0="$(date +%s%N)"
  case "$impl" in
    bolt)  launch_bolt "$logf" ;;
    floor) launch_floor "$logf" ;;
    bot)   DATA="$(mktemp -d "$OUT/data.XXXXXX")"; launch_bot $BOT_PORT "$DATA" "$logf" ;;
  esac
  SERVER_PID=$LAUNCHED
  wait_ready "$impl" "$(ready_url "$impl")" "$SERVER_PID" "$logf" "$t0"
}

[[ " $IMPLS " != *" bot "* ]] || start_fake_slack

log "rejections (bad signature, stale timestamp), once per server -> $OUT/reject.txt"
FAILED=0
for impl in $IMPLS; do
  start_server "$impl" "$OUT/logs/$impl-reject.server.txt"
  "$LOAD" reject "http://127.0.0.1:$(port_of "$impl")$(path_of "$impl")" | sed "s/^/[$impl] /" | tee -a "$OUT/reject.txt" || FAILED=1
  stop_server; [ -z "$DATA" ] || { rm -rf "$DATA"; DATA=""; }
done

run_one() {  # $1 impl, $2 connections, $3 round
  local impl="$1" c="$2" r="$3" rc=0 records="" port
  port="$(port_of "$impl")"
  [ "$impl" = bot ] || records="http://127.0.0.1:$port/bench/records"
  start_server "$impl" "$OUT/logs/$impl-c$c-r$r.server.txt"
  measure "$impl" "$c" "$r" "http://127.0.0.1:$port$(path_of "$impl")" "$SERVER_PID" "$records" || rc=$?
  stop_server
  if [ "$impl" = bot ]; then  # durability: every 2xx answered (warm-up included) is in the LiteDB file
    check_durable bot "$c" "$r" "$("$BENCH_BIN" count-store "$DATA/breakglass.db" 2>>"$OUT/logs/count.txt" | tail -1)" || rc=1
    rm -rf "$DATA"; DATA=""
  fi
  report_run "$impl" "$c" "$r" "$rc"
  [ $rc -eq 0 ] || FAILED=1
}

each_round "$ROUNDS" "$CONN_LEVELS" "$IMPLS" run_one
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/versions.txt"

python3 "$HARNESS/compare-summary.py" "$OUT" | tee "$OUT/summary.md"
echo "results: $OUT"
exit $FAILED
