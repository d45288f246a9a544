"""Request types for views that only a signed-in user reaches.

``login_required`` (pages) and ``IsAuthenticated`` (the API's default permission) keep
anonymous visitors out before the view runs, so there ``request.user`` is a ``User``.
These classes say so to the type checker; nothing creates them at run time.
"""

from django.http import HttpRequest
from rest_framework.request import Request

from accounts.models import User


class AuthenticatedHttpRequest(HttpRequest):
    user: User


class AuthenticatedRequest(Request):
    user: User
