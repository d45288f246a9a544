"""What the gateway forwards and how: requests reach the app as they were sent (less our
cookie and the connection's own headers), bodies stream both ways within their limits,
and a slow app is cut off. The forwarding is the gateway's alone: one backend here."""

import asyncio

import pytest

from preview.tokens import preview_host
from tests.preview.conftest import entry_path, gateway_client, run
from tests.preview.servers import ECHO_APP, ENDLESS_APP

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.parametrize("sandbox", ["bubblewrap"], indirect=True),
]


@pytest.fixture
def echo(serve):
    return serve({"app.py": ECHO_APP}, "python3 app.py", 5000)


def exchange(preview, user, *requests):
    """Enter the preview, then send ``requests`` (method, path, keyword arguments) in turn."""

    async def walk():
        async with gateway_client(preview.pk) as client:
            await client.get(entry_path(preview.pk, user.pk))
            return [await client.request(method, path, **kwargs)
                    for method, path, kwargs in requests]  # fmt: skip

    return run(walk())


def headers_of(answer) -> dict[str, str]:
    return {name.lower(): value for name, value in answer.json()["headers"]}


def test_requests_without_a_body_reach_a_keep_alive_app_one_after_another(echo, user):
    answers = exchange(echo, user, *[("GET", "/", {})] * 3, ("DELETE", "/thing", {}))

    assert [a.status_code for a in answers[:3]] == [200, 200, 200], answers[-1].text
    for answer in answers[:3]:
        assert "transfer-encoding" not in headers_of(answer)
        assert answer.json()["body"] == 0
    assert answers[3].status_code == 501  # the app has no DELETE: its own answer, passed on


def test_the_request_reaches_the_app_as_sent(echo, user):
    (answer,) = exchange(
        echo,
        user,
        (
            "GET",
            "/a/b%20c?x=1&y=%2F",
            {"headers": {"X-Custom": "kept", "Accept-Language": "ru", "Connection": "close"}},
        ),
    )

    seen = answer.json()
    assert (seen["method"], seen["path"]) == ("GET", "/a/b%20c?x=1&y=%2F")
    headers = headers_of(answer)
    assert headers["host"] == f"{preview_host(echo.pk)}:8001"
    assert (headers["x-custom"], headers["accept-language"]) == ("kept", "ru")
    assert "cookie" not in headers  # ours was the only one
    assert headers.get("connection") != "close"  # the connection's own, not the app's
    assert answer.headers["x-app"] == "echo"


def test_bodies_reach_the_app_whole_sized_or_streamed(echo, user):
    size = 3 * 1024 * 1024

    async def chunks():
        for _ in range(3):
            yield b"x" * (1024 * 1024)

    sized, streamed = exchange(echo, user, ("POST", "/", {"content": b"y" * size}),
                               ("POST", "/", {"content": chunks()}))  # fmt: skip

    assert (sized.status_code, sized.json()["body"]) == (200, size)
    assert (streamed.status_code, streamed.json()["body"]) == (200, size)
    assert headers_of(streamed)["transfer-encoding"] == "chunked"


def test_a_body_over_the_limit_is_refused_with_413(echo, user, settings):
    settings.SAMOKODER_PREVIEW_BODY_BYTES = 1024 * 1024

    async def chunks():
        for _ in range(3):
            yield b"x" * (1024 * 1024)

    sized, streamed, after = exchange(
        echo, user, ("POST", "/", {"content": b"y" * 2_000_000}),
        ("POST", "/", {"content": chunks()}), ("GET", "/", {}),
    )  # fmt: skip

    assert sized.status_code == 413 and "larger than a preview accepts (1 MB)" in sized.text
    assert streamed.status_code == 413
    assert after.status_code == 200  # the app goes on answering


def test_an_app_slower_than_the_limit_is_answered_504(echo, user, settings):
    settings.SAMOKODER_PREVIEW_UPSTREAM_SECONDS = 1

    slow, fast = exchange(echo, user, ("GET", "/slow", {}), ("GET", "/", {}))

    assert slow.status_code == 504 and "did not answer in time" in slow.text
    assert fast.status_code == 200


def test_an_endless_answer_to_a_visitor_who_stopped_reading_holds_the_app_back(serve, user):
    """The front takes from the app only what the visitor reads: the app's writes wait,
    so what is held on the way stays within the sockets' and nginx's buffers."""
    endless = serve({"app.py": ENDLESS_APP}, "python3 app.py", 5000)

    async def walk():
        async with gateway_client(endless.pk) as client, gateway_client(endless.pk) as asker:
            await client.get(entry_path(endless.pk, user.pk))
            await asker.get(entry_path(endless.pk, user.pk))
            async with client.stream("GET", "/endless") as answer:
                await anext(answer.aiter_raw())
                await asyncio.sleep(2)  # the visitor reads no more meanwhile
                written = int((await asker.get("/written")).text)
                await asyncio.sleep(1)
                later = int((await asker.get("/written")).text)
        return written, later

    written, later = run(walk())

    # Unheld, the app would write gigabytes a second; held, the buffers on the way.
    assert 0 < written <= later < 64 * 1024 * 1024
