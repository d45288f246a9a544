"""Previews running for real: the service starts one, its supervisor runs in a thread of
this process (as the preview worker would), the gateway is the preview origin's ASGI app."""

import asyncio
import threading
import time
from urllib.parse import urlsplit

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from preview import services
from preview.gateway import PreviewGateway
from preview.models import Preview
from preview.supervisor import preview_supervise
from preview.tokens import entry_url, preview_host
from projects.services import project_create
from tests.execution.conftest import sandbox  # noqa: F401 - fixture
from tests.preview.apps import TODO_APP, server_step


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


def gateway_client(preview_id, gateway=None, **kwargs):
    """A client of the preview's own host, served by ``gateway`` (a new one by default),
    asking for English."""
    transport = httpx.ASGITransport(app=gateway or PreviewGateway())
    base_url = f"https://{preview_host(preview_id)}:8001"
    # The gateway's pages are in the visitor's language; these tests read the English.
    headers = {"accept-language": "en", **kwargs.pop("headers", {})}
    return httpx.AsyncClient(transport=transport, base_url=base_url, headers=headers, **kwargs)


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
