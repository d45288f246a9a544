"""`python -m preview.serve`: the preview origin's listener (the Procfile's `preview` line).

daphne on the port SAMOKODER_PREVIEW_ORIGIN names (8001 by default), on the loopback
unless SAMOKODER_PREVIEW_BIND says otherwise, on SAMOKODER_PREVIEW_PORT when set (behind
a TLS terminator in production)."""

import os
import sys
from urllib.parse import urlsplit


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "samokoder_site.settings")
    import django
    from django.conf import settings

    django.setup()
    origin = urlsplit(settings.SAMOKODER_PREVIEW_ORIGIN)
    default = origin.port or (443 if origin.scheme == "https" else 80)
    # Behind a TLS terminator the origin says 443 and the listener is on another port.
    port = int(os.environ.get("SAMOKODER_PREVIEW_PORT") or default)
    bind = os.environ.get("SAMOKODER_PREVIEW_BIND", "127.0.0.1")
    arguments = ["--bind", bind, "--port", str(port), "preview.asgi:application"]
    os.execv(sys.executable, [sys.executable, "-m", "daphne", *arguments])  # noqa: S606


if __name__ == "__main__":
    main()
