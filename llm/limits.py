"""The platform's own limit on LLM requests per user (invariant 13), on the shared cache."""

import time

from django.conf import settings
from django.core.cache import cache

from llm.errors import UsageLimitReached

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def usage_take(*, user_id: int, key_source: str) -> None:
    """Count one request; raise UsageLimitReached past the limit for that key source.

    Requests on system keys are limited (RATELIMIT_LLM_SYSTEM, 50/h by default); on a
    user's own key only when RATELIMIT_LLM_BYOK is set.
    """
    rate = _rate(key_source)
    if not rate:
        return
    limit, unit = _parse(rate)
    period = PERIODS[unit]
    now = int(time.time())
    key = f"llm-quota:{key_source}:{user_id}:{now // period}"
    cache.add(key, 0, timeout=period + 60)
    if cache.incr(key) > limit:
        wait = period - now % period
        params = {"limit": limit, "period": rate.split("/")[1], "minutes": max(wait // 60, 1)}
        raise UsageLimitReached(params=params, retry_after=wait)


def usage_limited(*, key_source: str) -> bool:
    """Whether requests on that key source are counted (``usage_take`` does nothing else)."""
    return bool(_rate(key_source))


def _rate(key_source: str) -> str:
    return settings.RATELIMIT_LLM_SYSTEM if key_source == "system" else settings.RATELIMIT_LLM_BYOK


def _parse(rate: str) -> tuple[int, str]:
    count, unit = rate.split("/")
    return int(count), unit
