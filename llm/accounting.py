"""Recording requests (invariant 15): the LLMRequest row and the day's totals, together."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from core.ttlcache import TTLCache
from llm.models import LLMRequest, ModelPrice, TokenUsage

MILLION = Decimal(1_000_000)
COST_PLACES = Decimal("0.000001")
# Every request is priced; an admin's new price applies within this many seconds.
PRICE_CACHE_SECONDS = 5.0
_prices: TTLCache[ModelPrice | None] = TTLCache(PRICE_CACHE_SECONDS)


def cost_for(
    *, provider: str, model: str, prompt_tokens: int, completion_tokens: int
) -> Decimal | None:
    """USD from the price table (cached for PRICE_CACHE_SECONDS), or None when the model
    has no price (not 0)."""
    price = _prices.get(
        (provider, model), lambda: ModelPrice.objects.filter(provider=provider, model=model).first()
    )
    if price is None:
        return None
    total = prompt_tokens * price.input_per_million + completion_tokens * price.output_per_million
    return (total / MILLION).quantize(COST_PLACES)


def prices_forget() -> None:
    """Drop the cached prices (the table was edited in this process)."""
    _prices.clear()


@dataclass(frozen=True)
class Attempt:
    """What one call to the provider did; secrets already masked."""

    user_id: int
    project_id: Any
    run_id: Any
    agent: str
    provider: str
    model: str
    key_source: str
    prompt: list[dict[str, str]]
    response: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int
    status: str
    error_type: str = ""
    error: str = ""
    attempt: int = 1


def request_record(attempt: Attempt, *, savepoint: bool = True) -> LLMRequest:
    """Append the LLMRequest row and add it to the user's totals for the day.

    ``savepoint=False`` inside the caller's transaction spares two round trips when the
    caller's other writes stand or fall with these anyway."""
    cost = cost_for(
        provider=attempt.provider,
        model=attempt.model,
        prompt_tokens=attempt.prompt_tokens,
        completion_tokens=attempt.completion_tokens,
    )
    with transaction.atomic(savepoint=savepoint):
        row = LLMRequest.objects.create(cost=cost, **attempt.__dict__)
        _usage_add(attempt, cost)
    return row


def _usage_add(attempt: Attempt, cost: Decimal | None) -> None:
    """Add the attempt to its day's row, creating that row with the day's first attempt
    (one query, not two, on every other)."""
    day: dict[str, Any] = {"user_id": attempt.user_id, "day": timezone.localdate(),
                           "provider": attempt.provider, "model": attempt.model}  # fmt: skip
    if not _usage_increment(TokenUsage.objects.filter(**day), attempt, cost):
        usage, _created = TokenUsage.objects.get_or_create(**day)
        _usage_increment(TokenUsage.objects.filter(pk=usage.pk), attempt, cost)


def _usage_increment(rows: QuerySet[TokenUsage], attempt: Attempt, cost: Decimal | None) -> int:
    return rows.update(
        requests=F("requests") + 1,
        prompt_tokens=F("prompt_tokens") + attempt.prompt_tokens,
        completion_tokens=F("completion_tokens") + attempt.completion_tokens,
        cost=F("cost") + (cost or 0),
        unpriced_requests=F("unpriced_requests") + (1 if cost is None else 0),
    )
