"""API-wide pieces: the exception handler and a rate-limited view base.

The handler is the one place where domain errors become HTTP answers, so API views call
services without try/except:

- ``core.errors.QuotaExceeded`` → 429 ``{"detail", "code"}`` (a limit of things held,
  not of requests: no Retry-After);
- ``core.errors.Conflict`` → 409 ``{"detail": <first message>, "code": <code>}``;
- any other Django ``ValidationError`` → 400, keyed by field when the service keyed it
  (``{"name": ["…"]}``), else a list of messages;
- ``RateLimited`` → 429 with Retry-After;
- DRF's own exceptions as DRF answers them, plus a language-neutral ``code`` beside a
  ``detail`` (which is in the request's language).
"""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.exceptions import ValidationError as APIValidationError
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import Conflict, QuotaExceeded
from core.ratelimit import RateLimited, rate_limit_enforce, rate_setting


class ConflictError(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class QuotaExceededError(APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "quota_exceeded"


def _as_api_exception(exc: Exception) -> Exception:
    """A domain error as the DRF exception that answers it; anything else unchanged."""
    if isinstance(exc, QuotaExceeded):
        return QuotaExceededError(detail=exc.messages[0], code=exc.code or "quota_exceeded")
    if isinstance(exc, Conflict):
        return ConflictError(detail=exc.messages[0], code=exc.code or "conflict")
    if isinstance(exc, ValidationError):
        return APIValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    return exc


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler, after mapping domain errors, plus ``RateLimited`` as a JSON 429."""
    if isinstance(exc, RateLimited):
        return _too_many_requests(exc)
    exc = _as_api_exception(exc)
    response = drf_exception_handler(exc, context)
    # A language-neutral code beside the translated "detail", for programs to branch on.
    if response is not None and isinstance(response.data, dict) and "detail" in response.data:
        codes = exc.get_codes() if hasattr(exc, "get_codes") else None
        if isinstance(codes, str):
            response.data["code"] = codes
    return response


def _too_many_requests(exc: RateLimited) -> Response:
    response = Response(
        {
            "detail": _("Too many requests. Try again in %(seconds)d seconds.")
            % {"seconds": exc.retry_after},
            "code": "rate_limited",
            "retry_after": exc.retry_after,
        },
        status=status.HTTP_429_TOO_MANY_REQUESTS,
    )
    response["Retry-After"] = str(exc.retry_after)
    return response


class RateLimitedMixin(APIView):
    """Count every request to an API view against ``rate_limit_group``."""

    rate_limit_group: str
    rate_limit_rate: str

    def initial(self, request, *args, **kwargs):
        rate_limit_enforce(
            request, group=self.rate_limit_group, rate=rate_setting(self.rate_limit_rate)
        )
        super().initial(request, *args, **kwargs)
