"""Rate limits on the shared cache (django-ratelimit), with a 429 and Retry-After.

One exception, ``RateLimited``, serves pages and the API alike: the middleware below
renders it for browsers, ``core.api.exception_handler`` as JSON.
"""

import functools
import ipaddress
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_ratelimit.core import get_usage


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"rate limited, retry after {retry_after} s")
        self.retry_after = max(retry_after, 1)


def rate_limit_enforce(request: HttpRequest, *, group: str, rate: str, key: str = "ip") -> None:
    """Count this request against ``group`` and raise ``RateLimited`` past ``rate``."""
    usage = get_usage(request, group=group, key=key, rate=rate, increment=True)
    if usage is not None and usage["should_limit"]:
        raise RateLimited(retry_after=usage["time_left"])


def rate_limit_quota_check(
    request: HttpRequest, *, group: str, rate: str, key: str = "user"
) -> None:
    """Raise ``RateLimited`` when the quota is used up, without counting this request.

    For quotas on things made (projects a day): check first, make the thing, then call
    ``rate_limit_quota_use``, so a refused form does not use up the quota.
    """
    usage = get_usage(request, group=group, key=key, rate=rate, increment=False)
    if usage is not None and usage["count"] >= usage["limit"]:
        raise RateLimited(retry_after=usage["time_left"])


def rate_limit_quota_use(request: HttpRequest, *, group: str, rate: str, key: str = "user") -> None:
    get_usage(request, group=group, key=key, rate=rate, increment=True)


def rate_limit(*, group: str, rate: str, methods: tuple[str, ...] = ("POST",)) -> Callable:
    """Decorate a page view: only ``methods`` count (showing a login form is free)."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method in methods:
                rate_limit_enforce(request, group=group, rate=rate_setting(rate))
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def rate_setting(rate: str) -> str:
    # A setting name ("RATELIMIT_AUTH") is read at request time so tests can change it.
    return getattr(settings, rate, rate)


def client_ip(request: HttpRequest) -> str:
    """The address rate limits count by (``RATELIMIT_IP_META_KEY`` points here).

    With no trusted proxy (``SAMOKODER_TRUSTED_PROXIES=0``) it is the peer address and
    X-Forwarded-For is never read: anyone can write that header. Behind N proxies, each
    appending the address it saw, the Nth address from the right is the one the outermost
    proxy saw; whatever is left of it the client wrote. A header with fewer hops or no
    address there falls back to the peer address.
    """
    remote = request.META.get("REMOTE_ADDR") or ""
    forwarded = _forwarded_ip(request.META.get("HTTP_X_FORWARDED_FOR", ""))
    if forwarded is not None:
        return forwarded
    if not remote:
        raise ImproperlyConfigured("REMOTE_ADDR is empty: is the server behind a Unix socket?")
    return remote


def _forwarded_ip(header: str) -> str | None:
    proxies = settings.SAMOKODER_TRUSTED_PROXIES
    hops = header.split(",")
    if proxies <= 0 or len(hops) < proxies:
        return None
    try:
        return str(ipaddress.ip_address(hops[-proxies].strip()))
    except ValueError:
        return None


class RateLimitMiddleware:
    """Render ``RateLimited`` from a page view as a readable 429 page."""

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, RateLimited):
            return None
        response = render(
            request, "errors/429.html", {"retry_after": exception.retry_after}, status=429
        )
        response["Retry-After"] = str(exception.retry_after)
        return response
