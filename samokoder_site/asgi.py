"""One ASGI application for pages, the API and WebSockets (served by deploy/web.py's server)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "samokoder_site.settings")
# Django must be set up before anything imports models (the consumers do).
django.setup(set_prefix=False)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from accounts.ws import JWTAuthMiddleware  # noqa: E402
from samokoder_site.http import HTTPHandler  # noqa: E402
from samokoder_site.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": HTTPHandler(),
        "websocket": AllowedHostsOriginValidator(
            # channels-stubs wants its own type-only pattern class, not Django's URLPattern.
            AuthMiddlewareStack(JWTAuthMiddleware(URLRouter(websocket_urlpatterns)))  # type: ignore[arg-type]
        ),
    }
)
