"""Reads of the Code Generation context; every one is scoped to its user (invariant 5)."""

import uuid

from django.conf import settings
from django.db.models import QuerySet
from django.http import Http404

from accounts.models import ProviderKey, User
from execution.models import ExecutionLog
from generation.models import GenerationRun, PipelineEvent
from llm.models import LLMRequest
from projects.models import Branch, Project

PROVIDER_ORDER = ("openai", "anthropic", "groq")


def run_get(*, user: User, run_id: uuid.UUID | str) -> GenerationRun:
    """The user's run, or 404 (also for another user's run: its existence is not told)."""
    run = GenerationRun.objects.filter(pk=run_id, user=user).select_related("branch").first()
    if run is None:
        raise Http404
    return run


def run_list(*, project: Project) -> QuerySet[GenerationRun]:
    return project.runs.select_related("branch").order_by("-created_at")


def run_active(*, project: Project) -> GenerationRun | None:
    return project.runs.filter(status__in=GenerationRun.ACTIVE).first()


def run_events(*, run: GenerationRun, after: int = 0, limit: int = 500) -> list[PipelineEvent]:
    """The run's events with a sequence number above ``after``, in order."""
    return list(run.events.filter(seq__gt=after).order_by("seq")[:limit])


def providers_available(*, user: User) -> list[str]:
    """Providers a run could use now: the user's keys, then the platform's system keys."""
    own = set(ProviderKey.objects.filter(user=user).values_list("provider", flat=True))
    return [p for p in PROVIDER_ORDER if p in own or settings.LLM_SYSTEM_KEYS.get(p)]


def provider_default(*, user: User) -> str | None:
    """The provider a run uses when none is asked for: the user's own key first
    (invariant 16), then one the platform has a system key for; None when neither."""
    own = set(ProviderKey.objects.filter(user=user).values_list("provider", flat=True))
    for provider in PROVIDER_ORDER:
        if provider in own:
            return provider
    return next((p for p in PROVIDER_ORDER if settings.LLM_SYSTEM_KEYS.get(p)), None)


def run_history(*, project: Project) -> list[GenerationRun]:
    """Every run of the project, oldest first: the conversation reads them in order."""
    return list(project.runs.select_related("branch").order_by("created_at"))


def run_events_shown(*, run_ids: list[uuid.UUID], quiet: set[str]) -> list[PipelineEvent]:
    """The events of these runs, in run and sequence order. ``quiet`` events are kept only
    when they say which agent finished a step (GenerationStepCompleted)."""
    shown = quiet - {"GenerationStepCompleted"}
    return list(
        PipelineEvent.objects.filter(run_id__in=run_ids)
        .exclude(name__in=shown)
        .order_by("run_id", "seq")
    )


def run_commands(*, run_ids: list[uuid.UUID]) -> list[ExecutionLog]:
    """Every sandbox command these runs ran, oldest first, with its whole output."""
    return list(ExecutionLog.objects.filter(run_id__in=run_ids).order_by("created_at"))


def run_requests(*, run_ids: list[uuid.UUID]) -> list[LLMRequest]:
    """The LLM requests of these runs, oldest first (for the cost of each step)."""
    return list(LLMRequest.objects.filter(run_id__in=run_ids).order_by("created_at"))


def iteration_texts(*, branch: Branch) -> list[str]:
    """What each iteration of the branch was asked: the description, then each change."""
    state = branch.states.order_by("-step_index").only("data").first()
    iterations = (state.data or {}).get("iterations", []) if state else []
    return [iteration.get("description", "") for iteration in iterations]
