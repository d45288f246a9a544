"""What a hostile app (or page) tries against the gateway, and what it gets: cookies that
would lock its owner out of other previews, cookies for every preview, forged forwarding
headers, a socket opened from another site, more requests than a preview may hold."""

import asyncio
import uuid

import pytest
from websockets.exceptions import InvalidStatus

from preview import gateway as gateway_module
from preview.gateway import PreviewGateway
from preview.tokens import COOKIE_NAME, SECURE_COOKIE_NAME, Admission, cookie_value, preview_host
from tests.preview.conftest import front_websocket, gateway_client, run
from tests.preview.servers import ECHO_APP

pytestmark = pytest.mark.django_db(transaction=True)
# The gateway's rules: one backend is enough to serve the app they are tried against.
ONE_BACKEND = pytest.mark.parametrize("sandbox", ["bubblewrap"], indirect=True)

COOKIE_APP = """\
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Set-Cookie", "theme=dark; Domain=preview.localhost; Path=/")
        self.send_header("Set-Cookie", "samokoder_preview=junk; Path=/")
        self.send_header("Set-Cookie", "__Host-samokoder_preview=junk; Path=/; Secure")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""


def owners(preview) -> str:
    return cookie_value(Admission(preview_id=preview.pk, user_id=preview.owner_id))


@ONE_BACKEND
def test_odd_and_tossed_cookies_never_shut_the_owner_out(serve):
    echo = serve({"app.py": ECHO_APP}, "python3 app.py", 5000)
    header = (f'junk=a b; {COOKIE_NAME}=garbage; x={{"json": 1}}; '
              f"{SECURE_COOKIE_NAME}={owners(echo)}; {COOKIE_NAME}=tossed")  # fmt: skip

    async def visit():
        async with gateway_client(echo.pk, headers={"cookie": header}) as client:
            return await client.get("/")

    answer = run(visit())

    assert answer.status_code == 200, answer.text
    sent = {name.lower(): value for name, value in answer.json()["headers"]}
    assert "junk=a b" in sent["cookie"] and "samokoder_preview" not in sent["cookie"]


@ONE_BACKEND
def test_the_apps_cookies_stay_on_its_own_host_and_never_take_the_gateways_name(serve):
    """nginx rewrites what it cannot drop by name: a Domain becomes the preview's own host
    (no other host under it serves anything), and a cookie under the gateway's name comes
    out in a form browsers refuse (RFC 6265bis: a __Host- cookie must be Secure; a Secure
    one is not taken from plain http), so the app cannot replace the owner's key."""
    app = serve({"app.py": COOKIE_APP}, "python3 app.py", 5000)

    async def visit():
        async with gateway_client(app.pk, headers={"cookie": f"{COOKIE_NAME}={owners(app)}"}) as c:
            return await c.get("/")

    answer = run(visit())

    assert answer.status_code == 200
    assert answer.headers.get_list("set-cookie") == [
        f"theme=dark; Domain={preview_host(app.pk)}; Path=/",
        f"{COOKIE_NAME}=junk; Path=/; Secure",
        f"{SECURE_COOKIE_NAME}=junk; Path=/",
    ]


@ONE_BACKEND
def test_forwarding_headers_are_the_gateways_own(serve):
    echo = serve({"app.py": ECHO_APP}, "python3 app.py", 5000)
    header = {"cookie": f"{COOKIE_NAME}={owners(echo)}", "x-forwarded-for": "10.6.6.6",
              "forwarded": "for=10.6.6.6", "connection": "keep-alive, x-secret",
              "x-secret": "hop"}  # fmt: skip

    async def visit():
        async with gateway_client(echo.pk, headers=header) as client:
            return await client.get("/")

    sent = {k.lower(): v for k, v in run(visit()).json()["headers"]}

    assert sent["x-forwarded-for"] == "127.0.0.1" and "forwarded" not in sent
    assert sent["x-forwarded-host"].startswith(preview_host(echo.pk))
    # A header the visitor named in Connection reaches the app (nginx does not drop those):
    # the visitor could as well send it plainly, and no proxy stands between them here.
    assert sent["x-secret"] == "hop"
    assert "connection" not in sent  # the visitor's was the hop's


@ONE_BACKEND
def test_a_socket_opened_from_another_sites_page_is_refused(serve):
    echo = serve({"app.py": ECHO_APP}, "python3 app.py", 5000)
    cookie = {"cookie": f"{COOKIE_NAME}={owners(echo)}"}

    async def knock():
        with pytest.raises(InvalidStatus) as refused:
            await front_websocket(echo.pk, origin="https://evil.example", headers=cookie)
        return refused.value.response.status_code

    assert run(knock()) == 403


@ONE_BACKEND
def test_a_preview_holding_its_most_requests_gets_503_for_the_next(serve, monkeypatch):
    monkeypatch.setattr(gateway_module, "REQUESTS_PER_PREVIEW", 2)
    echo = serve({"app.py": ECHO_APP}, "python3 app.py", 5000)
    shared = PreviewGateway()

    async def burst():
        headers = {"cookie": f"{COOKIE_NAME}={owners(echo)}"}
        async with gateway_client(echo.pk, shared, headers=headers, timeout=30) as client:
            slow = [asyncio.ensure_future(client.get("/slow")) for _ in range(2)]
            await asyncio.sleep(1)  # both are held by the app now
            third = await client.get("/")
            return third, await asyncio.gather(*slow)

    third, slow = run(burst())

    assert third.status_code == 503
    assert [answer.status_code for answer in slow] == [200, 200]


def test_the_listener_answers_its_health_check_on_any_host():
    async def ask():
        async with gateway_client(uuid.UUID(int=0)) as client:
            return await client.get("/_samokoder/healthz")

    assert run(ask()).status_code == 200
