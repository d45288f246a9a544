"""A preview end to end in this process: the service starts it, the supervisor runs the
app in the real sandbox, the gateway (the preview origin's ASGI app) admits the owner
by token then cookie and forwards to the app's socket. Each backend."""

import pytest

from preview import reasons, services
from preview.models import Preview
from preview.tokens import COOKIE_NAME, preview_host
from tests.preview.conftest import entry_path, gateway_client, run, supervise, wait_status

pytestmark = pytest.mark.django_db(transaction=True)


async def _walk(preview, user_id):
    async with gateway_client(preview.pk) as client:
        # Without the token: refused, and nothing of the app is shown.
        refused = await client.get("/")
        assert refused.status_code == 403
        assert "Todo" not in refused.text
        entered = await client.get(entry_path(preview.pk, user_id))
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


def test_the_owner_reaches_the_app_through_the_gateway_and_stops_it(todo_branch, user):
    preview = services.preview_start(project=todo_branch.project, user=user, branch=todo_branch)
    thread = supervise(preview)
    wait_status(preview, Preview.Status.RUNNING)
    run(_walk(preview, user.pk))

    services.preview_stop(preview=preview)
    thread.join(timeout=30)
    assert not thread.is_alive()
    preview.refresh_from_db()
    assert (preview.status, preview.reason_code) == ("stopped", reasons.STOPPED)
    assert "listening on 5000" in preview.output_tail
