"""The run's event log: appended with per-run sequence numbers, published after commit."""

from core.events import DomainEvent
from core.rows import rows_insert
from generation import events
from generation.models import GenerationRun, PipelineEvent
from generation.publish import publish_after_commit
from projects.models import ProjectState


def events_append(
    run: GenerationRun, new: list[DomainEvent], *, saved_by_caller: bool = False
) -> list[PipelineEvent]:
    """Append to the run's log with the next sequence numbers (the run row is locked or
    owned), and publish them once the transaction commits.

    ``saved_by_caller``: ``run`` was read under its row lock in this transaction and the
    caller saves it after (``last_seq`` with the rest): two queries fewer a step.
    """
    if saved_by_caller:
        first = run.last_seq + 1
    else:
        locked = GenerationRun.objects.select_for_update().filter(pk=run.pk)
        first = locked.values_list("last_seq", flat=True).get() + 1
    rows = [
        PipelineEvent(run=run, project_id=run.project_id, seq=first + i,
                      name=event.name, payload=event.payload())
        for i, event in enumerate(new)
    ]  # fmt: skip
    rows_insert(rows)
    run.last_seq = first + len(rows) - 1
    if not saved_by_caller:
        GenerationRun.objects.filter(pk=run.pk).update(last_seq=run.last_seq)
    publish_after_commit(run.project_id, rows)
    return rows


def state_updated(run: GenerationRun, state: ProjectState) -> DomainEvent:
    """ProjectStateUpdated for the step ``state`` just committed, with the run's progress."""
    return events.ProjectStateUpdated(
        project_id=str(run.project_id), step_index=state.step_index, progress=run.progress
    )
