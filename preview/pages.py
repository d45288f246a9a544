"""The gateway's own small pages (no script), in the visitor's language: a preview's
origin has no session, so the language comes from Accept-Language."""

import contextlib
import html
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from preview.forwarding import header


def visitor_language(scope: dict) -> str:
    from django.utils.translation.trans_real import (
        get_supported_language_variant,
        parse_accept_lang_header,
    )

    for code, _quality in parse_accept_lang_header(header(scope, b"accept-language")):
        if code == "*":
            break
        with contextlib.suppress(LookupError):
            return get_supported_language_variant(code)
    return settings.LANGUAGE_CODE


def busy_text() -> str:
    return _("This preview has too many requests open at once. Try again in a moment.")


def stopped_text() -> str:
    return _("This preview has stopped. Start it again from its project page.")


def too_large_text() -> str:
    mb = settings.SAMOKODER_PREVIEW_BODY_BYTES // (1024 * 1024)
    return _("The request is larger than a preview accepts (%(mb)s MB).") % {"mb": mb}


async def page(send: Any, status: int, message: str, *, refresh: bool = False) -> None:
    """A small page of the gateway's own (no script), in the visitor's language."""
    meta = '<meta http-equiv="refresh" content="2">' if refresh else ""
    title = _("Samokoder preview")
    body = (
        f'<!doctype html><html lang="{translation.get_language()}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">{meta}'
        f"<title>{html.escape(title)}</title></head>"
        '<body style="font-family: system-ui, sans-serif; margin: 2rem; color: #222">'
        f'<p id="samokoder-preview-message">{html.escape(message)}</p></body></html>'
    ).encode()
    await send({
        "type": "http.response.start", "status": status,
        "headers": [(b"content-type", b"text/html; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store")],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})


def status_texts() -> dict[int, str]:
    """What the gateway's page says for each status it answers with, itself or in place of
    what the front (preview.front) refused or could not get."""
    return {
        403: _("Open this preview from its project page: only its owner may, after logging in."),
        404: _("There is no preview at this address."),
        410: stopped_text(),
        413: too_large_text(),
        429: busy_text(),
        502: _("The app is not answering. Look at its output on the project page, or restart it."),
        503: _("The app is starting; this page will load it in a moment."),
        504: _("The app did not answer in time."),
    }


def status_text(status: int) -> str:
    return status_texts()[status]


async def front_page(send: Any, status: int) -> None:
    """The page in place of what the front refused or could not get from the app. Too
    many requests at once is a 503, as the gateway itself says it."""
    texts = status_texts()
    message = texts.get(status, texts[403])
    shown = 503 if status == 429 else status if status in texts else 403
    await page(send, shown, message, refresh=status == 503)
