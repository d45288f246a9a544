"""API-wide pieces: the exception handler and a rate-limited view base."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import ValidationError as APIValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from samokoder_site.ratelimit import RateLimited, rate_limit_enforce, rate_setting


def as_api_error(exc: ValidationError) -> APIValidationError:
    """A service's ValidationError as DRF's, keyed by field when the service keyed it."""
    return APIValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler, plus ``RateLimited`` as a JSON 429 with Retry-After."""
    if isinstance(exc, RateLimited):
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
    response = drf_exception_handler(exc, context)
    # A language-neutral code beside the translated "detail", for programs to branch on.
    if response is not None and isinstance(response.data, dict) and "detail" in response.data:
        codes = exc.get_codes() if hasattr(exc, "get_codes") else None
        if isinstance(codes, str):
            response.data["code"] = codes
    return response


class RateLimitedMixin:
    """Count every request to an API view against ``rate_limit_group``."""

    rate_limit_group: str
    rate_limit_rate: str

    def initial(self, request, *args, **kwargs):
        rate_limit_enforce(
            request, group=self.rate_limit_group, rate=rate_setting(self.rate_limit_rate)
        )
        super().initial(request, *args, **kwargs)
