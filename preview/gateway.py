"""The preview origin: an ASGI app of its own, served on a listener of its own.

Each preview is the host ``<id>.<SAMOKODER_PREVIEW_ORIGIN's host>``; the platform's pages
and API are never served here, and the platform's cookies (host-only, another site) are
never sent here. A visitor is admitted by the signed token of ``/_samokoder/enter``
(preview.tokens), traded for a cookie of the preview's host; every other request needs
that cookie, for this preview, of its owner, while the preview runs. Admitted requests
go to the app's socket (execution.serving) with httpx's Unix-socket transport, bodies
streamed both ways, the request body limited to SAMOKODER_PREVIEW_BODY_BYTES and the
app's silences to SAMOKODER_PREVIEW_UPSTREAM_SECONDS; WebSocket upgrades (a dev server's
hot reload) are relayed with websockets' unix_connect. What crosses, and how it is
cleaned on the way, is preview.forwarding; the gateway's own pages are preview.pages.

Served as `python -m preview.serve` serves it, the gateway carries no bytes of the app:
nginx does (preview.front), asking it first, with ``X-Samokoder-Front: admit``, whether a
request may pass (200 naming the socket, else 403 with the status of the page to show),
and then, with ``page <status>``, for the page in place of what it refused. Only nginx
reaches the gateway there, and it sets that header itself on every request it sends.
"""

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from websockets.asyncio.client import unix_connect
from websockets.exceptions import InvalidHandshake, InvalidStatus

from execution.serving import app_socket
from preview.forwarding import (
    BodyTooLarge,
    answer_headers,
    app_cookies,
    forwarded_headers,
    has_body,
    header,
    query_params,
    relay,
    request_body,
    upstream_url,
)
from preview.front import socket_link, socket_unlink
from preview.models import Preview
from preview.pages import (
    busy_text,
    front_page,
    page,
    status_text,
    stopped_text,
    too_large_text,
    visitor_language,
)
from preview.tokens import (
    ENTER_PATH,
    admission_of,
    cookie_header,
    preview_id_of,
    token_read,
    token_spend,
)

ROUTE_SECONDS = 1.0  # how long a looked-up preview is trusted before looking again
TOUCH_SECONDS = 30.0  # last_request_at is written at most this often per preview
# What one preview may hold open in the gateway at once: a page that opens thousands of
# sockets or requests takes from no one but itself.
REQUESTS_PER_PREVIEW = 64
SOCKETS_PER_PREVIEW = 32
HEALTH_PATH = "/_samokoder/healthz"
FRONT_HEADER = b"x-samokoder-front"  # what nginx asks (preview.front); never the visitor's


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


class PreviewGateway:
    def __init__(self, *, front_dir: Path | None = None) -> None:
        self.front_dir = front_dir  # the front's folder (preview.front); settings' by default
        self.links: Path | None = None
        self.routes: dict[uuid.UUID, tuple[float, Route | None]] = {}
        self.touched: dict[uuid.UUID, float] = {}
        self.upstreams: dict[uuid.UUID, Upstream] = {}
        self.open: dict[tuple[str, uuid.UUID], int] = {}  # (kind, preview) -> held now

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        language = visitor_language(scope)
        with translation.override(language):
            if scope["type"] == "http":
                await self._http(scope, receive, send)
            elif scope["type"] == "websocket":
                await self._websocket(scope, receive, send)

    # -- admission -------------------------------------------------------------------------

    async def _admit(self, scope: dict) -> tuple[Route | None, int, str]:
        """The route to forward to, or (None, status, message) saying why not."""
        preview_id = preview_id_of(header(scope, b"host"))
        if preview_id is None:
            return None, 404, status_text(404)
        admission = admission_of(header(scope, b"cookie"), preview_id)
        if admission is None:
            return None, 403, status_text(403)
        route = await self._route(preview_id)
        if route is None or route.owner_id != admission.user_id:
            return None, 404, status_text(404)
        if route.status == Preview.Status.STARTING:
            return None, 503, status_text(503)
        if route.status != Preview.Status.RUNNING:
            return None, 410, stopped_text()
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
        asked = header(scope, FRONT_HEADER)
        if asked:
            await self._front(scope, send, asked)
            return
        if scope["path"] == HEALTH_PATH:  # the listener answers (a container's health check)
            await page(send, 200, "ok")
            return
        if scope["path"] == ENTER_PATH:
            await self._enter(scope, send)
            return
        route, status, message = await self._admit(scope)
        if route is None:
            await page(send, status, message, refresh=status == 503)
            return
        await self._touch(route)
        with self._holding("http", route) as held:
            if not held:
                await page(send, 503, busy_text())
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
        length = header(scope, b"content-length")
        if length.isdigit() and int(length) > settings.SAMOKODER_PREVIEW_BODY_BYTES:
            await page(send, 413, too_large_text())
            return
        try:
            client = (await self._upstream(route)).client
        except OSError:  # its folder is gone: the app stopped a moment ago
            await page(send, 410, stopped_text())
            return
        request = client.build_request(
            scope["method"], upstream_url(scope, "http"), headers=forwarded_headers(scope),
            content=request_body(receive) if has_body(scope) else None,
        )  # fmt: skip
        try:
            response = await client.send(request, stream=True)
        except BodyTooLarge:
            await page(send, 413, too_large_text())
            return
        except httpx.TimeoutException:
            await page(send, 504, status_text(504))
            return
        except httpx.TransportError:
            await page(send, 502, status_text(502))
            return
        try:
            headers = answer_headers(response.headers.raw)
            await send({"type": "http.response.start", "status": response.status_code,
                        "headers": headers})  # fmt: skip
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await response.aclose()

    async def _enter(self, scope: dict, send: Any) -> None:
        """Trade a fresh token for this preview's cookie, then go to the app's first page."""
        preview_id = preview_id_of(header(scope, b"host"))
        query = dict(query_params(scope))
        entry = token_read(query.get("token", ""))
        if preview_id is None or entry is None or entry.admission.preview_id != preview_id:
            expired = _(
                "This preview link has expired or is not for this preview. Open the "
                "preview again from its project page."
            )
            await page(send, 403, expired)
            return
        admission = entry.admission
        route = await self._route(preview_id)
        if route is None or route.owner_id != admission.user_id:
            await page(send, 404, status_text(404))
            return
        headers = [(b"location", b"/"), (b"cache-control", b"no-store")]
        if await token_spend(entry):
            headers.append((b"set-cookie", cookie_header(admission).encode()))
        elif admission_of(header(scope, b"cookie"), preview_id) != admission:
            # Spent, and this visitor did not spend it (they would hold its cookie).
            used = _(
                "This preview link has already been used. Open the preview again from "
                "its project page."
            )
            await page(send, 403, used)
            return
        await send({"type": "http.response.start", "status": 302, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    # -- behind the front (nginx) -----------------------------------------------------------

    async def _front(self, scope: dict, send: Any, asked: str) -> None:
        if asked == "admit":
            await self._front_admit(scope, send)
            return
        status = asked.removeprefix("page").strip()
        if status == "502":  # nginx found no socket there, or the app refused it
            status = "502" if await self._socket_of(scope) else "410"
        await front_page(send, int(status) if status.isdigit() else 403)

    async def _front_admit(self, scope: dict, send: Any) -> None:
        """nginx's question: 200 with the link to the app's socket and the cookies the app
        may see, else 403 saying which page to show. Same rules as forwarding here."""
        route, status, _message = await self._admit(scope)
        if route is not None and header(scope, b"x-samokoder-upgrade") and _foreign(scope):
            route, status = None, 403  # another site's page using the visitor's cookie
        link = await self._socket_of(scope, route) if route is not None else None
        if route is not None and link is None:
            route, status = None, 410  # its socket went with it: it stopped a moment ago
        if route is None or link is None:
            headers = [(b"x-samokoder-status", str(status).encode())]
            await send({"type": "http.response.start", "status": 403, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        await self._touch(route)
        headers = [(b"x-samokoder-socket", link.encode()),
                   (b"x-samokoder-cookie", app_cookies(scope).encode("latin-1"))]  # fmt: skip
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def _socket_of(self, scope: dict, route: Route | None = None) -> str | None:
        """The link nginx reaches the host's preview through, if it runs and its socket is
        there; a link of one that does not is taken away."""
        if route is None:
            preview_id = preview_id_of(header(scope, b"host"))
            route = await self._route(preview_id) if preview_id is not None else None
        if route is None:
            return None
        links = self._links()
        if route.status != Preview.Status.RUNNING:
            socket_unlink(links, route.preview_id)
            return None
        return socket_link(links, route.project_id, route.preview_id)

    def _links(self) -> Path:
        if self.links is None:
            self.links = Path(self.front_dir or settings.SAMOKODER_PREVIEW_FRONT_DIR) / "links"
            self.links.mkdir(parents=True, exist_ok=True)
        return self.links

    # -- WebSocket -------------------------------------------------------------------------

    async def _websocket(self, scope: dict, receive: Any, send: Any) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        route, status, _message = await self._admit(scope)
        if route is not None and _foreign(scope):
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
                socket, upstream_url(scope, "ws"), subprotocols=protocols,
                additional_headers=forwarded_headers(scope, websocket=True),
                open_timeout=10, max_size=settings.SAMOKODER_PREVIEW_BODY_BYTES,
            )  # fmt: skip
        except (OSError, InvalidHandshake, InvalidStatus, TimeoutError):
            await send({"type": "websocket.close", "code": 1011})
            return
        await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})
        async with upstream:
            await relay(upstream, receive, send, lambda: self._touch(route))

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


def _foreign(scope: dict) -> bool:
    """Whether the request comes from another site's page (its Origin is not this host)."""
    origin = header(scope, b"origin")
    return bool(origin) and urlsplit(origin).netloc != header(scope, b"host")


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


application = PreviewGateway()
