"""The preview origin must be another site than the platform's (python manage.py check)."""

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, register


def _within(a: str, b: str) -> bool:
    """``a`` is ``b`` or under it, ``b`` having at least two labels: a single label
    (``localhost``) is a top-level name no cookie may be set for."""
    return "." in b and (a == b or a.endswith("." + b))


@register()
def preview_origin_apart(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """A preview's scripts are untrusted. On a host under the platform's (or over it)
    they could set cookies the platform reads (its session, its CSRF token), and the
    platform's SameSite cookies would go with their requests."""
    host = (urlsplit(settings.SAMOKODER_PREVIEW_ORIGIN).hostname or "").lower()
    if not host:
        return [Error("SAMOKODER_PREVIEW_ORIGIN names no host.", id="preview.E001")]
    platform = [h.lower().lstrip(".") for h in settings.ALLOWED_HOSTS if h not in ("*", "")]
    clashes = [h for h in platform if _within(host, h) or _within(h, host)]
    if clashes:
        return [
            Error(
                f"SAMOKODER_PREVIEW_ORIGIN's host {host} is within the platform's "
                f"{', '.join(clashes)} (ALLOWED_HOSTS), or the other way round: previews "
                "must be served on a domain of their own (the platform on example.com, "
                "previews on *.example-preview.net), never beside the platform's.",
                id="preview.E002",
            )
        ]
    near = [h for h in platform if h.split(".")[-2:] == host.split(".")[-2:] and "." in h]
    if near:
        return [
            Error(
                f"SAMOKODER_PREVIEW_ORIGIN's host {host} ends like the platform's "
                f"{', '.join(near)}: they are one site, and previews could set the "
                "platform's cookies. Serve previews on a domain of their own; if that "
                "common ending is a public suffix (co.uk), add preview.E003 to "
                "SILENCED_SYSTEM_CHECKS.",
                id="preview.E003",
            )
        ]
    return []
