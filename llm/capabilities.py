"""Which structured-output mode a model gets, from the capability table (admin-editable).

Looked up per request: the model's own row, else its provider's "*" row, else None (the
adapter's native mode: ``native_mode``), through a per-process cache of a few seconds (an
admin's edit is seen after that; ``structured_mode_learn`` empties it at once). When a
provider answers
400 that a mode is unsupported, the gateway falls back to JSON mode and records it here,
so the next request does not pay for the refusal again.
"""

from core.ttlcache import TTLCache
from llm import errors
from llm.models import ModelCapability
from llm.types import JSON_OBJECT, JSON_SCHEMA, TOOL_USE

__all__ = ["JSON_OBJECT", "JSON_SCHEMA", "TOOL_USE", "refuses_mode", "structured_mode"]
ANY_MODEL = "*"
# Words of a 400 that refuses the mode itself, as OpenAI, Groq and Anthropic word it.
_REFUSAL = ("not supported", "unsupported", "does not support", "not available")
_MODE_WORDS = ("response_format", "response format", "json_schema", "tool_choice", "tools")
CACHE_SECONDS = 5.0
_modes: TTLCache[str | None] = TTLCache(CACHE_SECONDS)


def structured_mode(provider: str, model: str) -> str | None:
    """The mode to ask ``model`` of ``provider`` for a typed answer in (None: the adapter's)."""
    return _modes.get((provider, model), lambda: _mode_read(provider, model))


def _mode_read(provider: str, model: str) -> str | None:
    rows = dict(
        ModelCapability.objects.filter(provider=provider, model__in=(model, ANY_MODEL)).values_list(
            "model", "structured_mode"
        )
    )
    return rows.get(model) or rows.get(ANY_MODEL)


def structured_mode_learn(*, provider: str, model: str, mode: str) -> None:
    """Remember that ``model`` needs ``mode`` (the provider refused the one it had)."""
    ModelCapability.objects.update_or_create(
        provider=provider, model=model, defaults={"structured_mode": mode, "learned": True}
    )
    _modes.forget((provider, model))


def modes_forget() -> None:
    """Drop the cached modes (the table was edited in this process)."""
    _modes.clear()


def refuses_mode(error: errors.LLMError) -> bool:
    """Whether ``error`` is the provider's 400 saying the structured mode is unsupported."""
    if not isinstance(error, errors.BadRequest) or error.status != 400:
        return False
    text = error.message.lower()
    return any(word in text for word in _REFUSAL) and any(word in text for word in _MODE_WORDS)
