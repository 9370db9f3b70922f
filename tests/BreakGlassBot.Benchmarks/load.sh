#!/usr/bin/env bash
# load.sh — BreakGlassBot against Slack's Bolt for JavaScript and a bare ASP.NET Core floor, in one run.
#
#   bash tests/BreakGlassBot.Benchmarks/load.sh            full run (about 8 minutes on 2 cores)
#   QUICK=1 bash tests/BreakGlassBot.Benchmarks/load.sh    one short round, no BenchmarkDotNet (about 3 minutes)
#
# The harness is harness/ beside this script: slack-load.py (Slack-v0-signed requests, wrk with a Lua script),
# bolt-peer/ (the Bolt for JavaScript app) and aspnet-floor/ (the bare ASP.NET Core app). See README.md.
#
# 1. Builds the bot (Release), the benchmarks exe and the harness's floor; installs the Bolt peer's packages
#    (npm ci, first use only) and wrk (apt-get, as root, when missing).
# 2. BenchmarkDotNet micro-benchmarks (in-process, short iterations; MICRO=0 skips) and store-check: the
#    store's queries over 100,000 changes (10,000 open), each must stay under 200 ms.
# 3. Load (loopback only, wrk -t1 -c$CONNS through harness/slack-load.py), ROUNDS rounds, order
#    flipped every round, a fresh server for every measurement:
#      bolt        the Bolt peer, /breakglass (the same signed slash command, our declaration text)
#      floor       the bare ASP.NET Core endpoint, same request
#      declare     the bot: /breakglass <summary> <PR URL>: a durable declaration (group-committed to LiteDB,
#                  then the outbox posts the announcement to the fake Slack API: real background work)
#      status      the bot: /breakglass status (reads the store)
#      help        the bot: /breakglass help
#      click       the bot: a block_actions "Details" click on BG-1 (/slack/interactions)
#    For each: requests/s, p50/p99, server CPU per request and peak memory (VmHWM), start-up to healthy.
#    After each declare run the bot is stopped and its LiteDB file counted: stored >= 2xx answers or FAIL.
# Output: a temp folder (printed), with summary.md (the table README shows), runs.jsonl and logs.
#
# Environment: QUICK=1, ROUNDS (2; QUICK 1), SECONDS_PER_RUN (15; QUICK 8), WARMUP (5; QUICK 3), CONNS (32),
#   MICRO (1; QUICK 0), BENCH_DIR (harness/ beside this script), OUT (a new temp folder).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$REPO/tests/BreakGlassBot.Benchmarks"
QUICK="${QUICK:-0}"
if [ "$QUICK" = 1 ]; then d_rounds=1; d_secs=8; d_warm=3; d_micro=0; else d_rounds=2; d_secs=15; d_warm=5; d_micro=1; fi
ROUNDS="${ROUNDS:-$d_rounds}"; SECS="${SECONDS_PER_RUN:-$d_secs}"; WARMUP="${WARMUP:-$d_warm}"
MICRO="${MICRO:-$d_micro}"; CONNS="${CONNS:-32}"
BENCH_DIR="${BENCH_DIR:-$HERE/harness}"
[ -x "$BENCH_DIR/slack-load.py" ] || { echo "load.sh: no harness at $BENCH_DIR (set BENCH_DIR)" >&2; exit 2; }
OUT="${OUT:-$(mktemp -d /tmp/breakglass-load.XXXXXX)}"
mkdir -p "$OUT/logs"
# Ports, binaries, log() and starting the servers: the harness's shared functions (nothing pinned here).
HARNESS="$BENCH_DIR"; PIN=0
source "$BENCH_DIR/servers.sh"
export SLACK_SIGNING_SECRET="load-only-secret-$(date +%s)-$$"
export BENCH_RESPONSE_URL="http://127.0.0.1:$SLACK_PORT/response/1"   # the slash commands' response_url: the fake Slack
TEXT="Roll back payments deploy after error spike https://github.com/acme/payments/pull/4242"
# The workspace and app slack-load.py's commands name (the bot is started with them as Slack:TeamId and Slack:AppId).
PAYLOAD='{"type":"block_actions","team":{"id":"T0BENCH01","domain":"breakglass-bench"},"user":{"id":"U2147483697","username":"oncall","team_id":"T0BENCH01"},"api_app_id":"A0BENCH01","trigger_id":"1.2.3","response_url":"http://127.0.0.1:'$SLACK_PORT'/response/1","container":{"type":"message","message_ts":"1700000000.000001","channel_id":"C0BENCH","is_ephemeral":false},"channel":{"id":"C0BENCH","name":"changes"},"message":{"ts":"1700000000.000001","text":"BG-1"},"actions":[{"action_id":"breakglass_details","block_id":"breakglass_review","value":"BG-1","type":"button","action_ts":"1700000001.000001"}]}'

# --- the harness: slack-load.py signs the slash command (BENCH_TEXT) or the interaction (BENCH_PAYLOAD) ---
BENCH="$BENCH_DIR"

# --- builds ---------------------------------------------------------------------------------------------
log "building (Release) into $OUT/logs/build.txt"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; } >> "$OUT/logs/build.txt" 2>&1
{
  dotnet build "$REPO/src/BreakGlassBot/BreakGlassBot.csproj" -c Release -nologo -v q
  dotnet build "$HERE/BreakGlassBot.Benchmarks.csproj" -c Release -nologo -v q
  dotnet build "$BENCH/aspnet-floor/aspnet-floor.csproj" -c Release -nologo -v q
  [ -d "$BENCH/bolt-peer/node_modules/@slack/bolt" ] || (cd "$BENCH/bolt-peer" && npm ci --no-audit --no-fund)
} >> "$OUT/logs/build.txt" 2>&1 || { tail -40 "$OUT/logs/build.txt"; exit 1; }
{
  echo "date_utc: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "cpu: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo) x $(nproc), $(free -g | awk '/^Mem:/ {print $2}') GiB"
  echo "kernel: $(uname -r); dotnet $(dotnet --version); node $(node --version); $(wrk -v 2>&1 | head -1 | cut -c1-40)"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "rounds: $ROUNDS, seconds: $SECS, warm-up: $WARMUP, connections: $CONNS, quick: $QUICK"
} | tee "$OUT/versions.txt"

# --- micro-benchmarks and the store ----------------------------------------------------------------------
if [ "$MICRO" = 1 ]; then
  log "BenchmarkDotNet (in-process, short) -> $OUT/micro.md"
  (cd "$OUT" && BENCH_STORE_TEMPLATE="$OUT/store-template" "$BENCH_BIN" --filter '*' --inProcess --launchCount 1 --warmupCount 2 --iterationCount 5 \
      --iterationTime 150 --artifacts "$OUT/bdn" > "$OUT/logs/bdn.txt" 2>&1) || { tail -30 "$OUT/logs/bdn.txt"; exit 1; }
  cat "$OUT"/bdn/results/*-report-github.md > "$OUT/micro.md"
fi
log "store-check: 100,000 changes, 10,000 open"
STORE_RC=0
BENCH_STORE_TEMPLATE="$OUT/store-template" "$BENCH_BIN" store-check 100000 10000 | tee "$OUT/store.txt" || STORE_RC=$?

# --- servers -----------------------------------------------------------------------------------------------
SERVER_PID=""; SLACK_PID=""
stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  SERVER_PID=""
}
cleanup() { stop_server; if [ -n "$SLACK_PID" ]; then kill "$SLACK_PID" 2>/dev/null || true; wait "$SLACK_PID" 2>/dev/null || true; fi; }
trap cleanup EXIT

"$BENCH_BIN" fake-slack "http://127.0.0.1:$SLACK_PORT" > "$OUT/logs/fake-slack.txt" 2>&1 &
SLACK_PID=$!
for _ in $(seq 1 200); do curl -fsS -o /dev/null "http://127.0.0.1:$SLACK_PORT/healthz" 2>/dev/null && break; sleep 0.05; done

DATA=""
start_server() {  # $1 impl, $2 log (harness/servers.sh starts it and waits for its first answer)
  local impl="$1" logf="$2" t0
  t0="$(date +%s%N)"
  case "$impl" in
    bolt)  launch_bolt "$logf"; SERVER_PID=$LAUNCHED
           wait_ready bolt "http://127.0.0.1:$BOLT_PORT/bench/records" "$SERVER_PID" "$logf" "$t0" ;;
    floor) launch_floor "$logf"; SERVER_PID=$LAUNCHED
           wait_ready floor "http://127.0.0.1:$FLOOR_PORT/bench/records" "$SERVER_PID" "$logf" "$t0" ;;
    bot)   DATA="$(mktemp -d "$OUT/data.XXXXXX")"; launch_bot $BOT_PORT "$DATA" "$logf"; SERVER_PID=$LAUNCHED
           wait_ready bot "http://127.0.0.1:$BOT_PORT/healthz" "$SERVER_PID" "$logf" "$t0" ;;
  esac
}

run_one() {  # $1 kind, $2 round
  local kind="$1" r="$2" impl url rc=0 envs=() records=()
  case "$kind" in
    bolt)    impl=bolt;  url="http://127.0.0.1:$BOLT_PORT/slack/events";  envs=(BENCH_TEXT="$TEXT"); records=(RECORDS_URL="http://127.0.0.1:$BOLT_PORT/bench/records") ;;
    floor)   impl=floor; url="http://127.0.0.1:$FLOOR_PORT/slack/events"; envs=(BENCH_TEXT="$TEXT"); records=(RECORDS_URL="http://127.0.0.1:$FLOOR_PORT/bench/records") ;;
    declare) impl=bot;   url="http://127.0.0.1:$BOT_PORT/slack/commands"; envs=(BENCH_TEXT="$TEXT") ;;
    status)  impl=bot;   url="http://127.0.0.1:$BOT_PORT/slack/commands"; envs=(BENCH_TEXT="status") ;;
    help)    impl=bot;   url="http://127.0.0.1:$BOT_PORT/slack/commands"; envs=(BENCH_TEXT="help") ;;
    click)   impl=bot;   url="http://127.0.0.1:$BOT_PORT/slack/interactions"; envs=(BENCH_PAYLOAD="$PAYLOAD") ;;
  esac
  start_server "$impl" "$OUT/logs/$kind-r$r.server.txt"
  if [ "$impl" = bot ] && [ "$kind" != declare ]; then   # BG-1 for the click, one open change for status
    env BENCH_TEXT="$TEXT" "$BENCH/slack-load.py" send "http://127.0.0.1:$BOT_PORT/slack/commands" > /dev/null
  fi
  env "${envs[@]}" "${records[@]}" LABEL="$kind round=$r" SERVER_PID="$SERVER_PID" WARMUP="$WARMUP" RESULT_JSON="$OUT/runs.jsonl" \
    "$BENCH/slack-load.py" load "$url" "$SECS" "$CONNS" > "$OUT/logs/$kind-r$r.bench.txt" 2>&1 || rc=$?
  stop_server
  if [ "$kind" = declare ]; then   # durability: every 2xx (warm-up and measured) is in the LiteDB file
    local stored answered
    stored="$("$BENCH_BIN" count-store "$DATA/breakglass.db" 2>>"$OUT/logs/count.txt" | tail -1)"
    answered="$(grep -h 'label": "declare round='"$r"'"' "$OUT/runs.jsonl" | python3 -c 'import json,sys; r=json.loads(sys.stdin.readline()); print(r["requests"]-r["non2xx"])')"
    printf '{"round":%s,"stored":%s,"measured_2xx":%s}\n' "$r" "${stored:-0}" "$answered" >> "$OUT/durability.jsonl"
    [ "${stored:-0}" -ge "$answered" ] || { echo "load.sh: stored $stored < $answered answered" >&2; rc=1; }
  fi
  printf '%-18s load %s  %s rc=%s\n' "$kind r$r" "$(cut -d' ' -f1 /proc/loadavg)" \
    "$(grep -E '^(requests/s|latency|server):' "$OUT/logs/$kind-r$r.bench.txt" | tr -s ' ' | paste -sd ' ' | cut -c1-200)" "$rc"
  [ $rc -eq 0 ] || { tail -5 "$OUT/logs/$kind-r$r.bench.txt"; FAILED=1; }
  rm -rf "$DATA"; DATA=""
}

log "rejections (bad signature, stale timestamp) on the bot"
start_server bot "$OUT/logs/bot-reject.server.txt"
env BENCH_TEXT="help" "$BENCH/slack-load.py" reject "http://127.0.0.1:$BOT_PORT/slack/commands" | tee "$OUT/reject.txt" || FAILED=1
stop_server; rm -rf "$DATA"

FAILED="${FAILED:-0}"
KINDS=(bolt declare floor status help click)
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then order=("${KINDS[@]}"); else order=(); for ((i=${#KINDS[@]}-1; i>=0; i--)); do order+=("${KINDS[$i]}"); done; fi
  for k in "${order[@]}"; do run_one "$k" "$r"; done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/versions.txt"

python3 "$HERE/load-summary.py" "$OUT" | tee "$OUT/summary.md"
echo "results: $OUT"
[ "$STORE_RC" = 0 ] || echo "store-check: a query over 200 ms (see above)"
exit $(( FAILED || STORE_RC ))
