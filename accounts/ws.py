"""WebSocket authentication for API clients: a JWT in the Authorization header.

Browsers authenticate sockets with their session cookie (Channels' AuthMiddlewareStack);
programs send ``Authorization: Bearer <access token>`` on the upgrade request instead.
A token is never read from the query string, where proxies and logs would keep it.
"""

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError


class JWTAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        user = scope.get("user")
        if user is None or not user.is_authenticated:
            token = _bearer(scope)
            if token:
                authenticated = await _user_for(token)
                if authenticated is not None:
                    scope = dict(scope, user=authenticated)
        return await super().__call__(scope, receive, send)


def _bearer(scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            kind, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if kind.lower() == "bearer" else None
    return None


@database_sync_to_async
def _user_for(token: str):
    auth = JWTAuthentication()
    try:
        return auth.get_user(auth.get_validated_token(token))
    except (InvalidToken, TokenError, AuthenticationFailed):  # bad token, or user gone/inactive
        return None
