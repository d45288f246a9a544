"""Processes the tests and benchmarks start: a web process serving the app on a free port.

No Django import here, so a benchmark can use it before Django is set up.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from deploy.web import APP, web_command

ROOT = Path(__file__).resolve().parents[1]


class WebServer:
    """The ASGI app (pages, API, WebSockets) served as `make run` serves it
    (deploy/web.py), in its own process group; ``env`` says which database, Redis and
    settings."""

    def __init__(
        self, env: dict[str, str], server: str = "uvicorn", *, app: str = APP,
        port: int | None = None,
    ) -> None:  # fmt: skip
        self.env, self.server, self.app = env, server, app
        self.process: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return web_command(port=self.port, server=self.server, app=self.app)

    def start(self, timeout: float = 60) -> "WebServer":
        self.process = subprocess.Popen(
            self.command(), cwd=ROOT, env=self.env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip
        threading.Thread(target=self._drain, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the web process did not start:\n" + self.tail(40))
            time.sleep(0.1)
        return self

    def answers(self) -> bool:
        return _answers(self.port)

    def _drain(self) -> None:
        assert self.process is not None and self.process.stdout is not None  # started first
        for line in self.process.stdout:
            self.lines.append(line)

    def tail(self, count: int = 30) -> str:
        return "".join(self.lines[-count:])

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


class PreviewServer(WebServer):
    """The preview origin as `make run` serves it: ``python -m preview.serve`` (nginx in
    front of the gateway), on ``port``, its folder a temporary one of its own."""

    def __init__(self, env: dict[str, str], *, port: int) -> None:
        self.workdir = tempfile.mkdtemp(prefix="samokoder-front-", dir="/tmp")
        env = {**env, "SAMOKODER_PREVIEW_PORT": str(port),
               "SAMOKODER_PREVIEW_FRONT_DIR": self.workdir}  # fmt: skip
        super().__init__(env, port=port)

    def command(self) -> list[str]:
        return [sys.executable, "-m", "preview.serve"]

    def answers(self) -> bool:
        """The gateway behind nginx answers too (nginx listens first)."""
        try:
            health_url = f"{self.url}/_samokoder/healthz"  # http, on the loopback
            with urllib.request.urlopen(health_url, timeout=5) as health:  # noqa: S310
                return bool(health.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
