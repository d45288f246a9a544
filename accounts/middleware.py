from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation

from accounts.models import User


class UserLanguageMiddleware:
    """A signed-in user's saved language wins over the browser's Accept-Language.

    An explicit choice in this browser (the language cookie) still wins over both, so
    switching on a page takes effect at once; the switch also saves it on the user.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            user_language_activate(request, user)
        return self.get_response(request)


def user_language_activate(request: HttpRequest, user: User) -> None:
    """Answer ``request`` in ``user``'s saved language unless the language cookie chose one.

    The one rule for pages and the API: the cookie, then the saved language, then
    Accept-Language (which LocaleMiddleware has already applied). A browser sends
    Accept-Language with every request, so it cannot tell a choice from a default and does
    not override the saved language; an API client that wants another language for one
    request sends the cookie (``django_language=en``) or changes the saved one.
    """
    if user.language and settings.LANGUAGE_COOKIE_NAME not in request.COOKIES:
        translation.activate(user.language)
        request.LANGUAGE_CODE = user.language
