"""The preview origin: an ASGI app of its own, served on a listener of its own.

Each preview is the host ``<id>.<SAMOKODER_PREVIEW_ORIGIN's host>``; the platform's pages
and API are never served here, and the platform's cookies (host-only, another site) are
never sent here. A visitor is admitted by the signed token of ``/_samokoder/enter``
(preview.tokens), traded for a cookie of the preview's host; every other request needs
that cookie, for this preview, of its owner, while the preview runs. Admitted requests
go to the app's socket (execution.serving) with httpx's Unix-socket transport, bodies
streamed both ways, the request body limited to SAMOKODER_PREVIEW_BODY_BYTES and the
answer to SAMOKODER_PREVIEW_UPSTREAM_SECONDS; WebSocket upgrades (a dev server's hot
reload) are relayed with websockets' unix_connect. Our cookie is taken out of what the
app receives.
"""

import asyncio
import contextlib
import html
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlsplit

import httpx
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from websockets.asyncio.client import unix_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from execution.serving import app_socket
from preview.models import Preview
from preview.tokens import (
    COOKIE_NAME,
    COOKIE_SECONDS,
    ENTER_PATH,
    SECURE_COOKIE_NAME,
    Admission,
    cookie_read,
    cookie_value,
    preview_id_of,
    token_read,
)

# Hop-by-hop headers (RFC 9110 §7.6.1) are the connection's, not the message's.
HOP_BY_HOP = {b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization",
              b"te", b"trailer", b"transfer-encoding", b"upgrade", b"proxy-connection"}  # fmt: skip
ROUTE_SECONDS = 1.0  # how long a looked-up preview is trusted before looking again
TOUCH_SECONDS = 30.0  # last_request_at is written at most this often per preview
# What one preview may hold open in the gateway at once: a page that opens thousands of
# sockets or requests takes from no one but itself.
REQUESTS_PER_PREVIEW = 64
SOCKETS_PER_PREVIEW = 32
HEALTH_PATH = "/_samokoder/healthz"
# Set by the gateway alone: what a visitor sends under these names never reaches the app.
FORWARDED = {b"x-forwarded-for", b"x-forwarded-host", b"x-forwarded-proto", b"forwarded",
             b"x-real-ip"}  # fmt: skip


@dataclass(frozen=True)
class Route:
    preview_id: uuid.UUID
    owner_id: int
    project_id: str
    status: str
    # When its app last became ready: a restart on new files serves a new socket in a
    # new folder under the same preview, so an Upstream is only good for the one it saw.
    ready_at: datetime | None


class Upstream:
    """The way to one preview's app: its socket, and an HTTP client pooled on it.

    A socket's path must fit in 108 bytes and workspace paths need not, so the folder
    is opened once and the socket reached as /proc/self/fd/<fd>/app.sock; the folder
    (and so the path) stays this preview's until ``close``."""

    def __init__(self, route: Route) -> None:
        socket = app_socket(route.project_id, route.preview_id.hex)
        self.ready_at = route.ready_at
        self.folder = os.open(socket.parent, os.O_PATH | os.O_DIRECTORY)
        self.socket = f"/proc/self/fd/{self.folder}/{socket.name}"
        timeout = httpx.Timeout(settings.SAMOKODER_PREVIEW_UPSTREAM_SECONDS, connect=5.0)
        transport = httpx.AsyncHTTPTransport(uds=self.socket, retries=0)
        self.client = httpx.AsyncClient(transport=transport, timeout=timeout,
                                        follow_redirects=False)  # fmt: skip

    async def close(self) -> None:
        await self.client.aclose()
        os.close(self.folder)


class BodyTooLarge(Exception):
    pass


class PreviewGateway:
    def __init__(self) -> None:
        self.routes: dict[uuid.UUID, tuple[float, Route | None]] = {}
        self.touched: dict[uuid.UUID, float] = {}
        self.upstreams: dict[uuid.UUID, Upstream] = {}
        self.open: dict[tuple[str, uuid.UUID], int] = {}  # (kind, preview) -> held now

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        language = _language(scope)
        with translation.override(language):
            if scope["type"] == "http":
                await self._http(scope, receive, send)
            elif scope["type"] == "websocket":
                await self._websocket(scope, receive, send)

    # -- admission -------------------------------------------------------------------------

    async def _admit(self, scope: dict) -> tuple[Route | None, int, str]:
        """The route to forward to, or (None, status, message) saying why not."""
        preview_id = preview_id_of(_header(scope, b"host"))
        if preview_id is None:
            return None, 404, _("There is no preview at this address.")
        admission = _admission(scope, preview_id)
        if admission is None:
            return (
                None,
                403,
                _("Open this preview from its project page: only its owner may, after signing in."),
            )
        route = await self._route(preview_id)
        if route is None or route.owner_id != admission.user_id:
            return None, 404, _("There is no preview at this address.")
        if route.status == Preview.Status.STARTING:
            return None, 503, _("The app is starting; this page will load it in a moment.")
        if route.status != Preview.Status.RUNNING:
            return None, 410, _stopped()
        return route, 200, ""

    async def _route(self, preview_id: uuid.UUID) -> Route | None:
        now = time.monotonic()
        cached = self.routes.get(preview_id)
        if cached is not None and now - cached[0] < ROUTE_SECONDS:
            return cached[1]
        route = await _route_load(preview_id)
        if route is None or route.status != Preview.Status.STARTING:
            # A starting one is looked up again each time: its first page is shown the
            # moment it runs, not up to ROUTE_SECONDS later.
            self.routes[preview_id] = (now, route)
        else:
            self.routes.pop(preview_id, None)
        if route is None or route.status != Preview.Status.RUNNING:
            upstream = self.upstreams.pop(preview_id, None)
            if upstream is not None:  # that app is gone: so are its connections
                await upstream.close()
        return route

    async def _upstream(self, route: Route) -> Upstream:
        upstream = self.upstreams.get(route.preview_id)
        if upstream is not None and upstream.ready_at != route.ready_at:
            del self.upstreams[route.preview_id]  # the app restarted: its old socket is gone
            await upstream.close()
            upstream = None
        if upstream is None:
            upstream = self.upstreams[route.preview_id] = Upstream(route)
        return upstream

    async def _touch(self, route: Route) -> None:
        now = time.monotonic()
        if now - self.touched.get(route.preview_id, 0.0) >= TOUCH_SECONDS:
            self.touched[route.preview_id] = now
            await _touch(route.preview_id)

    # -- HTTP ------------------------------------------------------------------------------

    async def _http(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["path"] == HEALTH_PATH:  # the listener answers (a container's health check)
            await _page(send, 200, "ok")
            return
        if scope["path"] == ENTER_PATH:
            await self._enter(scope, send)
            return
        route, status, message = await self._admit(scope)
        if route is None:
            await _page(send, status, message, refresh=status == 503)
            return
        await self._touch(route)
        with self._holding("http", route) as held:
            if not held:
                await _page(send, 503, _busy())
                return
            await self._forward(scope, receive, send, route)

    @contextlib.contextmanager
    def _holding(self, kind: str, route: Route) -> Iterator[bool]:
        """Count one open request or socket of the preview; False when it holds its most."""
        key, most = (
            (kind, route.preview_id),
            (REQUESTS_PER_PREVIEW if kind == "http" else SOCKETS_PER_PREVIEW),
        )
        if self.open.get(key, 0) >= most:
            yield False
            return
        self.open[key] = self.open.get(key, 0) + 1
        try:
            yield True
        finally:
            self.open[key] -= 1
            if not self.open[key]:
                del self.open[key]

    async def _forward(self, scope: dict, receive: Any, send: Any, route: Route) -> None:
        length = _header(scope, b"content-length")
        if length.isdigit() and int(length) > settings.SAMOKODER_PREVIEW_BODY_BYTES:
            await _page(send, 413, _too_large())
            return
        try:
            client = (await self._upstream(route)).client
        except OSError:  # its folder is gone: the app stopped a moment ago
            await _page(send, 410, _stopped())
            return
        request = client.build_request(
            scope["method"], _upstream_url(scope, "http"), headers=_forwarded_headers(scope),
            content=_body(receive) if _has_body(scope) else None,
        )  # fmt: skip
        try:
            response = await client.send(request, stream=True)
        except BodyTooLarge:
            await _page(send, 413, _too_large())
            return
        except httpx.TimeoutException:
            await _page(send, 504, _("The app did not answer in time."))
            return
        except httpx.TransportError:
            await _page(send, 502, _("The app is not answering. Look at its output on the "
                                     "project page, or restart it."))  # fmt: skip
            return
        try:
            headers = _answer_headers(response.headers.raw)
            await send({"type": "http.response.start", "status": response.status_code,
                        "headers": headers})  # fmt: skip
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await response.aclose()

    async def _enter(self, scope: dict, send: Any) -> None:
        """Trade a fresh token for this preview's cookie, then go to the app's first page."""
        preview_id = preview_id_of(_header(scope, b"host"))
        query = dict(_query(scope))
        admission = token_read(query.get("token", ""))
        if preview_id is None or admission is None or admission.preview_id != preview_id:
            expired = _(
                "This preview link has expired or is not for this preview. Open the "
                "preview again from its project page."
            )
            await _page(send, 403, expired)
            return
        route = await self._route(preview_id)
        if route is None or route.owner_id != admission.user_id:
            await _page(send, 404, _("There is no preview at this address."))
            return
        await send({
            "type": "http.response.start", "status": 302,
            "headers": [(b"location", b"/"), (b"cache-control", b"no-store"),
                        (b"set-cookie", _set_cookie(scope, admission).encode())],
        })  # fmt: skip
        await send({"type": "http.response.body", "body": b""})

    # -- WebSocket -------------------------------------------------------------------------

    async def _websocket(self, scope: dict, receive: Any, send: Any) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        route, status, _message = await self._admit(scope)
        origin = _header(scope, b"origin")
        if route is not None and origin and urlsplit(origin).netloc != _header(scope, b"host"):
            route, status = None, 403  # another site's page using the visitor's cookie
        if route is None:
            await send({"type": "websocket.close", "code": 4403 if status == 403 else 4404})
            return
        await self._touch(route)
        with self._holding("ws", route) as held:
            if not held:
                await send({"type": "websocket.close", "code": 1013})  # try again later
                return
            await self._socket(scope, receive, send, route)

    async def _socket(self, scope: dict, receive: Any, send: Any, route: Route) -> None:
        protocols = scope.get("subprotocols") or None
        try:
            socket = (await self._upstream(route)).socket
            upstream = await unix_connect(
                socket, _upstream_url(scope, "ws"), subprotocols=protocols,
                additional_headers=_forwarded_headers(scope, websocket=True),
                open_timeout=10, max_size=settings.SAMOKODER_PREVIEW_BODY_BYTES,
            )  # fmt: skip
        except (OSError, InvalidHandshake, InvalidStatus, TimeoutError):
            await send({"type": "websocket.close", "code": 1011})
            return
        await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})
        async with upstream:
            await _relay(upstream, receive, send, lambda: self._touch(route))

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for upstream in self.upstreams.values():
                    await upstream.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _relay(
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


@sync_to_async
def _route_load(preview_id: uuid.UUID) -> Route | None:
    close_old_connections()  # no request cycle here closes a connection the server dropped
    row = (
        Preview.objects.filter(pk=preview_id)
        .values("owner_id", "project_id", "status", "ready_at")
        .first()
    )
    if row is None:
        return None
    return Route(preview_id=preview_id, owner_id=row["owner_id"], project_id=str(row["project_id"]),
                 status=row["status"], ready_at=row["ready_at"])  # fmt: skip


@sync_to_async
def _touch(preview_id: uuid.UUID) -> None:
    close_old_connections()
    Preview.objects.filter(pk=preview_id).update(last_request_at=timezone.now())


async def _body(receive: Any) -> AsyncIterator[bytes]:
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


def _has_body(scope: dict) -> bool:
    """Whether the request says it has a body (HTTP/1.1: a length or chunks). Without
    one, a streamed ``content`` would make httpx send an empty chunked body, and an app
    on keep-alive that reads no body for a GET takes its end for the next request."""
    length = _header(scope, b"content-length")
    return (length != "" and length != "0") or bool(_header(scope, b"transfer-encoding"))


def _forwarded_headers(scope: dict, *, websocket: bool = False) -> list[tuple[str, str]]:
    """The request's headers for the app: without hop-by-hop ones and without our cookie
    (what the app set on its own origin still reaches it)."""
    named = {t.strip().lower().encode("latin-1") for t in _header(scope, b"connection").split(",")}
    skip = HOP_BY_HOP | FORWARDED | named | {b"cookie"}
    if websocket:  # the client library makes its own handshake
        skip |= {b"host", b"sec-websocket-key", b"sec-websocket-version",
                 b"sec-websocket-extensions", b"sec-websocket-protocol"}  # fmt: skip
    headers = [(k.decode("latin-1"), v.decode("latin-1"))
               for k, v in scope["headers"] if k.lower() not in skip]  # fmt: skip
    kept = _app_cookies(scope)
    if kept:
        headers.append(("cookie", kept))
    client = scope.get("client") or ("", 0)
    proto = urlsplit(settings.SAMOKODER_PREVIEW_ORIGIN).scheme
    headers += [
        ("x-forwarded-for", str(client[0])),
        ("x-forwarded-host", _header(scope, b"host")),
        ("x-forwarded-proto", proto),
    ]
    return headers


def _answer_headers(raw: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
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


def _app_cookies(scope: dict) -> str:
    parts = []
    for value in (_header(scope, b"cookie") or "").split(";"):
        name = value.split("=", 1)[0].strip()
        if name and name not in (COOKIE_NAME, SECURE_COOKIE_NAME):
            parts.append(value.strip())
    return "; ".join(parts)


def _upstream_url(scope: dict, scheme: str) -> str:
    host = _header(scope, b"host") or "preview"
    path = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string", b"")
    url = f"{scheme}://{host}{path.decode('latin-1')}"
    return f"{url}?{query.decode('latin-1')}" if query else url


def _set_cookie(scope: dict, admission: Admission) -> str:
    """Host-only, HttpOnly, for this preview's host alone. In the platform's page the app
    is a frame of another site, where only a SameSite=None cookie is sent, and that needs
    Secure (browsers accept it on https and on *.localhost); Partitioned keeps it to the
    frame in that page. On plain http elsewhere it can only be SameSite=Lax, which works
    when the preview is opened in a tab of its own."""
    origin = urlsplit(settings.SAMOKODER_PREVIEW_ORIGIN)
    # From the origin's settings, not the request: behind a TLS terminator the request
    # arrives as http. The __Host- prefix: no page may set one with a Domain.
    secure = origin.scheme == "https" or (origin.hostname or "").endswith("localhost")
    name = SECURE_COOKIE_NAME if secure else COOKIE_NAME
    morsel: SimpleCookie = SimpleCookie()
    morsel[name] = cookie_value(admission)
    cookie = morsel[name]
    cookie["path"] = "/"
    cookie["httponly"] = True
    cookie["max-age"] = COOKIE_SECONDS
    if secure:
        cookie["secure"] = True
        cookie["samesite"] = "None"
        return cookie.OutputString() + "; Partitioned"
    cookie["samesite"] = "Lax"
    return cookie.OutputString()


def _header(scope: dict, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


def _admission(scope: dict, preview_id: uuid.UUID) -> Admission | None:
    """The admission a cookie of ours gives to this preview. Read by hand: a page may
    leave odd cookies or several of the same name (another preview's, set for a parent
    domain), so each candidate is tried and the first that verifies for this preview
    counts; none of them can make a valid one fail."""
    for part in _header(scope, b"cookie").split(";"):
        name, _, value = part.strip().partition("=")
        if name in (COOKIE_NAME, SECURE_COOKIE_NAME):
            admission = cookie_read(value.strip().strip('"'))
            if admission is not None and admission.preview_id == preview_id:
                return admission
    return None


def _query(scope: dict) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(scope.get("query_string", b"").decode("latin-1"))


def _language(scope: dict) -> str:
    from django.utils.translation.trans_real import (
        get_supported_language_variant,
        parse_accept_lang_header,
    )

    for code, _quality in parse_accept_lang_header(_header(scope, b"accept-language")):
        if code == "*":
            break
        with contextlib.suppress(LookupError):
            return get_supported_language_variant(code)
    return settings.LANGUAGE_CODE


def _busy() -> str:
    return _("This preview has too many requests open at once. Try again in a moment.")


def _stopped() -> str:
    return _("This preview has stopped. Start it again from its project page.")


def _too_large() -> str:
    mb = settings.SAMOKODER_PREVIEW_BODY_BYTES // (1024 * 1024)
    return _("The request is larger than a preview accepts (%(mb)s MB).") % {"mb": mb}


async def _page(send: Any, status: int, message: str, *, refresh: bool = False) -> None:
    """A small page of the gateway's own (no script), in the visitor's language."""
    meta = '<meta http-equiv="refresh" content="2">' if refresh else ""
    title = _("Samokoder preview")
    body = (
        f'<!doctype html><html lang="{translation.get_language()}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">{meta}'
        f"<title>{html.escape(title)}</title></head>"
        '<body style="font-family: system-ui, sans-serif; margin: 2rem; color: #222">'
        f'<p id="samokoder-preview-message">{html.escape(message)}</p></body></html>'
    ).encode()
    await send({
        "type": "http.response.start", "status": status,
        "headers": [(b"content-type", b"text/html; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store")],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})


application = PreviewGateway()
