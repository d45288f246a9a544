"""Live parts for tests that need the whole system: a Celery worker and a web server as
subprocesses on the test database, real Redis, the bubblewrap sandbox and the replay
server. Fixtures here are imported by the conftests that use them."""

import importlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from execution.backends.base import SandboxUnavailable
from execution.services import process_manager
from tests.processes import PreviewServer, WebServer, free_port

ROOT = Path(__file__).resolve().parents[1]
QUEUE = os.environ["SAMOKODER_QUEUE_GENERATION"]  # this session's own (root conftest)
PREVIEW_QUEUE = os.environ["SAMOKODER_QUEUE_PREVIEW"]  # likewise
# The session's preview origin: each preview is <id>.preview.localhost on this port.
PREVIEW_ORIGIN = f"http://preview.localhost:{free_port()}"
STALE_SECONDS = "3"  # a killed worker's run is handed on after this long without a beat


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


class Worker:
    """`celery worker` in its own process group, on this session's private queue."""

    def __init__(
        self, env: dict[str, str], concurrency: int = 1, *, queue: str = QUEUE,
        pool: str = "prefork",
    ) -> None:  # fmt: skip
        self.env, self.concurrency, self.queue, self.pool = env, concurrency, queue, pool
        self.process: subprocess.Popen | None = None
        self.lines: list[str] = []

    def start(self, timeout: float = 60) -> "Worker":
        command = [sys.executable, "-m", "celery", "--app", "samokoder_site", "worker",
                   "--queues", self.queue, "--concurrency", str(self.concurrency),
                   "--pool", self.pool,
                   "--without-gossip", "--without-mingle", "--loglevel", "INFO"]  # fmt: skip
        self.lines = []
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True,
        )  # fmt: skip
        threading.Thread(target=self._drain, args=(self.process,), daemon=True).start()
        deadline = time.monotonic() + timeout
        while not any(" ready." in line for line in self.lines):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("celery worker did not start:\n" + "".join(self.lines[-40:]))
            time.sleep(0.1)
        return self

    def _drain(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None  # started with stdout=PIPE
        for line in process.stdout:
            self.lines.append(line)

    def kill(self) -> None:
        """kill -9 of the whole worker (the parent and its pool child) mid-whatever."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return "".join(self.lines)


@pytest.fixture(scope="session")
def sandbox_workspaces() -> Iterator[str]:
    # pytest's tmp_path is private to root (0700); the sandbox uid must reach the folder.
    folder = Path(tempfile.mkdtemp(prefix="samokoder-pipeline-", dir="/tmp"))
    folder.chmod(0o755)
    yield str(folder)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def worker_env(django_db_setup, django_db_blocker, replay_server, sandbox_workspaces):
    with django_db_blocker.unblock():
        url = _database_url()
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": url,
        "SAMOKODER_QUEUE_GENERATION": QUEUE,
        "SAMOKODER_QUEUE_DEFAULT": QUEUE,
        "SAMOKODER_QUEUE_BEAT": QUEUE,
        "SAMOKODER_QUEUE_PREVIEW": PREVIEW_QUEUE,
        "SAMOKODER_PREVIEW_ORIGIN": PREVIEW_ORIGIN,
        "OPENAI_BASE_URL": f"{replay_server.url}/v1",
        "ANTHROPIC_BASE_URL": replay_server.url,
        "GROQ_BASE_URL": replay_server.url,
        "LLM_RETRY_BASE_DELAY": "0.05",
        "LLM_RETRY_MAX_DELAY": "0.5",
        "SAMOKODER_RUN_HEARTBEAT_SECONDS": "0.5",
        "SAMOKODER_RUN_STALE_SECONDS": STALE_SECONDS,
        "SAMOKODER_SANDBOX_BACKEND": "bubblewrap",
        "SAMOKODER_WORKSPACES_DIR": sandbox_workspaces,
        "SAMOKODER_ENCRYPTION_KEYS": ",".join(django_settings.SAMOKODER_ENCRYPTION_KEYS),
        "SECRET_KEY": django_settings.SECRET_KEY,
        "DATABASE_CONN_MAX_AGE": "0",
    })  # fmt: skip
    _worker_sees_database(env)
    return env


def _worker_sees_database(env: dict[str, str]) -> None:
    """Fail at once, with the reason, when a process started with `env` would not find the
    test database (an in-memory SQLite one, a wrong file): otherwise every run would wait
    out its timeout on a worker answering `no such table`."""
    url = env["DATABASE_URL"]
    if "mode=memory" in url or url.endswith(":memory:"):
        pytest.fail(f"the test database is in memory ({url}): workers cannot share it")
    probe = (
        "import django; django.setup()\n"
        "from generation.models import GenerationRun\n"
        "GenerationRun.objects.count()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        pytest.fail(f"a worker on {url} cannot see the test database: {reason}")


@pytest.fixture(scope="session")
def sandbox_ready() -> None:
    try:
        process_manager()
    except SandboxUnavailable as exc:  # a failure in CI, where skips are not allowed
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def worker(worker_env, sandbox_ready) -> Iterator[Worker]:
    process = Worker(worker_env).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def asgi_server(worker_env) -> Iterator[WebServer]:
    server = WebServer(worker_env).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def preview_gateway(worker_env) -> Iterator[WebServer]:
    """The preview origin's listener as `make run` serves it (preview.serve: nginx in
    front of the gateway)."""
    port = int(PREVIEW_ORIGIN.rsplit(":", 1)[1])
    server = PreviewServer(worker_env, port=port).start()
    yield server
    server.stop()


def preview_worker_for(env: dict[str, str]) -> Worker:
    """The worker of the preview queue, threads as in the Procfile (a preview holds one)."""
    return Worker(env, concurrency=4, queue=PREVIEW_QUEUE, pool="threads")


@pytest.fixture
def default_prices(transactional_db) -> None:
    """The price table as migration llm/0002 fills it: a transactional test starts from a
    flushed database, where that data is gone (post_migrate only recreates content types)."""
    from django.apps import apps

    migration = importlib.import_module("llm.migrations.0002_default_prices")
    migration.add_prices(apps, None)


@pytest.fixture
def pipeline_settings(settings, replay, sandbox_workspaces, default_prices):
    """This process talks to the same queue, replay server and workspaces as the worker."""
    settings.SAMOKODER_QUEUE_GENERATION = QUEUE
    settings.SAMOKODER_QUEUE_PREVIEW = PREVIEW_QUEUE
    settings.SAMOKODER_PREVIEW_ORIGIN = PREVIEW_ORIGIN
    settings.SAMOKODER_SANDBOX_BACKEND = "bubblewrap"
    settings.SAMOKODER_WORKSPACES_DIR = sandbox_workspaces
    settings.SAMOKODER_RUN_STALE_SECONDS = float(STALE_SECONDS)
    settings.LLM_BASE_URLS = {"openai": f"{replay.url}/v1", "anthropic": replay.url,
                              "groq": replay.url}  # fmt: skip
    return settings
