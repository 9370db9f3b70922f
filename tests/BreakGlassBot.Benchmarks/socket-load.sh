#!/usr/bin/env bash
# socket-load.sh — the same bot, declarations at 32 connections over HTTP, then over Socket Mode, measured by one tool.
#
#   bash tests/BreakGlassBot.Benchmarks/socket-load.sh        (SECS=10 per run, CONNS=32, WARMUP=3; builds Release first)
#
# HTTP: signed POSTs to /slack/commands, latency = request → 200. Socket Mode: the tool serves apps.connections.open and
# the WebSocket, sends slash_commands envelopes over the bot's two sockets, latency = envelope → ack. Both closed-loop.
set -u
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SECS="${SECS:-10}"; CONNS="${CONNS:-32}"; WARMUP="${WARMUP:-3}"
dotnet build -c Release "$REPO/tests/BreakGlassBot.Benchmarks" -v q > /dev/null || exit 1
BENCH_BIN="$REPO/tests/BreakGlassBot.Benchmarks/bin/Release/net10.0/BreakGlassBot.Benchmarks"
BOT_BIN="$REPO/src/BreakGlassBot/bin/Release/net10.0/BreakGlassBot"
OUT="$(mktemp -d /tmp/breakglass-socket-load.XXXXXX)"
export SLACK_SIGNING_SECRET="socket-load-only-$(date +%s)-$$"
COMMON=(Slack__BotToken=xoxb-bench-only Slack__AnnouncementChannel=C0BENCH ASPNETCORE_ENVIRONMENT=Production Logging__LogLevel__Default=Warning)

# HTTP
"$BENCH_BIN" fake-slack http://127.0.0.1:3195 > "$OUT/fake-slack.txt" 2>&1 & FAKE=$!
mkdir -p "$OUT/http"
env "${COMMON[@]}" Slack__SigningSecret="$SLACK_SIGNING_SECRET" Slack__ApiBaseUrl=http://127.0.0.1:3195/api/ Storage__DataDirectory="$OUT/http" \
  Urls=http://127.0.0.1:3184 "$BOT_BIN" > "$OUT/bot-http.txt" 2>&1 & BOT=$!
until curl -fsS -o /dev/null http://127.0.0.1:3184/healthz 2>/dev/null; do sleep 0.05; done
"$BENCH_BIN" http-load http://127.0.0.1:3184 "$SECS" "$CONNS" "$WARMUP"
kill $BOT $FAKE; wait $BOT $FAKE 2>/dev/null

# Socket Mode: the tool is Slack (Web API and sockets); the bot has no signing secret and no /slack/*.
mkdir -p "$OUT/socket"
"$BENCH_BIN" socket-load http://127.0.0.1:3196 "$SECS" "$CONNS" "$WARMUP" & LOAD=$!
sleep 0.5
env "${COMMON[@]}" Slack__SocketMode=true Slack__AppToken=xapp-bench-only Slack__SocketStagger=00:00:00.100 \
  Slack__ApiBaseUrl=http://127.0.0.1:3196/api/ Storage__DataDirectory="$OUT/socket" Urls=http://127.0.0.1:3185 "$BOT_BIN" > "$OUT/bot-socket.txt" 2>&1 & BOT=$!
wait $LOAD
kill $BOT; wait $BOT 2>/dev/null
rm -rf "$OUT"
