"""The generation panel of the project page: start, watch, answer, stop, ask for changes.

Each form works without JavaScript (POST, then back to the project page); with htmx the
panel swaps itself in place. The panel is also what the page's socket script reloads when
a step lands.
"""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.requests import AuthenticatedHttpRequest
from execution.selectors import commands_ran_before
from generation import conversation, display, selectors, services
from generation.forms import AnswerForm, ChangeForm, RunStartForm
from generation.models import GenerationRun
from llm.keys import provider_default, providers_available
from llm.selectors import runs_requests
from projects.selectors import branch_get, project_get


def _scope(request: AuthenticatedHttpRequest, project_id):
    project = project_get(user=request.user, project_id=project_id)
    branch = branch_get(
        project=project, name=request.GET.get("branch") or request.POST.get("branch")
    )
    return project, branch


@login_required
def panel_view(request: AuthenticatedHttpRequest, project_id) -> HttpResponse:
    project, branch = _scope(request, project_id)
    return _panel(request, project, branch)


def _panel(request, project, branch, *, forms: dict | None = None, status: int = 200):
    run = (
        selectors.run_active(project=project)
        or selectors.run_list(project=project).filter(branch=branch).first()
    )
    data = selectors.pipeline_state(branch)
    providers = providers_available(user_id=request.user.pk)
    everything = request.GET.get("runs") == "all"
    last = None if everything else conversation.RECENT_RUNS
    threads = conversation.project_conversation(project=project, last=last)
    earlier = threads[0].number - 1 if threads else 0
    current = next((t for t in threads if run and t.run.pk == run.pk), None)
    running_output = selectors.outputs_running(run=run) if run and current else []
    context = {
        "project": project, "branch": branch, "run": run, "data": data,
        "stages": display.stages(data, run),
        "threads": threads, "current": current, "earlier": earlier, "everything": everything,
        "status_label": display.status_label(data, run),
        "activity": display.activity(data, run),
        "labels": {**display.event_labels(), **conversation.answer_labels()},
        "queue_position": selectors.run_queue_position(run=run) if run else None,
        "requests": runs_requests(run_ids=[run.pk]) if run else [],
        "running_output": running_output,
        "commands_before": _commands_before(project, current, running_output),
        "providers": providers,
        "start_form": _start_form(request.user, run, providers) if providers else None,
        "change_form": ChangeForm(),
        "answer_form": AnswerForm(),
        "can_change": bool(data.iterations) and data.iterations[-1].status == "completed",
        **(forms or {}),
    }  # fmt: skip
    # A refused change stays in view with its text and the reason, even when the run that
    # refused it (one started from another tab meanwhile) is now the active one.
    context["change_shown"] = bool(context["change_form"].errors) or (
        context["can_change"] and not (run and run.is_active)
    )
    return render(request, "generation/_panel.html", context, status=status)


def _commands_before(project, current, running_output: list) -> bool:
    """Whether the terminal, which shows only the current run's commands, must say that
    earlier runs ran some (asked only when this run has none to show, ended or running)."""
    if current is None or current.commands or running_output:
        return False
    return commands_ran_before(project_id=project.pk, run_id=current.run.pk)


def _known_models(user, run: GenerationRun | None) -> dict[str, list[str]]:
    """Model names chosen before (the user's defaults, the last run's) stay choosable."""
    known: dict[str, list[str]] = {p: [m] for p, m in user.default_models.items() if m}
    if run is not None and run.model:
        known.setdefault(run.provider, []).append(run.model)
    return known


def _start_form(user, run, providers, data=None) -> RunStartForm:
    return RunStartForm(data, providers=providers, known=_known_models(user, run))


def _back(request, project, branch, **forms) -> HttpResponse:
    """htmx: the panel in place; otherwise the project page, with any error as a message."""
    if request.headers.get("HX-Request"):
        return _panel(request, project, branch, forms=forms)
    for form in forms.values():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    url = reverse("files:project", args=[project.pk])
    return redirect(f"{url}?{urlencode({'branch': branch.name})}#generation")


@login_required
@require_POST
def run_start_view(request: AuthenticatedHttpRequest, project_id) -> HttpResponse:
    project, branch = _scope(request, project_id)
    change = "change" in request.POST
    run = selectors.run_list(project=project).filter(branch=branch).first()
    providers = providers_available(user_id=request.user.pk)
    form = (
        ChangeForm(request.POST)
        if change
        else _start_form(request.user, run, providers, request.POST)
    )
    if form.is_valid():
        provider = form.cleaned_data.get("provider") or (run.provider if run else None)
        provider = provider or provider_default(user_id=request.user.pk)
        try:
            services.run_start(
                project=project, user=request.user, provider=provider,
                model=form.cleaned_data.get("model") or (run.model if run else ""),
                branch=branch, change=form.cleaned_data.get("change", ""),
            )  # fmt: skip
        except ValidationError as exc:
            form.add_error(None, _refusal(exc, change=change))
    return _back(request, project, branch, **{"change_form" if change else "start_form": form})


def _refusal(exc: ValidationError, *, change: bool) -> str:
    """Why the run was not started; a change refused because a run began meanwhile (from
    another tab) says that this change did not start, so it is not taken for that run."""
    if change and isinstance(exc, services.RunConflict) and exc.code == "active":
        return _(
            "Another run of this project is already going, so your change was not started: "
            "send it again once that run ends."
        )
    return exc.messages[0]


@login_required
@require_POST
def run_answer_view(request: AuthenticatedHttpRequest, project_id, run_id) -> HttpResponse:
    project, branch = _scope(request, project_id)
    run = selectors.run_get(user=request.user, run_id=run_id)
    form = AnswerForm(request.POST)
    if form.is_valid():
        try:
            services.run_answer(run=run, answer=form.cleaned_data["answer"])
        except ValidationError as exc:
            form.add_error(None, exc.messages[0])
    return _back(request, project, branch, answer_form=form)


@login_required
@require_POST
def run_cancel_view(request: AuthenticatedHttpRequest, project_id, run_id) -> HttpResponse:
    project, branch = _scope(request, project_id)
    run = selectors.run_get(user=request.user, run_id=run_id)
    try:
        services.run_cancel(run=run)
    except services.RunConflict as exc:
        messages.info(request, exc.messages[0])
    else:
        if run.status == GenerationRun.Status.RUNNING:
            messages.info(request, _("Stopping…"))
    return _back(request, project, branch)
