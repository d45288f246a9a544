"""Preview tasks, sent by name (preview.services): one runs a preview for its whole life
on the preview queue's worker; the hourly one sweeps previews whose worker died."""

from typing import Any

from celery import shared_task
from celery.signals import worker_shutting_down

from preview.services import previews_cleanup
from preview.supervisor import SHUTDOWN, preview_supervise


# Not acks_late: a preview whose worker died is not started again behind its owner's
# back; the sweep marks it stopped and the page offers Start.
@shared_task(name="preview.run", acks_late=False)
def preview_run(preview_id: str) -> None:
    preview_supervise(preview_id)


@shared_task(name="preview.cleanup")
def preview_cleanup() -> int:
    return previews_cleanup()


@worker_shutting_down.connect
def _previews_end(**_kwargs: Any) -> None:
    SHUTDOWN.set()
