#!/usr/bin/env bash
# ha-compare.sh — declarations on the embedded store, on PostgreSQL (one replica, then two behind a round-robin proxy)
# and the Bolt for JavaScript peer, in one run on loopback (issue 20's performance table).
#
#   bash tests/BreakGlassBot.Benchmarks/harness/ha-compare.sh [ROUNDS=2] [SECONDS=12]
#
# Configurations (CONFIGS, measured in this order, reversed at every step, each on fresh processes):
#   bolt               the Bolt peer (compare.sh's)
#   embedded           one bot on its LiteDB file (the default store)
#   pg                 one bot on PostgreSQL (Storage:Store and Storage:Hangfire PostgreSql)
#   pg-proxy           the same behind the proxy: what the proxy alone costs
#   pg-x2-proxy        two bots on the same database behind the proxy, round robin
#   embedded-proxy, embedded-x2-proxy
#                      the same on embedded stores, each replica with its own data directory: not one cluster (each
#                      holds its half of the changes), only the proxy path, for trying the harness without PostgreSQL
# The proxy is nginx (Debian's nginx-light, apt-get installed when missing, as root) on 127.0.0.1:3188, started with a
# generated config: one upstream block listing the replicas (round robin, keep-alive connections to them), no access
# log. PostgreSQL is Debian's package (installed when missing, as root), a throwaway cluster in a temp directory
# (trust auth on 127.0.0.1:$PG_PORT, run as the postgres user), started once for the run, a fresh database for every
# measurement, stopped and deleted at exit. fsync and synchronous_commit stay on (PG_FSYNC=off to compare).
# After every bot measurement the bots are stopped and their store counted: it must hold every 2xx they answered.
#
# Environment: CONFIGS ("bolt embedded pg pg-proxy pg-x2-proxy"), CONN_LEVELS ("32"), WARMUP (5), PIN (0; 1: every
#   server process, the proxy and PostgreSQL on CPU 0, wrk on CPU 1), PROXY_WORKERS (1), PG_PORT (3196), PG_FSYNC
#   (on), PG_MAX_CONNECTIONS (400), OUT (a new temp folder), SLACK_SIGNING_SECRET (a throwaway one by default).
# Output: OUT/summary.md, runs.jsonl (CPU per role: bot, proxy, db), starts.jsonl, durability.jsonl, versions.txt, logs/.
set -euo pipefail
HARNESS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HARNESS/../../.." && pwd)"
ROUNDS="${1:-2}"; SECS="${2:-12}"
CONFIGS="${CONFIGS:-bolt embedded pg pg-proxy pg-x2-proxy}"; CONN_LEVELS="${CONN_LEVELS:-32}"; WARMUP="${WARMUP:-5}"
PIN="${PIN:-0}"; PROXY_WORKERS="${PROXY_WORKERS:-1}"
PG_PORT="${PG_PORT:-3196}"; PG_FSYNC="${PG_FSYNC:-on}"; PG_MAX_CONNECTIONS="${PG_MAX_CONNECTIONS:-400}"
OUT="${OUT:-$(mktemp -d /tmp/breakglass-ha.XXXXXX)}"
mkdir -p "$OUT/logs"
source "$HARNESS/servers.sh"
PROXY_PORT=3188

for cfg in $CONFIGS; do
  case "$cfg" in bolt|embedded|embedded-proxy|embedded-x2-proxy|pg|pg-proxy|pg-x2-proxy) ;;
    *) echo "ha-compare: unknown configuration $cfg" >&2; exit 2 ;; esac
done

build_all
if [[ "$CONFIGS" == *proxy* ]]; then
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light; } >> "$OUT/logs/build.txt" 2>&1
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

# --- PostgreSQL: one throwaway cluster for the run ------------------------------------------------------------
PG_BIN=""; PG_DIR=""; PG_ADMIN=()
pg_bin() {  # the newest installed version's bin/, or nothing
  local b found=""
  for b in /usr/lib/postgresql/*/bin; do [ -x "$b/initdb" ] && found+="$b"$'\n'; done
  printf '%s' "$found" | sort -V | tail -1
}
as_postgres() { if [ "$(id -u)" = 0 ]; then "${SERVER_PIN[@]}" su postgres -s /bin/sh -c "$1"; else "${SERVER_PIN[@]}" sh -c "$1"; fi; }
start_postgres() {
  PG_BIN="$(pg_bin)"
  if [ -z "$PG_BIN" ]; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } >> "$OUT/logs/build.txt" 2>&1
    PG_BIN="$(pg_bin)"
  fi
  [ -n "$PG_BIN" ] || { echo "ha-compare: no PostgreSQL (apt-get install postgresql as root)" >&2; exit 1; }
  PG_DIR="$(mktemp -d /tmp/breakglass-ha-pg.XXXXXX)"
  [ "$(id -u)" != 0 ] || chown postgres:postgres "$PG_DIR"
  as_postgres "$PG_BIN/initdb -D $PG_DIR/db -A trust -U postgres" > "$OUT/logs/initdb.txt" 2>&1
  as_postgres "$PG_BIN/pg_ctl -D $PG_DIR/db -l $PG_DIR/log -w -o \"-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 \
    -c max_connections=$PG_MAX_CONNECTIONS -c fsync=$PG_FSYNC\" start" > "$OUT/logs/pg_ctl.txt" 2>&1 \
    || { cat "$OUT/logs/pg_ctl.txt" "$PG_DIR/log" >&2; exit 1; }
  PG_ADMIN=("$PG_BIN/psql" -X -q -At -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres)
  log "PostgreSQL $("${PG_ADMIN[@]}" -c 'SHOW server_version') on 127.0.0.1:$PG_PORT ($PG_DIR)"
}
stop_postgres() {
  [ -n "$PG_DIR" ] || return 0
  as_postgres "$PG_BIN/pg_ctl -D $PG_DIR/db -m fast stop" >> "$OUT/logs/pg_ctl.txt" 2>&1 || true
  cp "$PG_DIR/log" "$OUT/logs/postgresql.txt" 2>/dev/null || true
  rm -rf "$PG_DIR"; PG_DIR=""
}
postmaster_pid() { head -1 "$PG_DIR/db/postmaster.pid"; }
pg_settings() {
  "${PG_ADMIN[@]}" -c "SELECT 'postgresql: ' || version() || '; ' || string_agg(name || '=' || setting || coalesce(unit, ''), ', ' ORDER BY name)
    FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'max_connections', 'wal_level', 'full_page_writes')"
}

# --- the proxy: nginx, round robin over the replicas ----------------------------------------------------------
PROXY_PID=""; PROXY_DIR=""
start_proxy() {  # $@ the replicas' ports; sets PROXY_PID
  local port servers=""
  for port in "$@"; do servers+="    server 127.0.0.1:$port;"$'\n'; done
  PROXY_DIR="$(mktemp -d "$OUT/proxy.XXXXXX")"
  cat > "$PROXY_DIR/nginx.conf" <<EOF
worker_processes $PROXY_WORKERS;
pid $PROXY_DIR/nginx.pid;
error_log $PROXY_DIR/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $PROXY_DIR/body; proxy_temp_path $PROXY_DIR/proxy;
  fastcgi_temp_path $PROXY_DIR/fastcgi; uwsgi_temp_path $PROXY_DIR/uwsgi; scgi_temp_path $PROXY_DIR/scgi;
  upstream replicas {
$servers    keepalive 64;
  }
  server {
    listen 127.0.0.1:$PROXY_PORT;
    location / {
      proxy_pass http://replicas;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
    }
  }
}
EOF
  "${SERVER_PIN[@]}" "$NGINX" -e "$PROXY_DIR/error.log" -p "$PROXY_DIR" -c "$PROXY_DIR/nginx.conf" -g 'daemon off;' \
    > "$PROXY_DIR/stdout.txt" 2>&1 & PROXY_PID=$!
  wait_ready proxy "http://127.0.0.1:$PROXY_PORT/healthz" "$PROXY_PID" "$PROXY_DIR/error.log" "$(date +%s%N)"
}
stop_proxy() {
  [ -n "$PROXY_PID" ] || return 0
  stop_pids "$PROXY_PID"; PROXY_PID=""
  cat "$PROXY_DIR/error.log" >> "$OUT/logs/proxy-errors.txt" 2>/dev/null || true
  rm -rf "$PROXY_DIR"; PROXY_DIR=""
}

# --- one configuration: start, measure, stop, count ----------------------------------------------------------
BOT_PIDS=(); DATAS=(); DB=""
stop_bots() { [ ${#BOT_PIDS[@]} = 0 ] || stop_pids "${BOT_PIDS[@]}"; BOT_PIDS=(); }
cleanup() {
  stop_proxy; stop_bots; stop_fake_slack
  [ ${#DATAS[@]} = 0 ] || rm -rf "${DATAS[@]}"
  stop_postgres
}
trap cleanup EXIT

[[ " $CONFIGS " != *" pg"* ]] || start_postgres
start_fake_slack
settings=("rounds: $ROUNDS, seconds: $SECS, warm-up: $WARMUP, connections: $CONN_LEVELS, configurations: $CONFIGS, pinned: $PIN"
          "proxy: $("$NGINX" -v 2>&1 | cut -d' ' -f3), worker_processes $PROXY_WORKERS")
[ -z "$PG_DIR" ] || settings+=("$(pg_settings)")
print_versions "${settings[@]}"

start_bots() {  # $1 store (embedded|pg), $2 replicas, $3 log prefix: every replica at once, as a rolling start would not
  local store="$1" n="$2" prefix="$3" i port t0 settings=() pids=()
  if [ "$store" = pg ]; then
    DB="bench_$(date +%s%N)"
    "${PG_ADMIN[@]}" -c "CREATE DATABASE $DB" || return 1
    settings=(Storage__Store=PostgreSql Storage__Hangfire=PostgreSql
              "Storage__ConnectionString=Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=$DB")
  fi
  t0="$(date +%s%N)"
  for ((i=0; i<n; i++)); do
    port=$((BOT_PORT + i)); DATAS+=("$(mktemp -d "$OUT/data.XXXXXX")")
    launch_bot "$port" "${DATAS[-1]}" "$prefix.bot$i.server.txt" "${settings[@]}"
    BOT_PIDS+=("$LAUNCHED")
  done
  for ((i=0; i<n; i++)); do
    wait_ready "$store" "http://127.0.0.1:$((BOT_PORT + i))/healthz" "${BOT_PIDS[$i]}" "$prefix.bot$i.server.txt" "$t0" || return 1
  done
}

count_stored() {  # $1 store: the changes the (stopped) bots hold, summed over their data directories on the embedded store
  local d total=0 n
  if [ "$1" = pg ]; then
    "$BENCH_BIN" count-store-pg "Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=$DB;Pooling=false" 2>>"$OUT/logs/count.txt" | tail -1
    return 0
  fi
  for d in "${DATAS[@]}"; do
    n="$("$BENCH_BIN" count-store "$d/breakglass.db" 2>>"$OUT/logs/count.txt" | tail -1)"; total=$((total + ${n:-0}))
  done
  echo "$total"
}

FAILED=0
run_one() {  # $1 configuration, $2 connections, $3 round
  local cfg="$1" c="$2" r="$3" rc=0 store replicas=1 url pids prefix="$OUT/logs/$1-c$2-r$3" i
  if [ "$cfg" = bolt ]; then
    local t0; t0="$(date +%s%N)"
    launch_bolt "$prefix.server.txt"; BOT_PIDS=("$LAUNCHED")
    wait_ready bolt "http://127.0.0.1:$BOLT_PORT/bench/records" "$LAUNCHED" "$prefix.server.txt" "$t0"
    measure bolt "$c" "$r" "http://127.0.0.1:$BOLT_PORT/slack/events" "$LAUNCHED" "http://127.0.0.1:$BOLT_PORT/bench/records" || rc=$?
    stop_bots
    report_run bolt "$c" "$r" "$rc"; [ $rc = 0 ] || FAILED=1
    return 0
  fi
  store="${cfg%%-*}"; [[ "$cfg" != *-x2-* ]] || replicas=2
  if ! start_bots "$store" "$replicas" "$prefix"; then  # a store that cannot start fails this point, not the run
    echo "$cfg c=$c r$r: the bots did not start (logs: $prefix.bot*.server.txt)"; FAILED=1
    cleanup_point; return 0
  fi
  pids=""; for i in "${BOT_PIDS[@]}"; do pids+="bot:$i,"; done
  url="http://127.0.0.1:$BOT_PORT/slack/commands"
  if [[ "$cfg" == *-proxy ]]; then
    start_proxy $(for ((i=0; i<replicas; i++)); do echo $((BOT_PORT + i)); done) || { FAILED=1; cleanup_point; return 0; }
    url="http://127.0.0.1:$PROXY_PORT/slack/commands"; pids+="proxy:$PROXY_PID,"
  fi
  [ "$store" != pg ] || pids+="db:$(postmaster_pid),"
  measure "$cfg" "$c" "$r" "$url" "${pids%,}" "" || rc=$?
  stop_proxy; stop_bots
  check_durable "$cfg" "$c" "$r" "$(count_stored "$store")" || rc=1
  cleanup_point
  report_run "$cfg" "$c" "$r" "$rc"; [ $rc = 0 ] || FAILED=1
  if [ $rc != 0 ]; then  # what the bots logged most often, the first line after each "fail:"
    grep -h -A1 '^fail:' "$prefix".bot*.server.txt 2>/dev/null | grep -v -e '^fail:' -e '^--' | sed 's/([^)]*)//g' \
      | sort | uniq -c | sort -rn | head -3 || true
  fi
}
cleanup_point() {
  stop_proxy; stop_bots
  [ ${#DATAS[@]} = 0 ] || rm -rf "${DATAS[@]}"; DATAS=()
  if [ -n "$DB" ]; then "${PG_ADMIN[@]}" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" || true; DB=""; fi
}

each_round "$ROUNDS" "$CONN_LEVELS" "$CONFIGS" run_one
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/versions.txt"

python3 "$HARNESS/compare-summary.py" "$OUT" | tee "$OUT/summary.md"
echo "results: $OUT"
exit $FAILED
