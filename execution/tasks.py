from celery import shared_task

from execution.services import containers_cleanup, project_sandbox_remove


@shared_task(name="execution.cleanup_containers")
def cleanup_containers_task() -> int:
    """Hourly (beat): stop sandboxes older than 24 h (invariant 21)."""
    return containers_cleanup()


@shared_task(name="execution.project_remove")
def project_remove_task(project_id: str) -> None:
    """After a project is deleted: its sandboxes, workspace and dependency folders go."""
    project_sandbox_remove(project_id=project_id)
