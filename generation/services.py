"""Writes of the Code Generation context: runs, their steps and their event log.

``step_commit`` is UpdateProjectState: a step's files, pipeline data, events and the
run's progress land in one transaction, guarded by the run's lease so that a worker
that lost the run (another one resumed it) can never commit a step twice. Events are
published to the project's channel group only after that transaction commits.
"""

import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import User
from files.selectors import state_get
from files.services import files_commit
from generation import events
from generation.models import GenerationRun, PipelineEvent
from generation.publish import publish_after_commit
from generation.schemas import Iteration, PipelineState
from llm.models import LLMRequest
from projects.models import Branch, Project, ProjectState
from samokoder_site.errors import Conflict
from samokoder_site.events import DomainEvent

logger = logging.getLogger(__name__)


class LeaseLost(Exception):
    """Another worker drives this run now; this one must stop without writing."""


class RunConflict(Conflict):
    """The request does not fit the run's status (a second run, an answer nobody asked for…)."""


@dataclass
class StepChange:
    """What one completed step changes: files, pipeline state, events and run fields."""

    data: PipelineState
    files: dict[str, str | None] = field(default_factory=dict)
    events: list[DomainEvent] = field(default_factory=list)
    stage: str = ""
    agent: str = ""
    status: str | None = None  # a new run status, e.g. awaiting_input
    question: str | None = None


def pipeline_state(branch: Branch) -> PipelineState:
    """The typed pipeline state of the branch's latest step."""
    return PipelineState.model_validate(state_get(branch=branch).data)


def _data_commit(branch: Branch, data: PipelineState) -> ProjectState:
    """A step that changes only the pipeline state (no file)."""
    return files_commit(branch=branch, changes={}, data=data.model_dump(mode="json"))


# ---- starting, answering, stopping ---------------------------------------------------


def run_start(
    *,
    project: Project,
    user: User,
    provider: str,
    model: str = "",
    branch: Branch | None = None,
    change: str = "",
) -> GenerationRun:
    """StartGeneration: a queued run on ``branch`` (default main), enqueued on commit.

    The first run of a branch starts from the project's description; ``change`` starts a
    new iteration on top of the branch's current state (after an earlier run). Raises
    RunConflict when the project already has an active run (the database enforces it).
    """
    branch = branch or project.branches.get(name="main")
    model = model or user.default_models.get(provider, "")
    try:
        with transaction.atomic():
            run = GenerationRun.objects.create(
                project=project, branch=branch, user=user, provider=provider, model=model,
                **_budget(project, user),
            )  # fmt: skip
            # Read after the run row exists: a run finishing meanwhile has committed.
            data = pipeline_state(branch)
            run.iteration = _iteration_for(project, data, change)
            run.save(update_fields=["iteration"])
            if run.iteration >= len(data.iterations):
                _open_iteration(run, data, project.description if run.iteration == 0 else change)
            elif data.debugging is not None:
                _retry_debugging(run, data)
            transaction.on_commit(lambda: _enqueue(run))
    except IntegrityError as exc:
        raise RunConflict(_("This project already has a run in progress."), code="active") from exc
    return run


def _iteration_for(project: Project, data: PipelineState, change: str) -> int:
    change = change.strip()
    if not data.iterations:
        if not project.description.strip():
            raise RunConflict(_("Describe the application before starting."), code="no_description")
        return 0
    last = data.iterations[-1]
    if last.status != "completed":
        if change:
            message = _("The last change is not finished yet: resume it before asking for another.")
            raise RunConflict(message, code="unfinished")
        return len(data.iterations) - 1  # resume the unfinished iteration
    if not change:
        raise RunConflict(_("Describe the change you want."), code="no_change")
    return len(data.iterations)


def _open_iteration(run: GenerationRun, data: PipelineState, description: str) -> None:
    data = data.model_copy(deep=True)
    data.iterations.append(Iteration(description=description, status="in_progress"))
    data.tests_passed = False
    _data_commit(run.branch, data)


def _retry_debugging(run: GenerationRun, data: PipelineState) -> None:
    # A new run on a failed iteration gives the error a fresh set of fix attempts.
    data = data.model_copy(deep=True)
    data.debugging.attempts, data.debugging.tried = 0, []
    _data_commit(run.branch, data)


def _budget(project: Project, user: User) -> dict[str, Any]:
    """The project's budget, else the user's defaults, else the platform's."""
    cost = project.max_run_cost or user.run_max_cost or settings.SAMOKODER_RUN_MAX_COST
    calls = project.max_run_llm_calls or user.run_max_llm_calls
    return {"max_cost": cost, "max_llm_calls": calls or settings.SAMOKODER_RUN_MAX_LLM_CALLS}


def _enqueue(run: GenerationRun) -> None:
    from generation.tasks import run_generation_task  # tasks import services

    run_generation_task.apply_async(
        args=[str(run.project_id), run.user_id], queue=settings.SAMOKODER_QUEUE_GENERATION
    )


def run_answer(*, run: GenerationRun, answer: str) -> GenerationRun:
    """AnswerQuestion: record the answer as a step and queue the run again."""
    answer = answer.strip()
    if not answer:
        raise ValidationError({"answer": [_("Write an answer.")]}, code="required")
    with transaction.atomic():
        run = GenerationRun.objects.select_for_update().get(pk=run.pk)
        if run.status != GenerationRun.Status.AWAITING_INPUT:
            raise RunConflict(_("This run is not waiting for an answer."), code="not_waiting")
        data = pipeline_state(run.branch)
        _apply_answer(data, answer)
        state = _data_commit(run.branch, data)
        run.status, run.question = GenerationRun.Status.QUEUED, ""
        run.clock_started_at = None  # waiting for a person does not count against the clock
        run.heartbeat_at = timezone.now()  # queued again now, for the stale-run sweep
        run.save(update_fields=["status", "question", "clock_started_at", "heartbeat_at"])
        answered = events.QuestionAnswered(project_id=str(run.project_id), answer=answer)
        _append(run, [answered, _state_updated(run, state)])
        transaction.on_commit(lambda: _enqueue(run))
    return run


def _apply_answer(data: PipelineState, answer: str) -> None:
    data.answers.append(answer)
    data.asked.append("\n".join(data.questions))  # one round of questions, one answer
    data.questions = []
    pending = next((step for step in data.steps if not step.done), None)
    if pending is not None and pending.type == "human_intervention":
        pending.done = True
        _close_task_if_done(data)


def _close_task_if_done(data: PipelineState) -> None:
    if data.steps and all(step.done for step in data.steps):
        task = data.current_task()
        if task is not None:
            data.tasks[task].status = "done"
        data.steps = []


def run_cancel(*, run: GenerationRun) -> GenerationRun:
    """StopGeneration: a run nobody is driving stops now; a running one between steps,
    its sandbox command killed by the worker's heartbeat."""
    with transaction.atomic():
        run = GenerationRun.objects.select_for_update().get(pk=run.pk)
        if not run.is_active:
            raise RunConflict(_("This run has already finished."), code="finished")
        stale = timezone.now() - timedelta(seconds=settings.SAMOKODER_RUN_STALE_SECONDS)
        alive = run.heartbeat_at is not None and run.heartbeat_at > stale
        if run.status == GenerationRun.Status.RUNNING and alive:
            run.cancel_requested = True
            run.save(update_fields=["cancel_requested"])
        else:  # nobody drives it (queued, waiting for an answer, or its worker died)
            run_finish(run=run, status=GenerationRun.Status.CANCELLED, code="cancelled")
    return run


def run_finish(
    *, run: GenerationRun, status: str, code: str = "", params: dict | None = None
) -> None:
    """Close the run (completed, failed or cancelled) with its event, in one transaction.

    Call with the run row locked or owned (lease). The iteration is marked as well, so a
    completed one can be followed by a change request.
    """
    with transaction.atomic():
        run.finish(status, code=code, params=params)
        _refresh_usage(run)
        run.save()
        _mark_iteration(run, status)
        # The event's sentence is for the run's owner, whoever's request stopped it.
        with translation.override(run.user.language or settings.LANGUAGE_CODE):
            _append(run, [_finish_event(run)])


def _finish_event(run: GenerationRun) -> DomainEvent:
    project_id = str(run.project_id)
    if run.status == GenerationRun.Status.COMPLETED:
        step = state_get(branch=run.branch).step_index
        return events.GenerationCompleted(project_id=project_id, step_index=step)
    if run.status == GenerationRun.Status.CANCELLED:
        return events.GenerationCancelled(project_id=project_id)
    return events.GenerationFailed(project_id=project_id, error=run.reason_code, reason=run.reason)


def _mark_iteration(run: GenerationRun, status: str) -> None:
    if status != GenerationRun.Status.COMPLETED:
        return
    data = pipeline_state(run.branch)
    if data.iterations:
        data.iterations[-1].status = "completed"
        _data_commit(run.branch, data)


# ---- the worker's side ---------------------------------------------------------------


def run_claim(*, project_id: str, user_id: int) -> tuple[GenerationRun, uuid.UUID] | None:
    """Take the project's active run for this worker: a queued one, or a running one whose
    heartbeat is stale (its worker died). Returns the run and this worker's lease."""
    stale = timezone.now() - timedelta(seconds=settings.SAMOKODER_RUN_STALE_SECONDS)
    with transaction.atomic():
        run = (
            GenerationRun.objects.select_for_update()
            .filter(project_id=project_id, user_id=user_id, status__in=GenerationRun.ACTIVE)
            .first()
        )
        if run is None or run.status == GenerationRun.Status.AWAITING_INPUT:
            return None
        resumed = run.status == GenerationRun.Status.RUNNING
        fresh = run.heartbeat_at is not None and run.heartbeat_at > stale
        if resumed and fresh and not _gone_from_here(run.worker):
            return None  # alive elsewhere
        lease = uuid.uuid4()
        now = timezone.now()
        run.status, run.lease, run.heartbeat_at = GenerationRun.Status.RUNNING, lease, now
        run.worker = worker_id()
        _refresh_usage(run)
        run.cancel_requested = False
        run.started_at = run.started_at or now
        run.clock_started_at = run.clock_started_at or now
        run.save()
        project = str(run.project_id)
        started = events.GenerationStarted(project_id=project, iteration=run.iteration)
        after = "crash" if resumed else "answer"
        first = run.last_seq == 0
        _append(
            run, [started if first else events.GenerationResumed(project_id=project, after=after)]
        )
    return run, lease


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _gone_from_here(worker: str) -> bool:
    """Whether the run's worker was a process on this machine that no longer exists.

    A pool child killed mid-run has its message redelivered at once (acks late); its
    heartbeat still looks fresh, but its process is gone: take the run over now rather
    than after the stale-heartbeat sweep.
    """
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdecimal():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def runs_stale() -> list[GenerationRun]:
    """Runs nobody drives: running ones whose worker stopped beating (killed, or the
    machine went away), and queued ones whose message never reached a worker."""
    stale = timezone.now() - timedelta(seconds=settings.SAMOKODER_RUN_STALE_SECONDS)
    running = Q(status=GenerationRun.Status.RUNNING, heartbeat_at__lt=stale)
    queued = Q(status=GenerationRun.Status.QUEUED, created_at__lt=stale) & (
        Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=stale)
    )
    return list(GenerationRun.objects.filter(running | queued))


def run_requeue(*, run: GenerationRun) -> None:
    """Hand a stale run to whichever worker takes the task (``run_claim`` re-checks)."""
    _enqueue(run)


def step_commit(*, run: GenerationRun, lease: uuid.UUID, change: StepChange) -> ProjectState:
    """UpdateProjectState: one completed step, atomically, or LeaseLost and nothing."""
    with transaction.atomic():
        locked = _locked(run, lease)
        data = change.data.model_dump(mode="json")
        state = files_commit(branch=run.branch, changes=change.files, data=data)
        locked.stage = change.stage or locked.stage
        locked.progress = progress_of(change.data)
        locked.heartbeat_at = timezone.now()
        # Stop pressed while a step that parks the run (a question) was running: the step
        # is kept, and the run stops instead of waiting for an answer nobody will give.
        parks_cancelled = bool(change.status) and locked.cancel_requested
        if change.status and not parks_cancelled:
            locked.status, locked.lease = change.status, None
        if change.question is not None and not parks_cancelled:
            locked.question = change.question
        _refresh_usage(locked)
        locked.save()
        project = str(run.project_id)
        completed = events.GenerationStepCompleted(
            project_id=project, step_index=state.step_index, stage=locked.stage, agent=change.agent
        )
        _append(locked, [*change.events, completed, _state_updated(locked, state)])
        if parks_cancelled:
            run_finish(run=locked, status=GenerationRun.Status.CANCELLED, code="cancelled")
    return state


def run_fail(
    *, run: GenerationRun, lease: uuid.UUID, code: str, params: dict | None = None, error: str = ""
) -> None:
    """Stop the run with a readable reason (GenerationFailed), if this worker still owns it."""
    with transaction.atomic():
        locked = _locked(run, lease)
        locked.error = error[:10_000]
        run_finish(run=locked, status=GenerationRun.Status.FAILED, code=code, params=params)


def run_stop(*, run: GenerationRun, lease: uuid.UUID, status: str, code: str = "") -> None:
    with transaction.atomic():
        run_finish(run=_locked(run, lease), status=status, code=code)


def run_heartbeat(*, run_id: uuid.UUID, lease: uuid.UUID) -> bool | None:
    """Beat for the run; True when a cancel was asked, None when the lease is lost."""
    runs = GenerationRun.objects.filter(pk=run_id, lease=lease)
    if not runs.update(heartbeat_at=timezone.now()):
        return None
    return runs.values_list("cancel_requested", flat=True).first()


def _locked(run: GenerationRun, lease: uuid.UUID) -> GenerationRun:
    locked = GenerationRun.objects.select_for_update().get(pk=run.pk)
    if locked.lease != lease:
        raise LeaseLost(str(run.pk))
    return locked


def _refresh_usage(run: GenerationRun) -> None:
    totals = LLMRequest.objects.filter(run_id=run.pk).aggregate(
        prompt=Sum("prompt_tokens"), completion=Sum("completion_tokens"),
        cost=Sum("cost"), calls=Count("id"),
    )  # fmt: skip
    run.add_usage(
        prompt=totals["prompt"] or 0, completion=totals["completion"] or 0,
        cost=totals["cost"] or 0, calls=totals["calls"],
    )  # fmt: skip


def _state_updated(run: GenerationRun, state: ProjectState) -> DomainEvent:
    return events.ProjectStateUpdated(
        project_id=str(run.project_id), step_index=state.step_index, progress=run.progress
    )


def _append(run: GenerationRun, new: list[DomainEvent]) -> list[PipelineEvent]:
    """Append to the run's log with the next sequence numbers (the run row is locked or
    owned), and publish them once the transaction commits."""
    locked = GenerationRun.objects.select_for_update().filter(pk=run.pk)
    first = locked.values_list("last_seq", flat=True).get() + 1
    rows = [
        PipelineEvent(run=run, project_id=run.project_id, seq=first + i,
                      name=event.name, payload=event.payload())
        for i, event in enumerate(new)
    ]  # fmt: skip
    PipelineEvent.objects.bulk_create(rows)
    run.last_seq = first + len(rows) - 1
    GenerationRun.objects.filter(pk=run.pk).update(last_seq=run.last_seq)
    publish_after_commit(run.project_id, rows)
    return rows


def progress_of(data: PipelineState) -> int:
    """A percentage from the committed state: stages first, then tasks done."""
    if data.specification is None:
        return 0
    if data.architecture is None:
        return 10
    tasks = data.iteration_tasks()
    if not tasks:
        return 20
    done = sum(task.status == "done" for task in tasks)
    if done < len(tasks):
        return 25 + round(60 * done / len(tasks))
    return 100 if data.tests_passed else 90
