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
set -euo pipefail
HARNESS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HARNESS/../../.." && pwd)"
ROUNDS="${1:-3}"; SECS="${2:-15}"
IMPLS="${IMPLS:-bolt floor bot}"; CONN_LEVELS="${CONN_LEVELS:-1 32}"; WARMUP="${WARMUP:-5}"; PIN="${PIN:-0}"
OUT="${OUT:-$(mktemp -d /tmp/breakglass-compare.XXXXXX)}"
mkdir -p "$OUT/logs"
BOLT_PORT=3101; FLOOR_PORT=3102; BOT_PORT=3180; SLACK_PORT=3190
export SLACK_SIGNING_SECRET="${SLACK_SIGNING_SECRET:-compare-only-$(date +%s)-$$}"
export BENCH_TEXT="Roll back payments deploy after error spike https://github.com/acme/payments/pull/4242"
export BENCH_RESPONSE_URL="http://127.0.0.1:$SLACK_PORT/response/1"
LOAD="$HARNESS/slack-load.py"
log() { echo "[compare $(date -u +%H:%M:%S)] $*"; }

# --- what is missing is built or installed -------------------------------------------------------------------
log "building (Release) into $OUT/logs/build.txt"
{
  command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
  dotnet build "$REPO/src/BreakGlassBot/BreakGlassBot.csproj" -c Release -nologo -v q
  dotnet build "$REPO/tests/BreakGlassBot.Benchmarks/BreakGlassBot.Benchmarks.csproj" -c Release -nologo -v q
  dotnet build "$HARNESS/aspnet-floor/aspnet-floor.csproj" -c Release -nologo -v q
  [ -d "$HARNESS/bolt-peer/node_modules/@slack/bolt" ] || (cd "$HARNESS/bolt-peer" && npm ci --no-audit --no-fund)
} >> "$OUT/logs/build.txt" 2>&1 || { tail -40 "$OUT/logs/build.txt"; exit 1; }
BOT_BIN="$REPO/src/BreakGlassBot/bin/Release/net10.0/BreakGlassBot"
BENCH_BIN="$REPO/tests/BreakGlassBot.Benchmarks/bin/Release/net10.0/BreakGlassBot.Benchmarks"
FLOOR_BIN="$HARNESS/aspnet-floor/bin/Release/net10.0/aspnet-floor"
{
  echo "date_utc: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "cpu: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo) x $(nproc), $(free -g | awk '/^Mem:/ {print $2}') GiB"
  echo "kernel: $(uname -r); dotnet $(dotnet --version); node $(node --version);" \
       "@slack/bolt $(node -p "require('$HARNESS/bolt-peer/node_modules/@slack/bolt/package.json').version"); $(wrk -v 2>&1 | head -1 | cut -c1-30)"
  echo "rounds: $ROUNDS, seconds: $SECS, warm-up: $WARMUP, connections: $CONN_LEVELS, servers: $IMPLS, pinned: $PIN"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/versions.txt"

# --- servers ---------------------------------------------------------------------------------------------------
SERVER_PID=""; SLACK_PID=""; DATA=""
stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; fi
  SERVER_PID=""
}
cleanup() {
  stop_server
  if [ -n "$SLACK_PID" ]; then kill "$SLACK_PID" 2>/dev/null || true; wait "$SLACK_PID" 2>/dev/null || true; fi
  [ -z "$DATA" ] || rm -rf "$DATA"
}
trap cleanup EXIT

port_of() { case "$1" in bolt) echo $BOLT_PORT ;; floor) echo $FLOOR_PORT ;; bot) echo $BOT_PORT ;; esac; }
ready_url() { case "$1" in bot) echo "http://127.0.0.1:$BOT_PORT/healthz" ;; *) echo "http://127.0.0.1:$(port_of "$1")/bench/records" ;; esac; }
path_of() { case "$1" in bot) echo /slack/commands ;; *) echo /slack/events ;; esac; }

start_server() {  # $1 impl, $2 log file; sets SERVER_PID, appends start-up time and idle RSS to starts.jsonl
  local impl="$1" logf="$2" pin=() t0 t1
  [ "$PIN" = 1 ] && pin=(taskset -c 0)
  t0="$(date +%s%N)"
  case "$impl" in
    bolt)  PORT=$BOLT_PORT "${pin[@]}" node "$HARNESS/bolt-peer/app.js" > "$logf" 2>&1 & ;;
    floor) PORT=$FLOOR_PORT "${pin[@]}" "$FLOOR_BIN" > "$logf" 2>&1 & ;;
    bot)   DATA="$(mktemp -d "$OUT/data.XXXXXX")"
           Slack__SigningSecret="$SLACK_SIGNING_SECRET" Slack__BotToken="xoxb-compare-only" \
           Slack__ApiBaseUrl="http://127.0.0.1:$SLACK_PORT/api/" Slack__AnnouncementChannel="C0BENCH" \
           Slack__TeamId=T0BENCH01 Slack__AppId=A0BENCH01 \
           Storage__DataDirectory="$DATA" Urls="http://127.0.0.1:$BOT_PORT" ASPNETCORE_ENVIRONMENT=Production \
           Logging__LogLevel__Default=Warning "${pin[@]}" "$BOT_BIN" > "$logf" 2>&1 & ;;
  esac
  SERVER_PID=$!
  for _ in $(seq 1 600); do
    if curl -fsS -o /dev/null "$(ready_url "$impl")" 2>/dev/null; then
      t1="$(date +%s%N)"
      printf '{"impl":"%s","ready_ms":%d,"idle_rss_kb":%d}\n' "$impl" $(( (t1 - t0) / 1000000 )) \
        "$(awk '$1=="VmRSS:" {print $2}' "/proc/$SERVER_PID/status")" >> "$OUT/starts.jsonl"
      return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$logf"; echo "compare: $impl died at start" >&2; exit 1; }
    sleep 0.05
  done
  echo "compare: $impl not ready after 30 s" >&2; exit 1
}

if [[ " $IMPLS " == *" bot "* ]]; then
  "$BENCH_BIN" fake-slack "http://127.0.0.1:$SLACK_PORT" > "$OUT/logs/fake-slack.txt" 2>&1 &
  SLACK_PID=$!
  for _ in $(seq 1 200); do curl -fsS -o /dev/null "http://127.0.0.1:$SLACK_PORT/healthz" 2>/dev/null && break; sleep 0.05; done
fi

log "rejections (bad signature, stale timestamp), once per server -> $OUT/reject.txt"
FAILED=0
for impl in $IMPLS; do
  start_server "$impl" "$OUT/logs/$impl-reject.server.txt"
  "$LOAD" reject "http://127.0.0.1:$(port_of "$impl")$(path_of "$impl")" | sed "s/^/[$impl] /" | tee -a "$OUT/reject.txt" || FAILED=1
  stop_server; [ -z "$DATA" ] || { rm -rf "$DATA"; DATA=""; }
done

run_one() {  # $1 impl, $2 connections, $3 round
  local impl="$1" c="$2" r="$3" rc=0 records=() wrk_pin=() port
  port="$(port_of "$impl")"
  [ "$impl" = bot ] || records=(RECORDS_URL="http://127.0.0.1:$port/bench/records")
  [ "$PIN" = 1 ] && wrk_pin=(WRK_CPUS=1)
  start_server "$impl" "$OUT/logs/$impl-c$c-r$r.server.txt"
  env "${records[@]}" "${wrk_pin[@]}" LABEL="$impl c=$c round=$r" SERVER_PID="$SERVER_PID" WARMUP="$WARMUP" \
    RESULT_JSON="$OUT/runs.jsonl" "$LOAD" load "http://127.0.0.1:$port$(path_of "$impl")" "$SECS" "$c" \
    > "$OUT/logs/$impl-c$c-r$r.bench.txt" 2>&1 || rc=$?
  stop_server
  if [ "$impl" = bot ]; then  # durability: every 2xx answered (warm-up included) is in the LiteDB file
    local stored answered
    stored="$("$BENCH_BIN" count-store "$DATA/breakglass.db" 2>>"$OUT/logs/count.txt" | tail -1)"
    answered="$(grep -h "\"label\": \"bot c=$c round=$r\"" "$OUT/runs.jsonl" | python3 -c 'import json,sys; r=json.loads(sys.stdin.readline()); print(r["requests"]-r["non2xx"])')"
    printf '{"conns":%s,"round":%s,"stored":%s,"measured_2xx":%s}\n' "$c" "$r" "${stored:-0}" "$answered" >> "$OUT/durability.jsonl"
    [ "${stored:-0}" -ge "$answered" ] || { echo "compare: bot stored $stored < $answered answered" >&2; rc=1; }
    rm -rf "$DATA"; DATA=""
  fi
  printf '%-22s %s rc=%s\n' "$impl c=$c r$r" \
    "$(grep -E '^(requests/s|latency):' "$OUT/logs/$impl-c$c-r$r.bench.txt" | tr -s ' ' | paste -sd ' ' | cut -c1-150)" "$rc"
  [ $rc -eq 0 ] || { tail -5 "$OUT/logs/$impl-c$c-r$r.bench.txt"; FAILED=1; }
}

read -r -a forward <<< "$IMPLS"
flip=0
for r in $(seq 1 "$ROUNDS"); do
  for c in $CONN_LEVELS; do
    if [ $flip = 0 ]; then order=("${forward[@]}"); flip=1
    else order=(); for ((i=${#forward[@]}-1; i>=0; i--)); do order+=("${forward[$i]}"); done; flip=0; fi
    for impl in "${order[@]}"; do run_one "$impl" "$c" "$r"; done
  done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/versions.txt"

python3 "$HARNESS/compare-summary.py" "$OUT" | tee "$OUT/summary.md"
echo "results: $OUT"
exit $FAILED
