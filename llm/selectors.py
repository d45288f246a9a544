"""Reads of the LLM context: a user's usage, from the per-day totals; a run's requests."""

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import TypedDict

from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from llm.models import LLMRequest, ModelPrice, TokenUsage


def usage_by_day_and_model(*, user_id: int, days: int = 30) -> QuerySet[TokenUsage]:
    """The user's totals per day and model over the last ``days`` days, newest first."""
    since = timezone.localdate() - timedelta(days=days - 1)
    return TokenUsage.objects.filter(user_id=user_id, day__gte=since).order_by(
        "-day", "provider", "model"
    )


def usage_by_project(*, user_id: int, since: date | None = None) -> QuerySet:
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
    totals = LLMRequest.objects.filter(run_id=run_id).aggregate(
        prompt=Sum("prompt_tokens"), completion=Sum("completion_tokens"),
        cost=Sum("cost"), calls=Count("id"),
    )  # fmt: skip
    return RunUsage(
        prompt=totals["prompt"] or 0, completion=totals["completion"] or 0,
        cost=totals["cost"] or 0, calls=totals["calls"],
    )  # fmt: skip


def run_requests(*, run_id: uuid.UUID) -> QuerySet[LLMRequest]:
    """A generation run's requests, oldest first."""
    return LLMRequest.objects.filter(run_id=run_id).order_by("created_at")


def model_priced(*, provider: str, model: str) -> bool:
    """Whether the price table knows the model (its calls then have a cost)."""
    return ModelPrice.objects.filter(provider=provider, model=model).exists()


class SystemUsage(TypedDict):
    calls: int  # requests a run made on the platform's keys
    unpriced_model: str | None  # a model one of them answered with no cost, if any


def run_system_usage(*, run_id: uuid.UUID) -> SystemUsage:
    """What a generation run asked of the platform's keys, and whether any answer came
    back with no cost (its model has no price): the platform cannot pay for those."""
    system = LLMRequest.objects.filter(run_id=run_id, key_source="system")
    unpriced = system.filter(status=LLMRequest.Status.SUCCESS, cost__isnull=True)
    model = unpriced.values_list("model", flat=True).first()
    return SystemUsage(calls=system.count(), unpriced_model=model)
