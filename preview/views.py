"""The Preview tab of the project page: start, watch, restart and stop the app.

Each form works without JavaScript (POST, then back to the project page's Preview tab);
with htmx the panel swaps itself in place, and the page's socket script fetches it again
when the preview's status changes (its output is appended live).
"""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.requests import AuthenticatedHttpRequest
from core.params import ascii_int
from files.selectors import state_get
from preview import reasons, selectors, services
from preview.models import Preview
from preview.tokens import entry_url, preview_url
from projects.models import ProjectState
from projects.selectors import branch_get, project_get


def _scope(request: AuthenticatedHttpRequest, project_id):
    project = project_get(user=request.user, project_id=project_id)
    name = request.GET.get("branch") or request.POST.get("branch")
    return project, branch_get(project=project, name=name)


@login_required
def panel_view(request: AuthenticatedHttpRequest, project_id) -> HttpResponse:
    project, branch = _scope(request, project_id)
    return _panel(request, project, branch)


def _panel(request, project, branch, *, error: str = "", status: int = 200) -> HttpResponse:
    preview = selectors.preview_latest(project=project)
    latest = state_get(branch=branch)
    shown = _step(request, branch) if request.GET.get("step") else None
    running = preview if preview is not None and preview.status == Preview.Status.RUNNING else None
    context = {
        "project": project, "branch": branch, "preview": preview, "error": error,
        "server": services.server_of(latest), "latest": latest, "shown": shown,
        "reason": reasons.reason_text(preview.reason_code, preview.reason_params)
        if preview else "",
        "frame_url": entry_url(running.pk, request.user.pk) if running else "",
        "tab_url": entry_url(running.pk, request.user.pk) if running else "",
        "address": preview_url(preview.pk) if preview else "",
        "stale": running is not None and running.state_id != latest.pk
        and running.branch_id == branch.pk,
    }  # fmt: skip
    return render(request, "preview/_panel.html", context, status=status)


def _step(request, branch) -> ProjectState | None:
    step = ascii_int(request.GET.get("step") or request.POST.get("step") or "")
    if step is None:
        return None
    return branch.states.filter(step_index=step).first()


def _back(request, project, branch, error: str = "") -> HttpResponse:
    if request.headers.get("HX-Request"):
        return _panel(request, project, branch, error=error, status=200)
    if error:
        messages.error(request, error)
    url = reverse("files:project", args=[project.pk])
    return redirect(f"{url}?{urlencode({'branch': branch.name})}#tab-preview")


@login_required
@require_POST
def start_view(request: AuthenticatedHttpRequest, project_id) -> HttpResponse:
    project, branch = _scope(request, project_id)
    step = ascii_int(request.POST.get("step") or "")
    try:
        services.preview_start(project=project, user=request.user, branch=branch, step=step)
    except ValidationError as exc:
        return _back(request, project, branch, exc.messages[0])
    except ProjectState.DoesNotExist:
        return _back(request, project, branch, reasons.reason_text(reasons.NO_SERVER, {}))
    return _back(request, project, branch)


@login_required
@require_POST
def stop_view(request: AuthenticatedHttpRequest, project_id) -> HttpResponse:
    project, branch = _scope(request, project_id)
    preview = selectors.preview_latest(project=project)
    if preview is not None:
        services.preview_stop(preview=preview)
    return _back(request, project, branch)


@login_required
@require_POST
def restart_view(request: AuthenticatedHttpRequest, project_id) -> HttpResponse:
    project, branch = _scope(request, project_id)
    preview = selectors.preview_latest(project=project)
    if preview is None:
        return start_view(request, project_id)
    try:
        services.preview_restart(preview=preview)
    except ValidationError as exc:
        return _back(request, project, branch, exc.messages[0])
    return _back(request, project, branch)
