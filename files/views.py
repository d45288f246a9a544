"""Project and file pages: the tree at any step, a file with its history, diffs, edits."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from accounts.requests import AuthenticatedHttpRequest
from core.forms import form_apply_errors
from core.params import ascii_int
from files import selectors, services
from files.forms import BranchForkForm, FileEditForm, FileNewForm
from files.highlight import highlight_diff, highlight_file
from files.tree import path_tree
from projects.models import Branch, Project, ProjectState
from projects.selectors import branch_get, project_get, state_list


def _step(request: HttpRequest, name: str = "step") -> int | None:
    return ascii_int(request.GET.get(name))


def _scope(request: AuthenticatedHttpRequest, project_id) -> tuple[Project, Branch, ProjectState]:
    """The user's project, the chosen branch and step (default the latest), or 404."""
    project = project_get(user=request.user, project_id=project_id)
    branch = branch_get(project=project, name=request.GET.get("branch"))
    try:
        return project, branch, selectors.state_get(branch=branch, step=_step(request))
    except ProjectState.DoesNotExist as exc:
        raise Http404 from exc


def _file_url(project: Project, branch: Branch, path: str, **query) -> str:
    url = reverse("files:file", args=[project.pk, path])
    return f"{url}?{urlencode({'branch': branch.name, **query})}"


@login_required
def project_view(request: AuthenticatedHttpRequest, project_id) -> HttpResponse:
    project, branch, state = _scope(request, project_id)
    new_form = FileNewForm(request.POST or None)
    if request.method == "POST" and new_form.is_valid():
        data = new_form.cleaned_data
        try:
            services.file_save(branch=branch, path=data["path"], text=data["content"])
        except ValidationError as exc:
            form_apply_errors(new_form, exc)
        else:
            messages.success(request, _("%(path)s saved.") % {"path": data["path"]})
            return redirect(_file_url(project, branch, data["path"]))
    status = 400 if request.method == "POST" else 200
    return _project_page(request, project, branch, state, new_form=new_form, status=status)


def _project_page(
    request: HttpRequest, project: Project, branch: Branch, state: ProjectState, *,
    new_form: FileNewForm | None = None, fork_form: BranchForkForm | None = None,
    status: int = 200,
) -> HttpResponse:  # fmt: skip
    """The workspace at ``state``; a form given bound comes back with its errors."""
    files = selectors.state_files(state=state)
    context = {
        "project": project,
        "branch": branch,
        "state": state,
        "branches": project.branches.order_by("created_at"),
        "states": state_list(branch=branch),
        "tree": path_tree(files),
        "file_count": len(files),
        "new_form": new_form or FileNewForm(),
        "fork_form": fork_form or BranchForkForm(),
    }
    return render(request, "files/project.html", context, status=status)


@login_required
def file_view(request: AuthenticatedHttpRequest, project_id, path: str) -> HttpResponse:
    project, branch, state = _scope(request, project_id)
    latest = selectors.state_get(branch=branch)
    form = FileEditForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.file_save(branch=branch, path=path, text=form.cleaned_data["content"])
        except ValidationError as exc:
            form_apply_errors(form, exc)
        else:
            messages.success(request, _("%(path)s saved.") % {"path": path})
            return redirect(_file_url(project, branch, path))
    try:
        content = selectors.file_read(state=state, path=path)
    except selectors.FileNotInState as exc:
        raise Http404 from exc
    if request.method != "POST":
        form = FileEditForm(initial={"content": content.text})
    versions = selectors.file_changes(branch=branch, path=path)
    context = {
        "project": project,
        "branch": branch,
        "state": state,
        "path": path,
        "content": content,
        "code": highlight_file(path, content.text),
        "is_latest": state.step_index == latest.step_index,
        "form": form,
        "versions": versions,
        "from_step": versions[0].state.step_index,
        "to_step": versions[-1].state.step_index,
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "files/file.html", context, status=status)


@login_required
def diff_view(request: AuthenticatedHttpRequest, project_id, path: str) -> HttpResponse:
    project, branch, _state = _scope(request, project_id)
    versions = selectors.file_changes(branch=branch, path=path)
    if not versions:
        raise Http404
    from_step = _step(request, "from")
    to_step = _step(request, "to")
    from_step = versions[0].state.step_index if from_step is None else from_step
    to_step = versions[-1].state.step_index if to_step is None else to_step
    old = _version_at(branch, from_step, path)
    new = _version_at(branch, to_step, path)
    diff = selectors.file_diff(old=old, new=new, path=path)
    context = {
        "project": project,
        "branch": branch,
        "path": path,
        "versions": versions,
        "from_step": from_step,
        "to_step": to_step,
        "diff": highlight_diff(diff) if diff else None,
    }
    return render(request, "files/diff.html", context)


def _version_at(branch: Branch, step: int, path: str):
    try:
        state = selectors.state_get(branch=branch, step=step)
    except ProjectState.DoesNotExist:
        return None
    return selectors.file_version(state=state, path=path)


@login_required
def branch_fork_view(request: AuthenticatedHttpRequest, project_id) -> HttpResponse:
    """Branch from the step being viewed. A refused name comes back beside the form, at
    the same step, so the reader sees which field to mend and where they were; a GET
    (a reload, the language switch) goes to the project page at that step."""
    project, branch, state = _scope(request, project_id)
    url = reverse("files:project", args=[project.pk])
    if request.method != "POST":
        query = urlencode({"branch": branch.name, "step": str(state.step_index)})
        return redirect(f"{url}?{query}")
    form = BranchForkForm(request.POST)
    if form.is_valid():
        try:
            target = services.branch_fork(
                source=branch, step=state.step_index, name=form.cleaned_data["name"]
            )
        except ValidationError as exc:
            form_apply_errors(form, exc)
        else:
            messages.success(request, _("Branch %(name)s created.") % {"name": target.name})
            return redirect(f"{url}?{urlencode({'branch': target.name})}")
    return _project_page(request, project, branch, state, fork_form=form, status=400)
