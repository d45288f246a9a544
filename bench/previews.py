"""Live previews (issue 16): how soon a started preview answers, and what the preview
origin adds to each request.

The preview origin is ``python -m preview.serve`` (nginx in front of the gateway, the
gateway on a Unix socket: preview.front) in a process group of its own, on this
benchmark's SQLite database, reached at 127.0.0.1:<port> with the preview's Host
(``<id>.preview.localhost``), as a browser reaches it. For the side-by-side figure the
gateway alone, as it served before the front (uvicorn on a port, carrying the bytes
itself with httpx), runs too. The app is the standard-library to-do
page of the tests (nothing to install: its dependencies are as warm as they get), in the
bubblewrap sandbox; its supervisor runs in a thread of this process, as a preview worker
would run it.

1. First byte after Start: ``preview_start`` → the way in (``/_samokoder/enter``, whose
   cookie is then sent) → ``GET /`` every POLL seconds until the first 200. Median of
   ROUNDS starts (each a new preview, which replaces the one before), with the median time
   to "running" as the supervisor recorded it (the app's socket appeared).
2. Per-request overhead: the same page REQUESTS times directly on the app's socket (httpx
   over the Unix socket, reached as /proc/self/fd/<fd>/app.sock), through the front
   (after), and through the gateway alone (before), alternating, keep-alive clients for
   all; p50/p95 of each and their ratios to direct (goal: ≤ 1.5x). Another client of
   the front sends a cookie of the app's own that changes on every request, so nginx's
   kept admission (a second per host and cookies) never serves: what the subrequest to
   the gateway costs. A last one asks the gateway alone for a host naming no preview: its
   own small page, nothing forwarded, what a Python hop costs by itself.

    python scripts/with_redis.py python bench/previews.py

(Not bench/preview.py: a module named ``preview`` would shadow the app of that name.)
"""

import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from setup import ROOT, django_on_fresh_database

if TYPE_CHECKING:
    from preview.models import Preview

ROUNDS = 5
REQUESTS = 200
WARMUP = 20
POLL = 0.02  # seconds between tries of a starting preview
START_TIMEOUT = 60


class PreviewOrigin:
    """The preview origin on a free port, in a process group of its own, inheriting this
    process's settings: ``python -m preview.serve`` (nginx + the gateway) when ``front``,
    else the gateway alone as it served before the front (uvicorn, carrying the bytes)."""

    def __init__(self, *, front: bool, workdir: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        from deploy.web import web_command

        env = dict(os.environ, SAMOKODER_PREVIEW_PORT=str(self.port),
                   SAMOKODER_PREVIEW_FRONT_DIR=str(workdir))  # fmt: skip
        command = ([sys.executable, "-m", "preview.serve"] if front
                   else web_command(port=self.port, app="preview.asgi:application"))  # fmt: skip
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the preview origin's server did not start")
            time.sleep(0.1)

    def _answers(self) -> bool:
        import httpx

        try:
            health = httpx.get(f"http://127.0.0.1:{self.port}/_samokoder/healthz", timeout=5)
        except httpx.TransportError:
            return False
        return health.status_code == 200

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def gateway_client(origin: PreviewOrigin, preview, user):
    """A keep-alive client of the preview's host, let in by its token like a browser is."""
    import httpx

    from preview.tokens import SECURE_COOKIE_NAME, entry_url, preview_host

    client = httpx.Client(base_url=f"http://127.0.0.1:{origin.port}",
                          headers={"host": preview_host(preview.pk)}, timeout=30)  # fmt: skip
    entry = urlsplit(entry_url(preview.pk, user.pk))
    entered = client.get(f"{entry.path}?{entry.query}")
    if entered.status_code != 302:
        raise RuntimeError(f"the way in answered {entered.status_code}: {entered.text}")
    # The cookie is Secure (a *.localhost host): sent by hand over this plain connection.
    cookie = entered.headers["set-cookie"].split(";", 1)[0]
    assert cookie.startswith(f"{SECURE_COOKIE_NAME}=")
    client.headers["cookie"] = cookie
    return client


def supervise(preview) -> threading.Thread:
    from preview.supervisor import preview_supervise

    thread = threading.Thread(target=preview_supervise, args=(str(preview.pk),), daemon=True)
    thread.start()
    return thread


def first_byte(
    origin: PreviewOrigin, branch, user
) -> tuple[float, float, "Preview", threading.Thread]:
    """Seconds from Start to the first 200 through the gateway, and to "running"."""
    from preview.services import preview_start

    started = time.perf_counter()
    preview = preview_start(project=branch.project, user=user, branch=branch)
    thread = supervise(preview)
    client = gateway_client(origin, preview, user)
    try:
        while True:
            answer = client.get("/")
            if answer.status_code == 200:
                break
            if answer.status_code != 503 or time.perf_counter() - started > START_TIMEOUT:
                raise RuntimeError(f"the preview answered {answer.status_code}: {answer.text}")
            time.sleep(POLL)
    finally:
        client.close()
    seconds = time.perf_counter() - started
    preview.refresh_from_db()
    assert preview.ready_at is not None  # it answered, so it ran
    return seconds, (preview.ready_at - preview.created_at).total_seconds(), preview, thread


def overhead(front: PreviewOrigin, alone: PreviewOrigin, preview, user) -> list[list[float]]:
    """Milliseconds per request: directly on the app's socket, through the front, through
    the gateway alone, and the gateway alone's own page (no forwarding)."""
    import httpx

    from execution.serving import app_socket

    path = app_socket(str(preview.project_id), preview.pk.hex)
    folder = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    transport = httpx.HTTPTransport(uds=f"/proc/self/fd/{folder}/{path.name}")
    direct = httpx.Client(transport=transport, base_url="http://app", timeout=30)
    # The gateway's own page for a host naming no preview: the server and the gateway's
    # entry, nothing forwarded (what a Python hop costs by itself).
    nowhere = httpx.Client(base_url=f"http://127.0.0.1:{alone.port}", timeout=30,
                           headers={"host": "nowhere.example"})  # fmt: skip
    # A cookie of the app's own, new on each request: nginx's kept admission never
    # serves, so every request asks the gateway (the cost of the subrequest itself).
    asking = gateway_client(front, preview, user)
    asking.event_hooks["request"] = [
        lambda request: request.headers.__setitem__(
            "cookie", f"{asking.headers['cookie']}; n={time.perf_counter_ns()}")
    ]  # fmt: skip
    clients = ((direct, 200, "<h1>Todo</h1>"),
               (gateway_client(front, preview, user), 200, "<h1>Todo</h1>"),
               (asking, 200, "<h1>Todo</h1>"),
               (gateway_client(alone, preview, user), 200, "<h1>Todo</h1>"),
               (nowhere, 404, "samokoder-preview-message"))  # fmt: skip
    timings: list[list[float]] = [[] for _ in clients]
    try:
        for index in range(WARMUP + REQUESTS):
            for (client, status, text), times in zip(clients, timings, strict=True):
                began = time.perf_counter()
                answer = client.get("/")
                elapsed = (time.perf_counter() - began) * 1000
                if answer.status_code != status or text not in answer.text:
                    raise RuntimeError(f"answered {answer.status_code}: {answer.text[:200]}")
                if index >= WARMUP:
                    times.append(elapsed)
    finally:
        for client, _status, _text in clients:
            client.close()
        os.close(folder)
    return timings


def run(origin: PreviewOrigin, alone: PreviewOrigin) -> None:
    from accounts.models import User
    from preview.services import preview_stop
    from projects.services import project_create
    from tests.preview.apps import TODO_APP, server_step

    user = User.objects.create_user(email="bench@example.com", password="bench-password-1")
    project = project_create(owner=user, name="Bench")
    branch = project.branches.get()
    server_step(branch, files={"app.py": TODO_APP}, run_command="python3 app.py", port=5000)
    starts, readies, threads = [], [], []
    for _ in range(ROUNDS):
        seconds, ready, preview, thread = first_byte(origin, branch, user)
        starts.append(seconds)
        readies.append(ready)
        threads.append(thread)
    ms = [seconds * 1000 for seconds in starts]
    print(f"first byte after Start (bubblewrap, stdlib to-do app, nothing to install), "
          f"median of {ROUNDS}: {statistics.median(ms):.0f} ms (min {min(ms):.0f}, max "
          f"{max(ms):.0f}); running as the supervisor recorded it: "
          f"{statistics.median(readies) * 1000:.0f} ms")  # fmt: skip
    print_overhead(*overhead(origin, alone, preview, user))
    preview_stop(preview=preview)
    for thread in threads:
        thread.join(timeout=30)


def print_overhead(direct: list[float], front: list[float], asking: list[float],
                   alone: list[float], nowhere: list[float]) -> None:  # fmt: skip
    print(f"GET / of the to-do page, {REQUESTS} requests each, alternating, keep-alive clients")
    rows = (("directly on app.sock", direct), ("through the front (after)", front),
            ("front, admission not kept", asking), ("gateway alone (before)", alone),
            ("gateway alone's own 404", nowhere))  # fmt: skip
    for name, times in rows:
        print(f"{name:26} p50 {percentile(times, 0.5):6.2f} ms   "
              f"p95 {percentile(times, 0.95):6.2f} ms")  # fmt: skip
    for name, times in (("front / direct", front), ("front, not kept / direct", asking),
                        ("gateway alone / direct", alone)):  # fmt: skip
        p50 = percentile(times, 0.5), percentile(direct, 0.5)
        ratio95 = percentile(times, 0.95) / percentile(direct, 0.95)
        verdict = "within" if p50[0] / p50[1] <= 1.5 else "over"
        print(f"{name:26} p50 {p50[0] / p50[1]:.2f}x, p95 {ratio95:.2f}x ({verdict} the 1.5x "
              f"goal); added per request at p50: {p50[0] - p50[1]:+.2f} ms")  # fmt: skip


def main() -> None:
    # Both processes (this one and the preview origin's server) see the same workspaces.
    workspaces = Path(tempfile.mkdtemp(prefix="samokoder-bench-preview-", dir="/tmp"))
    workspaces.chmod(0o755)
    os.environ["SAMOKODER_WORKSPACES_DIR"] = str(workspaces)
    os.environ["SAMOKODER_SANDBOX_BACKEND"] = "bubblewrap"
    django_on_fresh_database("preview")
    front = Path(tempfile.mkdtemp(prefix="samokoder-bench-front-", dir="/tmp"))
    origins: list[PreviewOrigin] = []
    try:
        origins.append(PreviewOrigin(front=True, workdir=front))
        origins.append(PreviewOrigin(front=False, workdir=front))
        run(*origins)
    finally:
        for origin in origins:
            origin.stop()
        shutil.rmtree(workspaces, ignore_errors=True)
        shutil.rmtree(front, ignore_errors=True)


if __name__ == "__main__":
    main()
