"""A loopback HTTP server that answers the official LLM SDKs from a replay transcript.

Tests and offline runs point `openai.AsyncOpenAI`, `anthropic.AsyncAnthropic` and
`groq.AsyncGroq` at it with `base_url`; the SDKs then run unpatched, streaming and error
handling included. Routes:

- `POST /v1/chat/completions` (OpenAI and OpenAI-compatible clients),
- `POST /openai/v1/chat/completions` (the Groq SDK's path; provider "groq"),
- `POST /v1/messages` (Anthropic),
- `POST /_replay/transcript`, `GET /_replay/requests`, `GET /_replay/remaining` (control,
  answered to loopback peers only).

Every request is recorded in memory, API key included, so keep the server on loopback:
`ReplayServer` refuses any other address unless `allow_remote=True`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web

from llm.replay import anthropic_wire, openai_wire
from llm.replay.transcript import (
    Entry,
    Fault,
    Provider,
    ReplayQueue,
    Reply,
    StreamPlan,
    Transcript,
)

logger = logging.getLogger(__name__)

AGENT_HEADER = "X-Samokoder-Agent"
EXHAUSTED = "replay transcript exhausted"
DEFAULT_RETRY_AFTER = 1.0


class Wire(Protocol):
    """What `openai_wire.OpenAIWire`, `GroqWire` and `anthropic_wire.AnthropicWire` provide."""

    provider: Provider
    malformed_body: bytes  # 200 answers that are not JSON, for the `malformed` fault
    malformed_stream: bytes

    def prompt_chars(self, body: dict[str, Any]) -> int: ...
    def completion(self, reply: Reply, body: dict[str, Any]) -> dict[str, Any]: ...
    def stream_plan(self, reply: Reply, body: dict[str, Any]) -> StreamPlan: ...
    def error_body(self, status: int, message: str) -> dict[str, Any]: ...
    def rate_limit_headers(self, retry_after: float) -> dict[str, str]: ...


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ReplayApp:
    """The aiohttp side: routes, the entry queue and the log of received requests."""

    def __init__(self, transcript: Transcript | None = None) -> None:
        self.queue = ReplayQueue(transcript)
        self._requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def load(self, transcript: Transcript) -> None:
        with self._lock:
            self.queue.replace(transcript)
            self._requests.clear()

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(record) for record in self._requests]

    def build(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        openai, groq = openai_wire.OpenAIWire(), openai_wire.GroqWire()
        app.router.add_post("/v1/chat/completions", self._route(openai))
        app.router.add_post("/openai/v1/chat/completions", self._route(groq))
        app.router.add_post("/v1/messages", self._route(anthropic_wire.AnthropicWire()))
        app.router.add_post("/_replay/transcript", self._control_load)
        app.router.add_get("/_replay/requests", self._control_requests)
        app.router.add_get("/_replay/remaining", self._control_remaining)
        return app

    def _route(self, wire: Wire) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._answer(request, wire)

        return handle

    async def _answer(self, request: web.Request, wire: Wire) -> web.StreamResponse:
        body = await _read_json(request)
        agent = request.headers.get(AGENT_HEADER)
        self._record(request, body, agent, wire.provider)
        if body is None:
            return _error(wire, 400, "replay server: request body is not a JSON object")
        text = json.dumps(body, ensure_ascii=False)
        key = _api_key(request)
        entry = self.queue.take(agent=agent, provider=wire.provider, body=text, key=key)
        if entry is None:
            message = f"{EXHAUSTED}: no entry left for agent={agent!r} provider={wire.provider!r}"
            logger.error("%s (%s %s)", message, request.method, request.path)
            # A test bug, not an outage: tell the SDK not to retry it with backoff.
            return _error(wire, 500, message, {"x-should-retry": "false"})
        return await _reply(request, wire, entry, body)

    def _record(self, request: web.Request, body: Any, agent: str | None, provider: str) -> None:
        record = {
            "method": request.method,
            "path": request.path,
            "headers": {name.lower(): value for name, value in request.headers.items()},
            "api_key": _api_key(request),
            "body": body,
            "agent": agent,
            "provider": provider,
            "received_at": time.time(),
            # Which connection carried it: the client's port tells kept connections apart.
            "client_port": _client_port(request),
        }
        with self._lock:
            self._requests.append(record)

    async def _control_load(self, request: web.Request) -> web.Response:
        _require_loopback(request)
        try:
            transcript = Transcript.model_validate_json(await request.read())
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        self.load(transcript)
        return web.json_response({"remaining": self.queue.remaining()})

    async def _control_requests(self, request: web.Request) -> web.Response:
        _require_loopback(request)
        return web.json_response(self.requests())

    async def _control_remaining(self, request: web.Request) -> web.Response:
        _require_loopback(request)
        return web.json_response({"remaining": self.queue.remaining()})


async def _read_json(request: web.Request) -> dict[str, Any] | None:
    try:
        body = json.loads(await request.read())
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _api_key(request: web.Request) -> str | None:
    """The key as sent: `x-api-key`, else a Bearer token (what anthropic 2.14 sends too)."""
    if key := request.headers.get("x-api-key"):
        return key
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" and token else None


def _client_port(request: web.Request) -> int | None:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return peer[1] if peer else None


def _require_loopback(request: web.Request) -> None:
    if not is_loopback(request.remote or ""):
        raise web.HTTPForbidden(text="replay control endpoints answer loopback peers only")


def _error(
    wire: Wire, status: int, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(wire.error_body(status, message), status=status, headers=headers)


def _fault_error(wire: Wire, fault: Fault) -> web.Response:
    status = fault.status or 500
    retry_after = fault.retry_after
    if retry_after is None and status == 429:
        retry_after = DEFAULT_RETRY_AFTER
    headers: dict[str, str] = {}
    if retry_after is not None:
        # Both SDK families read retry-after-ms before retry-after; it keeps fractions exact.
        headers["retry-after"] = f"{retry_after:g}"
        headers["retry-after-ms"] = str(round(retry_after * 1000))
        if status == 429:
            headers |= wire.rate_limit_headers(retry_after)
    message = fault.message or f"replay fault: HTTP {status}"
    return _error(wire, status, message, headers)


async def _reply(
    request: web.Request, wire: Wire, entry: Entry, body: dict[str, Any]
) -> web.StreamResponse:
    """Answer with `entry`, its fault applied: delay first, then status, malformed or cut."""
    fault = entry.fault or Fault()
    if fault.delay:
        await asyncio.sleep(fault.delay)
    if fault.status is not None:
        return _fault_error(wire, fault)
    streaming = body.get("stream") is True
    if fault.malformed:
        return _malformed(wire, streaming)
    model = str(body.get("model") or "replay-model")
    reply = Reply.build(entry, model=model, prompt_chars=wire.prompt_chars(body))
    if streaming:
        return await _stream(request, wire.stream_plan(reply, body), fault.cut_stream_after)
    payload = json.dumps(wire.completion(reply, body)).encode()
    if fault.cut_stream_after is None:
        return web.Response(body=payload, content_type="application/json")
    return await _cut_body(request, payload)


def _malformed(wire: Wire, streaming: bool) -> web.Response:
    if streaming:
        return web.Response(body=wire.malformed_stream, content_type="text/event-stream")
    return web.Response(body=wire.malformed_body, content_type="application/json")


async def _stream(
    request: web.Request, plan: StreamPlan, cut_after: int | None
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Cache-Control": "no-cache"})
    response.content_type = "text/event-stream"
    await response.prepare(request)
    try:
        for frame in plan.frames(cut_after):
            await response.write(frame)
        if cut_after is not None:
            _drop_connection(request)
            return response
        await response.write_eof()
    except ConnectionError:
        logger.info("replay client went away mid-stream (%s)", request.path)
    return response


async def _cut_body(request: web.Request, payload: bytes) -> web.StreamResponse:
    """Promise the whole body, send half of it, then drop the connection."""
    response = web.StreamResponse()
    response.content_type = "application/json"
    response.content_length = len(payload)
    await response.prepare(request)
    with contextlib.suppress(ConnectionError):
        await response.write(payload[: len(payload) // 2])
    _drop_connection(request)
    return response


def _drop_connection(request: web.Request) -> None:
    # abort() rather than close(): no terminating chunk, as when a proxy or the provider dies.
    if request.transport is not None:
        request.transport.abort()


class ReplayServer:
    """The replay app served from a background thread with its own event loop.

    `port=0` picks a free port; `url` is known once `start()` returns. `load()`, `requests`
    and `remaining()` may be called from any thread while it runs.
    """

    def __init__(
        self,
        transcript: Transcript | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        allow_remote: bool = False,
    ) -> None:
        if not allow_remote and not is_loopback(host):
            raise ValueError(f"replay server binds loopback only, not {host!r}")
        self.host, self.port = host, port
        self.app = ReplayApp(transcript)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._startup_error: BaseException | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.app.requests()

    def load(self, transcript: Transcript) -> None:
        """Replace the queue with `transcript` and forget the recorded requests."""
        self.app.load(transcript)

    def load_dict(self, data: dict[str, Any]) -> None:
        self.load(Transcript.model_validate(data))

    def remaining(self) -> int:
        return self.app.queue.remaining()

    def start(self) -> ReplayServer:
        """Serve in a daemon thread; returns once the socket listens (raises if it cannot)."""
        if self._thread is not None:
            raise RuntimeError("replay server already started")
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._serve, args=(ready,), name="llm-replay-server", daemon=True
        )
        self._thread.start()
        ready.wait()
        if self._startup_error is not None:
            self._thread.join()
            self._thread = None
            raise self._startup_error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
        self._loop = self._thread = None

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _serve(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        # A handler whose client hung up (say, timed out during a `delay`) is cancelled, as
        # on a real server; at stop, in-flight ones get a second to finish.
        runner = web.AppRunner(
            self.app.build(), shutdown_timeout=1.0, handler_cancellation=True, access_log=None
        )
        try:
            loop.run_until_complete(self._listen(runner))
        except BaseException as exc:  # handed to start()'s caller
            self._startup_error = exc
            loop.close()
            ready.set()
            return
        self._loop = loop
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            _cancel_leftover_tasks(loop)
            loop.close()

    async def _listen(self, runner: web.AppRunner) -> None:
        await runner.setup()
        await web.TCPSite(runner, self.host, self.port).start()
        self.port = runner.addresses[0][1]


def _cancel_leftover_tasks(loop: asyncio.AbstractEventLoop) -> None:
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
