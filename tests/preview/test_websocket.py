"""WebSocket upgrades through the gateway (a dev server's hot reload): admitted by the
preview's cookie like any request, relayed both ways to the app in the sandbox through
its socket, closed on either side. The app is Node with its own modules; each backend."""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator

from preview import services
from preview.gateway import PreviewGateway
from preview.tokens import COOKIE_NAME, Admission, cookie_value, preview_host
from tests.preview.conftest import run
from tests.preview.servers import WEBSOCKET_APP

pytestmark = pytest.mark.django_db(transaction=True)
AGENT = b"Mozilla/5.0 (X11; Linux x86_64) Preview test"


@pytest.fixture
def live(serve):
    return serve({"server.js": WEBSOCKET_APP}, "node server.js", 5173, runtime="node")


def scope(preview, cookie: str | None) -> dict:
    headers = [(b"host", f"{preview_host(preview.pk)}:8001".encode()),
               (b"origin", f"https://{preview_host(preview.pk)}:8001".encode()),
               (b"sec-websocket-protocol", b"vite-hmr"), (b"user-agent", AGENT)]  # fmt: skip
    if cookie is not None:
        headers.append((b"cookie", f"theme=dark; {COOKIE_NAME}={cookie}".encode()))
    return {"type": "websocket", "scheme": "wss", "path": "/hmr", "raw_path": b"/hmr",
            "query_string": b"token=app-own", "headers": headers,
            "subprotocols": ["vite-hmr"]}  # fmt: skip


def owners_cookie(preview) -> str:
    return cookie_value(Admission(preview_id=preview.pk, user_id=preview.owner_id))


async def connect(preview, cookie: str | None) -> tuple[ApplicationCommunicator, dict]:
    socket = ApplicationCommunicator(PreviewGateway(), scope(preview, cookie))
    await socket.send_input({"type": "websocket.connect"})
    return socket, await socket.receive_output(timeout=15)


def test_frames_go_both_ways_and_the_app_closing_closes_the_visitor(live):
    async def talk():
        socket, accepted = await connect(live, owners_cookie(live))
        greeting = await socket.receive_output(timeout=5)
        await socket.send_input({"type": "websocket.receive", "text": "hello"})
        text = await socket.receive_output(timeout=5)
        await socket.send_input({"type": "websocket.receive", "bytes": b"\x00\xff" * 40_000})
        data = await socket.receive_output(timeout=5)
        await socket.send_input({"type": "websocket.receive", "text": "bye"})
        closed = await socket.receive_output(timeout=5)
        await socket.wait(timeout=5)
        return accepted, greeting, text, data, closed

    accepted, greeting, text, data, closed = run(talk())

    assert accepted == {"type": "websocket.accept", "subprotocol": "vite-hmr"}
    seen = json.loads(greeting["text"])
    assert (seen["path"], seen["protocol"]) == ("/hmr?token=app-own", "vite-hmr")
    assert seen["cookie"] == "theme=dark"  # the app's own cookie, never ours
    assert seen["agent"] == AGENT.decode()  # the visitor's, not the gateway's client's
    assert seen["origin"] == f"https://{preview_host(live.pk)}:8001"
    assert text == {"type": "websocket.send", "text": "echo: hello"}
    assert data == {"type": "websocket.send", "bytes": b"\x00\xff" * 40_000}
    assert closed == {"type": "websocket.close", "code": 4000}


def test_the_visitor_leaving_closes_the_apps_socket(live):
    async def talk():
        socket, accepted = await connect(live, owners_cookie(live))
        await socket.receive_output(timeout=5)
        await socket.send_input({"type": "websocket.disconnect", "code": 1001})
        await socket.wait(timeout=5)  # the gateway's part ended
        return accepted

    assert run(talk())["type"] == "websocket.accept"
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
        return [(await connect(live, cookie))[1] for cookie in (None, "forged", theirs)]

    assert run(attempts()) == [{"type": "websocket.close", "code": 4403},
                                       {"type": "websocket.close", "code": 4403},
                                       {"type": "websocket.close", "code": 4404}]  # fmt: skip
