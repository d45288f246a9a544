"""Reads of the LLM context: a user's usage, from the per-day totals; a run's requests."""

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypedDict

from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from llm.models import LLMRequest, TokenUsage


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
    totals = LLMRequest.objects.filter(run_id=run_id).aggregate(
        prompt=Sum("prompt_tokens"), completion=Sum("completion_tokens"),
        cost=Sum("cost"), calls=Count("id"),
    )  # fmt: skip
    return RunUsage(
        prompt=totals["prompt"] or 0, completion=totals["completion"] or 0,
        cost=totals["cost"] or Decimal(0), calls=totals["calls"],
    )  # fmt: skip


def run_requests(*, run_id: uuid.UUID) -> QuerySet[LLMRequest]:
    """A generation run's requests, oldest first."""
    return LLMRequest.objects.filter(run_id=run_id).order_by("created_at")
