"""The LLM context's own errors: vendor SDK exceptions never leave ``llm/``.

``retryable`` tells the retry loop what to do; ``message`` is written for the user
("your Anthropic key was rejected"), and ``error_type`` is a language-neutral code.
"""

from django.utils.translation import gettext_lazy as _

# Importable from here too: whoever formats the messages below names the provider by label.
from llm.providers.table import provider_label as provider_label


class LLMError(Exception):
    error_type = "llm_error"
    retryable = False

    def __init__(
        self, message: str, *, retry_after: float | None = None, status: int | None = None
    ):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        self.status = status


class ProviderUnavailable(LLMError):
    """Network error, timeout or 5xx: worth trying again."""

    error_type = "provider_unavailable"
    retryable = True


class RateLimited(LLMError):
    """The provider's 429: try again after ``retry_after`` seconds."""

    error_type = "rate_limited"
    retryable = True


class KeyRejected(LLMError):
    error_type = "key_rejected"


class ContextTooLong(LLMError):
    error_type = "context_too_long"


class BadRequest(LLMError):
    error_type = "bad_request"


class MalformedResponse(LLMError):
    """The provider answered something we could not read (or not in the asked shape)."""

    error_type = "malformed_response"
    retryable = True


class AnswerTruncated(LLMError):
    """The answer stopped at the token limit: not used, since half an answer parsed as a
    whole one would be wrong; not retried, since the same limit would cut it again."""

    error_type = "truncated"


class KeyMissing(LLMError):
    """No user key and no system key for the provider: refuse before starting."""

    error_type = "key_missing"


class UsageLimitReached(LLMError):
    """The platform's own limit on system-key requests (invariant 13)."""

    error_type = "usage_limit"


KEY_REJECTED = _("Your %(provider)s key was rejected. Check it in Settings, or store a new one.")
PERMISSION_DENIED = _("Your %(provider)s key may not use this model (%(detail)s).")
CONTEXT_TOO_LONG = _("The request is longer than %(provider)s accepts for this model.")
BAD_REQUEST = _("%(provider)s refused the request: %(detail)s")
UNAVAILABLE = _("%(provider)s is not answering (%(detail)s).")
RATE_LIMITED = _("%(provider)s is rate limiting requests; try again in %(seconds)s s.")
MALFORMED = _("%(provider)s sent an answer that could not be read.")
TRUNCATED = _(
    "%(provider)s stopped its answer at the limit of %(limit)s tokens, before it was "
    "complete; the incomplete answer was not used."
)
