"""UpdateProjectState: what a worker commits while it holds the run's lease.

A step's files, pipeline data, events and the run's progress land in one transaction,
guarded by the lease so that a worker that lost the run (another one resumed it) can
never commit a step twice. Events are published only after that transaction commits.
"""

import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.durability import commit_unflushed
from core.events import DomainEvent
from core.rows import row_save, rows_update
from files.services import files_commit
from generation import events
from generation.models import GenerationRun
from generation.schemas import PipelineState
from generation.services.eventlog import events_append, state_updated
from generation.services.lease import run_locked
from generation.services.runs import run_finish, runs_waiting_wake
from llm.accounting import Spent
from llm.selectors import RunUsage
from projects.labels import StepLabel
from projects.models import ProjectState

# The run's columns a step's commit changes (_advance, and the events' last_seq): the
# UPDATE names these rather than all of the run's. A step that parks the run also
# changes its status, lease and question (under the row's lock: _commit_locked).
HELD_FIELDS = ["stage", "progress", "heartbeat_at", "prompt_tokens", "completion_tokens",
               "cost", "llm_calls", "last_seq"]  # fmt: skip
STEP_FIELDS = [*HELD_FIELDS, "status", "lease", "question"]


class Cancelled(Exception):
    """A stop was asked; the run finishes as cancelled without committing the step."""


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
    label: StepLabel | None = None  # what the step did, for the step picker


def step_commit(
    *, run: GenerationRun, lease: uuid.UUID, change: StepChange, spent: Spent | None = None,
    follows: ProjectState | None = None,
) -> ProjectState:  # fmt: skip
    """One completed step, atomically, or LeaseLost and nothing; Cancelled and nothing
    when Stop was pressed while a step that does not park the run was at work.

    ``run`` ends as the row was saved (what a refresh would read, without the query);
    the step's new state is returned. ``spent``: the LLM requests recorded since the
    run's totals were last saved (by the claim, which reads them, or the previous
    commit), added to them. Only this run's worker records its requests, and it holds
    the lease checked here.
    ``follows``: the state the step started from, expected to be the branch's latest
    (files_commit then appends after it without reading the latest first).

    A step that does not park the run commits without locking the run's row first when
    the row is still as this worker last saved it (``_commit_as_held``); otherwise, and
    for a question, it commits under the row's lock, which finds out why.
    """
    if not change.status:
        state = _commit_as_held(run, lease, change, spent, follows)
        if state is not None:
            return state
    return _commit_locked(run, lease, change, spent, follows)


class _NotAsHeld(Exception):
    """The run's row changed since this worker saved it: the unlocked commit is undone."""


def _commit_as_held(
    run: GenerationRun, lease: uuid.UUID, change: StepChange, spent: Spent | None,
    follows: ProjectState | None,
) -> ProjectState | None:  # fmt: skip
    """The step committed with no lock taken before writing: its state and events go in,
    then one UPDATE of the run that holds only while the row has this worker's lease, no
    stop asked and no event appended by anyone else since this worker saved it (the
    columns a lock would have been taken to check). None, and nothing kept, when it
    does not hold. One query fewer than locking first, and no row lock held meanwhile:
    the state's insert yields to the branch's unique step index (files_commit), so a
    user's save, which locks the branch, cannot be overtaken either."""
    draft = _copy(run)
    _advance(draft, change, spent)
    try:
        with transaction.atomic():
            commit_unflushed()  # lost in a database crash, redone on resume (run_locked)
            state = files_commit(branch=run.branch, changes=change.files,
                                 data=change.data.model_dump(mode="json"), label=change.label,
                                 savepoint=False, follows=follows)  # fmt: skip
            events_append(draft, _step_events(change, draft, state), saved_by_caller=True)
            held = {"pk": run.pk, "lease": lease, "last_seq": run.last_seq,
                    "cancel_requested": False}  # fmt: skip
            advanced = {name: getattr(draft, name) for name in HELD_FIELDS}
            if not rows_update(GenerationRun, where=held, values=advanced):
                raise _NotAsHeld
    except _NotAsHeld:
        return None
    _adopt(run, draft)
    return state


def _commit_locked(
    run: GenerationRun, lease: uuid.UUID, change: StepChange, spent: Spent | None,
    follows: ProjectState | None,
) -> ProjectState:  # fmt: skip
    with transaction.atomic():
        locked = run_locked(run, lease, with_branch=True)
        if locked.cancel_requested and not change.status:
            raise Cancelled  # a step finished after Stop is not kept
        # Flushed: a question parks the run (or ends it, Stopped meanwhile), which a
        # crash must not undo after the user saw it.
        data = change.data.model_dump(mode="json")
        state = files_commit(branch=run.branch, changes=change.files, data=data,
                             label=change.label, savepoint=False, branch_locked=True,
                             follows=follows)  # fmt: skip
        _advance(locked, change, spent)
        # Stop pressed while a step that parks the run (a question) was running: the step
        # is kept, and the run stops instead of waiting for an answer nobody will give.
        parks_cancelled = bool(change.status) and locked.cancel_requested
        if change.status and not parks_cancelled:
            locked.status, locked.lease = change.status, None
            runs_waiting_wake(user_id=locked.user_id)  # a parked run holds no slot
        if change.question is not None and not parks_cancelled:
            locked.question = change.question
        # locked by run_locked above
        events_append(locked, _step_events(change, locked, state), saved_by_caller=True)
        row_save(locked, STEP_FIELDS)
        if parks_cancelled:
            run_finish(run=locked, status=GenerationRun.Status.CANCELLED, code="cancelled")
    _adopt(run, locked)
    return state


def _advance(run: GenerationRun, change: StepChange, spent: Spent | None) -> None:
    """The run's progress after the step: its stage, progress, a beat, what it spent."""
    run.stage = change.stage or run.stage
    run.progress = change.data.progress()
    run.heartbeat_at = timezone.now()
    if spent is not None:
        run.add_usage(**spent.onto(_usage_held(run)))


def _step_events(change: StepChange, run: GenerationRun, state: ProjectState) -> list[DomainEvent]:
    """The step's own events, then GenerationStepCompleted and ProjectStateUpdated."""
    completed = events.GenerationStepCompleted(
        project_id=str(run.project_id), step_index=state.step_index, stage=run.stage,
        agent=change.agent,
    )  # fmt: skip
    return [*change.events, completed, state_updated(run, state)]


def _copy(run: GenerationRun) -> GenerationRun:
    """A detached copy of the run's columns, to be changed and adopted only once saved."""
    columns = {f.attname: getattr(run, f.attname) for f in GenerationRun._meta.concrete_fields}
    copy = GenerationRun(**columns)
    copy._state.adding, copy._state.db = False, run._state.db
    return copy


def _usage_held(run: GenerationRun) -> RunUsage:
    return RunUsage(prompt=run.prompt_tokens, completion=run.completion_tokens,
                    cost=run.cost, calls=run.llm_calls)  # fmt: skip


def _adopt(run: GenerationRun, saved: GenerationRun) -> None:
    """Give ``run`` the values of ``saved`` (the same row); its related objects stay."""
    for column in GenerationRun._meta.concrete_fields:
        setattr(run, column.attname, getattr(saved, column.attname))


def run_fail(
    *,
    run: GenerationRun,
    lease: uuid.UUID,
    code: str,
    params: dict[str, Any] | None = None,
    error: str = "",
) -> None:
    """Stop the run with a readable reason (GenerationFailed), if this worker still owns it."""
    with transaction.atomic():
        locked = run_locked(run, lease)
        locked.error = error[:10_000]
        run_finish(run=locked, status=GenerationRun.Status.FAILED, code=code, params=params)


def run_stop(
    *, run: GenerationRun, lease: uuid.UUID, status: str, code: str = "",
    latest: ProjectState | None = None,
) -> None:  # fmt: skip
    """Finish the run as completed or cancelled, if this worker still owns it; ``latest``:
    the state the worker last committed or read (run_finish)."""
    with transaction.atomic():
        locked = run_locked(run, lease, with_branch=True)  # a completion commits a state
        run_finish(run=locked, status=status, code=code, latest=latest)
