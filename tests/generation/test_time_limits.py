"""Celery's time limits on a run's task: the run is failed with a readable reason when the
soft limit fires, and when the hard limit killed the pool child it is not resumed forever."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone, translation

from generation import reasons
from generation.models import GenerationRun
from generation.pipeline.runner import run_drive
from generation.services import run_start
from generation.services.lease import run_claim
from generation.tasks import resume_stale_runs_task
from tests.generation.scenario import event_names, project_for, run_start_api, wait_for
from tests.live import QUEUE, Worker

pytestmark = pytest.mark.django_db(transaction=True)

SLOW_SPEC = {"version": 1, "responses": [
    {"agent": "SpecWriter", "text": "{}", "fault": {"delay": 30}, "repeat": True}]}  # fmt: skip


def test_the_soft_time_limit_fails_the_run_with_its_reason(
    user, worker_env, sandbox_ready, pipeline_settings, replay
):
    replay.load_dict(SLOW_SPEC)
    project = project_for(user)
    pool = Worker(_limits(pipeline_settings, worker_env, soft=2, hard=20)).start()
    try:
        run_id = run_start_api(user, project)
        started = time.monotonic()
        run = wait_for(run_id, "failed", "completed", "cancelled", worker=pool, timeout=25)
    finally:
        pool.stop()

    assert run.status == "failed" and run.reason_code == reasons.TIME_LIMIT, run.reason
    assert time.monotonic() - started < 15  # the soft limit, not the 30 s answer
    with translation.override("en"):
        assert "time limit of 1 minutes" in run.reason
    assert event_names(run)[-1] == "GenerationFailed"
    assert "Soft time limit" in pool.log()


def test_a_run_killed_by_the_hard_time_limit_is_failed_not_resumed_forever(
    user, worker_env, sandbox_ready, pipeline_settings, replay
):
    replay.load_dict(SLOW_SPEC)
    project = project_for(user)
    # No soft limit here: as if the run could not be stopped in time.
    pool = Worker(_limits(pipeline_settings, worker_env, soft=0, hard=3)).start()
    try:
        run_id = run_start_api(user, project)
        deadline = time.monotonic() + 40
        while (run := GenerationRun.objects.get(pk=run_id)).status != "failed":
            assert time.monotonic() < deadline, f"{run.status}\n{pool.log()[-3000:]}"
            if _stale(run):  # as the beat task would, through the broker
                resume_stale_runs_task.apply_async(queue=QUEUE)
            time.sleep(0.5)
    finally:
        pool.stop()

    assert "Hard time limit" in pool.log()
    assert run.reason_code == reasons.TIME_LIMIT, run.reason
    assert event_names(run)[-1] == "GenerationFailed"
    assert len(replay.requests) <= 1  # the slow step was not asked again


def _limits(settings, worker_env: dict[str, str], *, soft: float, hard: float) -> dict:
    """The same limits here (the message carries them) and in the worker (its claims)."""
    settings.SAMOKODER_RUN_SOFT_TIME_LIMIT, settings.SAMOKODER_RUN_HARD_TIME_LIMIT = soft, hard
    limits = {
        "SAMOKODER_RUN_SOFT_TIME_LIMIT": str(soft),
        "SAMOKODER_RUN_HARD_TIME_LIMIT": str(hard),
    }
    return dict(worker_env, **limits)


def _stale(run: GenerationRun) -> bool:
    from generation.services.lease import runs_stale

    return run.status == "running" and any(r.pk == run.pk for r in runs_stale())


def test_a_run_whose_worker_keeps_dying_on_one_step_is_given_up(user, pipeline_settings):
    pipeline_settings.SAMOKODER_RUN_MAX_RESUMES = 2
    project = project_for(user)
    run_start(project=project, user=user, provider="openai")
    assert run_claim(project_id=str(project.pk), user_id=user.pk) is not None
    for _crash in range(2):  # the worker dies; the sweep hands the run on, it resumes
        _worker_dies(project)
        claim = run_claim(project_id=str(project.pk), user_id=user.pk)
        assert claim is not None and claim.run.status == "running" and claim.after_crash
    _worker_dies(project)

    run_drive(project_id=str(project.pk), user_id=user.pk)  # the third resume

    run = GenerationRun.objects.get(project=project)
    assert run.status == "failed" and run.reason_code == reasons.RESUMES
    assert run.reason_params == {"count": 3}
    assert "3" in run.reason
    names = event_names(run)
    assert names.count("GenerationResumed") == 3 and names[-1] == "GenerationFailed"


def _worker_dies(project) -> None:
    """The run's worker stopped beating long ago (killed outright, its machine gone)."""
    gone = timezone.now() - timedelta(hours=1)
    GenerationRun.objects.filter(project=project).update(heartbeat_at=gone, worker="gone:1")
