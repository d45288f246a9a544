from preview.models import Preview
from projects.models import Project


def preview_latest(*, project: Project) -> Preview | None:
    """The project's running preview, else the last one it had (to say how it ended)."""
    previews = Preview.objects.filter(project=project).select_related("branch", "state")
    return previews.filter(status__in=Preview.ACTIVE).first() or previews.first()
