"""WebSocket upgrades through the gateway (a dev server's hot reload): admitted by the
preview's cookie like any request, relayed both ways to the app in the sandbox through
its socket, closed on either side. The app is Node with its own modules; each backend."""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from websockets.exceptions import InvalidStatus

from preview import services
from preview.tokens import COOKIE_NAME, Admission, cookie_value, preview_host
from tests.preview.conftest import front_websocket, run
from tests.preview.servers import WEBSOCKET_APP

pytestmark = pytest.mark.django_db(transaction=True)
AGENT = "Mozilla/5.0 (X11; Linux x86_64) Preview test"


@pytest.fixture
def live(serve):
    return serve({"server.js": WEBSOCKET_APP}, "node server.js", 5173, runtime="node")


def owners_cookie(preview) -> str:
    return cookie_value(Admission(preview_id=preview.pk, user_id=preview.owner_id))


async def connect(preview, cookie: str | None):
    """The hot-reload socket of the preview's page, opened through the front."""
    headers = {"user-agent": AGENT}
    if cookie is not None:
        headers["cookie"] = f"theme=dark; {COOKIE_NAME}={cookie}"
    return await front_websocket(
        preview.pk, "/hmr?token=app-own", origin=f"https://{preview_host(preview.pk)}:8001",
        headers=headers, subprotocols=["vite-hmr"],
    )  # fmt: skip


def test_frames_go_both_ways_and_the_app_closing_closes_the_visitor(live):
    async def talk():
        socket = await connect(live, owners_cookie(live))
        greeting = await socket.recv()
        await socket.send("hello")
        text = await socket.recv()
        await socket.send(b"\x00\xff" * 40_000)
        data = await socket.recv()
        await socket.send("bye")
        await socket.wait_closed()
        return socket.subprotocol, greeting, text, data, socket.close_code

    protocol, greeting, text, data, closed = run(talk())

    assert protocol == "vite-hmr"
    seen = json.loads(greeting)
    assert (seen["path"], seen["protocol"]) == ("/hmr?token=app-own", "vite-hmr")
    assert seen["cookie"] == "theme=dark"  # the app's own cookie, never ours
    assert seen["agent"] == AGENT  # the visitor's, not the front's
    assert seen["origin"] == f"https://{preview_host(live.pk)}:8001"
    assert text == "echo: hello"
    assert data == b"\x00\xff" * 40_000
    assert closed == 4000


def test_the_visitor_leaving_closes_the_apps_socket(live):
    async def talk():
        socket = await connect(live, owners_cookie(live))
        await socket.recv()
        await socket.close(1001)
        return socket.subprotocol

    assert run(talk()) == "vite-hmr"
    assert run(_output_of(live, "closed by client")), "the app never saw the close"


async def _output_of(preview, text: str, seconds: float = 5) -> bool:
    """Whether ``text`` shows in the app's live output within ``seconds`` (the supervisor
    keeps its last lines on the preview only when it ends: stop it and look)."""
    await asyncio.sleep(0.5)
    await sync_to_async(services.preview_stop)(preview=preview)
    for _ in range(int(seconds / 0.2)):
        await sync_to_async(preview.refresh_from_db)()
        if text in preview.output_tail:
            return True
        await asyncio.sleep(0.2)
    return False


def test_an_upgrade_without_the_owners_cookie_is_refused(live, other_user):
    theirs = cookie_value(Admission(preview_id=live.pk, user_id=other_user.pk))

    async def attempts():
        statuses = []
        for cookie in (None, "forged", theirs):
            with pytest.raises(InvalidStatus) as refused:
                await connect(live, cookie)
            statuses.append(refused.value.response.status_code)
        return statuses

    assert run(attempts()) == [403, 403, 404]
