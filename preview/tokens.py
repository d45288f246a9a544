"""Who may open a preview: a short-lived signed token, then a cookie of the preview's origin.

The project page links to ``<preview origin>/_samokoder/enter?token=…``; the token names
the preview and its owner and lives SAMOKODER_PREVIEW_TOKEN_SECONDS. The preview origin
trades it, once, for a cookie scoped to that origin alone (host-only, HttpOnly), signed
with a different salt so that neither can stand in for the other. Each token carries a
nonce that the trade spends (``token_spend``): a link read from a log, a history or a
shoulder within its minute admits nobody. Nothing of the platform's session ever reaches
the preview's origin.
"""

import secrets
import uuid
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.core.cache import cache

TOKEN_SALT = "samokoder.preview.token"  # noqa: S105 - a salt (a namespace), not a secret
COOKIE_SALT = "samokoder.preview.cookie"
COOKIE_NAME = "samokoder_preview"  # on plain http (not *.localhost): no __Host- there
SECURE_COOKIE_NAME = f"__Host-{COOKIE_NAME}"
ENTER_PATH = "/_samokoder/enter"
COOKIE_SECONDS = 12 * 3600


@dataclass(frozen=True)
class Admission:
    preview_id: uuid.UUID
    user_id: int


@dataclass(frozen=True)
class Entry:
    """What an entry token says: whom it admits, and the nonce its trade spends."""

    admission: Admission
    nonce: str


def preview_host(preview_id: uuid.UUID) -> str:
    """The preview's own host (no port): <id hex>.<the preview origin's host>."""
    return f"{preview_id.hex}.{urlsplit(settings.SAMOKODER_PREVIEW_ORIGIN).hostname}"


def preview_url(preview_id: uuid.UUID, path: str = "/") -> str:
    origin = urlsplit(settings.SAMOKODER_PREVIEW_ORIGIN)
    port = f":{origin.port}" if origin.port else ""
    return f"{origin.scheme}://{preview_host(preview_id)}{port}{path}"


def preview_id_of(host: str) -> uuid.UUID | None:
    """The preview a Host header names, or None when it names none of ours."""
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    base = urlsplit(settings.SAMOKODER_PREVIEW_ORIGIN).hostname or ""
    label, _, rest = name.lower().partition(".")
    if rest != base.lower():
        return None
    try:
        return uuid.UUID(hex=label)
    except ValueError:
        return None


def entry_url(preview_id: uuid.UUID, user_id: int) -> str:
    nonce = secrets.token_urlsafe(12)
    token = signing.dumps([preview_id.hex, user_id, nonce], salt=TOKEN_SALT, compress=True)
    return preview_url(preview_id, f"{ENTER_PATH}?token={token}")


def token_read(token: str) -> Entry | None:
    """What a fresh, untampered token says, else None (expired, forged, malformed)."""
    read = _read(token, TOKEN_SALT, settings.SAMOKODER_PREVIEW_TOKEN_SECONDS, extra=1)
    return None if read is None else Entry(admission=read[0], nonce=str(read[1][0]))


async def token_spend(entry: Entry) -> bool:
    """Spend the token's nonce: True the first time, False ever after (in the shared
    cache, for as long as the token could still be read)."""
    key = f"preview:entry:{entry.nonce}"
    return bool(await cache.aadd(key, 1, timeout=settings.SAMOKODER_PREVIEW_TOKEN_SECONDS + 5))


def cookie_value(admission: Admission) -> str:
    return signing.dumps([admission.preview_id.hex, admission.user_id], salt=COOKIE_SALT)


def cookie_read(value: str) -> Admission | None:
    read = _read(value, COOKIE_SALT, COOKIE_SECONDS)
    return None if read is None else read[0]


def _read(
    value: str, salt: str, max_age: int, *, extra: int = 0
) -> tuple[Admission, list[object]] | None:
    """The admission a signed ``[preview hex, user id, *extra fields]`` gives, with those
    ``extra`` fields; None when it is expired, forged or of another shape."""
    try:
        preview_hex, user_id, *rest = signing.loads(value, salt=salt, max_age=max_age)
        if len(rest) != extra:
            raise ValueError(f"{len(rest)} extra fields, not {extra}")
        return Admission(preview_id=uuid.UUID(hex=preview_hex), user_id=int(user_id)), rest
    except (signing.BadSignature, ValueError, TypeError):
        return None


def cookie_header(admission: Admission) -> str:
    """Host-only, HttpOnly, for this preview's host alone. In the platform's page the app
    is a frame of another site, where only a SameSite=None cookie is sent, and that needs
    Secure (browsers accept it on https and on *.localhost); Partitioned keeps it to the
    frame in that page. On plain http elsewhere it can only be SameSite=Lax, which works
    when the preview is opened in a tab of its own."""
    origin = urlsplit(settings.SAMOKODER_PREVIEW_ORIGIN)
    # From the origin's settings, not the request: behind a TLS terminator the request
    # arrives as http. The __Host- prefix: no page may set one with a Domain.
    secure = origin.scheme == "https" or (origin.hostname or "").endswith("localhost")
    name = SECURE_COOKIE_NAME if secure else COOKIE_NAME
    morsel: SimpleCookie = SimpleCookie()
    morsel[name] = cookie_value(admission)
    cookie = morsel[name]
    cookie["path"] = "/"
    cookie["httponly"] = True
    cookie["max-age"] = COOKIE_SECONDS
    if secure:
        cookie["secure"] = True
        cookie["samesite"] = "None"
        return cookie.OutputString() + "; Partitioned"
    cookie["samesite"] = "Lax"
    return cookie.OutputString()


def admission_of(cookies: str, preview_id: uuid.UUID) -> Admission | None:
    """The admission a cookie of ours in a Cookie header's ``cookies`` gives to this
    preview. Read by hand: a page may leave odd cookies or several of the same name
    (another preview's, set for a parent domain), so each candidate is tried and the first
    that verifies for this preview counts; none of them can make a valid one fail."""
    for part in cookies.split(";"):
        name, _, value = part.strip().partition("=")
        if name in (COOKIE_NAME, SECURE_COOKIE_NAME):
            admission = cookie_read(value.strip().strip('"'))
            if admission is not None and admission.preview_id == preview_id:
                return admission
    return None
