#!/usr/bin/env bash
# drain.sh — a burst of declarations, then: does the outbox finish every follow-up afterwards, each exactly once?
#
#   bash tests/BreakGlassBot.Benchmarks/drain.sh          (SECS=6 burst at 32 connections; needs a Release build, see load.sh)
#
# The outbox yields to a burst of Slack requests, so most announcements are posted after it. This prints the burst's
# figures, the fake Slack's call counts at its end and every 5 s after, and finally the bot's store: changes, still
# pending, announced (and distinct announcement ts: a duplicate post would show here), steps done and attempts made.
set -u
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BENCH_BIN="$REPO/tests/BreakGlassBot.Benchmarks/bin/Release/net10.0/BreakGlassBot.Benchmarks"
BOT_BIN="$REPO/src/BreakGlassBot/bin/Release/net10.0/BreakGlassBot"
BENCH_DIR="${BENCH_DIR:-$REPO/tests/BreakGlassBot.Benchmarks/harness}"   # slack-load.py: signed requests, wrk
OUT="$(mktemp -d /tmp/breakglass-drain.XXXXXX)"
export SLACK_SIGNING_SECRET="drain-only-$(date +%s)-$$"
export BENCH_RESPONSE_URL=http://127.0.0.1:3192/response/1
"$BENCH_BIN" fake-slack http://127.0.0.1:3192 > "$OUT/fake-slack.txt" 2>&1 & FAKE=$!
mkdir -p "$OUT/data"
Slack__SigningSecret="$SLACK_SIGNING_SECRET" Slack__BotToken=xoxb-drain-only Slack__ApiBaseUrl=http://127.0.0.1:3192/api/ \
  Slack__AnnouncementChannel=C0BENCH Storage__DataDirectory="$OUT/data" Urls=http://127.0.0.1:3183 ASPNETCORE_ENVIRONMENT=Production \
  Logging__LogLevel__Default=Warning "$BOT_BIN" > "$OUT/bot.txt" 2>&1 & BOT=$!
until curl -fsS -o /dev/null http://127.0.0.1:3183/healthz 2>/dev/null; do sleep 0.05; done
BENCH_TEXT="Roll back payments deploy after error spike https://github.com/acme/payments/pull/4242" SERVER_PID=$BOT \
  "$BENCH_DIR/slack-load.py" load http://127.0.0.1:3183/slack/commands "${SECS:-6}" 32 > "$OUT/bench.txt" 2>&1
echo "burst: $(grep -E '^(requests/s|latency|server):' "$OUT/bench.txt" | tr -s ' ' | paste -sd ' ' | cut -c1-220)"
echo "t+0s $(curl -s http://127.0.0.1:3192/stats)"
# Done when the fake Slack saw no call for 15 s: the outbox can pause for seconds (a 3 s window once stopped the check
# with 2,019 of 8,852 changes still to announce).
prev=""; quiet=0; i=0
while [ $quiet -lt 150 ] && [ $i -lt 6000 ]; do
  sleep 0.1; i=$((i + 1)); s="$(curl -s http://127.0.0.1:3192/stats)"
  if [ "$s" = "$prev" ]; then quiet=$((quiet + 1)); else quiet=0; last=$i; fi
  prev="$s"; [ $((i % 50)) = 0 ] && echo "t+$((i / 10))s $s"
done
echo "last Slack call about $(( ${last:-0} / 10 )) s after the burst"
kill $BOT; wait $BOT 2>/dev/null
"$BENCH_BIN" outbox-state "$OUT/data/breakglass.db"
kill $FAKE; wait $FAKE 2>/dev/null
rm -rf "$OUT"
