import uuid
from datetime import datetime

from execution.models import ExecutionLog


def commands_of_runs(*, run_ids: list[uuid.UUID]) -> list[ExecutionLog]:
    """Every sandbox command these runs ran, oldest first, with its whole output."""
    return list(ExecutionLog.objects.filter(run_id__in=run_ids).order_by("created_at"))


def commands_ran_before(*, project_id: uuid.UUID, run_id: uuid.UUID) -> bool:
    """Whether a run of the project other than ``run_id`` ran a sandbox command (so an
    empty terminal for this run is not "no command ever ran")."""
    logs = ExecutionLog.objects.filter(project_id=project_id, run_id__isnull=False)
    return logs.exclude(run_id=run_id).exists()


def command_logged_since(*, run_id: uuid.UUID, command: str, since: datetime) -> bool:
    """Whether ``run_id`` has an ExecutionLog of ``command`` made at ``since`` or later."""
    logs = ExecutionLog.objects.filter(run_id=run_id, command=command, created_at__gte=since)
    return logs.exists()
