"""Reads of the LLM context: a user's usage, from the per-day totals; a run's requests;
the models offered."""

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypedDict

from django.conf import settings
from django.db.models import Count, Min, Q, QuerySet, Sum
from django.utils import timezone

from core.providers import provider_label
from llm.models import LLMRequest, ModelPrice, TokenUsage


def usage_by_day_and_model(*, user_id: int, days: int = 30) -> QuerySet[TokenUsage]:
    """The user's totals per day and model over the last ``days`` days, newest first."""
    since = timezone.localdate() - timedelta(days=days - 1)
    return TokenUsage.objects.filter(user_id=user_id, day__gte=since).order_by(
        "-day", "provider", "model"
    )


def usage_by_project(
    *, user_id: int, since: date | None = None
) -> QuerySet[LLMRequest, dict[str, Any]]:
    """Tokens and cost per project (from the request log; projects are few per user)."""
    requests = LLMRequest.objects.filter(user_id=user_id, project__isnull=False)
    if since is not None:
        requests = requests.filter(created_at__date__gte=since)
    return (
        requests.values("project_id", "project__name")
        .annotate(
            prompt_tokens=Sum("prompt_tokens"),
            completion_tokens=Sum("completion_tokens"),
            cost=Sum("cost"),
        )
        .order_by("project__name")
    )


class RunUsage(TypedDict):
    prompt: int
    completion: int
    cost: Decimal
    calls: int


def run_usage(*, run_id: uuid.UUID) -> RunUsage:
    """Tokens, cost and calls of every request a generation run made, failed ones too."""
    return run_usage_both(run_id=run_id)[0]


def runs_requests(*, run_ids: list[uuid.UUID]) -> list[LLMRequest]:
    """The requests of several runs, oldest first (the conversation prices each step)."""
    return list(LLMRequest.objects.filter(run_id__in=run_ids).order_by("created_at"))


def models_offered(*, provider: str, extra: tuple[str, ...] = ()) -> list[str]:
    """The models a person can pick for ``provider``: the provider's default first, then
    every model with a price, then ``extra`` names (a choice stored earlier)."""
    default = settings.LLM_DEFAULT_MODELS.get(provider, "")
    priced = ModelPrice.objects.filter(provider=provider).order_by("model")
    names = [default, *priced.values_list("model", flat=True), *extra]
    return list(dict.fromkeys(name for name in names if name))


def model_choices(
    *, providers: list[str], default_label: str, known: dict[str, list[str]] | None = None
) -> list[tuple[str, list[tuple[str, str]]]]:
    """Grouped ``<select>`` choices per provider, its default model marked
    (``default_label`` has a ``%(model)s``); ``known`` adds names chosen before."""
    groups: list[tuple[str, list[tuple[str, str]]]] = []
    for provider in providers:
        default = settings.LLM_DEFAULT_MODELS.get(provider, "")
        extra = tuple((known or {}).get(provider, ()))
        options = [
            (name, default_label % {"model": name} if name == default else name)
            for name in models_offered(provider=provider, extra=extra)
        ]
        groups.append((provider_label(provider), options))
    return groups


def model_priced(*, provider: str, model: str) -> bool:
    """Whether the price table knows the model (its calls then have a cost)."""
    return ModelPrice.objects.filter(provider=provider, model=model).exists()


class SystemUsage(TypedDict):
    calls: int  # requests a run made on the platform's keys
    unpriced_model: str | None  # a model one of them answered with no cost, if any


_SYSTEM = Q(key_source="system")
_UNPRICED = _SYSTEM & Q(status=LLMRequest.Status.SUCCESS, cost__isnull=True)


def run_usage_both(*, run_id: uuid.UUID) -> tuple[RunUsage, SystemUsage]:
    """``run_usage`` and what the run asked of the platform's keys (whether any answer
    came back with no cost: its model has no price, the platform cannot pay for those),
    in one query (a claim and a pipeline step's commit ask for both)."""
    totals = LLMRequest.objects.filter(run_id=run_id).aggregate(
        prompt=Sum("prompt_tokens"), completion=Sum("completion_tokens"),
        spent=Sum("cost"), calls=Count("id"),  # not "cost": the filters below name it
        system_calls=Count("id", filter=_SYSTEM), unpriced_model=Min("model", filter=_UNPRICED),
    )  # fmt: skip
    usage = RunUsage(
        prompt=totals["prompt"] or 0, completion=totals["completion"] or 0,
        cost=totals["spent"] or Decimal(0), calls=totals["calls"],
    )  # fmt: skip
    return usage, SystemUsage(calls=totals["system_calls"], unpriced_model=totals["unpriced_model"])
