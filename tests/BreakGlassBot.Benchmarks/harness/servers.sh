# servers.sh — sourced by compare.sh and ha-compare.sh: the build, the servers they start and one measurement.
#
# The sourcing script sets HARNESS, REPO, OUT (with logs/), PIN, WARMUP and SECS first. Everything here writes into
# OUT: starts.jsonl (start-up of every process), runs.jsonl (one line per measurement), durability.jsonl.
# Ports: Bolt peer 3101, floor 3102, bot 3180 (a second replica 3181), fake Slack 3190.
BOLT_PORT=3101; FLOOR_PORT=3102; BOT_PORT=3180; BOT2_PORT=3181; SLACK_PORT=3190
export SLACK_SIGNING_SECRET="${SLACK_SIGNING_SECRET:-compare-only-$(date +%s)-$$}"
export BENCH_TEXT="Roll back payments deploy after error spike https://github.com/acme/payments/pull/4242"
export BENCH_RESPONSE_URL="http://127.0.0.1:$SLACK_PORT/response/1"
LOAD="$HARNESS/slack-load.py"
BOT_BIN="$REPO/src/BreakGlassBot/bin/Release/net10.0/BreakGlassBot"
BENCH_BIN="$REPO/tests/BreakGlassBot.Benchmarks/bin/Release/net10.0/BreakGlassBot.Benchmarks"
FLOOR_BIN="$HARNESS/aspnet-floor/bin/Release/net10.0/aspnet-floor"
SERVER_PIN=(); [ "$PIN" = 1 ] && SERVER_PIN=(taskset -c 0)
log() { echo "[$(basename "$0" .sh) $(date -u +%H:%M:%S)] $*"; }

build_all() {  # what is missing is built or installed: the bot and the benchmarks (Release), the floor, the Bolt peer, wrk
  log "building (Release) into $OUT/logs/build.txt"
  {
    command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
    dotnet build "$REPO/src/BreakGlassBot/BreakGlassBot.csproj" -c Release -nologo -v q
    dotnet build "$REPO/tests/BreakGlassBot.Benchmarks/BreakGlassBot.Benchmarks.csproj" -c Release -nologo -v q
    dotnet build "$HARNESS/aspnet-floor/aspnet-floor.csproj" -c Release -nologo -v q
    [ -d "$HARNESS/bolt-peer/node_modules/@slack/bolt" ] || (cd "$HARNESS/bolt-peer" && npm ci --no-audit --no-fund)
  } >> "$OUT/logs/build.txt" 2>&1 || { tail -40 "$OUT/logs/build.txt"; exit 1; }
}

print_versions() {  # $@: lines of the script's own settings
  {
    echo "date_utc: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "cpu: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo) x $(nproc), $(free -g | awk '/^Mem:/ {print $2}') GiB"
    echo "kernel: $(uname -r); dotnet $(dotnet --version); node $(node --version);" \
         "@slack/bolt $(node -p "require('$HARNESS/bolt-peer/node_modules/@slack/bolt/package.json').version"); $(wrk -v 2>&1 | head -1 | cut -c1-30)"
    printf '%s\n' "$@"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  } | tee "$OUT/versions.txt"
}

# Each launch_* starts one process in the background and sets LAUNCHED (its pid); wait_ready waits for its answer.
launch_bolt()  { PORT=$BOLT_PORT "${SERVER_PIN[@]}" node "$HARNESS/bolt-peer/app.js" > "$1" 2>&1 & LAUNCHED=$!; }
launch_floor() { PORT=$FLOOR_PORT "${SERVER_PIN[@]}" "$FLOOR_BIN" > "$1" 2>&1 & LAUNCHED=$!; }
launch_bot() {  # $1 port, $2 data directory, $3 log, then VAR=VALUE settings of this run (the store, for instance)
  local port="$1" data="$2" logf="$3"; shift 3
  env Slack__SigningSecret="$SLACK_SIGNING_SECRET" Slack__BotToken="xoxb-compare-only" \
    Slack__ApiBaseUrl="http://127.0.0.1:$SLACK_PORT/api/" Slack__AnnouncementChannel="C0BENCH" \
    Slack__TeamId=T0BENCH01 Slack__AppId=A0BENCH01 \
    Storage__DataDirectory="$data" Urls="http://127.0.0.1:$port" ASPNETCORE_ENVIRONMENT=Production \
    Logging__LogLevel__Default=Warning "$@" "${SERVER_PIN[@]}" "$BOT_BIN" > "$logf" 2>&1 & LAUNCHED=$!
}

wait_ready() {  # $1 name, $2 url, $3 pid, $4 log, $5 start time (ns); appends start-up time and idle RSS to starts.jsonl
  local name="$1" url="$2" pid="$3" logf="$4" t0="$5" t1
  for _ in $(seq 1 600); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then
      t1="$(date +%s%N)"
      printf '{"impl":"%s","ready_ms":%d,"idle_rss_kb":%d}\n' "$name" $(( (t1 - t0) / 1000000 )) \
        "$(awk '$1=="VmRSS:" {print $2}' "/proc/$pid/status")" >> "$OUT/starts.jsonl"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { tail -30 "$logf"; echo "$name died at start" >&2; return 1; }
    sleep 0.05
  done
  echo "$name not ready after 30 s" >&2; return 1
}

stop_pids() {  # SIGTERM, then wait for each
  local p
  for p in "$@"; do kill "$p" 2>/dev/null || true; done
  for p in "$@"; do wait "$p" 2>/dev/null || true; done
}

SLACK_PID=""
start_fake_slack() {
  "$BENCH_BIN" fake-slack "http://127.0.0.1:$SLACK_PORT" > "$OUT/logs/fake-slack.txt" 2>&1 &
  SLACK_PID=$!
  for _ in $(seq 1 200); do curl -fsS -o /dev/null "http://127.0.0.1:$SLACK_PORT/healthz" 2>/dev/null && return 0; sleep 0.05; done
}
stop_fake_slack() { [ -z "$SLACK_PID" ] || stop_pids "$SLACK_PID"; SLACK_PID=""; }

measure() {  # $1 name, $2 connections, $3 round, $4 url, $5 SERVER_PID list (see slack-load.py), $6 records URL or ""
  local name="$1" c="$2" r="$3" url="$4" pids="$5" records=() wrk_pin=() rc=0
  [ -z "$6" ] || records=(RECORDS_URL="$6")
  [ "$PIN" = 1 ] && wrk_pin=(WRK_CPUS=1)
  env "${records[@]}" "${wrk_pin[@]}" LABEL="$name c=$c round=$r" SERVER_PID="$pids" WARMUP="$WARMUP" \
    RESULT_JSON="$OUT/runs.jsonl" "$LOAD" load "$url" "$SECS" "$c" > "$OUT/logs/$name-c$c-r$r.bench.txt" 2>&1 || rc=$?
  return $rc
}

check_durable() {  # $1 name, $2 connections, $3 round, $4 changes stored: every 2xx answered (warm-up included) must be there
  local name="$1" c="$2" r="$3" stored="${4:-0}" answered
  answered="$(grep -h "\"label\": \"$name c=$c round=$r\"" "$OUT/runs.jsonl" | python3 -c 'import json,sys; r=json.loads(sys.stdin.readline()); print(r["requests"]-r["non2xx"])')" || answered=0
  printf '{"impl":"%s","conns":%s,"round":%s,"stored":%s,"measured_2xx":%s}\n' "$name" "$c" "$r" "$stored" "$answered" >> "$OUT/durability.jsonl"
  [ "$stored" -ge "$answered" ] || { echo "$name stored $stored < $answered answered" >&2; return 1; }
}

report_run() {  # $1 name, $2 connections, $3 round, $4 rc: one line per measurement; the log's tail when it failed
  printf '%-22s %s rc=%s\n' "$1 c=$2 r$3" \
    "$(grep -E '^(requests/s|latency):' "$OUT/logs/$1-c$2-r$3.bench.txt" | tr -s ' ' | paste -sd ' ' | cut -c1-150)" "$4"
  [ "$4" -eq 0 ] || tail -5 "$OUT/logs/$1-c$2-r$3.bench.txt"
}

each_round() {  # $1 rounds, $2 connection levels, $3 names, $4 function(name, conns, round); the order flips at every step
  local rounds="$1" levels="$2" fn="$4" flip=0 r c i name
  local -a order forward
  read -r -a forward <<< "$3"
  for r in $(seq 1 "$rounds"); do
    for c in $levels; do
      if [ $flip = 0 ]; then order=("${forward[@]}"); flip=1
      else order=(); for ((i=${#forward[@]}-1; i>=0; i--)); do order+=("${forward[$i]}"); done; flip=0; fi
      for name in "${order[@]}"; do "$fn" "$name" "$c" "$r"; done
    done
  done
}
