"""Previews running for real: the service starts one, its supervisor runs in a thread of
this process (as the preview worker would), and the preview origin is its front as
preview.serve runs it: nginx (the real one, on preview.front's configuration) in front of
the gateway, served here by uvicorn on a thread of this process (on the test database)."""

import asyncio
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from asgiref.sync import sync_to_async
from django.db import connections
from websockets.asyncio.client import ClientConnection, connect

from preview import services
from preview.front import front_write
from preview.gateway import PreviewGateway
from preview.models import Preview
from preview.serve import front_plan, nginx_command
from preview.supervisor import preview_supervise
from preview.tokens import entry_url, preview_host
from projects.services import project_create
from tests.execution.conftest import sandbox  # noqa: F401 - fixture
from tests.preview.apps import TODO_APP, server_step
from tests.processes import free_port


def wait_status(preview: Preview, *statuses: str, timeout: float = 60) -> Preview:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        preview.refresh_from_db()
        if preview.status in statuses:
            return preview
        time.sleep(0.2)
    raise AssertionError(f"preview stayed {preview.status}: {preview.output_tail}")


def run(coroutine):
    """asyncio.run, then the database connection of the thread sync_to_async used is
    closed (a test database with sessions left open cannot be dropped)."""

    async def whole():
        try:
            return await coroutine
        finally:
            await sync_to_async(connections.close_all)()

    return asyncio.run(whole())


def supervise(preview: Preview) -> threading.Thread:
    """The preview's task, on a thread of its own (as the preview worker's pool runs it),
    whose database connection is closed when it ends (as Celery closes a task's)."""

    def task() -> None:
        try:
            preview_supervise(str(preview.pk))
        finally:
            connections.close_all()

    thread = threading.Thread(target=task, daemon=True)
    thread.start()
    return thread


class Front:
    """nginx in front of ``gateway`` on a free port of the loopback, as preview.serve runs
    them (uvicorn serving the gateway on a thread here, not in a process of its own, so
    that a test can hold the very gateway it asks); the settings as they are now."""

    def __init__(self, gateway: PreviewGateway) -> None:
        self.gateway = gateway
        # Short (a Unix socket's path must fit in 108 bytes), and readable by nginx's workers.
        self.workdir = Path(tempfile.mkdtemp(prefix="samokoder-front-", dir="/tmp"))
        self.port = free_port()
        gateway.front_dir = self.workdir
        plan = front_plan(workdir=self.workdir, listen=f"127.0.0.1:{self.port}")
        self.conf = front_write(plan)
        config = uvicorn.Config(gateway, uds=str(plan.gateway_socket), lifespan="off",
                                log_level="warning", ws="websockets-sansio")  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=asyncio.run, args=(self._serve(),), daemon=True)
        self.thread.start()
        self.nginx = subprocess.Popen(
            nginx_command(self.conf, self.workdir), stderr=subprocess.PIPE, text=True
        )
        self._wait()

    async def _serve(self) -> None:
        try:
            await self.server.serve()
        finally:  # the connections the gateway's database calls opened on this loop
            await sync_to_async(connections.close_all)()

    def _wait(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.nginx.poll() is not None:
                raise RuntimeError(f"nginx did not start: {self.nginx.communicate()[1]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/_samokoder/healthz").is_success:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("the preview front did not answer")

    def stop(self) -> None:
        if self.nginx.poll() is None:
            self.nginx.terminate()
            self.nginx.wait(timeout=10)
        self.server.should_exit = True
        self.thread.join(timeout=10)
        shutil.rmtree(self.workdir, ignore_errors=True)


FRONTS: dict[int, Front] = {}  # by id(gateway): one front per gateway, for one test


def front_of(gateway: PreviewGateway) -> Front:
    if id(gateway) not in FRONTS:
        FRONTS[id(gateway)] = Front(gateway)
    return FRONTS[id(gateway)]


@pytest.fixture(autouse=True)
def _fronts_stopped():
    yield
    while FRONTS:
        FRONTS.popitem()[1].stop()


class FrontTransport(httpx.AsyncBaseTransport):
    """Sends each request to the front's port, the URL's host kept as the Host header:
    cookies are then kept for the preview's host, as a browser keeps them."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self.port)
        sent = httpx.Request(request.method, url, headers=request.headers,
                             stream=request.stream, extensions=request.extensions)  # fmt: skip
        return await self.inner.handle_async_request(sent)

    async def aclose(self) -> None:
        await self.inner.aclose()


def gateway_client(preview_id, gateway=None, **kwargs):
    """A client of the preview's own host, served by the front of ``gateway`` (a new one
    by default), asking for English."""
    front = front_of(gateway or PreviewGateway())
    transport = FrontTransport(front.port)
    base_url = f"https://{preview_host(preview_id)}:8001"
    # The gateway's pages are in the visitor's language; these tests read the English.
    headers = {"accept-language": "en", **kwargs.pop("headers", {})}
    return httpx.AsyncClient(transport=transport, base_url=base_url, headers=headers, **kwargs)


async def front_websocket(preview_id, path: str = "/", *, gateway=None, origin: str | None = None,
                          headers: dict[str, str] | None = None,
                          subprotocols: list[str] | None = None) -> ClientConnection:  # fmt: skip
    """A WebSocket to the preview's own host through its front (``gateway``'s, a new one by
    default), as a browser opens one; websockets' InvalidStatus when it is refused."""
    front = front_of(gateway or PreviewGateway())
    sock = socket.create_connection(("127.0.0.1", front.port))
    return await connect(
        f"ws://{preview_host(preview_id)}:8001{path}", sock=sock, origin=origin,  # type: ignore[arg-type]
        additional_headers=headers, subprotocols=subprotocols,  # type: ignore[arg-type]
        open_timeout=15, max_size=None,
    )  # fmt: skip


def entry_path(preview_id, user_id: int) -> str:
    """The path and query of the way in (the client adds its own host)."""
    parts = urlsplit(entry_url(preview_id, user_id))
    return f"{parts.path}?{parts.query}"


@pytest.fixture
def english_api(auth_api_client):
    """The signed-in user's API client, asking for English (the default language is ru)."""
    auth_api_client.credentials(HTTP_ACCEPT_LANGUAGE="en")
    return auth_api_client


@pytest.fixture
def preview_settings(settings, sandbox):  # noqa: F811
    settings.SAMOKODER_PREVIEW_START_SECONDS = 20
    return settings


@pytest.fixture
def todo_branch(user, preview_settings):
    project = project_create(owner=user, name="Todo")
    branch = project.branches.get()
    server_step(branch, files={"app.py": TODO_APP}, run_command="python3 app.py", port=5000)
    return branch


@pytest.fixture
def serve(user, preview_settings):
    """serve(files, run_command, port): a preview of them, running; all are stopped (and
    their supervisors gone) afterwards."""
    started = []

    def start(files: dict[str, str], run_command: str, port: int, runtime: str = "python3"):
        project = project_create(owner=user, name="Served")
        branch = project.branches.get()
        server_step(branch, files=files, run_command=run_command, port=port, runtime=runtime)
        preview = services.preview_start(project=project, user=user, branch=branch)
        started.append((preview, supervise(preview)))
        return wait_status(preview, Preview.Status.RUNNING)

    yield start
    for preview, thread in started:
        services.preview_stop(preview=preview)
        thread.join(timeout=30)
        assert not thread.is_alive(), "the supervisor outlived its preview"


@pytest.fixture
def running(serve):
    """The todo app's preview, running."""
    return serve({"app.py": TODO_APP}, "python3 app.py", 5000)
