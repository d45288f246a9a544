"""API under load (issue 18): 50 concurrent clients through the balancer, with the web
server of deploy/web.py (uvicorn) and with daphne (the server before it), and the same
load on one web process directly, side by side in one run.

A user with ten projects (one with 50 files over 20 steps and a finished run) is made on
this benchmark's own database (SQLite under var/, or BENCH_DATABASE_URL). `make scale`'s
cluster (deploy/cluster.py: 2 web processes behind nginx, no workers needed) serves it,
with DEBUG off and no HTTPS redirect (TLS ends in front of nginx); each path is checked
to answer 200 before the load. wrk (Debian's, a real load tool written in C) opens
CONNECTIONS keep-alive connections and sends, in turn, the three requests people make
most: the project list, one file's content, and a run's status, each with the user's
JWT. Per target it prints requests/s and latency p50/p95/p99 as wrk measured them, then
the ratios. Figures are printed, never asserted.

Two kinds of load. The closed loop (each connection sends its next request the instant
the answer arrives) measures saturation: its p95 is about 50 connections / throughput,
so it is the capacity row, never the goal's. The paced row is 50 people clicking: wrk's
Lua delay() hook, called after each answer and before that connection's next request
(wrk starts timing a request when it sends it, so the pause is not latency), makes each
connection wait 250 ms +/- 50 % (uniform, seeded apart per wrk thread): about 4 requests
a second each, the pace of issue 18's socket goal, 200 req/s offered in all. Issue 18's
goal (p95 <= 50 ms) is checked on that row, with the offered and the achieved rate: a
server that falls behind slows its clients, each waiting for its answer, so below 90 %
of the offered rate the row says the server could not keep up and the goal is missed
whatever the p95. Then the profile of the web processes
behind the balancer under one more such load (py-spy, pinned in the dev extras): the
share of each stage of a request (JWT authentication, our views, DRF, serializers, …),
the ORM's share across them, and the busiest functions.

Before (daphne; and the figures then were of 301 redirects to https, SECURE_SSL_REDIRECT
being on with DEBUG off): p95 188 ms, 2026-11-30 284 ms via the balancer. With the
redirect off, before samokoder_site/http.py and persistent SQLite connections: 8.1-9.1 ms
of web-process CPU a request (uvicorn or daphne), after: 5.5-5.9 ms (SQLite), 6.3 ms
(PostgreSQL), on this 2-core machine shared with other jobs. The rest is Django, DRF and
the queries: the issue's 50 ms at 50 connections needs about 1,000 requests/s, 2 ms a
request all told. The profile (2026-11-30, SQLite): the ORM about half of the GIL's
samples across all stages, JWT's user query 12% (6% once read by SQL written once),
DRF and its serializers a quarter. Sampled without --gil, threads waiting for the GIL
after a query looked busy in it: the JWT query, the first of each request, then seemed
a third of the time.

Cheaper requests (2026-11-30): CPU a request in-process (Django's WSGI handler, DEBUG
off, SQLite, the least of 7 rounds, two alternating runs each) and queries a request,
the token's user read included (tests/test_api_queries.py names each), before -> after:
project list 2.5-3.0 -> 2.0-2.1 ms, 3 -> 2 queries (no COUNT: a short first page is its
own count, core.pagination); file read 2.6-2.8 -> 1.9-2.0 ms, 5 -> 3 (project, owner,
branch and step in one query, files.selectors.state_get_owned); run status 3.5 -> 2.5 ms,
2 -> 2 (serializer fields built once per class, core.serializers). Web-process CPU under
this benchmark, same run order (before, then after) on a machine at load 8-10 from other
jobs: SQLite 4.5 -> 4.2 ms a request closed loop, PostgreSQL 5.8 -> 4.3 ms (paced
6.1 -> 4.7). The latencies of those runs measured the other jobs more than the server:
paced p95 144 -> 258 ms (SQLite), 479 -> 373 ms (PostgreSQL), with 63-87 % of the 200
req/s offered achieved, so the goal was missed on both sides; closed-loop capacity
232 -> 257 req/s (SQLite), 140 -> 171 req/s (PostgreSQL). Again at load 2-9, SQLite:
CPU 5.6 -> 3.9 ms a request closed loop (0.69x), 5.7 -> 4.6 ms paced; capacity 284 ->
314 req/s; paced p50 9.6 -> 12.4 ms, p95 88 -> 95 ms at 183 -> 180 req/s achieved:
missed. The paced tail is time waiting for a core (the paced load alone needs about
0.8 of one for the web processes, beside nginx, wrk and the other jobs), not the
requests' own work, which is 2-2.5 ms each.

    python scripts/with_redis.py python bench/api_load.py
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

from profiles import inclusive_shares, pyspy_samples
from setup import django_on_fresh_database

from deploy.cluster import Cluster
from tests.processes import WebServer

CONNECTIONS, THREADS, SECONDS = 50, 2, 15
# The paced row: each connection waits, between an answer and its next request, a time
# drawn uniformly from PAUSE_MS * (1 -/+ JITTER), so one request every 250 ms or so,
# 4 a second, as issue 18's socket goal paces its clients; the jitter keeps the 50
# connections from firing in step. Longer, so the first requests (all 50 at once, wrk
# knows no pause before a connection's first) weigh less.
PAUSE_MS, JITTER, PACED_SECONDS = 250, 0.5, 30
# The paced row passes only if the clients got their pace: below this share of the rate
# offered the server was not keeping up, and a low p95 would hide it.
KEPT_UP = 0.9
SPY_RATE = 200  # py-spy samples per second of each web process's threads
GOAL_P95_MS = 50

WRK_SCRIPT = """
local paths = {%(paths)s}
local i = 0
%(pacing)s
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1], {["Authorization"] = "Bearer %(token)s"})
end
done = function(summary, latency, requests)
  io.write(string.format('RESULT {"requests": %%d, "seconds": %%f, "errors": %%d, ' ..
    '"non2xx": %%d, "p50": %%f, "p95": %%f, "p99": %%f}\\n', summary.requests,
    summary.duration / 1e6, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout, summary.errors.status,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000))
end
"""
# wrk calls delay() (milliseconds) after each answer, before that connection's next
# request, and starts timing the request when it is sent, so the pause is not latency.
# Each thread has its own Lua state: seeded apart, their pauses differ.
PACING = """
local counter = 0
setup = function(thread)
  counter = counter + 1
  thread:set("seed", counter)
end
init = function(args)
  math.randomseed(seed)
end
delay = function()
  return %(pause)d * (1 - %(jitter)f + 2 * %(jitter)f * math.random())
end
"""


def data() -> tuple[str, list[str]]:
    """The user's JWT and the three request paths."""
    from django.utils import timezone
    from rest_framework_simplejwt.tokens import RefreshToken

    from accounts.models import User
    from files.services import files_commit
    from generation.models import GenerationRun
    from projects.services import project_create

    user = User.objects.create_user(email="load@example.com", password="bench-password-1")
    projects = [project_create(owner=user, name=f"Load {n}", description="x") for n in range(10)]
    branch = projects[0].branches.get(name="main")
    for step in range(20):
        files_commit(branch=branch, changes={
            f"pkg/module_{n}.py": f"VALUE = {step * 100 + n}\n" * 40 for n in range(50)
            if n % 20 == step % 20 or step == 0})  # fmt: skip
    run = GenerationRun.objects.create(
        project=projects[0], branch=branch, user=user, provider="openai", model="gpt-4.1",
        status="completed", max_cost=1, max_llm_calls=100, finished_at=timezone.now(),
    )  # fmt: skip
    paths = [
        "/api/v1/projects",
        f"/api/v1/projects/{projects[0].pk}/files/pkg/module_7.py",
        f"/api/v1/runs/{run.pk}",
    ]
    return str(RefreshToken.for_user(user).access_token), paths


def load(url: str, token: str, paths: list[str], *, paced: bool = False) -> dict:
    """wrk's figures: a closed loop (each connection sends its next request as soon as
    the answer arrives: the capacity), or ``paced`` (clients that pause between requests)."""
    pacing = PACING % {"pause": PAUSE_MS, "jitter": JITTER} if paced else ""
    seconds = PACED_SECONDS if paced else SECONDS
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        quoted = ", ".join(json.dumps(path) for path in paths)
        script.write(WRK_SCRIPT % {"paths": quoted, "token": token, "pacing": pacing})
    try:
        output = subprocess.run(
            ["wrk", "-t", str(THREADS), "-c", str(CONNECTIONS), "-d", f"{seconds}s",
             "--timeout", "10s", "-s", script.name, url],
            capture_output=True, text=True, check=True, timeout=seconds + 60,
        ).stdout  # fmt: skip
    finally:
        os.unlink(script.name)
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> int:
    if not shutil.which("wrk"):
        print("api_load: wrk is not installed (apt-get install wrk); skipped")
        return 0
    django_on_fresh_database("api")
    token, paths = data()
    env = server_env()
    results = balanced(env, "uvicorn", token, paths, paced=True, profile=True)
    results.update(balanced(env, "daphne", token, paths))
    server = WebServer(env).start()
    try:
        assert server.process is not None  # started
        results["one uvicorn, direct"] = checked_load(server.url, token, paths,
                                                      [server.process.pid])  # fmt: skip
    finally:
        server.stop()
    print_figures(results)
    return 0


def server_env() -> dict[str, str]:
    from django.conf import settings

    return {
        **os.environ, "DEBUG": "false", "LOG_LEVEL": "WARNING", "SECURE_SSL_REDIRECT": "false",
        "SECRET_KEY": settings.SECRET_KEY, "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SAMOKODER_ENCRYPTION_KEYS": ",".join(settings.SAMOKODER_ENCRYPTION_KEYS),
    }  # fmt: skip


def balanced(
    env: dict[str, str],
    server: str,
    token: str,
    paths: list[str],
    *,
    paced: bool = False,
    profile: bool = False,
) -> dict[str, dict]:
    """wrk's figures through the balancer, by row: the closed loop, and with ``paced``
    the paced clients first; with ``profile``, one more closed loop with py-spy sampling
    the web processes (its figures are not kept, its profile is the closed row's)."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-api-"))
    cluster = Cluster(web=2, workers=0, port=free_port(), env=env, workdir=workdir,
                      server=server).start()  # fmt: skip
    name = f"balancer (nginx, 2 {server})"
    rows = {}
    try:
        pids = [service.pid for service in cluster.web if service.pid]
        if paced:
            rows[f"{name}, paced"] = checked_load(cluster.url, token, paths, pids, paced=True)
        rows[name] = closed = checked_load(cluster.url, token, paths, pids)
        if profile:
            closed["profile"] = web_profile(cluster.url, token, paths, pids, workdir)
        return rows
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def checked_load(
    url: str, token: str, paths: list[str], pids: list[int], *, paced: bool = False
) -> dict:
    """wrk's figures, once every path answered 200 (a redirect or an error is no figure),
    and the web processes' CPU time per request."""
    for path in paths:
        headers = {"Authorization": f"Bearer {token}"}
        request = urllib.request.Request(url + path, headers=headers)  # noqa: S310 - http://127…
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our URL
            if response.status != 200 or response.url != url + path:
                raise RuntimeError(f"{path}: {response.status} at {response.url}")
    cpu = sum(map(cpu_seconds, pids))
    result = load(url, token, paths, paced=paced)
    result["cpu_ms"] = (sum(map(cpu_seconds, pids)) - cpu) * 1000 / max(result["requests"], 1)
    return result


def web_profile(
    url: str, token: str, paths: list[str], pids: list[int], workdir: Path
) -> list[str]:
    """py-spy's samples of the web processes under the same load, summed up. Only the
    thread holding the GIL is sampled (``--gil``): without, threads waiting to get it
    back after a query looked busy in that query (a third of the samples in the JWT
    user query on SQLite, 2026-11-30)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        return ["no profile: py-spy is not installed (pip install -e '.[dev]')"]
    outputs = [workdir / f"py-spy-{pid}.txt" for pid in pids]
    spies = [
        subprocess.Popen([spy, "record", "--pid", str(pid), "--rate", str(SPY_RATE), "--format",
                          "raw", "--nonblocking", "--gil", "--output", str(out)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for pid, out in zip(pids, outputs, strict=True)
    ]  # fmt: skip
    time.sleep(1)  # attached
    try:
        load(url, token, paths)
    finally:
        for spy_process in spies:
            spy_process.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
        errors = [spy_process.communicate(timeout=60)[1] for spy_process in spies]
    if not all(out.exists() for out in outputs):
        return ["no profile: py-spy failed: " + " ".join(errors)[-300:]]
    return request_profile(pyspy_samples(outputs))


# A sample's stage is that of its deepest frame naming one (the ORM names none: a query
# counts where it was made). (label, file path fragments)
STAGES = [
    ("JWT authentication", ("rest_framework_simplejwt/",)),
    ("rendering", ("rest_framework/renderers", "rest_framework/response")),
    ("serializers", ("rest_framework/serializers", "rest_framework/fields",
                     "rest_framework/relations")),
    ("pagination", ("rest_framework/pagination",)),
    ("our views and selectors", ("projects/", "files/", "generation/", "llm/", "accounts/api")),
    ("DRF's request handling", ("rest_framework/",)),
    ("middleware", ("middleware", "whitenoise/", "core/ratelimit")),
    ("Django's handler and URLs", ("django/core/handlers", "django/urls", "samokoder_site/http")),
]  # fmt: skip
SERVER = "the server (uvicorn, asyncio)"
DATABASE = ("django/db/", "psycopg", "sqlite3")


def stage_of(frame: tuple[str, str]) -> str | None:
    path = frame[1]
    if any(fragment in path for fragment in DATABASE):
        return None
    return next((label for label, parts in STAGES if any(p in path for p in parts)), None)


def request_profile(stacks: Counter[tuple[tuple[str, str], ...]]) -> list[str]:
    """Shares of the samples by stage, the database's share, the busiest functions."""
    total = sum(stacks.values()) or 1
    stages: Counter[str] = Counter()
    for stack, n in stacks.items():
        labels = [label for label in map(stage_of, stack) if label]
        stages[labels[-1] if labels else SERVER] += n

    def database(function: str, path: str) -> bool:
        return any(fragment in path for fragment in DATABASE)

    jwt_query = sum(
        n
        for stack, n in stacks.items()
        if any("simplejwt" in p for _, p in stack) and any(database(*f) for f in stack)
    )
    own: Counter[str] = Counter()
    for stack, n in stacks.items():
        if stack:
            own[f"{Path(stack[-1][1]).stem}.{stack[-1][0]}"] += n
    by_stage = [f"{label} {n / total:.0%}" for label, n in stages.most_common()]
    return [
        f"py-spy, {total} samples of the thread holding the GIL, by stage:",
        "  " + ", ".join(by_stage[:4]),
        "  " + ", ".join(by_stage[4:]),
        f"ORM and database in every stage: {inclusive_shares(stacks, database):.0%} "
        f"(JWT's user query {jwt_query / total:.0%})",
        "busiest functions, own samples: "
        + ", ".join(f"{name} {n / total:.0%}" for name, n in own.most_common(6)),
    ]  # fmt: skip


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux: /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def print_figures(results: dict[str, dict]) -> None:
    offered = CONNECTIONS * 1000 / PAUSE_MS
    print(f"API load: {CONNECTIONS} connections, wrk; paths: project list, a file's content, "
          f"a run's status. Closed loop ({SECONDS} s): each connection's next request as its "
          f"answer arrives (the capacity). Paced ({PACED_SECONDS} s): each waits "
          f"{PAUSE_MS} ms +/- {JITTER:.0%} between an answer and its next request "
          f"({offered:.0f} req/s offered)")  # fmt: skip
    for name, r in results.items():
        print(f"  {name:34} {r['requests'] / r['seconds']:7.0f} req/s  p50 {r['p50']:6.1f} ms"
              f"  p95 {r['p95']:6.1f} ms  p99 {r['p99']:6.1f} ms  errors {r['errors']}"
              f"  non-2xx {r['non2xx']}  server CPU {r['cpu_ms']:.2f} ms/request")  # fmt: skip
    paced, via, before, one = results.values()
    print(f"  uvicorn / daphne via the balancer, closed loop: "
          f"p95 {via['p95'] / before['p95']:.2f}x, "
          f"throughput {via['requests'] / before['requests']:.2f}x")  # fmt: skip
    print(f"  balancer / direct, closed loop: p95 {via['p95'] / one['p95']:.2f}x, "
          f"throughput {via['requests'] / one['requests']:.2f}x")  # fmt: skip
    print_goal(paced, offered)
    print(f"  capacity via the balancer (closed loop): {via['requests'] / via['seconds']:.0f} "
          f"req/s at p95 {via['p95']:.1f} ms (at saturation p95 is about "
          f"{CONNECTIONS} connections / throughput)")  # fmt: skip
    print("profile of the 2 uvicorn processes behind the balancer, one more closed loop:")
    for line in via.get("profile", []):
        print(f"  {line}")


def print_goal(paced: dict, offered: float) -> None:
    """Issue 18's goal on the paced row: p95 within the goal and the pace kept. A server
    that falls behind slows its clients down (each waits for its answer), so a short
    achieved rate is a miss whatever the p95."""
    achieved = paced["requests"] / paced["seconds"]
    kept_up = achieved >= KEPT_UP * offered and not paced["errors"] and not paced["non2xx"]
    met = kept_up and paced["p95"] <= GOAL_P95_MS
    print(
        f"  paced: {offered:.0f} req/s offered, {achieved:.0f} achieved "
        f"({achieved / offered:.0%})" + ("" if kept_up else ": the server could not keep up")
    )
    print(
        f"  goal: p95 <= {GOAL_P95_MS} ms via the balancer, {CONNECTIONS} clients at "
        f"{offered:.0f} req/s: {paced['p95']:.1f} ms ({'met' if met else 'missed'})"
    )


if __name__ == "__main__":
    sys.exit(main())
