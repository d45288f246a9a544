"""The LLM context's own errors: vendor SDK exceptions never leave ``llm/``.

``retryable`` tells the retry loop what to do; ``error_type`` is a language-neutral
class code. What the user reads is stored as a message ``code`` plus ``params`` and
rendered when shown (``error_text``), so each reader sees it in their own language,
whatever language the worker that caught the error ran in.
"""

import json
from typing import Any

from django.utils.translation import gettext as _

# Importable from here too: whoever formats the messages below names the provider by label.
from core.providers import provider_label as provider_label
from core.texts import code_text

KEY_REJECTED = "key_rejected"
PERMISSION_DENIED = "permission_denied"
CONTEXT_TOO_LONG = "context_too_long"
BAD_REQUEST = "bad_request"
UNAVAILABLE = "unavailable"
RATE_LIMITED = "rate_limited"
MALFORMED = "malformed"
KEY_MISSING = "key_missing"
USAGE_LIMIT = "usage_limit"
CANCELLED = "cancelled"
TRUNCATED = "truncated"


def _templates() -> dict[str, str]:
    return {
        KEY_REJECTED: _(
            "Your %(provider)s key was rejected. Check it in Settings, or store a new one."
        ),
        PERMISSION_DENIED: _("Your %(provider)s key may not use this model (%(detail)s)."),
        CONTEXT_TOO_LONG: _("The request is longer than %(provider)s accepts for this model."),
        BAD_REQUEST: _("%(provider)s refused the request: %(detail)s"),
        UNAVAILABLE: _("%(provider)s is not answering (%(detail)s)."),
        RATE_LIMITED: _("%(provider)s is rate limiting requests; try again in %(seconds)s s."),
        MALFORMED: _("%(provider)s sent an answer that could not be read."),
        KEY_MISSING: _("No %(provider)s key: store yours in Settings to start a generation."),
        USAGE_LIMIT: _(
            "You reached %(limit)s LLM requests per %(period)s on the platform's keys; "
            "try again in %(minutes)s min or store your own key."
        ),
        CANCELLED: _("The request was cancelled: the run was stopped."),
        TRUNCATED: _(
            "%(provider)s stopped its answer at the limit of %(limit)s tokens, before it was "
            "complete; the incomplete answer was not used."
        ),
    }


def error_text(code: str, params: dict[str, Any]) -> str:
    """The message of ``code`` in the active language; an unknown code shows as itself."""
    params = {key: _param_text(key, value) for key, value in params.items()}
    text = code_text(_templates(), code, params)
    return text if text is not None else code


def _param_text(key: str, value: Any) -> Any:
    """Parameters that are ours to word; the provider's own error text passes as it is."""
    ours = {
        "detail": {"timeout": _("timeout"), "connection failed": _("connection failed")},
        "period": {"s": _("second"), "m": _("minute"), "h": _("hour"), "d": _("day")},
    }
    return ours.get(key, {}).get(value, value) if isinstance(value, str) else value


class LLMError(Exception):
    error_type = "llm_error"
    retryable = False
    code = BAD_REQUEST  # the message shown, unless the raiser names another

    def __init__(
        self,
        code: str | None = None,
        *,
        params: dict[str, Any] | None = None,
        retry_after: float | None = None,
        status: int | None = None,
    ):
        self.code = code or self.code
        self.params = params or {}
        super().__init__(self.code, self.params)
        self.retry_after = retry_after
        self.status = status

    @property
    def message(self) -> str:
        """The message in the active language (for people; store ``code`` and ``params``)."""
        return error_text(self.code, self.params)

    def stored(self) -> str:
        """A language-neutral record of the error (code and parameters, as JSON)."""
        return json.dumps({"code": self.code, "params": self.params}, ensure_ascii=False)


def stored_error_text(stored: str) -> str:
    """An error written by ``LLMError.stored`` in the active language; older rows (a
    sentence frozen in the worker's language) as they are."""
    try:
        value = json.loads(stored)
        return error_text(value["code"], value.get("params") or {})
    except (ValueError, TypeError, KeyError):
        return stored


class ProviderUnavailable(LLMError):
    """Network error, timeout or 5xx: worth trying again."""

    error_type = "provider_unavailable"
    retryable = True
    code = UNAVAILABLE


class RateLimited(LLMError):
    """The provider's 429: try again after ``retry_after`` seconds."""

    error_type = "rate_limited"
    retryable = True
    code = RATE_LIMITED


class KeyRejected(LLMError):
    error_type = "key_rejected"
    code = KEY_REJECTED


class ContextTooLong(LLMError):
    error_type = "context_too_long"
    code = CONTEXT_TOO_LONG


class BadRequest(LLMError):
    error_type = "bad_request"
    code = BAD_REQUEST


class MalformedResponse(LLMError):
    """The provider answered something we could not read (or not in the asked shape)."""

    error_type = "malformed_response"
    retryable = True
    code = MALFORMED


class AnswerTruncated(LLMError):
    """The answer stopped at the token limit: not used, since half an answer parsed as a
    whole one would be wrong; not retried, since the same limit would cut it again."""

    error_type = "truncated"
    code = TRUNCATED


class KeyMissing(LLMError):
    """No user key and no system key for the provider: refuse before starting."""

    error_type = "key_missing"
    code = KEY_MISSING


class UsageLimitReached(LLMError):
    """The platform's own limit on system-key requests (invariant 13)."""

    error_type = "usage_limit"
    code = USAGE_LIMIT


class RequestCancelled(LLMError):
    """The caller stopped: the request in flight was abandoned, and none follows."""

    error_type = "cancelled"
    code = CANCELLED
