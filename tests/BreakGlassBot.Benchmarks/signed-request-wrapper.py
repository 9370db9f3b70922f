#!/usr/bin/env python3
"""Stands in for the harness's signed-request inside load.sh's copy of the bench folder.

BENCH_PAYLOAD set: signs an interaction (form field payload=<that JSON>) the same way (Slack v0) and writes
it as --format lua or curl, the two formats ack-bench.sh asks for. Otherwise: the harness's own signer
(signed-request.orig), with --text "$BENCH_TEXT" added when BENCH_TEXT is set.
"""
import hashlib, hmac, json, os, shlex, sys, time, urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
payload = os.environ.get("BENCH_PAYLOAD")
if not payload:
    orig = os.path.join(HERE, "signed-request.orig")
    extra = ["--text", os.environ["BENCH_TEXT"]] if os.environ.get("BENCH_TEXT") else []
    os.execv(sys.executable, [sys.executable, orig] + extra + sys.argv[1:])

args = sys.argv[1:]
def opt(name, default=None):
    return args[args.index(name) + 1] if name in args else default
fmt, url, out_path = opt("--format", "json"), opt("--url", ""), opt("-o") or opt("--output")
ts = int(time.time()) + int(opt("--timestamp-offset", "0"))
body = urllib.parse.urlencode([("payload", payload)])
sig = "v0=" + hmac.new(os.environ["SLACK_SIGNING_SECRET"].encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
if "--bad-signature" in args:
    sig = sig[:-1] + ("0" if sig[-1] != "0" else "1")
headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": sig}
if fmt == "lua":
    lines = [f"-- signed interaction; timestamp {ts}", 'wrk.method = "POST"', "wrk.body = " + json.dumps(body)]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    text = "\n".join(lines) + "\n"
elif fmt == "curl":
    parts = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}\\n", "-X", "POST"]
    for k, v in headers.items():
        parts += ["-H", f"{k}: {v}"]
    text = " ".join(shlex.quote(p) for p in parts + ["--data-binary", body, url]) + "\n"
else:
    text = json.dumps({"method": "POST", "headers": headers, "body": body}, indent=2) + "\n"
if out_path:
    with open(out_path, "w", newline="") as f:
        f.write(text)
else:
    sys.stdout.write(text)
