"""A preview end to end in this process: the service starts it, the supervisor runs the
app in the real sandbox, the gateway (the preview origin's ASGI app) admits the owner
by token then cookie and forwards to the app's socket. Each backend."""

import threading
import time

import httpx
import pytest

from preview import reasons, services
from preview.gateway import PreviewGateway
from preview.models import Preview
from preview.supervisor import preview_supervise
from preview.tokens import COOKIE_NAME, entry_url, preview_host
from projects.services import project_create
from tests.execution.conftest import sandbox  # noqa: F401 - fixture
from tests.preview.apps import TODO_APP, server_step

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def preview_settings(settings, sandbox):  # noqa: F811
    settings.SAMOKODER_PREVIEW_START_SECONDS = 20
    return settings


def wait_status(preview, *statuses, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        preview.refresh_from_db()
        if preview.status in statuses:
            return preview
        time.sleep(0.2)
    raise AssertionError(f"preview stayed {preview.status}: {preview.output_tail}")


def supervise(preview):
    thread = threading.Thread(target=preview_supervise, args=(str(preview.pk),), daemon=True)
    thread.start()
    return thread


def gateway_client(preview):
    host = preview_host(preview.pk)
    transport = httpx.ASGITransport(app=PreviewGateway())
    return httpx.AsyncClient(transport=transport, base_url=f"https://{host}:8001")


@pytest.fixture
def todo_project(user, preview_settings):
    project = project_create(owner=user, name="Todo")
    branch = project.branches.get()
    server_step(branch, files={"app.py": TODO_APP}, run_command="python3 app.py", port=5000)
    return project, branch


async def _walk(preview, user_id):
    async with gateway_client(preview) as client:
        # Without the token: refused, and nothing of the app is shown.
        refused = await client.get("/")
        assert refused.status_code == 403
        assert "Todo" not in refused.text
        entered = await client.get(entry_url(preview.pk, user_id).split(":8001", 1)[1])
        assert entered.status_code == 302
        assert COOKIE_NAME in entered.headers["set-cookie"]
        assert "HttpOnly" in entered.headers["set-cookie"]
        page = await client.get("/")
        assert page.status_code == 200 and "<h1>Todo</h1>" in page.text
        added = await client.post("/", data={"title": "Buy milk"})
        assert added.status_code == 303
        listed = await client.get("/")
        assert "<li>Buy milk</li>" in listed.text
        # The app never receives the gateway's own cookie; its own cookies pass.
        client.cookies.set("theme", "dark", domain=preview_host(preview.pk))
        seen = await client.get("/cookies")
        assert "theme=dark" in seen.text and COOKIE_NAME not in seen.text


def test_the_owner_reaches_the_app_through_the_gateway_and_stops_it(todo_project, user):
    import asyncio

    project, branch = todo_project
    preview = services.preview_start(project=project, user=user, branch=branch)
    thread = supervise(preview)
    wait_status(preview, Preview.Status.RUNNING)
    asyncio.run(_walk(preview, user.pk))

    services.preview_stop(preview=preview)
    thread.join(timeout=30)
    assert not thread.is_alive()
    preview.refresh_from_db()
    assert (preview.status, preview.reason_code) == ("stopped", reasons.STOPPED)
    assert "listening on 5000" in preview.output_tail
