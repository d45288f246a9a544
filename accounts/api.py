"""Account API (JSON): thin views over ``accounts.services``."""

from datetime import UTC, datetime

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed, NotFound
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.tokens import AccessToken

from accounts import selectors, services
from accounts.models import Provider
from accounts.requests import AuthenticatedRequest
from accounts.serializers import (
    CredentialsSerializer,
    KeyInputSerializer,
    KeySerializer,
    TokenSerializer,
    UserSerializer,
)
from core.api import RateLimitedMixin


class RegisterAPI(RateLimitedMixin, APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    rate_limit_group = "auth.register"
    rate_limit_rate = "RATELIMIT_AUTH"

    @extend_schema(request=CredentialsSerializer, responses={201: UserSerializer})
    def post(self, request: Request) -> Response:
        data = CredentialsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_register(**data.validated_data)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)


class TokenAPI(RateLimitedMixin, APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    rate_limit_group = "auth.token"
    rate_limit_rate = "RATELIMIT_AUTH"

    def get_authenticate_header(self, request: Request) -> str:
        # Without one, DRF turns a failed log-in into 403; this endpoint answers 401.
        return 'Bearer realm="api"'

    @extend_schema(request=CredentialsSerializer, responses={200: TokenSerializer})
    def post(self, request: Request) -> Response:
        data = CredentialsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_authenticate(
            request=request._request, method="jwt", **data.validated_data
        )
        if user is None:
            # One message for both fields: never hint which one was wrong.
            raise AuthenticationFailed(
                _("E-mail or password is wrong."), code="invalid_credentials"
            )
        token = AccessToken.for_user(user)
        expires_at = datetime.fromtimestamp(token["exp"], tz=UTC)
        body = {"access": str(token), "token_type": "Bearer", "expires_at": expires_at}
        return Response(TokenSerializer(body).data)


class MeAPI(APIView):
    request: AuthenticatedRequest  # the default permission, IsAuthenticated, is in force

    @extend_schema(responses={200: UserSerializer})
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(self.request.user).data)


class KeyListAPI(APIView):
    request: AuthenticatedRequest  # the default permission, IsAuthenticated, is in force

    @extend_schema(responses={200: KeySerializer(many=True)})
    def get(self, request: Request) -> Response:
        keys = selectors.key_list(user=self.request.user)
        return Response(KeySerializer(keys, many=True).data)

    @extend_schema(request=KeyInputSerializer, responses={201: KeySerializer})
    def post(self, request: Request) -> Response:
        data = KeyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key = services.key_store(user=self.request.user, **data.validated_data)
        return Response(KeySerializer(key).data, status=status.HTTP_201_CREATED)


class KeyDetailAPI(APIView):
    request: AuthenticatedRequest  # the default permission, IsAuthenticated, is in force

    @extend_schema(responses={204: None})
    def delete(self, request: Request, provider: str) -> Response:
        if provider not in Provider.values or not services.key_revoke(
            user=self.request.user, provider=provider
        ):
            raise NotFound(_("No key is stored for this provider."))
        return Response(status=status.HTTP_204_NO_CONTENT)
