"""`python -m preview.serve`: the preview origin's listener (the Procfile's `preview` line).

uvicorn, as for the platform's pages (deploy/web.py), on the port SAMOKODER_PREVIEW_ORIGIN
names (8001 by default), on the loopback unless SAMOKODER_PREVIEW_BIND says otherwise, on
SAMOKODER_PREVIEW_PORT when set (behind a TLS terminator in production). uvicorn waits
for a slow reader's socket to drain before it takes more of an answer from the app, so
an app streaming without end to a client that does not read costs the gateway no memory
(a server that buffers whatever it is given would grow without bound)."""

import os
from urllib.parse import urlsplit

GATEWAY = "preview.asgi:application"


def listener_port(origin: str) -> int:
    parts = urlsplit(origin)
    default = parts.port or (443 if parts.scheme == "https" else 80)
    return int(os.environ.get("SAMOKODER_PREVIEW_PORT") or default)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "samokoder_site.settings")
    import django
    from django.conf import settings

    from deploy.web import web_command

    django.setup()
    command = web_command(port=listener_port(settings.SAMOKODER_PREVIEW_ORIGIN), app=GATEWAY)
    command[command.index("--host") + 1] = os.environ.get("SAMOKODER_PREVIEW_BIND", "127.0.0.1")
    os.execv(command[0], command)  # noqa: S606


if __name__ == "__main__":
    main()
