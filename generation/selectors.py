"""Reads of the Code Generation context; every one is scoped to its user (invariant 5)."""

import uuid

from django.conf import settings
from django.db.models import QuerySet
from django.http import Http404

from accounts.models import ProviderKey, User
from generation.models import GenerationRun, PipelineEvent
from llm.providers.table import PROVIDER_NAMES
from projects.models import Project


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
    return [p for p in PROVIDER_NAMES if p in own or settings.LLM_SYSTEM_KEYS.get(p)]


def provider_default(*, user: User) -> str | None:
    """The provider a run uses when none is asked for: the user's own key first
    (invariant 16), then one the platform has a system key for; None when neither."""
    own = set(ProviderKey.objects.filter(user=user).values_list("provider", flat=True))
    for provider in PROVIDER_NAMES:
        if provider in own:
            return provider
    return next((p for p in PROVIDER_NAMES if settings.LLM_SYSTEM_KEYS.get(p)), None)
