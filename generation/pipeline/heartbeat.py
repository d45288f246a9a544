"""The worker's heartbeat for the run it drives, in a thread beside the step at work."""

import logging
import threading
import time
import uuid

from django.conf import settings
from django.db import close_old_connections, connection

from generation.selectors import run_cancel_asked
from generation.services.lease import run_heartbeat

logger = logging.getLogger(__name__)

# How often the thread looks for a stop between beats: a stop must land within 2 s, while a
# beat (a write) every few seconds is enough to keep the lease. One indexed read by primary
# key per half second per running run.
CANCEL_POLL_SECONDS = 0.5


class Heartbeat(threading.Thread):
    """Beats for the run while a step works; sets ``cancel`` when a stop was asked (which
    interrupts the LLM call in flight and kills a running sandbox command) or the run was
    taken over."""

    def __init__(self, run_id: uuid.UUID, lease: uuid.UUID, cancel: threading.Event) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{run_id}")
        self.run_id, self.lease, self.cancel = run_id, lease, cancel
        self.stopped = threading.Event()

    MISSES_ALLOWED = 3  # beats in a row that may fail (a database restart) before stopping

    def run(self) -> None:
        misses, every = 0, settings.SAMOKODER_RUN_HEARTBEAT_SECONDS
        poll = min(CANCEL_POLL_SECONDS, every)
        allowed = self.MISSES_ALLOWED * max(round(every / poll), 1)  # polls in 3 beats
        next_beat = time.monotonic() + every
        try:
            while not self.stopped.wait(poll):
                beating = time.monotonic() >= next_beat
                try:
                    stop = self._look(beating)
                    misses = 0
                except Exception:
                    misses += 1
                    logger.warning("heartbeat of run %s failed (%d in a row)", self.run_id,
                                   misses, exc_info=True)  # fmt: skip
                    close_old_connections()
                    # Without beats another worker would take the run: stop this one first.
                    stop = None if misses >= allowed else False
                if beating:
                    next_beat = time.monotonic() + every
                if stop is not False:
                    self.cancel.set()
        finally:
            connection.close()

    def _look(self, beating: bool) -> bool | None:
        """True when a stop was asked, None when the lease is lost; beats when ``beating``."""
        if beating:
            return run_heartbeat(run_id=self.run_id, lease=self.lease)
        return run_cancel_asked(run_id=self.run_id, lease=self.lease)

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=10)
