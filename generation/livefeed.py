"""A project's live messages, from the worker to every socket watching it, via Redis pub/sub.

The worker PUBLISHes each message once, as JSON, on the project's Redis channel. Each web
process (each event loop, in fact) holds one Redis subscription for all its sockets: the
channels of the projects it has sockets for. A message is decoded once and, for the
frame the sockets send, encoded once; then every socket of that project in this process
gets the same text.

Why not Channels' groups: they queue, decode and re-encode every message once per socket
and the default layer adds Redis round trips per member; at 200 sockets that was the
latency (bench/websocket.py: p99 0.9 s paced at 4 steps/s with either Redis layer on a
loaded machine, against 17 ms for raw Redis pub/sub to 200 subscribers).

Delivery stays best effort: the PipelineEvent log is the truth, and a socket that sees a
gap in a run's sequence numbers replays the log (generation/consumers.py).
"""

import asyncio
import json
import logging
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from redis import asyncio as aioredis

logger = logging.getLogger(__name__)

CHANNEL_PREFIX = "samokoder:live:project:"
SUBSCRIBE_TIMEOUT = 5.0  # seconds; a socket then opens without live messages until a gap


def project_channel(project_id: uuid.UUID | str) -> str:
    return f"{CHANNEL_PREFIX}{project_id}"


def encode(message: dict) -> bytes:
    """The published form of a message: compact JSON."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class LiveMessage:
    """One published message as every socket of this process sees it.

    ``kind`` is the socket frame's type, named from the published ``type`` as Channels
    names handlers: ``pipeline.events`` -> ``events``, ``preview.status`` ->
    ``preview_status``. ``body`` is the published message, ``frame`` the socket frame
    as text.
    """

    kind: str
    body: dict[str, Any]
    frame: str

    @classmethod
    def decode(cls, data: bytes | str) -> "LiveMessage":
        body = json.loads(data)
        kind = str(body.get("type", "")).removeprefix("pipeline.").replace(".", "_")
        frame = {key: value for key, value in body.items() if key != "type"}
        text = json.dumps({"type": kind, **frame}, separators=(",", ":"), ensure_ascii=False)
        return cls(kind=kind, body=body, frame=text)


Listener = Callable[[LiveMessage], None]


class ProjectFeed:
    """One event loop's subscription: Redis channel -> the listeners of its sockets.

    Listeners are called in the reader task, in publish order, and must not block (a
    socket's listener queues the message for that socket's own task).
    """

    def __init__(self) -> None:
        self.redis = aioredis.Redis.from_url(settings.REDIS_URL)
        self.pubsub = self.redis.pubsub()
        self.listeners: dict[str, set[Listener]] = {}
        # Per channel, done once Redis confirmed the subscription.
        self.subscribed: dict[str, asyncio.Future[None]] = {}
        self.lock = asyncio.Lock()
        self.reader: asyncio.Task[None] | None = None

    async def join(self, project_id: uuid.UUID | str, listener: Listener) -> None:
        """Start calling ``listener`` with the project's messages; returns once Redis has
        confirmed the subscription, so anything published after that arrives."""
        channel = project_channel(project_id)
        async with self.lock:
            self.listeners.setdefault(channel, set()).add(listener)
            confirmed = self.subscribed.get(channel)
            if confirmed is None:
                confirmed = self.subscribed[channel] = asyncio.get_running_loop().create_future()
                await self.pubsub.subscribe(channel)
                if self.reader is None or self.reader.done():
                    self.reader = asyncio.create_task(self._read(), name="live feed")
        try:
            await asyncio.wait_for(asyncio.shield(confirmed), SUBSCRIBE_TIMEOUT)
        except TimeoutError:
            logger.warning("no confirmation of the subscription to %s", channel)

    async def leave(self, project_id: uuid.UUID | str, listener: Listener) -> None:
        channel = project_channel(project_id)
        async with self.lock:
            listeners = self.listeners.get(channel)
            if listeners is None or listener not in listeners:
                return
            listeners.discard(listener)
            if not listeners:
                del self.listeners[channel]
                self.subscribed.pop(channel, None)
                await self.pubsub.unsubscribe(channel)

    async def _read(self) -> None:
        while True:
            try:
                message = await self.pubsub.get_message(timeout=None)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis went away: redis-py reconnects and resubscribes
                logger.warning("live feed: reading from Redis failed", exc_info=True)
                await asyncio.sleep(0.5)
                continue
            if message is not None:
                self._dispatch(message)

    def _dispatch(self, message: dict) -> None:
        channel = message["channel"]
        channel = channel.decode() if isinstance(channel, bytes) else channel
        if message["type"] == "subscribe":
            confirmed = self.subscribed.get(channel)
            if confirmed is not None and not confirmed.done():
                confirmed.set_result(None)
            return
        listeners = self.listeners.get(channel)
        if message["type"] != "message" or not listeners:
            return
        try:
            live = LiveMessage.decode(message["data"])
        except ValueError:
            logger.warning("live feed: a message on %s is not JSON", channel)
            return
        for listener in list(listeners):
            listener(live)


_feeds: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ProjectFeed]" = (
    weakref.WeakKeyDictionary()
)


def project_feed() -> ProjectFeed:
    """This event loop's feed (a Redis connection belongs to the loop that opened it)."""
    loop = asyncio.get_running_loop()
    feed = _feeds.get(loop)
    if feed is None:
        feed = _feeds[loop] = ProjectFeed()
    return feed
