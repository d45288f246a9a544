"""Each command's cgroup made before the command asks for it and removed after it has
returned, on a thread of the worker's own (see ``CgroupKeeper``). No Django here either."""

import atexit
import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator

from execution.backends.base import Limits, SandboxError
from execution.backends.cgroups import REMOVE_PATIENCE, CgroupSupport, CommandCgroup

logger = logging.getLogger(__name__)

# A group made ahead is used within this many seconds or made anew: cgroups_sweep takes
# empty groups after an hour. At most READY_KINDS sets of limits have one ready.
READY_FOR, READY_KINDS = 600.0, 4


class CgroupKeeper:
    """Makes a command's group before the command asks for it and removes it after the
    command has returned, on a thread of its own, so neither is on the command's path:
    about 0.4 ms to make the three v1 groups and write their limits, and up to a few ms
    to remove them while the command's last processes exit. One group is kept ready per
    set of limits; a command that finds none (another took it) makes its own.

    A forked child starts with nothing ready (its parent's groups stay its parent's). At
    exit (``atexit``, and a Celery pool process's shutdown, which skips it) what is ready is
    removed; a worker killed outright leaves it to the hourly sweep."""

    def __init__(self) -> None:
        self._forget()

    def _forget(self) -> None:
        self._lock = threading.Lock()
        self._ready: dict[Limits, tuple[float, CommandCgroup]] = {}
        self._work: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def group(self, support: CgroupSupport, limits: Limits) -> Iterator[CommandCgroup]:
        """A group for one command with ``limits`` written, removed soon after it ends."""
        group = self._take(limits) or CommandCgroup(support, limits).make()
        self._later(lambda: self._make_ready(support, limits))
        try:
            yield group
        finally:
            self._later(group.remove)

    def settle(self, timeout: float = 10) -> bool:
        """Wait until everything asked of the keeper so far is done (tests, the bench, exit);
        False if that took longer than ``timeout`` seconds."""
        done = threading.Event()
        self._later(done.set)
        return done.wait(timeout)

    def ready(self) -> list[CommandCgroup]:
        with self._lock:
            return [group for _, group in self._ready.values()]

    def close(self) -> None:
        """Remove what is ready and what is waiting to be removed (at exit)."""
        if self._thread is None:  # never used here: nothing to wait for
            return
        self.settle(timeout=REMOVE_PATIENCE * 2)  # a group being made ahead is ready after
        with self._lock:
            ready, self._ready = self._ready, {}
        for _, group in ready.values():
            self._later(group.remove)
        self.settle(timeout=REMOVE_PATIENCE * 2)

    def _take(self, limits: Limits) -> CommandCgroup | None:
        with self._lock:
            made, group = self._ready.pop(limits, (0.0, None))
        if group is not None and time.time() - made > READY_FOR:  # the sweep's clock
            self._later(group.remove)
            return None
        return group

    def _make_ready(self, support: CgroupSupport, limits: Limits) -> None:
        with self._lock:
            if limits in self._ready:
                return
        try:
            group = CommandCgroup(support, limits).make()
        except SandboxError:  # the next command makes its own, and says why
            logger.warning("could not make a sandbox cgroup ahead", exc_info=True)
            return
        with self._lock:
            spare = [group] if limits in self._ready else []
            if not spare:
                if len(self._ready) >= READY_KINDS:
                    oldest = min(self._ready, key=lambda kind: self._ready[kind][0])
                    spare.append(self._ready.pop(oldest)[1])
                self._ready[limits] = (time.time(), group)
        for extra in spare:
            extra.remove()

    def _later(self, work: Callable[[], None]) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="sandbox-cgroups", daemon=True
                )
                self._thread.start()
        self._work.put(work)

    def _run(self) -> None:
        while True:
            work = self._work.get()
            try:
                work()
            except Exception:  # a removal or making that failed must not stop the next
                logger.exception("sandbox cgroup keeper")


GROUPS = CgroupKeeper()
os.register_at_fork(after_in_child=GROUPS._forget)
atexit.register(GROUPS.close)
