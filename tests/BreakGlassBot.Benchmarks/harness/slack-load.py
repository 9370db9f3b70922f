#!/usr/bin/env python3
"""slack-load.py: Slack-signed requests for a loopback endpoint, one at a time or as wrk load (Python 3 stdlib + wrk).

  slack-load.py sign [--format json|curl|lua|http] [--url URL] [-o FILE] [options]   print one signed request
  slack-load.py send URL [options]                                                   send one, print its HTTP status
  slack-load.py load URL [SECONDS=15] [CONNECTIONS=1]                                 wrk replaying one signed request
  slack-load.py reject URL                                                            bad signature / stale timestamp
  slack-load.py self-test                                                             the signer vs Slack's worked example

What is sent: POST, Content-Type application/x-www-form-urlencoded, X-Slack-Request-Timestamp (unix seconds) and
X-Slack-Signature "v0=" + hex(HMAC-SHA256(secret, "v0:{timestamp}:{body}")), Slack's v0 scheme. The body is either a
/breakglass slash command with the fields Slack sends (token, team_id, team_domain, channel_id, channel_name,
user_id, user_name, command, text, api_app_id, is_enterprise_install, response_url, trigger_id), or, when a payload is
given, an interaction (block_actions, view_submission...): the single form field payload=<that JSON>.

Request options (sign, send; load and reject take them from the environment only):
  --text TEXT             the command's text            (default: $BENCH_TEXT, else a declaration)
  --payload JSON          send an interaction instead   (default: $BENCH_PAYLOAD)
  --response-url URL      the command's response_url    (default: $BENCH_RESPONSE_URL, else a hooks.slack.com-shaped URL)
  --timestamp N, --timestamp-offset S, --bad-signature

Environment:
  SLACK_SIGNING_SECRET   the endpoint's signing secret (never taken from the command line)
  load:   WARMUP=0 (s of unrecorded load first), THREADS=1, WRK_TIMEOUT=3s (Slack's ack deadline: slower counts as a
          socket error), WRK_CPUS= (taskset list for wrk), STRICT=1 (count every non-2xx in a Lua response() hook;
          0: wrk's own count, status >= 400 only), SERVER_PID= (report that process's CPU time over the measured run,
          CPU per request, VmHWM, VmRSS; or a comma-separated list, each "ROLE:PID" or "PID": the CPU of each and of
          its descendants, summed and per role, RSS summed over the listed processes only), RECORDS_URL= (GET -> {"count": N}; its growth must cover every 2xx),
          RESULT_JSON= (append one JSON line with every figure), LABEL= (copied into that line)
  reject: EXPECT_REJECT_STATUS=401

The load run signs SIGNED (default 200000) distinct requests per run (each its own trigger_id, so its own signature; one
timestamp) just before the warm-up, and wrk sends each once, cycling only if a run outgrows them (then counted as
"replayed": the bot answers a replay with its first answer and stores nothing). WARMUP + SECONDS must stay inside Slack's
5-minute window (at most 280 s here). Loopback targets only.
Exit status: 0 ok; 1 a non-2xx, a socket error, no request at all, fewer stored records than 2xx, a failed rejection
check or preflight; 2 bad usage (including a target that is not loopback).
"""
import hashlib
import hmac
import http.client
import ipaddress
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

DEFAULT_TEXT = "Roll back payments deploy after error spike https://github.com/acme/payments/pull/4242"
DEFAULT_RESPONSE_URL = "https://hooks.slack.com/commands/T0BENCH01/7000000001/benchOnlyNotARealHook"


class Usage(Exception):
    pass


# --- signing -------------------------------------------------------------------------------------------------------

def signature(secret: str, timestamp: int, body: str) -> str:
    base = b"v0:" + str(timestamp).encode() + b":" + body.encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def command_body(text: str, response_url: str) -> str:
    fields = {
        "token": "benchVerificationTokenUnused",
        "team_id": "T0BENCH01",
        "team_domain": "breakglass-bench",
        "channel_id": "C0BENCH01",
        "channel_name": "incidents",
        "user_id": "U0BENCH01",
        "user_name": "oncall",
        "command": "/breakglass",
        "text": text,
        "api_app_id": "A0BENCH01",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": "7000000001.7000000002.benchonly0000000000000000",
    }
    return urllib.parse.urlencode(fields)  # spaces become '+', as Slack sends them


def interaction_body(payload: str) -> str:
    json.loads(payload)  # fail early on a broken payload
    return urllib.parse.urlencode({"payload": payload})


SEQ = "SEQ0MARK"  # survives URL encoding; replaced by each request's number


def body_template(response_url=None) -> tuple:
    """-> (prefix, suffix): a request's body is prefix + its number + suffix, the number inside its trigger_id."""
    payload = os.environ.get("BENCH_PAYLOAD") or None
    if payload:
        p = json.loads(payload)
        p["trigger_id"] = f"{SEQ}.{p.get('trigger_id', 'bench')}"
        body = interaction_body(json.dumps(p, separators=(",", ":")))
    else:
        text = os.environ.get("BENCH_TEXT") or DEFAULT_TEXT
        body = command_body(text, response_url or os.environ.get("BENCH_RESPONSE_URL") or DEFAULT_RESPONSE_URL)
        body = body.replace("7000000002", SEQ, 1)
    prefix, suffix = body.split(SEQ, 1)
    return prefix, suffix


def lua_requests(secret: str, first: int, count: int, threads: int) -> str:
    """A wrk script part: COUNT distinct signed requests numbered from FIRST, shared out between the threads."""
    ts = int(time.time())
    prefix, suffix = body_template()
    # One string of fixed-width hex MACs: a table of 100,000 string constants would exceed LuaJIT's limit per function.
    sigs = "".join(signature(secret, ts, f"{prefix}{first + i}{suffix}")[3:] for i in range(count))
    return f"""-- slack-load.py: {count} signed requests, timestamp {ts}
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["X-Slack-Request-Timestamp"] = "{ts}"
local prefix, suffix, first, nthreads = {lua_string(prefix)}, {lua_string(suffix)}, {first}, {threads}
local sigs, count = "{sigs}", {count}
local k = 0
replayed = 0
local per = math.floor(count / nthreads)
function request()
  -- Each thread its own block of the requests, so a fast thread does not run into a slow one's.
  if k >= per then replayed = replayed + 1 end
  local n = (id or 0) * per + k % per
  k = k + 1
  wrk.headers["X-Slack-Signature"] = "v0=" .. sigs:sub(n * 64 + 1, n * 64 + 64)
  return wrk.format(nil, nil, nil, prefix .. (first + n) .. suffix)
end
"""


def signed(secret, text=None, payload=None, response_url=None, timestamp=None, offset=0, bad=False):
    """-> (headers, body) for one request."""
    payload = payload if payload is not None else os.environ.get("BENCH_PAYLOAD") or None
    if payload:
        body = interaction_body(payload)
    else:
        text = text if text is not None else os.environ.get("BENCH_TEXT") or DEFAULT_TEXT
        body = command_body(text, response_url or os.environ.get("BENCH_RESPONSE_URL") or DEFAULT_RESPONSE_URL)
    ts = (int(time.time()) if timestamp is None else timestamp) + offset
    sig = signature(secret, ts, body)
    if bad:  # same shape, one hex digit off
        sig = sig[:-1] + ("1" if sig[-1] == "0" else "0")
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": sig}
    return headers, body


def secret_from_env() -> str:
    s = os.environ.get("SLACK_SIGNING_SECRET", "")
    if not s:
        raise Usage("set SLACK_SIGNING_SECRET (the endpoint's signing secret)")
    return s


# Slack's worked example in "Verifying requests from Slack" (docs.slack.dev/authentication/verifying-requests-from-slack).
SLACK_DOC_EXAMPLE = {
    "secret": "8f742231b10e8888abcd99yyyzzz85a5",
    "timestamp": 1531420618,
    "body": "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
            "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
            "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
            "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
    "expected": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
}


def self_test() -> int:
    e = SLACK_DOC_EXAMPLE
    got = signature(e["secret"], e["timestamp"], e["body"])
    ok = hmac.compare_digest(got, e["expected"])
    print(("ok" if ok else "MISMATCH") + f": Slack's worked example signs as {got}")
    return 0 if ok else 1


# --- targets -------------------------------------------------------------------------------------------------------

def loopback(url: str) -> urllib.parse.SplitResult:
    u = urllib.parse.urlsplit(url)
    if u.scheme != "http" or not u.hostname:
        raise Usage(f"only http:// URLs on loopback: {url}")
    if u.hostname != "localhost":
        try:
            ip = ipaddress.ip_address(u.hostname)
        except ValueError:
            raise Usage(f"not a loopback address: {u.hostname}")
        if not ip.is_loopback:
            raise Usage(f"refusing {u.hostname}: load tests here may only target 127.0.0.0/8, ::1 or localhost")
    return u


def post(url: str, headers: dict, body: str, timeout=10.0) -> int:
    u = loopback(url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    try:
        conn.request("POST", (u.path or "/") + ("?" + u.query if u.query else ""), body=body.encode(), headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except OSError:
        return 0
    finally:
        conn.close()


def get_count(url: str) -> int:
    u = loopback(url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=10)
    try:
        conn.request("GET", u.path or "/")
        return int(json.loads(conn.getresponse().read())["count"])
    finally:
        conn.close()


# --- formats -------------------------------------------------------------------------------------------------------

def lua_string(s: str) -> str:
    return json.dumps(s)  # ASCII JSON string escapes are valid Lua string escapes


def render(fmt: str, url: str, headers: dict, body: str) -> str:
    if fmt == "json":
        return json.dumps({"method": "POST", "url": url, "headers": headers, "body": body}, indent=2) + "\n"
    if fmt == "lua":
        out = [f"-- slack-load.py: one signed request, timestamp {headers['X-Slack-Request-Timestamp']}",
               'wrk.method = "POST"', f"wrk.body = {lua_string(body)}"]
        out += [f"wrk.headers[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items()]
        return "\n".join(out) + "\n"
    if fmt == "curl":
        cmd = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}\\n", "-X", "POST"]
        for k, v in headers.items():
            cmd += ["-H", f"{k}: {v}"]
        return " ".join(shlex.quote(p) for p in cmd + ["--data-binary", body, url]) + "\n"
    if fmt == "http":
        u = urllib.parse.urlsplit(url)
        lines = [f"POST {u.path or '/'} HTTP/1.1", f"Host: {u.netloc}"] + [f"{k}: {v}" for k, v in headers.items()]
        lines += [f"Content-Length: {len(body.encode())}", "Connection: close"]
        return "\r\n".join(lines) + "\r\n\r\n" + body
    raise Usage(f"unknown format {fmt}")


# --- load ----------------------------------------------------------------------------------------------------------

LUA_COUNTERS = """
local threads = {}
function setup(thread) thread:set("id", #threads); table.insert(threads, thread) end
"""
LUA_STRICT = """
non2xx = 0
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
"""
LUA_DONE = """
function done(summary, latency, requests)
  local strict = -1
  if response ~= nil then
    strict = 0
    for _, t in ipairs(threads) do strict = strict + (t:get("non2xx") or 0) end
  end
  local replayed = 0
  for _, t in ipairs(threads) do replayed = replayed + (t:get("replayed") or 0) end
  local e = summary.errors
  io.write(string.format("SLACKLOAD requests=%d duration_us=%d bytes=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d"
    .. " mean_us=%.1f err_connect=%d err_read=%d err_write=%d err_timeout=%d err_status=%d strict_non2xx=%d replayed=%d\\n",
    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, e.connect, e.read, e.write, e.timeout, e.status, strict, replayed))
end
"""


def ensure_wrk():
    if shutil.which("wrk"):
        return
    print("slack-load: wrk is missing; installing it from Debian (apt-get update, apt-get install -y wrk)", file=sys.stderr)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    for cmd in (sudo + ["apt-get", "update", "-qq"], sudo + ["apt-get", "install", "-y", "-qq", "wrk"]):
        if subprocess.run(cmd, stdout=sys.stderr).returncode != 0:
            raise Usage("could not install wrk (run as root, or install it: apt-get install -y wrk)")


def int_env(name, default, lo, hi):
    v = os.environ.get(name, str(default))
    if not v.isdigit() or not lo <= int(v) <= hi:
        raise Usage(f"{name} must be {lo}..{hi}")
    return int(v)


def proc_stat(pid: int) -> list:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()  # after "pid (comm)": rest[0] is field 3 (state), rest[1] the ppid


def server_pids(spec: str) -> list:
    """SERVER_PID: "123" or "bot:123,bot:124,proxy:200,db:300" -> [(role, pid)]."""
    out = []
    for item in spec.split(","):
        role, _, pid = item.strip().rpartition(":")
        out.append((role or "server", int(pid)))
    return out


def tree_ticks(roots: list) -> dict:
    """CPU ticks per role now: each listed process and its descendants (a proxy's workers, a database's backends),
    plus what the listed processes' reaped children used (cutime, cstime), so a backend that ended is not lost."""
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                parent[int(d)] = int(proc_stat(int(d))[1])
            except (FileNotFoundError, ProcessLookupError, IndexError):
                pass
    ticks = {}
    for role, root in roots:
        seen, todo = set(), [root]
        while todo:
            p = todo.pop()
            if p in seen:
                continue
            seen.add(p)
            todo.extend(c for c, pp in parent.items() if pp == p)
        total = 0
        for p in seen:
            try:
                rest = proc_stat(p)
            except (FileNotFoundError, ProcessLookupError):
                continue
            # fields 14 utime, 15 stime (all threads); 16 cutime, 17 cstime (reaped children)
            total += int(rest[11]) + int(rest[12]) + (int(rest[13]) + int(rest[14]) if p == root else 0)
        ticks[role] = ticks.get(role, 0) + total
    return ticks


def proc_kb(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def run_wrk(pin, threads, conns, secs, timeout, script, url) -> str:
    cmd = pin + ["wrk", f"-t{threads}", f"-c{conns}", f"-d{secs}s", "--timeout", timeout, "-s", script, url]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.stderr.write(p.stdout + p.stderr)
        raise Usage("wrk failed: " + " ".join(cmd))
    return p.stdout


def load(url: str, secs: int, conns: int) -> int:
    loopback(url)
    secret = secret_from_env()
    threads = int_env("THREADS", 1, 1, 64)
    warmup = int_env("WARMUP", 0, 0, 120)
    strict = os.environ.get("STRICT", "1") == "1"
    timeout = os.environ.get("WRK_TIMEOUT", "3s")
    if not 1 <= secs <= 280 or not 1 <= conns <= 1024 or conns < threads:
        raise Usage("SECONDS must be 1..280, CONNECTIONS 1..1024 and at least THREADS")
    if warmup + secs > 280:
        raise Usage("WARMUP + SECONDS must be <= 280: the one signed timestamp must stay inside Slack's 5 minutes")
    ensure_wrk()
    pin = ["taskset", "-c", os.environ["WRK_CPUS"]] if os.environ.get("WRK_CPUS") else []
    servers = server_pids(os.environ["SERVER_PID"]) if os.environ.get("SERVER_PID") else []
    records_url = os.environ.get("RECORDS_URL") or None

    status = post(url, *signed(secret))
    if not 200 <= status <= 299:
        print(f"slack-load: preflight: a fresh signed request answered {status or 'no response'}; check the URL and the secret",
              file=sys.stderr)
        return 1

    count = int_env("SIGNED", 200000, threads, 2000000)
    with tempfile.TemporaryDirectory(prefix="slack-load.") as tmp:
        # The warm-up and the measured run each get requests of their own: none is a replay of another.
        def script_for(name, first):
            path = os.path.join(tmp, name)
            with open(path, "w") as f:
                f.write(lua_requests(secret, first, count, threads) + LUA_COUNTERS + (LUA_STRICT if strict else "") + LUA_DONE)
            return path
        script = script_for("request.lua", 1 + count)
        if warmup:
            run_wrk(pin, threads, conns, warmup, timeout, script_for("warmup.lua", 1), url)
        if servers:
            cpu0, rss0 = tree_ticks(servers), sum(proc_kb(p, "VmRSS") for _, p in servers)
        rec0 = get_count(records_url) if records_url else None
        out = run_wrk(pin, threads, conns, secs, timeout, script, url)
        if servers:
            cpu1 = tree_ticks(servers)
            rss1, hwm = sum(proc_kb(p, "VmRSS") for _, p in servers), sum(proc_kb(p, "VmHWM") for _, p in servers)
        rec1 = get_count(records_url) if records_url else None

    line = next((l for l in out.splitlines() if l.startswith("SLACKLOAD ")), None)
    if line is None:
        sys.stderr.write(out)
        raise Usage("wrk printed no summary")
    r = {k: (float(v) if "." in v else int(v)) for k, v in (kv.split("=", 1) for kv in line.split()[1:])}
    dur = r["duration_us"] / 1e6
    non2xx = r["strict_non2xx"] if r["strict_non2xx"] >= 0 else r["err_status"]
    sock = r["err_connect"] + r["err_read"] + r["err_write"] + r["err_timeout"]
    res = {"label": os.environ.get("LABEL", ""), "url": url, "at": int(time.time()), "threads": threads,
           "connections": conns, "seconds": secs, "warmup_s": warmup, "rps": r["requests"] / dur if dur else 0.0,
           "non2xx": non2xx, "non2xx_method": "lua-response" if r["strict_non2xx"] >= 0 else "wrk-status>=400",
           "socket_errors": sock, **r}
    if servers:
        by_role = {k: (cpu1.get(k, 0) - cpu0.get(k, 0)) / os.sysconf("SC_CLK_TCK") for k in cpu1}
        cpu = sum(by_role.values())
        res.update(server_cpu_by_role=by_role, server_cpu_s=cpu, server_cpu_util=cpu / dur if dur else 0.0,
                   server_cpu_us_per_req=cpu * 1e6 / r["requests"] if r["requests"] else None,
                   server_rss_before_kb=rss0, server_rss_after_kb=rss1, server_vmhwm_kb=hwm)
    if records_url:
        res["records_delta"] = rec1 - rec0
    ok2xx = r["requests"] - non2xx
    problems = []
    if r["requests"] == 0:
        problems.append("no request completed")
    if non2xx:
        problems.append(f"{non2xx} non-2xx")
    if sock:
        problems.append(f"{sock} socket errors")
    if r.get("replayed"):
        problems.append(f"{r['replayed']} replays of an earlier request (the run outgrew SIGNED={count})")
    if records_url and res["records_delta"] < ok2xx:
        problems.append(f"{res['records_delta']} records stored for {ok2xx} 2xx answers")
    res["ok"] = not problems

    ms = lambda us: f"{us / 1000:.3f} ms"
    print(f"target:        {url}  (wrk -t{threads} -c{conns} -d{secs}s --timeout {timeout}, warm-up {warmup} s)")
    print(f"requests/s:    {res['rps']:.0f}  ({r['requests']} in {dur:.2f} s)")
    print(f"latency:       p50 {ms(r['p50_us'])}  p90 {ms(r['p90_us'])}  p99 {ms(r['p99_us'])}  max {ms(r['max_us'])}")
    print(f"non-2xx:       {non2xx}  ({res['non2xx_method']})")
    print(f"socket errors: {sock}  (connect {r['err_connect']}, read {r['err_read']}, write {r['err_write']}, "
          f"timeout {r['err_timeout']})")
    if servers:
        print(f"server:        cpu {res['server_cpu_s']:.2f} s ({100 * res['server_cpu_util']:.0f}% of one core, "
              f"{res['server_cpu_us_per_req'] or 0:.1f} us/req), VmHWM {hwm / 1024:.1f} MiB, "
              f"VmRSS {rss0 / 1024:.1f} -> {rss1 / 1024:.1f} MiB")
        if len(res["server_cpu_by_role"]) > 1:
            print("cpu by role:   " + ", ".join(f"{k} {v:.2f} s ({v * 1e6 / r['requests'] if r['requests'] else 0:.0f} us/req)"
                                              for k, v in res["server_cpu_by_role"].items()))
    if records_url:
        print(f"records:       +{res['records_delta']} stored for {ok2xx} 2xx answers")
    if os.environ.get("RESULT_JSON"):
        with open(os.environ["RESULT_JSON"], "a") as f:
            f.write(json.dumps(res) + "\n")
    print("RESULT: " + ("ok" if not problems else "FAIL: " + "; ".join(problems)))
    return 0 if not problems else 1


def reject(url: str) -> int:
    loopback(url)
    secret = secret_from_env()
    expect = int(os.environ.get("EXPECT_REJECT_STATUS", "401"))
    bad = post(url, *signed(secret, bad=True))
    stale = post(url, *signed(secret, offset=-600))
    future = post(url, *signed(secret, offset=600))
    good = post(url, *signed(secret))
    print(f"url:                          {url}")
    print(f"bad signature:                {bad} (expected {expect})")
    print(f"stale timestamp (now-600 s):  {stale} (expected {expect})")
    print(f"future timestamp (now+600 s): {future} (information only)")
    print(f"valid request (control):      {good} (expected 2xx)")
    failures = [m for m, ok in [(f"bad signature answered {bad}", bad == expect),
                                (f"stale timestamp answered {stale}", stale == expect),
                                (f"the valid control request answered {good}", 200 <= good <= 299)] if not ok]
    for m in failures:
        print("FAIL: " + m)
    if not failures:
        print("PASS: rejections as expected")
    return 1 if failures else 0


def request_options(args):
    """Parses the request options of sign/send; returns (options dict, the rest)."""
    o = {"text": None, "payload": None, "response_url": None, "timestamp": None, "offset": 0, "bad": False,
         "format": "json", "url": "http://127.0.0.1:3101/slack/events", "output": None}
    rest = []
    it = iter(args)
    for a in it:
        try:
            if a == "--text": o["text"] = next(it)
            elif a == "--payload": o["payload"] = next(it)
            elif a == "--response-url": o["response_url"] = next(it)
            elif a == "--timestamp": o["timestamp"] = int(next(it))
            elif a == "--timestamp-offset": o["offset"] = int(next(it))
            elif a == "--bad-signature": o["bad"] = True
            elif a == "--format": o["format"] = next(it)
            elif a == "--url": o["url"] = next(it)
            elif a in ("-o", "--output"): o["output"] = next(it)
            else: rest.append(a)
        except (StopIteration, ValueError):
            raise Usage(f"{a} needs a (numeric, for timestamps) value")
    return o, rest


def main(argv) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0 if argv else 2
    cmd, args = argv[0], argv[1:]
    if cmd == "self-test":
        return self_test()
    if cmd in ("sign", "send"):
        o, rest = request_options(args)
        secret = secret_from_env()
        headers, body = signed(secret, o["text"], o["payload"], o["response_url"], o["timestamp"], o["offset"], o["bad"])
        if cmd == "send":
            if len(rest) != 1:
                raise Usage("send URL [options]")
            status = post(rest[0], headers, body)
            print(status)
            return 0 if 200 <= status <= 299 else 1
        text = render(o["format"], o["url"], headers, body)
        if o["output"]:
            with open(o["output"], "w", newline="") as f:
                f.write(text)
        else:
            sys.stdout.write(text)
        return 0
    if cmd == "load":
        if not 1 <= len(args) <= 3 or not all(a.isdigit() for a in args[1:]):
            raise Usage("load URL [SECONDS] [CONNECTIONS]")
        return load(args[0], int(args[1]) if len(args) > 1 else 15, int(args[2]) if len(args) > 2 else 1)
    if cmd == "reject":
        if len(args) != 1:
            raise Usage("reject URL")
        return reject(args[0])
    raise Usage(f"unknown command {cmd} (sign, send, load, reject, self-test)")


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Usage as e:
        print(f"slack-load: {e}", file=sys.stderr)
        sys.exit(2)
