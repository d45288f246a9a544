from typing import Any

from celery import shared_task
from celery.signals import worker_process_shutdown

from execution.backends.cgroup_keeper import GROUPS
from execution.services import containers_cleanup, project_sandbox_remove


@shared_task(name="execution.cleanup_containers")
def cleanup_containers_task() -> int:
    """Hourly (beat): stop sandboxes older than 24 h (invariant 21)."""
    return containers_cleanup()


@shared_task(name="execution.project_remove")
def project_remove_task(project_id: str) -> None:
    """After a project is deleted: its sandboxes, workspace and dependency folders go."""
    project_sandbox_remove(project_id=project_id)


@worker_process_shutdown.connect
def _cgroups_made_ahead_removed(**_kwargs: Any) -> None:
    """A pool process ends with os._exit, which skips atexit: its groups made ahead go now."""
    GROUPS.close()
