from celery import shared_task

from files.services import contents_prune


@shared_task(name="files.prune_contents")
def prune_contents_task() -> int:
    """Hourly (beat): file contents a deleted project alone used are removed."""
    return contents_prune()
