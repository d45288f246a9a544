"""Starting and stopping previews. The app itself runs in a task (preview.supervisor).

At most one preview per project (a new one replaces it) and SAMOKODER_PREVIEW_PER_USER
per user (the next is refused, naming the ones to stop). A preview ends when its owner
stops it, a newer one of its project starts, it sees no request for
SAMOKODER_PREVIEW_IDLE_SECONDS, its app exits, or the hourly cleanup finds its worker gone.
"""

import re
from datetime import timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from core.errors import Conflict, QuotaExceeded
from files.selectors import state_get
from generation.schemas import Architecture, PipelineState
from preview import reasons
from preview.models import Preview
from projects.models import Branch, Project, ProjectState

RUN_TASK = "preview.run"
# A supervisor beats every few seconds; one silent this long has lost its worker.
STALE_AFTER = timedelta(seconds=90)


def architecture_of(state: ProjectState) -> Architecture | None:
    return PipelineState.model_validate(state.data).architecture


def server_of(state: ProjectState) -> tuple[str, int] | None:
    """The run command and port the architecture of ``state`` names, or None."""
    architecture = architecture_of(state)
    if architecture is None or not architecture.run_command or architecture.port is None:
        return None
    return architecture.run_command, architecture.port


def preview_start(
    *, project: Project, user: User, branch: Branch, step: int | None = None
) -> Preview:
    """StartPreview of ``step`` of ``branch`` (its latest when None, then it follows the
    branch). Raises Conflict (no web app at that step), QuotaExceeded (the user's limit),
    ProjectState.DoesNotExist (no such step)."""
    state = state_get(branch=branch, step=step)
    server = server_of(state)
    if server is None:
        raise Conflict(reasons.reason_text(reasons.NO_SERVER, {}), code=reasons.NO_SERVER)
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()  # one start at a time
        others = list(
            Preview.objects.filter(owner=user, status__in=Preview.ACTIVE)
            .exclude(project=project)
            .select_related("project")
        )
        if len(others) >= settings.SAMOKODER_PREVIEW_PER_USER:
            names = ", ".join(f"“{p.project.name}”" for p in others)
            raise QuotaExceeded(
                _(
                    "You already have %(count)s previews running (%(names)s), the most "
                    "allowed. Stop one of them first."
                )
                % {"count": len(others), "names": names},
                code="preview_limit",
            )
        running = Preview.objects.filter(status__in=Preview.ACTIVE).exclude(project=project)
        if running.count() >= settings.SAMOKODER_PREVIEW_TOTAL:
            raise QuotaExceeded(
                _(
                    "The server is running as many previews as it can (%(count)s). Try "
                    "again in a few minutes: idle previews stop by themselves."
                )
                % {"count": settings.SAMOKODER_PREVIEW_TOTAL},
                code="preview_capacity",
            )
        for old in Preview.objects.select_for_update().filter(
            project=project, status__in=Preview.ACTIVE
        ):
            _end(old, status=Preview.Status.STOPPED, code=reasons.REPLACED, params={})
        preview = Preview.objects.create(
            project=project, owner=user, branch=branch, state=state,
            follows_branch=step is None, run_command=server[0], port=server[1],
        )  # fmt: skip
        transaction.on_commit(lambda: _enqueue(preview))
    return preview


def preview_restart(*, preview: Preview) -> Preview:
    """Start the same preview again: the same step, or the branch's latest if it follows."""
    step = None if preview.follows_branch else preview.state.step_index
    return preview_start(project=preview.project, user=preview.owner, branch=preview.branch,
                         step=step)  # fmt: skip


def preview_stop(*, preview: Preview) -> Preview:
    """StopPreview at the owner's request; its supervisor kills the app within a second."""
    with transaction.atomic():
        locked = Preview.objects.select_for_update().get(pk=preview.pk)
        if locked.active:
            _end(locked, status=Preview.Status.STOPPED, code=reasons.STOPPED, params={})
    preview.refresh_from_db()
    return preview


# Terminal control sequences (colours, cursor moves, titles): an app writes them for a
# terminal (werkzeug colours its banner), and a page shows them as "[31m" litter.
ANSI_SEQUENCE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


def printable(text: str) -> str:
    """``text`` without terminal control sequences, as the app's output is shown."""
    return ANSI_SEQUENCE.sub("", text)


def preview_end(
    *, preview_id: Any, status: str, code: str, params: dict[str, Any], exit_code: int | None,
    tail: str,
) -> bool:  # fmt: skip
    """Record how an app ended (the supervisor calls this). The first end wins: a preview
    already stopped (by its owner, a newer preview) keeps its reason, gains the output."""
    now, tail = timezone.now(), printable(tail)
    ended = Preview.objects.filter(pk=preview_id, status__in=Preview.ACTIVE).update(
        status=status, reason_code=code, reason_params=params, stopped_at=now,
        stop_requested=True, exit_code=exit_code, output_tail=tail,
    )  # fmt: skip
    if not ended:
        Preview.objects.filter(pk=preview_id).update(exit_code=exit_code, output_tail=tail)
    return bool(ended)


def previews_cleanup(*, now: Any = None) -> int:
    """The hourly sweep: previews whose supervisor stopped beating (a killed worker) are
    marked stopped. Returns how many."""
    now = now or timezone.now()
    stale = Preview.objects.filter(status__in=Preview.ACTIVE).filter(
        heartbeat_at__lt=now - STALE_AFTER
    ) | Preview.objects.filter(
        status=Preview.Status.STARTING, heartbeat_at__isnull=True,
        created_at__lt=now - STALE_AFTER,
    )  # fmt: skip
    count = 0
    for preview in stale:
        with transaction.atomic():
            _end(preview, status=Preview.Status.STOPPED, code=reasons.LOST, params={})
        count += 1
    return count


def _end(preview: Preview, *, status: str, code: str, params: dict[str, Any]) -> None:
    preview.status, preview.reason_code, preview.reason_params = status, code, params
    preview.stop_requested, preview.stopped_at = True, timezone.now()
    preview.save(
        update_fields=["status", "reason_code", "reason_params", "stop_requested", "stopped_at"]
    )


def _enqueue(preview: Preview) -> None:
    current_app.send_task(RUN_TASK, args=[str(preview.pk)], queue=settings.SAMOKODER_QUEUE_PREVIEW)
