"""Celery tasks of the generation context: thin, they take ids and call one service.

``services.runs`` sends ``run_generation`` by name (``RUN_TASK``) and never imports
this module, so tasks → pipeline → services is the only direction.
"""

from celery import shared_task
from django.conf import settings

from generation.pipeline.runner import run_drive
from generation.services.lease import runs_stale
from generation.services.runs import RUN_TASK, run_requeue


# Celery takes time limits in (float) seconds; celery-types annotates them as int.
@shared_task(  # type: ignore[call-overload]
    name=RUN_TASK, acks_late=True, reject_on_worker_lost=True,
    soft_time_limit=settings.SAMOKODER_RUN_SOFT_TIME_LIMIT or None,
    time_limit=settings.SAMOKODER_RUN_HARD_TIME_LIMIT or None,
)  # fmt: skip
def run_generation_task(project_id: str, user_id: int) -> None:
    """RunGeneration for the project's active run (domain: run_generation_task).

    Acks late and is rejected back to the queue when its worker dies, so a redelivered
    message resumes the run from its last committed step; ``run_claim`` makes a
    duplicate delivery a no-op while the run is alive elsewhere.

    Past the soft time limit the runner fails the run (``time_limit``); past the hard one
    the pool child is killed, and the next claim fails the run instead of resuming it.
    """
    run_drive(project_id=project_id, user_id=user_id)


@shared_task(name="generation.resume_stale_runs")
def resume_stale_runs_task() -> int:
    """Beat: re-enqueue runs whose heartbeat stopped (the worker was killed outright)."""
    stale = runs_stale()
    for run in stale:
        run_requeue(run=run)
    return len(stale)
