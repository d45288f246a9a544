"""`make run`'s process tree: it serves, and Ctrl-C leaves nothing running."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# `make run`'s chain: a private Redis, then the package proxy, then the Procfile.
WRAPPERS = [sys.executable, "scripts/with_redis.py", sys.executable, "scripts/with_proxy.py"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _group_pids(pgid: int) -> set[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,pgid="], capture_output=True, text=True).stdout
    return {
        int(pid) for pid, group in (line.split() for line in out.splitlines()) if int(group) == pgid
    }


def _wait_for_line(process: subprocess.Popen[str], needle: str, timeout: float) -> list[str]:
    assert process.stdout is not None  # started with stdout=PIPE
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if needle in line:
            return lines
    pytest.fail(f"{needle!r} not printed within {timeout} s:\n{''.join(lines[-40:])}")


@pytest.fixture
def app_processes(tmp_path):
    port, preview_port = _free_port(), _free_port()
    started_here = ("REDIS_URL", "CELERY_BROKER_URL", "SAMOKODER_PACKAGE_PROXY")
    env = {k: v for k, v in os.environ.items() if k not in started_here}
    env.update(PORT=str(port), DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
               SAMOKODER_PREVIEW_ORIGIN=f"http://preview.localhost:{preview_port}")  # fmt: skip
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    process = subprocess.Popen(
        [*WRAPPERS, sys.executable, "scripts/run.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal would give it
    )
    yield process, port, preview_port
    if process.poll() is None:  # the test failed midway: stop it as Ctrl-C would, so that
        os.killpg(process.pid, signal.SIGINT)  # honcho stops what it started
        try:
            process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def test_run_serves_the_app_and_ctrl_c_stops_every_process(app_processes):
    process, port, preview_port = app_processes
    lines = _wait_for_line(process, f"running at http://127.0.0.1:{port}/", timeout=90)
    redis_url = next(line for line in lines if "private Redis" in line).split()[-1]
    redis_port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    proxy_url = next(line for line in lines if "package proxy" in line).split()[5]
    proxy_port = int(proxy_url.rsplit(":", 1)[1])

    ready = urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10)
    assert ready.status == 200
    _wait_for_line(process, "celery@", timeout=60)  # the worker came up too
    # The second origin, the previews': a host naming no preview gets its 404 page, never
    # the platform's pages.
    with pytest.raises(urllib.error.HTTPError) as refused:
        _open_when_listening(f"http://127.0.0.1:{preview_port}/", timeout=60)
    assert refused.value.code == 404
    assert b"no preview at this address" in refused.value.read()
    assert len(_group_pids(process.pid)) >= 4  # wrapper, honcho, web, worker, beat

    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
    process.communicate(timeout=60)

    deadline = time.monotonic() + 10
    while _group_pids(process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _group_pids(process.pid) == set()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", redis_port), timeout=1).close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", proxy_port), timeout=1).close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", preview_port), timeout=1).close()


def _open_when_listening(url: str, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        try:
            request = urllib.request.Request(url, headers={"Accept-Language": "en"})  # noqa: S310
            return urllib.request.urlopen(request, timeout=10)  # noqa: S310 - http on loopback
        except urllib.error.URLError as exc:
            if isinstance(exc, urllib.error.HTTPError) or time.monotonic() > deadline:
                raise
            time.sleep(0.3)
