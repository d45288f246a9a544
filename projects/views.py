"""Project pages: the dashboard, creating and deleting projects."""

from typing import cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.requests import AuthenticatedHttpRequest
from accounts.selectors import key_list
from core.forms import form_apply_errors
from core.ratelimit import rate_limit_quota_check, rate_limit_quota_use
from projects import selectors, services
from projects.forms import ProjectForm


def _dashboard(
    request: AuthenticatedHttpRequest, form: ProjectForm, status: int = 200
) -> HttpResponse:
    context = {
        "form": form,
        "projects": selectors.project_list(user=request.user),
        "keys": list(key_list(user=request.user)),
    }
    return render(request, "projects/dashboard.html", context, status=status)


def dashboard_view(request: HttpRequest) -> HttpResponse:
    """The site root: the dashboard when signed in, what Samokoder is when not."""
    if not request.user.is_authenticated:
        return render(request, "projects/landing.html")
    return _dashboard(cast(AuthenticatedHttpRequest, request), ProjectForm())


@login_required
@require_POST
def project_create_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    quota = {"group": "projects.create", "rate": settings.RATELIMIT_PROJECTS}
    rate_limit_quota_check(request, **quota)
    form = ProjectForm(request.POST)
    if form.is_valid():
        try:
            project = services.project_create(owner=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form_apply_errors(form, exc)
        else:
            rate_limit_quota_use(request, **quota)
            return redirect("files:project", project_id=project.pk)
    return _dashboard(request, form, status=400)


@login_required
def project_delete_view(request: AuthenticatedHttpRequest, project_id: str) -> HttpResponse:
    """GET asks for confirmation; POST deletes everything under the project."""
    project = selectors.project_get(user=request.user, project_id=project_id)
    if request.method != "POST":
        return render(request, "projects/delete.html", {"project": project})
    name = project.name
    services.project_delete(project=project)
    messages.success(request, _("Project “%(name)s” deleted.") % {"name": name})
    return redirect("projects:dashboard")
