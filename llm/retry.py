"""How long to wait before retrying (invariant 14): server hints first, else backoff."""

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from django.conf import settings

RESET_HEADERS = ("x-ratelimit-reset-requests", "anthropic-ratelimit-requests-reset")


def retry_after_from_headers(headers) -> float | None:
    """Seconds the provider asked us to wait, from Retry-After or its reset headers."""
    if ms := headers.get("retry-after-ms"):
        return _number(ms, scale=0.001)
    if value := headers.get("retry-after"):
        return _number(value) if _number(value) is not None else _http_date(value)
    for name in RESET_HEADERS:
        if value := headers.get(name):
            return _duration(value) if _duration(value) is not None else _iso_date(value)
    return None


def backoff_delay(attempt: int) -> float:
    """Exponential backoff with full jitter: up to base x 2^attempt, capped."""
    base = settings.LLM_RETRY_BASE_DELAY
    ceiling = min(settings.LLM_RETRY_MAX_DELAY, base * 2**attempt)
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not a secret


def _number(value: str, scale: float = 1.0) -> float | None:
    try:
        return max(float(value) * scale, 0.0)
    except ValueError:
        return None


def _duration(value: str) -> float | None:
    # OpenAI's reset headers look like "1s", "250ms" or "6m0s".
    total, number = 0.0, ""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    index = 0
    while index < len(value):
        char = value[index]
        if char.isdigit() or char == ".":
            number += char
            index += 1
            continue
        unit = "ms" if value.startswith("ms", index) else char
        if unit not in units or not number:
            return None
        total += float(number) * units[unit]
        number, index = "", index + len(unit)
    return total if not number else None


def _http_date(value: str) -> float | None:
    try:
        return max((parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds(), 0.0)
    except (TypeError, ValueError):
        return None


def _iso_date(value: str) -> float | None:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return max((moment - datetime.now(UTC)).total_seconds(), 0.0)
