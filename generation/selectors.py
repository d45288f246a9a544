"""Reads of the Code Generation context; every one is scoped to its user (invariant 5)."""

import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.db.models import Max, Q, QuerySet
from django.http import Http404

from accounts.models import User
from execution.selectors import command_logged_since
from files.selectors import state_get
from generation.models import GenerationRun, PipelineEvent
from generation.publish import UnfinishedOutput, outputs_unfinished_read
from generation.schemas import PipelineState
from projects.models import Branch, Project


def run_get(*, user: User, run_id: uuid.UUID | str) -> GenerationRun:
    """The user's run, or 404 (also for another user's run: its existence is not told).

    ``get``, not ``first``: ordering by the model's ``-created_at`` was a quarter of the
    query's Python time, on every run-status request (bench/api_load.py, 2026-11-30)."""
    try:
        return GenerationRun.objects.select_related("branch").get(pk=run_id, user=user)
    except GenerationRun.DoesNotExist as exc:
        raise Http404 from exc


def run_list(*, project: Project) -> QuerySet[GenerationRun]:
    return project.runs.select_related("branch").order_by("-created_at")


def run_active(*, project: Project) -> GenerationRun | None:
    return project.runs.filter(status__in=GenerationRun.ACTIVE).first()


def runs_ahead(*, run: GenerationRun) -> int:
    """The user's runs that hold a slot or wait for one before ``run``: running ones, and
    queued ones created earlier (their line is first come, first served)."""
    earlier = Q(status=GenerationRun.Status.QUEUED, created_at__lt=run.created_at)
    theirs = GenerationRun.objects.filter(user_id=run.user_id).exclude(pk=run.pk)
    return theirs.filter(Q(status=GenerationRun.Status.RUNNING) | earlier).count()


def run_queue_position(*, run: GenerationRun) -> int | None:
    """How many of the user's runs must end before this queued one can start (1: the next
    to end frees its slot); None when it is not waiting for a slot of its user."""
    if run.status != GenerationRun.Status.QUEUED:
        return None
    position = runs_ahead(run=run) - settings.SAMOKODER_RUNS_PER_USER + 1
    return position if position > 0 else None


def run_claims(*, run: GenerationRun, last: int = 2) -> list[PipelineEvent]:
    """The run's latest claims by a worker (GenerationStarted or -Resumed), newest first."""
    claims = run.events.filter(name__in=("GenerationStarted", "GenerationResumed"))
    return list(claims.order_by("-seq")[:last])


def run_crash_resumes(*, run: GenerationRun) -> int:
    """How often the run was resumed after its worker died since its last committed step."""
    steps = run.events.filter(name="GenerationStepCompleted")
    since = steps.aggregate(seq=Max("seq"))["seq"] or 0
    resumed = run.events.filter(seq__gt=since, name="GenerationResumed", payload__after="crash")
    return resumed.count()


def run_events(
    *, run: GenerationRun, after: int = 0, limit: int | None = 500
) -> list[PipelineEvent]:
    """The run's events with a sequence number above ``after``, in order (all of them
    when ``limit`` is None)."""
    rows = run.events.filter(seq__gt=after).order_by("seq")
    return list(rows if limit is None else rows[:limit])


def pipeline_state(branch: Branch) -> PipelineState:
    """The typed pipeline state of the branch's latest step."""
    return PipelineState.model_validate(state_get(branch=branch).data)


def run_history(*, project: Project) -> list[GenerationRun]:
    """Every run of the project, oldest first: the conversation reads them in order."""
    return list(project.runs.select_related("branch").order_by("created_at"))


def run_events_shown(*, run_ids: list[uuid.UUID], quiet: set[str]) -> list[PipelineEvent]:
    """The events of these runs, in run and sequence order. ``quiet`` events are kept only
    when they say which agent finished a step (GenerationStepCompleted)."""
    shown = quiet - {"GenerationStepCompleted"}
    return list(
        PipelineEvent.objects.filter(run_id__in=run_ids)
        .exclude(name__in=shown)
        .order_by("run_id", "seq")
    )


def run_cancel_asked(*, run_id: uuid.UUID, lease: uuid.UUID) -> bool | None:
    """Whether a stop was asked for the run; None when ``lease`` no longer holds it."""
    return (
        GenerationRun.objects.filter(pk=run_id, lease=lease)
        .values_list("cancel_requested", flat=True)
        .first()
    )


def outputs_running(*, run: GenerationRun) -> list[UnfinishedOutput]:
    """The output so far of ``run``'s commands that have not ended, oldest first (for a
    page loaded while one runs). One whose ExecutionLog is in but whose relay has not yet
    closed is left out, so a page loaded in between shows it once."""
    if run.status != GenerationRun.Status.RUNNING:
        return []
    return [output for output in outputs_unfinished_read(run_id=run.pk)
            if not output_ended(run=run, output=output)]  # fmt: skip


def output_ended(*, run: GenerationRun, output: UnfinishedOutput) -> bool:
    """Whether the command of ``output`` has an ExecutionLog of ``run`` since it began."""
    started = datetime.fromtimestamp(output.started, tz=UTC)
    return command_logged_since(run_id=run.pk, command=output.command, since=started)
