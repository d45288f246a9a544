"""A run's lifecycle as its user sees it: start, answer, stop, and how it finishes.

``run_start`` checks that a key exists (never decrypting it) and queues the run once its
transaction commits; the worker task is sent by name, so this module never imports the
task (which imports the pipeline, which imports these services).
"""

from typing import Any

from celery import current_app as app
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from core.errors import Conflict
from core.events import DomainEvent
from core.providers import PROVIDERS, provider_label
from core.rows import row_save
from files.selectors import state_get
from files.services import state_data_commit
from generation import events
from generation.models import GenerationRun
from generation.schemas import PipelineState
from generation.selectors import pipeline_state
from generation.services.eventlog import events_append, state_updated
from generation.services.lease import heartbeat_fresh
from generation.services.outputs import outputs_interrupted_keep
from llm.keys import key_source
from llm.selectors import model_priced, run_usage
from projects import labels
from projects.labels import StepLabel
from projects.models import Branch, Project, ProjectState

RUN_TASK = "generation.run_generation"
ONE_ACTIVE_RUN = "generation_one_active_run_per_project"


class RunConflict(Conflict):
    """The request does not fit the run's status (a second run, an answer nobody asked for…)."""


def pipeline_commit(
    branch: Branch, data: PipelineState, label: StepLabel, follows: ProjectState | None = None
) -> ProjectState:
    """A step that changes only the pipeline state (no file); ``follows``: the state
    expected to be the branch's latest (files_commit)."""
    return state_data_commit(
        branch=branch, data=data.model_dump(mode="json"), label=label, follows=follows
    )


def run_start(
    *,
    project: Project,
    user: User,
    provider: str | None,
    model: str = "",
    branch: Branch | None = None,
    change: str = "",
) -> GenerationRun:
    """StartGeneration: a queued run on ``branch`` (default main), enqueued on commit.

    The first run of a branch starts from the project's description; ``change`` starts a
    new iteration on top of the branch's current state (after an earlier run). Raises
    ValidationError when no key (the user's or the system's) exists for ``provider``, and
    RunConflict when the project already has an active run (the database enforces it).
    """
    source = _require_key(user, provider)
    assert provider is not None  # _require_key refuses a run with no provider
    branch = branch or project.branches.get(name="main")
    model = model or user.default_models.get(provider, "")
    on_platform = source == "system"
    if on_platform:
        _require_price(provider, model or settings.LLM_DEFAULT_MODELS[provider])
    try:
        with transaction.atomic():
            run = GenerationRun.objects.create(
                project=project, branch=branch, user=user, provider=provider, model=model,
                **_budget(project, user, on_platform=on_platform),
            )  # fmt: skip
            # Read after the run row exists: a run finishing meanwhile has committed.
            _iteration_prepare(run, pipeline_state(branch), change)
            transaction.on_commit(lambda: _enqueue(run))
    except IntegrityError as exc:
        if not _is_violation_of(exc, ONE_ACTIVE_RUN):
            raise
        raise RunConflict(_("This project already has a run in progress."), code="active") from exc
    return run


def _require_key(user: User, provider: str | None) -> str:
    """Refuse a run that could not make a single LLM call, before it is queued; which key
    it would use ("user" or "system") otherwise."""
    source = key_source(user_id=user.pk, provider=provider) if provider else None
    if source is not None:
        return source
    message = _("Store an API key for %(provider)s under Settings → API keys first.")
    named = provider or PROVIDERS[0].label  # no key at all: the table's first is suggested
    detail = {"provider": [message % {"provider": named}]}
    raise ValidationError(detail, code="key_missing")


def _require_price(provider: str, model: str) -> None:
    """On the platform's keys only a model with a price may run: its cost is then known,
    so the platform's cap per run can hold."""
    if model_priced(provider=provider, model=model):
        return
    message = _(
        "%(model)s has no price, so it cannot run on the platform's key. Choose a model "
        "with a price, or store your own %(provider)s key under Settings → API keys."
    )
    detail = {"model": [message % {"model": model, "provider": provider_label(provider)}]}
    raise ValidationError(detail, code="model_unpriced")


def _is_violation_of(exc: IntegrityError, constraint: str) -> bool:
    """Whether ``exc`` is the violation of the named unique constraint."""
    diag = getattr(exc.__cause__, "diag", None)  # PostgreSQL names the constraint
    if diag is not None:
        return bool(diag.constraint_name == constraint)
    # SQLite names the columns of the partial unique index instead.
    return str(exc) == "UNIQUE constraint failed: generation_generationrun.project_id"


def _iteration_prepare(run: GenerationRun, data: PipelineState, change: str) -> None:
    """Which iteration the run works on; a new one is opened, a failed one retried."""
    run.iteration = _iteration_for(run.project, data, change)
    run.save(update_fields=["iteration"])
    description = run.project.description if run.iteration == 0 else change
    if run.iteration >= len(data.iterations):
        data = data.model_copy(deep=True)
        data.iteration_open(description)
        opened = StepLabel(labels.CHANGE, {"text": change[:80]}) if run.iteration else None
        pipeline_commit(run.branch, data, opened or StepLabel(labels.STARTED))
    elif data.debugging is not None:
        data = data.model_copy(deep=True)
        data.debugging_retry()
        pipeline_commit(run.branch, data, StepLabel(labels.FIXES_RESET))


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


def _budget(project: Project, user: User, *, on_platform: bool) -> dict[str, Any]:
    """The project's budget, else the user's defaults, else the platform's; on the
    platform's keys never above SAMOKODER_PLATFORM_MAX_RUN_COST."""
    cost = project.max_run_cost or user.run_max_cost or settings.SAMOKODER_RUN_MAX_COST
    if on_platform:
        cost = min(cost, settings.SAMOKODER_PLATFORM_MAX_RUN_COST)
    calls = project.max_run_llm_calls or user.run_max_llm_calls
    return {"max_cost": cost, "max_llm_calls": calls or settings.SAMOKODER_RUN_MAX_LLM_CALLS}


def _enqueue(run: GenerationRun) -> None:
    # The limits travel with the message: a sender that has the task registered would
    # otherwise put its own defaults there anyway. 0 (None to Celery) is no limit.
    app.send_task(
        RUN_TASK,
        args=[str(run.project_id), run.user_id],
        queue=settings.SAMOKODER_QUEUE_GENERATION,
        soft_time_limit=settings.SAMOKODER_RUN_SOFT_TIME_LIMIT or None,  # type: ignore[arg-type]
        time_limit=settings.SAMOKODER_RUN_HARD_TIME_LIMIT or None,  # type: ignore[arg-type]
    )  # fmt: skip  (seconds as floats: Celery takes them; celery-types says int)


def run_requeue(*, run: GenerationRun) -> None:
    """Hand a stale run to whichever worker takes the task (``run_claim`` re-checks)."""
    _enqueue(run)


def runs_waiting_wake(*, user_id: int) -> None:
    """Once the current transaction commits, send the user's oldest queued runs again: one
    of their runs ended or now waits for an answer, so a slot may be free.

    A waiting run holds no worker and no timer: this hand-off is what starts it, and the
    stale-run sweep sends it again should this message be lost. ``run_claim`` decides.
    """

    def wake() -> None:
        waiting = GenerationRun.objects.filter(user_id=user_id, status=GenerationRun.Status.QUEUED)
        for run in waiting.order_by("created_at")[: settings.SAMOKODER_RUNS_PER_USER]:
            _enqueue(run)

    transaction.on_commit(wake)


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
        data.answer_record(answer)
        state = pipeline_commit(run.branch, data, StepLabel(labels.ANSWER))
        run.status, run.question = GenerationRun.Status.QUEUED, ""
        run.clock_started_at = None  # waiting for a person does not count against the clock
        run.heartbeat_at = timezone.now()  # queued again now, for the stale-run sweep
        run.save(update_fields=["status", "question", "clock_started_at", "heartbeat_at"])
        answered = events.QuestionAnswered(project_id=str(run.project_id), answer=answer)
        events_append(run, [answered, state_updated(run, state)])
        transaction.on_commit(lambda: _enqueue(run))
    return run


def run_cancel(*, run: GenerationRun) -> GenerationRun:
    """StopGeneration: a run nobody is driving stops now; a running one between steps,
    its sandbox command killed by the worker's heartbeat."""
    with transaction.atomic():
        run = GenerationRun.objects.select_for_update().get(pk=run.pk)
        if not run.is_active:
            raise RunConflict(_("This run has already finished."), code="finished")
        if run.status == GenerationRun.Status.RUNNING and heartbeat_fresh(run):
            run.cancel_requested = True
            run.save(update_fields=["cancel_requested"])
        else:  # nobody drives it (queued, waiting for an answer, or its worker died)
            if run.status == GenerationRun.Status.RUNNING:
                outputs_interrupted_keep(run=run)
            run_finish(run=run, status=GenerationRun.Status.CANCELLED, code="cancelled")
    return run


def run_finish(
    *, run: GenerationRun, status: str, code: str = "", params: dict[str, Any] | None = None,
    latest: ProjectState | None = None,
) -> None:  # fmt: skip
    """Close the run (completed, failed or cancelled) with its event, in one transaction.

    Call with the run row read locked in the caller's transaction (its ``last_seq`` is
    saved with the rest). The iteration is marked as well, so a completed one can be
    followed by a change request. ``latest``: the branch's latest state as the caller
    knows it (the worker's last commit): marking the iteration then reads no state.
    """
    # In the caller's transaction (it holds the run's lock): no savepoint of its own.
    with transaction.atomic(savepoint=False):
        run.finish(status, code=code, params=params)
        run.add_usage(**run_usage(run_id=run.pk))
        last = _mark_iteration(run, status, latest)
        runs_waiting_wake(user_id=run.user_id)
        events_append(run, [_finish_event(run, last)], saved_by_caller=True)
        row_save(run)


def _finish_event(run: GenerationRun, last: ProjectState | None) -> DomainEvent:
    """``last``: the state that marked the iteration complete, if one did."""
    project_id = str(run.project_id)
    if run.status == GenerationRun.Status.COMPLETED:
        step = (last or state_get(branch=run.branch)).step_index
        return events.GenerationCompleted(project_id=project_id, step_index=step)
    if run.status == GenerationRun.Status.CANCELLED:
        return events.GenerationCancelled(project_id=project_id)
    return events.GenerationFailed(
        project_id=project_id, error=run.reason_code, params=run.reason_params
    )


def _mark_iteration(
    run: GenerationRun, status: str, latest: ProjectState | None
) -> ProjectState | None:
    """The state that marks the run's iteration complete, if it completed one. A file
    saved after ``latest`` keeps its data (a save changes files only), and the commit
    lands after it (files_commit's ``follows``)."""
    if status != GenerationRun.Status.COMPLETED:
        return None
    if latest is None:
        data = pipeline_state(run.branch)
    else:
        data = PipelineState.model_validate(latest.data)
    if not data.iterations:
        return None
    data.iteration_complete()
    return pipeline_commit(run.branch, data, StepLabel(labels.COMPLETED), follows=latest)
