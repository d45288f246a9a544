"""Recording requests (invariant 15): the LLMRequest row and the day's totals, together."""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.rows import rows_insert, rows_update
from core.ttlcache import TTLCache
from llm.models import LLMRequest, ModelPrice, TokenUsage
from llm.selectors import RunUsage, SystemUsage

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
        [row] = rows_insert([LLMRequest(cost=cost, **attempt.__dict__)])
        _usage_add(attempt, cost)
    return row


def _usage_add(attempt: Attempt, cost: Decimal | None) -> None:
    """Add the attempt to its day's row, creating that row with the day's first attempt
    (one query, not two, on every other)."""
    day: dict[str, Any] = {"user_id": attempt.user_id, "day": timezone.localdate(),
                           "provider": attempt.provider, "model": attempt.model}  # fmt: skip
    if not _usage_increment(day, attempt, cost):
        usage, _created = TokenUsage.objects.get_or_create(**day)
        _usage_increment({"pk": usage.pk}, attempt, cost)


def _usage_increment(where: dict[str, Any], attempt: Attempt, cost: Decimal | None) -> int:
    added = {"requests": 1, "prompt_tokens": attempt.prompt_tokens,
             "completion_tokens": attempt.completion_tokens, "cost": cost or Decimal(0),
             "unpriced_requests": 1 if cost is None else 0}  # fmt: skip
    return rows_update(TokenUsage, where=where, add=added)


@dataclass
class Spent:
    """What recorded requests add to a run's totals: the sums ``run_usage_both`` reads
    over their rows, kept as they are recorded so that nobody need read them back.

    Failed and cancelled attempts count as the aggregate counts them (a call, their
    tokens, their cost when they have one). An answer on the platform's keys with no
    cost names its model; a run asks one model, so there is never a choice of which.
    """

    prompt: int = 0
    completion: int = 0
    cost: Decimal = field(default_factory=Decimal)
    calls: int = 0
    system_calls: int = 0
    unpriced_model: str | None = None

    def add(self, row: LLMRequest) -> None:
        """Count one recorded request (call after its transaction committed)."""
        self.prompt += row.prompt_tokens
        self.completion += row.completion_tokens
        self.cost += row.cost or 0
        self.calls += 1
        if row.key_source != "system":
            return
        self.system_calls += 1
        if row.status == LLMRequest.Status.SUCCESS and row.cost is None:
            self.unpriced_model = min(filter(None, (self.unpriced_model, row.model)))

    def onto(self, usage: RunUsage) -> RunUsage:
        """The run's totals once these requests are added to ``usage``."""
        return RunUsage(
            prompt=usage["prompt"] + self.prompt, completion=usage["completion"] + self.completion,
            cost=usage["cost"] + self.cost, calls=usage["calls"] + self.calls,
        )  # fmt: skip

    def onto_system(self, system: SystemUsage) -> SystemUsage:
        """What the run asked of the platform's keys once these requests are added."""
        models = [name for name in (system["unpriced_model"], self.unpriced_model) if name]
        return SystemUsage(calls=system["calls"] + self.system_calls,
                           unpriced_model=min(models, default=None))  # fmt: skip
