from celery import shared_task

from execution.services import containers_cleanup


@shared_task(name="execution.cleanup_containers")
def cleanup_containers_task() -> int:
    """Hourly (beat): stop sandboxes older than 24 h (invariant 21)."""
    return containers_cleanup()
