"""SDK clients kept on the process's long-lived loop (core.loop) from one call to the next.

An SDK client costs about 3 ms to build, and its first request a new connection; a
worker's agent calls used to pay both every time. A client's connections belong to the
loop that opened them, so only calls on the process's loop share clients; a call on a
loop of its own (``async_to_sync``, async code) builds its own client and closes it.

A client is kept under everything that makes two differ: the adapter (the provider), the
API key, the base URL and the timeout. The key is part of what is looked up (its SHA-256:
the plain key stays inside the client), so a call is only ever handed a client that
sends the very key it resolved: never another user's. At most ``SIZE`` clients are kept;
one unused for ``IDLE_SECONDS``, or the least recently used past ``SIZE``, is closed on the
loop, once no call holds it.
"""

import asyncio
import hashlib
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from core.loop import on_process_loop

SIZE = 32  # distinct keys a worker process serves at once is one per run it drives
IDLE_SECONDS = 300.0


@dataclass
class _Entry:
    client: Any
    holders: int = 0
    used_at: float = 0.0


class ClientPool:
    """Clients by key, on one loop: ``acquire`` one for a call, ``release`` it after.

    Used from its loop's thread only, so it needs no lock.
    """

    def __init__(
        self, size: int = SIZE, idle_seconds: float = IDLE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.size, self.idle_seconds, self.clock = size, idle_seconds, clock
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._closing: set[asyncio.Task[None]] = set()
        self._timer: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def acquire(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """The client kept under ``key`` (``make()`` when there is none), held until
        ``release(key)``."""
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry(make())
        self._entries.move_to_end(key)
        entry.holders += 1
        entry.used_at = self.clock()
        self._trim()
        return entry.client

    def release(self, key: Hashable) -> None:
        entry = self._entries.get(key)
        if entry is not None:
            entry.holders -= 1
            entry.used_at = self.clock()
        self._trim()

    async def aclose(self) -> None:
        """Close every client no call holds (a test's or a benchmark's clean slate)."""
        for key, entry in list(self._entries.items()):
            if not entry.holders:
                del self._entries[key]
                await entry.client.close()

    def _trim(self) -> None:
        """Close idle clients and, past ``size``, the least recently used free ones."""
        now, excess = self.clock(), len(self._entries) - self.size
        for key, entry in list(self._entries.items()):  # least recently used first
            if entry.holders:
                continue
            if excess > 0 or now - entry.used_at >= self.idle_seconds:
                del self._entries[key]
                excess -= 1
                self._close(entry.client)
        self._wake_for_idle()

    def _close(self, client: Any) -> None:
        task = asyncio.get_running_loop().create_task(client.close())
        self._closing.add(task)  # the loop keeps only a weak reference to a task
        task.add_done_callback(self._closing.discard)

    def _wake_for_idle(self) -> None:
        """Trim again once the oldest free client has been idle long enough, so a key is
        not kept in memory for as long as the process lives."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        free = [entry.used_at for entry in self._entries.values() if not entry.holders]
        if free:
            delay = max(min(free) + self.idle_seconds - self.clock(), 0.0)
            self._timer = asyncio.get_running_loop().call_later(delay, self._trim)


_pools: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ClientPool]" = (
    weakref.WeakKeyDictionary()
)


def pool_here() -> ClientPool | None:
    """The pool of the running loop when it is the process's loop; None on any other."""
    if not on_process_loop():
        return None
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None:
        pool = _pools[loop] = ClientPool()
    return pool


def client_key(adapter: type, *, api_key: str, base_url: str | None, timeout: float) -> Hashable:
    """What tells two SDK clients apart; the key as its digest, not its text."""
    digest = hashlib.sha256(api_key.encode()).hexdigest()
    return (adapter.__module__, adapter.__qualname__, digest, base_url, timeout)
