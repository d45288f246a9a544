"""What crosses the preview gateway: the visitor's request for the app (its headers,
its body) and the app's answer for the visitor (its headers), WebSocket frames both ways.

The app is untrusted and so is the page it serves: hop-by-hop headers and those the
Connection header names stay with the hop, the forwarding headers are the gateway's own,
the gateway's cookie never reaches the app, and the app's cookies stay on its own host.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from django.conf import settings
from websockets.exceptions import ConnectionClosed

from preview.tokens import COOKIE_NAME, SECURE_COOKIE_NAME

# Hop-by-hop headers (RFC 9110 §7.6.1) are the connection's, not the message's.
HOP_BY_HOP = {b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization",
              b"te", b"trailer", b"transfer-encoding", b"upgrade", b"proxy-connection"}  # fmt: skip
# Set by the gateway alone: what a visitor sends under these names never reaches the app.
FORWARDED = {b"x-forwarded-for", b"x-forwarded-host", b"x-forwarded-proto", b"forwarded",
             b"x-real-ip"}  # fmt: skip


class BodyTooLarge(Exception):
    """The visitor's body went over SAMOKODER_PREVIEW_BODY_BYTES while it streamed."""


async def relay(
    upstream: Any, receive: Any, send: Any, touch: Callable[[], Awaitable[None]]
) -> None:
    """Frames both ways until either side closes; the visitor's frames count as visits
    (an app used only over its socket is not idle)."""

    async def down() -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in upstream:
                key = "text" if isinstance(frame, str) else "bytes"
                await send({"type": "websocket.send", key: frame})
        await send({"type": "websocket.close", "code": upstream.close_code or 1000})

    async def up() -> None:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                await upstream.close()
                return
            await touch()
            with contextlib.suppress(ConnectionClosed):
                await upstream.send(message.get("text") if message.get("text") is not None
                                    else message.get("bytes") or b"")  # fmt: skip

    tasks = [asyncio.ensure_future(down()), asyncio.ensure_future(up())]
    _done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()


async def request_body(receive: Any) -> AsyncIterator[bytes]:
    received, limit = 0, settings.SAMOKODER_PREVIEW_BODY_BYTES
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunk = message.get("body", b"")
        received += len(chunk)
        if received > limit:
            raise BodyTooLarge
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


def has_body(scope: dict) -> bool:
    """Whether the request says it has a body (HTTP/1.1: a length or chunks). Without
    one, a streamed ``content`` would make httpx send an empty chunked body, and an app
    on keep-alive that reads no body for a GET takes its end for the next request."""
    length = header(scope, b"content-length")
    return (length != "" and length != "0") or bool(header(scope, b"transfer-encoding"))


def forwarded_headers(scope: dict, *, websocket: bool = False) -> list[tuple[str, str]]:
    """The request's headers for the app: without hop-by-hop ones and without our cookie
    (what the app set on its own origin still reaches it)."""
    named = {t.strip().lower().encode("latin-1") for t in header(scope, b"connection").split(",")}
    skip = HOP_BY_HOP | FORWARDED | named | {b"cookie"}
    if websocket:  # the client library makes its own handshake
        skip |= {b"host", b"sec-websocket-key", b"sec-websocket-version",
                 b"sec-websocket-extensions", b"sec-websocket-protocol"}  # fmt: skip
    headers = [(k.decode("latin-1"), v.decode("latin-1"))
               for k, v in scope["headers"] if k.lower() not in skip]  # fmt: skip
    kept = app_cookies(scope)
    if kept:
        headers.append(("cookie", kept))
    client = scope.get("client") or ("", 0)
    proto = urlsplit(settings.SAMOKODER_PREVIEW_ORIGIN).scheme
    headers += [
        ("x-forwarded-for", str(client[0])),
        ("x-forwarded-host", header(scope, b"host")),
        ("x-forwarded-proto", proto),
    ]
    return headers


def answer_headers(raw: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The app's answer headers for the visitor: no hop-by-hop ones; its cookies kept to
    its own host (a Domain attribute would reach the owner's other previews) and never
    under the gateway's cookie's name."""
    headers = []
    for key, value in raw:
        name = key.lower()
        if name in HOP_BY_HOP:
            continue
        if name == b"set-cookie":
            cookie = _host_only(value)
            if cookie is None:
                continue
            value = cookie
        headers.append((key, value))
    return headers


def _host_only(set_cookie: bytes) -> bytes | None:
    parts = [p.strip() for p in set_cookie.split(b";")]
    name = parts[0].split(b"=", 1)[0].strip().decode("latin-1")
    if name.lower() in (COOKIE_NAME, SECURE_COOKIE_NAME.lower()):
        return None
    kept = [parts[0]] + [p for p in parts[1:] if not p.lower().startswith(b"domain")]
    return b"; ".join(kept)


def app_cookies(scope: dict) -> str:
    """The visitor's cookies less ours: what the app may see."""
    parts = []
    for value in (header(scope, b"cookie") or "").split(";"):
        name = value.split("=", 1)[0].strip()
        if name and name not in (COOKIE_NAME, SECURE_COOKIE_NAME):
            parts.append(value.strip())
    return "; ".join(parts)


def upstream_url(scope: dict, scheme: str) -> str:
    host = header(scope, b"host") or "preview"
    path = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string", b"")
    url = f"{scheme}://{host}{path.decode('latin-1')}"
    return f"{url}?{query.decode('latin-1')}" if query else url


def header(scope: dict, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


def query_params(scope: dict) -> list[tuple[str, str]]:
    return parse_qsl(scope.get("query_string", b"").decode("latin-1"))
