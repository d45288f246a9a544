import uuid

from execution.models import ExecutionLog


def commands_of_runs(*, run_ids: list[uuid.UUID]) -> list[ExecutionLog]:
    """Every sandbox command these runs ran, oldest first, with its whole output."""
    return list(ExecutionLog.objects.filter(run_id__in=run_ids).order_by("created_at"))
