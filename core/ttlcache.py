"""A small per-process cache of rows that are read on every LLM call and rarely written.

The pipeline looks up the user's key, the model's structured-output mode and its price
for each request: three queries, against rows an admin or the user changes a few times a
year. Each lookup is kept here for ``ttl`` seconds, per process (a worker's threads share
it). A write in this process forgets the entry at once (``forget``); a write elsewhere (the
web process revoking a key, an admin editing a price) is seen once the entry expires.
Keys always name what makes a row private (the user's id for a key): nothing is shared
between tenants.
"""

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")
_ALL: list["TTLCache"] = []  # every cache, so tests can start each one empty


class TTLCache(Generic[Value]):
    """``get(key, load)``: the value ``load()`` gave within the last ``ttl`` seconds."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.clock = ttl, clock
        self._entries: dict[Hashable, tuple[float, Value]] = {}
        self._lock = threading.Lock()
        _ALL.append(self)

    def get(self, key: Hashable, load: Callable[[], Value]) -> Value:
        now = self.clock()
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            return entry[1]
        value = load()  # outside the lock: a query may take a while
        with self._lock:
            self._entries[key] = (now + self.ttl, value)
        return value

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def caches_clear() -> None:
    """Empty every cache of this process (tests: rows come and go with each test)."""
    for cache in _ALL:
        cache.clear()
