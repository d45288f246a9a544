"""The project socket: authenticate, check ownership, replay, then relay in order.

Besides logged events, live-only kinds are relayed: ``output`` (a running command's
output, batched), ``stream`` (an agent's answer as it is written, batched), ``activity``
(which agent works), ``preview_output`` (the preview app's output, batched) and
``preview_status`` (the preview started, became ready or ended). They come from the
process's one Redis subscription (generation.livefeed), already encoded as the frame.

``/ws/projects/<id>/?run=<run id>&after=<seq>`` replays that run's events after ``seq``
(default: the project's latest run, from the start), then relays live events of every
run of the project. Frames are ``{"type": "events", "events": [...]}``, each event a
PipelineEvent's ``message()`` (a step's events share one frame); a client that
reconnects with the last ``seq`` it saw misses nothing and sees nothing twice.
"""

import asyncio
import contextlib
import uuid
from typing import Any, TypeGuard
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.http import Http404

from accounts.ws import SignInWatchMixin
from core.params import ascii_int
from generation.livefeed import LiveMessage, project_feed
from generation.models import GenerationRun
from generation.selectors import run_events
from projects.selectors import project_get

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
REPLAY_FRAME = 200  # events per frame when replaying the log
LIVE_ONLY = frozenset({"output", "stream", "activity", "preview_output", "preview_status"})


class ProjectConsumer(SignInWatchMixin, AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        project_id = str(self.scope["url_route"]["kwargs"]["project_id"])
        refusal = None
        if user is None or not user.is_authenticated:
            refusal = CLOSE_UNAUTHENTICATED
        elif not await _owns(user, project_id):
            refusal = CLOSE_FORBIDDEN
        if refusal:
            # Accept, then close: a browser only sees a close code after the handshake
            # (a refused handshake reads as 1006). Nothing is sent in between.
            await self.accept()
            await self.close(code=refusal)
            return
        self.project_id, self.sent = project_id, {}
        # Live messages wait here until the replay is sent; then one task relays them,
        # taking turns with a client's resume (self.order) so frames never interleave.
        self.live: asyncio.Queue[LiveMessage] = asyncio.Queue()
        self.order = asyncio.Lock()
        # Join before reading the log: an event committed meanwhile arrives live, and
        # the per-run sequence numbers drop whatever the replay already sent.
        await project_feed().join(project_id, self.live.put_nowait)
        await self.accept()
        await self.sign_in_watch()  # closes the socket when this sign-in ends
        run_id, after = _query(self.scope)
        if run_id is not None:
            # What the client already has: a later live event is then no gap to refill.
            self.sent[run_id] = after
        await self._replay(run_id, after)
        self.relay = asyncio.create_task(self._relay_live())

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "live"):
            await project_feed().leave(self.project_id, self.live.put_nowait)
        if hasattr(self, "relay"):
            self.relay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.relay

    async def receive_json(self, content, **kwargs) -> None:
        # {"type": "resume", "run": ..., "after": n}: the client lost what came after n
        # (or noticed a gap): send the log from there again.
        if isinstance(content, dict) and content.get("type") == "resume":
            after = content.get("after")
            after = after if isinstance(after, int) and after >= 0 else 0
            run = str(content.get("run") or "")
            async with self.order:
                if run in self.sent:
                    self.sent[run] = min(self.sent[run], after)
                await self._replay(run or None, after)

    async def _relay_live(self) -> None:
        while True:
            live = await self.live.get()
            async with self.order:
                await self._relay(live)

    async def _relay(self, live: LiveMessage) -> None:
        """Send what the client has not seen; the frame as published when that is all of it
        (the usual case: one encoding shared by every socket of the process)."""
        if live.kind in LIVE_ONLY:
            await self.send(text_data=live.frame)
        elif live.kind == "events" and self._all_next(live.body["events"]):
            for event in live.body["events"]:
                self.sent[event["run"]] = event["seq"]
            await self.send(text_data=live.frame)
        elif live.kind == "events":
            await self._some_events(live.body)

    def _all_next(self, events: list[dict]) -> bool:
        """Whether the events follow on from what was sent, each run's seq one by one."""
        last: dict[str, int] = {}
        for event in events:
            run = event["run"]
            if event["seq"] != last.get(run, self.sent.get(run, 0)) + 1:
                return False
            last[run] = event["seq"]
        return bool(events)

    async def _some_events(self, message: dict) -> None:
        """Events of which some were sent already or some are missing (refilled)."""
        fresh: list[dict[str, Any]] = []
        for event in message["events"]:
            run, seq = event["run"], event["seq"]
            last = self.sent.get(run, 0)
            if seq <= last:
                continue
            if seq > last + 1:  # committed before we joined, or a message was dropped
                await self._send(fresh)
                fresh = []
                await self._replay(run, last)
                if seq <= self.sent.get(run, 0):
                    continue
            fresh.append(event)
            self.sent[run] = seq
        await self._send(fresh)

    async def _replay(self, run_id: str | None, after: int) -> None:
        events = [
            event
            for event in await _events(self.project_id, run_id, after)
            if event["seq"] > self.sent.get(event["run"], 0)
        ]
        for start in range(0, len(events), REPLAY_FRAME):
            frame = events[start : start + REPLAY_FRAME]
            for event in frame:
                self.sent[event["run"]] = event["seq"]
            await self._send(frame)

    async def _send(self, events: list[dict]) -> None:
        # One frame per batch (a step's events arrive together): fan-out to many sockets
        # costs per frame, not per byte.
        if events:
            await self.send_json({"type": "events", "events": events})


def _query(scope) -> tuple[str | None, int]:
    """The run asked for (None when absent or not a run id) and the last seq seen."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    run = (query.get("run") or [None])[0]
    after = ascii_int((query.get("after") or ["0"])[0])
    run = str(uuid.UUID(run)) if _is_uuid(run) else None
    return run, after or 0


@database_sync_to_async
def _owns(user, project_id: str) -> bool:
    try:
        project_get(user=user, project_id=project_id)
    except Http404:
        return False
    return True


@database_sync_to_async
def _events(project_id: str, run_id: str | None, after: int) -> list[dict]:
    runs = GenerationRun.objects.filter(project_id=project_id)
    run = (
        runs.filter(pk=run_id).first() if _is_uuid(run_id) else runs.order_by("-created_at").first()
    )
    if run is None:
        return []
    return [row.message() for row in run_events(run=run, after=after, limit=None)]


def _is_uuid(value: str | None) -> TypeGuard[str]:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
