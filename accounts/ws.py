"""WebSocket authentication: who opened a socket, and closing it when that sign-in ends.

Browsers authenticate sockets with their session cookie (Channels' AuthMiddlewareStack);
programs send ``Authorization: Bearer <access token>`` on the upgrade request instead.
A token is never read from the query string, where proxies and logs would keep it.

A socket is only as good as the sign-in it was opened with: ``SignInWatchMixin`` closes
it (4401) once that session is logged out or its password hash is stale, or the token is
expired or issued before a password change. Log-out and password changes send the user's
sockets a message to check at once; a periodic check catches the rest (a password set in
the admin, an expired token or session).
"""

import asyncio
import logging
import random
from importlib import import_module

from asgiref.sync import async_to_sync
from asgiref.typing import WebSocketConnectEvent, WebSocketDisconnectEvent
from channels.auth import get_user
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from channels.middleware import BaseMiddleware
from django.conf import settings
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError

from accounts.authentication import JWTAuthentication

logger = logging.getLogger(__name__)

CLOSE_SIGNED_OUT = 4401  # the code of a socket refused for want of a sign-in


class JWTAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        user = scope.get("user")
        if user is None or not user.is_authenticated:
            token = _bearer(scope)
            if token:
                authenticated = await _user_for(token)
                if authenticated is not None:
                    scope = dict(scope, user=authenticated, access_token=token)
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
        # simplejwt takes the token as text too; its annotation names only bytes.
        return auth.get_user(auth.get_validated_token(token))  # type: ignore[arg-type]
    except (InvalidToken, TokenError, AuthenticationFailed):  # bad token, user gone/inactive
        return None  # or a token issued before a password change


def user_sockets_group(user_id: int) -> str:
    return f"account-{user_id}"


def user_sockets_check(*, user_id: int, session_renewed: tuple[str, str] | None = None) -> None:
    """Ask every open socket of the user to check its sign-in now (after a log-out or a
    password change). A lost message is not an error: the periodic check follows.

    ``session_renewed`` is (old key, new key) of a session that signed in again under a
    new key (Django renews the key of the browser that changed the password): sockets
    opened with the old key then follow the new one instead of closing.
    """
    message = {"type": "account.sign_in_check", "session_renewed": session_renewed}
    try:
        layer = get_channel_layer()  # settings always configure one
        async_to_sync(layer.group_send)(user_sockets_group(user_id), message)  # type: ignore[union-attr]
    except Exception:  # the layer's Redis is unreachable: the sign-out itself stands
        logger.warning("could not ask the sockets of user %s to check", user_id, exc_info=True)


class SignInWatchMixin(AsyncWebsocketConsumer):
    """For a Channels WebSocket consumer: call ``sign_in_watch()`` once accepted.

    The user's group is joined with the socket, before ``connect()`` (a log-out during
    the ownership check is not missed); checks start with ``sign_in_watch()``. None is
    made at connect time: the handshake has just authenticated, and 200 sockets opening at
    once would queue 200 more queries on Channels' one database thread before any replay.
    """

    _sign_in_timer: asyncio.Task[None] | None = None

    async def websocket_connect(self, message: WebSocketConnectEvent) -> None:
        user = self.scope.get("user")
        if user is not None and user.is_authenticated:
            self.groups = [*self.groups, user_sockets_group(user.pk)]  # left on disconnect
        await super().websocket_connect(message)

    async def sign_in_watch(self) -> None:
        self._sign_in_timer = asyncio.create_task(self._sign_in_check_every())

    async def account_sign_in_check(self, message: dict) -> None:
        if self._sign_in_timer is None or self._sign_in_timer.done():
            return  # refused or already closed
        renewed = message.get("session_renewed")
        session = self.scope.get("session")
        if renewed and session is not None and session.session_key == renewed[0]:
            self.scope["session"] = _session_store(renewed[1])
        if not await sign_in_valid(self.scope):
            await self._sign_in_ended()

    async def websocket_disconnect(self, message: WebSocketDisconnectEvent) -> None:
        if self._sign_in_timer is not None:
            self._sign_in_timer.cancel()
        await super().websocket_disconnect(message)

    async def _sign_in_ended(self) -> None:
        if self._sign_in_timer is not None:
            self._sign_in_timer.cancel()
        await self.close(code=CLOSE_SIGNED_OUT)

    async def _sign_in_check_every(self) -> None:
        interval = settings.SAMOKODER_WS_SIGN_IN_CHECK_SECONDS
        # Sockets opened together do not all query at the same moment.
        await asyncio.sleep(random.uniform(0, interval))  # noqa: S311 - not a secret
        while True:
            try:
                valid = await sign_in_valid(self.scope)
            except Exception:  # a database hiccup does not close sockets; check again later
                logger.warning("socket sign-in check failed", exc_info=True)
                valid = True
            if not valid:
                await self.close(code=CLOSE_SIGNED_OUT)
                return
            await asyncio.sleep(interval)


async def sign_in_valid(scope) -> bool:
    """Whether the session or token a socket was opened with still signs in its user."""
    user_id = scope["user"].pk
    token = scope.get("access_token")
    if token is not None:
        user = await _user_for(token)
        return user is not None and user.pk == user_id
    key = scope["session"].session_key
    if key is None:
        return False
    # A fresh read of the session: the one in the scope is the handshake's copy.
    # get_user reads the session alone; the stub asks for a whole scope.
    user = await get_user({"session": _session_store(key)})  # type: ignore[typeddict-item]
    return user.is_authenticated and user.pk == user_id


def _session_store(key: str):
    return import_module(settings.SESSION_ENGINE).SessionStore(key)
