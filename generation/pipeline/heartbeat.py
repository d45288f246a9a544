"""The worker's heartbeat for the run it drives, in a thread beside the step at work."""

import logging
import threading
import uuid

from django.conf import settings
from django.db import close_old_connections, connection

from generation.services.lease import run_heartbeat

logger = logging.getLogger(__name__)


class Heartbeat(threading.Thread):
    """Beats for the run while a step works; sets ``cancel`` when a stop was asked (which
    also kills a running sandbox command) or the run was taken over."""

    def __init__(self, run_id: uuid.UUID, lease: uuid.UUID, cancel: threading.Event) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{run_id}")
        self.run_id, self.lease, self.cancel = run_id, lease, cancel
        self.stopped = threading.Event()

    MISSES_ALLOWED = 3  # beats in a row that may fail (a database restart) before stopping

    def run(self) -> None:
        misses = 0
        try:
            while not self.stopped.wait(settings.SAMOKODER_RUN_HEARTBEAT_SECONDS):
                try:
                    beat = run_heartbeat(run_id=self.run_id, lease=self.lease)
                    misses = 0
                except Exception:
                    misses += 1
                    logger.warning("heartbeat of run %s failed (%d in a row)", self.run_id,
                                   misses, exc_info=True)  # fmt: skip
                    close_old_connections()
                    # Without beats another worker would take the run: stop this one first.
                    beat = None if misses >= self.MISSES_ALLOWED else False
                if beat is not False:
                    self.cancel.set()
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=10)
