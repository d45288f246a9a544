"""The API's token authentication: simplejwt's, with a cheaper read of the token's user.

Every API request reads its user. Through the ORM that read cost about 270 µs of Python
a request here, most of it building and compiling the same query again; in SQL written
once it costs about 160 µs (accounts_user by primary key, SQLite, 2026-11-30). The checks
that follow are simplejwt's, with its messages and codes: a user gone, inactive, or whose
password changed since the token was issued is refused.
"""

from django.db import models
from django.utils.translation import gettext as _
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework.request import Request
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import get_md5_hash_password

from accounts.middleware import user_language_activate
from accounts.models import User


class JWTAuthentication(authentication.JWTAuthentication):
    # As for get_user below: simplejwt's TypeVar is bound by no argument.
    def authenticate(self, request: Request) -> tuple[User, Token] | None:  # type: ignore[override]
        """simplejwt's, then the user's saved language, as UserLanguageMiddleware applies it
        to pages: that middleware runs before DRF and sees no token's user."""
        authenticated = super().authenticate(request)
        if authenticated is None:
            return None
        user, token = authenticated
        assert isinstance(user, User)  # from get_user below
        user_language_activate(request._request, user)
        return user, token

    # simplejwt annotates its return with a TypeVar that no argument binds.
    def get_user(self, validated_token: Token) -> User:  # type: ignore[override]
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as exc:
            raise InvalidToken(_("Token contained no recognizable user identification")) from exc
        user = user_by_id(user_id)
        if user is None:
            raise AuthenticationFailed(_("User not found"), code="user_not_found")
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
        revoke = validated_token.get(api_settings.REVOKE_TOKEN_CLAIM)
        if api_settings.CHECK_REVOKE_TOKEN and revoke != get_md5_hash_password(user.password):
            raise AuthenticationFailed(
                _("The user's password has been changed."), code="password_changed"
            )
        return user


def user_by_id(user_id: object) -> User | None:
    """The user whose primary key (USER_ID_FIELD) is ``user_id``, or None."""
    field = User._meta.get_field(api_settings.USER_ID_FIELD)
    assert isinstance(field, models.Field)  # a column of the user's table, not a relation
    table, column = User._meta.db_table, field.column
    query = f'SELECT * FROM "{table}" WHERE "{column}" = %s'  # noqa: S608 - our own names
    return next(iter(User.objects.raw(query, [user_id])), None)


class JWTScheme(SimpleJWTScheme):
    """The OpenAPI security scheme simplejwt's class has, for ours: drf-spectacular matches
    an authentication class exactly, and an unknown one leaves the API's operations with
    no security in the schema (and a warning that fails `check --deploy`)."""

    target_class = "accounts.authentication.JWTAuthentication"
