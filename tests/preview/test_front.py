"""What a visitor tries against the front itself (nginx before the gateway): naming the
socket to go to, asking nginx's own questions of the gateway, riding a kept admission to
another preview or past a stop. One backend serves the apps they are tried against."""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from execution.serving import app_socket
from preview import services
from preview.tokens import COOKIE_NAME, Admission, cookie_value
from tests.preview.apps import TODO_APP
from tests.preview.conftest import gateway_client, run
from tests.preview.servers import ECHO_APP

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.parametrize("sandbox", ["bubblewrap"], indirect=True),
]


def owners(preview) -> dict[str, str]:
    value = cookie_value(Admission(preview_id=preview.pk, user_id=preview.owner_id))
    return {"cookie": f"{COOKIE_NAME}={value}"}


def test_a_socket_or_question_named_by_the_visitor_is_ignored(serve):
    echo = serve({"app.py": ECHO_APP}, "python3 app.py", 5000)
    todo = serve({"app.py": TODO_APP}, "python3 app.py", 5000)
    elsewhere = str(app_socket(str(todo.project_id), todo.pk.hex))
    forged = {"x-samokoder-socket": elsewhere, "x-samokoder-front": "admit",
              "x-samokoder-status": "200", "x-samokoder-cookie": "stolen=1"}  # fmt: skip

    async def visit():
        async with gateway_client(echo.pk, headers=forged) as client:
            stranger = await client.get("/")
            asked = await client.get("/_samokoder/admission")
            owner = await client.get("/", headers=owners(echo))
        return stranger, asked, owner

    stranger, asked, owner = run(visit())

    assert stranger.status_code == 403 and "samokoder-preview-message" in stranger.text
    assert asked.status_code == 404 and "x-samokoder-socket" not in asked.headers
    assert owner.status_code == 200 and owner.headers["x-app"] == "echo"  # its own app
    seen = {name.lower(): value for name, value in owner.json()["headers"]}
    assert "cookie" not in seen  # not the forged one, and ours never


def test_a_kept_admission_does_not_open_another_preview(serve):
    echo = serve({"app.py": ECHO_APP}, "python3 app.py", 5000)
    todo = serve({"app.py": TODO_APP}, "python3 app.py", 5000)

    async def visit():
        async with gateway_client(echo.pk, headers=owners(echo)) as client:
            admitted = await client.get("/")
        # The same cookie within the second nginx keeps echo's admission, on todo's host.
        async with gateway_client(todo.pk, headers=owners(echo)) as client:
            return admitted, await client.get("/")

    admitted, elsewhere = run(visit())

    assert admitted.status_code == 200
    assert elsewhere.status_code == 403 and "Todo" not in elsewhere.text


def test_a_stopped_preview_answers_the_gateways_page_at_once(serve):
    """Asked the moment its socket is gone (within the second nginx keeps an admission,
    when the stop is that quick): the gateway's page saying so, not nginx's bare 502."""
    echo = serve({"app.py": ECHO_APP}, "python3 app.py", 5000)
    socket = app_socket(str(echo.project_id), echo.pk.hex)

    async def visit():
        async with gateway_client(echo.pk, headers=owners(echo)) as client:
            before = await client.get("/")
            await sync_to_async(services.preview_stop)(preview=echo)
            for _ in range(200):
                if not socket.exists():
                    break
                await asyncio.sleep(0.05)
            return before, await client.get("/")

    before, after = run(visit())

    assert before.status_code == 200
    assert after.status_code == 410 and "has stopped" in after.text
