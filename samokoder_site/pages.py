"""Site-wide pages: the API's front door and friendly error pages.

Django shows its technical 404 and 500 pages while DEBUG is on (the embedded default),
which list every URL pattern or a traceback to whoever asked. ``FriendlyErrorsMiddleware``
gives a browser the site's own pages instead; API requests keep their JSON.
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

# The API's endpoints that take no parameters, by URL name (the others hang off these).
API_ROOT_ENTRIES = {
    "register": "api-register",
    "token": "api-token",
    "me": "api-me",
    "keys": "api-keys",
    "projects": "api-projects",
    "usage": "api-usage",
    "schema": "schema",
    "docs": "api-docs",
}


class APIRootView(APIView):
    """The browsable API's front door: where each collection lives."""

    permission_classes = [AllowAny]

    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        return Response(
            {name: reverse(url, request=request) for name, url in API_ROOT_ENTRIES.items()}
        )


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever the page links; the icon is an SVG."""
    return redirect(static("favicon.svg"), permanent=True)


def _wants_html(request: HttpRequest) -> bool:
    return not request.path.startswith("/api/") and "text/html" in request.headers.get(
        "Accept", "text/html"
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):  # an address no API view answers: still JSON
        return JsonResponse({"detail": _("Not found."), "code": "not_found"}, status=404)
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    try:
        body = render_to_string("500.html", request=request)
    except Exception:  # what failed may be what a full page needs (the user, the session)
        body = render_to_string("500.html")
    return HttpResponse(body, status=500)


class FriendlyErrorsMiddleware:
    """In DEBUG, replace Django's technical 404/500 pages for browsers by the site's own."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        technical = settings.DEBUG and response.get("Content-Type", "").startswith("text/html")
        if technical and response.status_code == 404:
            return page_not_found(request)
        if technical and response.status_code == 500 and _wants_html(request):
            return server_error(request)
        return response
