import os
import subprocess
import sys

import jwt
import pytest
from django.conf import settings
from django.urls import reverse
from rest_framework.test import APIClient

from accounts import services
from accounts.models import ProviderKey
from tests.accounts.factories import PASSWORD

pytestmark = pytest.mark.django_db

SECRET = "sk-proj-SECRETVALUE-0123456789-wxyz"


def _token(client: APIClient, email: str, password: str = PASSWORD):
    return client.post(reverse("api-token"), {"email": email, "password": password}, format="json")


def test_register_returns_201_with_the_user(api_client):
    response = api_client.post(
        reverse("api-register"), {"email": "New@Example.com", "password": PASSWORD}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["email"] == "new@example.com"
    assert "password" not in response.json()


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"email", "password"}),
        ({"email": "not-an-email", "password": PASSWORD}, {"email"}),
        ({"email": "a@example.com", "password": "short"}, {"password"}),
        ({"email": "a@example.com", "password": "12345678901"}, {"password"}),
    ],
)
def test_register_bad_input_gives_400_with_field_errors(api_client, body, fields):
    response = api_client.post(reverse("api-register"), body, format="json")

    assert response.status_code == 400
    assert set(response.json()) == fields


def test_register_taken_email_gives_400_on_email(api_client, user):
    response = api_client.post(
        reverse("api-register"), {"email": user.email.upper(), "password": PASSWORD}, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()) == {"email"}


def test_token_is_a_jwt_valid_for_seven_days(api_client, user):
    response = _token(api_client, user.email)

    assert response.status_code == 200
    access = response.json()["access"]
    claims = jwt.decode(access, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 7 * 24 * 3600
    me = APIClient().get(reverse("api-me"), HTTP_AUTHORIZATION=f"Bearer {access}")
    assert me.status_code == 200
    assert me.json()["email"] == user.email


def test_token_lifetime_is_configurable_from_the_environment():
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='samokoder_site.settings';"
        "django.setup(); from rest_framework_simplejwt.tokens import AccessToken;"
        "print(AccessToken.lifetime.total_seconds())"
    )
    env = {**os.environ, "JWT_ACCESS_TOKEN_DAYS": "2"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)

    assert out.returncode == 0, out.stderr
    assert float(out.stdout) == 2 * 24 * 3600


def test_wrong_password_and_unknown_email_get_the_same_401(api_client, user):
    wrong_password = _token(api_client, user.email, "not the password")
    unknown_email = _token(api_client, "nobody@example.com")

    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.json() == unknown_email.json()
    assert "email" not in wrong_password.json() and "password" not in wrong_password.json()


def test_me_needs_authentication(api_client):
    assert api_client.get(reverse("api-me")).status_code == 401


def test_sixth_token_request_in_a_minute_gets_429_with_retry_after(
    api_client, user, fresh_rate_window
):
    def six():
        statuses = [_token(api_client, user.email, "wrong guess").status_code for _ in range(5)]
        return statuses, _token(api_client, user.email)

    statuses, sixth = fresh_rate_window.burst(six, "auth.token")

    assert statuses == [401] * 5
    assert sixth.status_code == 429
    assert 1 <= int(sixth["Retry-After"]) <= 60
    assert sixth.json()["code"] == "rate_limited"


def test_rate_limit_counts_per_client_ip(user, fresh_rate_window):
    blocked, fresh = APIClient(REMOTE_ADDR="10.0.0.1"), APIClient(REMOTE_ADDR="10.0.0.2")

    def six():
        for _ in range(5):
            _token(blocked, user.email, "wrong")
        return _token(blocked, user.email).status_code

    assert fresh_rate_window.burst(six, "auth.token", ip="10.0.0.1") == 429
    assert _token(fresh, user.email).status_code == 200


def test_register_endpoint_is_rate_limited_too(api_client, fresh_rate_window):
    def six():
        for n in range(5):
            api_client.post(reverse("api-register"), {"email": f"r{n}@example.com"}, format="json")
        body = {"email": "r9@example.com", "password": PASSWORD}
        return api_client.post(reverse("api-register"), body, format="json")

    assert fresh_rate_window.burst(six, "auth.register").status_code == 429


def test_keys_store_list_and_revoke_never_show_the_key(auth_api_client):
    created = auth_api_client.post(
        reverse("api-keys"), {"provider": "openai", "api_key": SECRET}, format="json"
    )
    listed = auth_api_client.get(reverse("api-keys"))

    assert created.status_code == 201
    assert listed.status_code == 200
    assert [(k["provider"], k["last4"]) for k in listed.json()] == [("openai", "wxyz")]
    assert SECRET not in created.content.decode() + listed.content.decode()
    assert "encrypted_key" not in listed.content.decode()

    assert auth_api_client.delete(reverse("api-key-detail", args=["openai"])).status_code == 204
    assert auth_api_client.delete(reverse("api-key-detail", args=["openai"])).status_code == 404
    assert auth_api_client.get(reverse("api-keys")).json() == []


def test_bad_key_input_gives_400_naming_the_field(auth_api_client):
    response = auth_api_client.post(
        reverse("api-keys"), {"provider": "cohere", "api_key": "tiny"}, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()) == {"provider"}
    response = auth_api_client.post(
        reverse("api-keys"), {"provider": "groq", "api_key": "tiny"}, format="json"
    )
    assert set(response.json()) == {"api_key"}


def test_a_user_never_sees_or_revokes_another_users_key(user, other_user):
    services.key_store(user=other_user, provider="groq", api_key="gsk_other_users_key_9999")
    client = APIClient()
    client.force_authenticate(user)

    assert client.get(reverse("api-keys")).json() == []
    assert client.delete(reverse("api-key-detail", args=["groq"])).status_code == 404
    assert ProviderKey.objects.filter(user=other_user).count() == 1


def test_keys_api_needs_authentication(api_client):
    response = api_client.post(
        reverse("api-keys"), {"provider": "openai", "api_key": SECRET}, format="json"
    )
    assert response.status_code == 401
    assert not ProviderKey.objects.exists()


def test_jwt_is_signed_with_the_configured_key(api_client, user):
    access = _token(api_client, user.email).json()["access"]
    tampered = jwt.encode(
        {**jwt.decode(access, options={"verify_signature": False}), "user_id": "999"},
        "not-the-signing-key-but-long-enough-for-hs256",
        algorithm="HS256",
    )

    response = APIClient().get(reverse("api-me"), HTTP_AUTHORIZATION=f"Bearer {tampered}")
    assert response.status_code == 401
    assert settings.SIMPLE_JWT["SIGNING_KEY"]


def test_openapi_schema_lists_the_account_endpoints(api_client):
    response = api_client.get(reverse("schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/api/v1/auth/register", "/api/v1/auth/token", "/api/v1/me", "/api/v1/keys"} <= set(
        paths
    )


def test_api_messages_follow_accept_language_and_codes_stay_neutral(api_client, user):
    russian = api_client.post(
        reverse("api-token"),
        {"email": user.email, "password": "wrong"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="ru",
    )
    english = api_client.post(
        reverse("api-token"),
        {"email": user.email, "password": "wrong"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert russian.json() == {
        "detail": "Неверный e-mail или пароль.",
        "code": "invalid_credentials",
    }
    assert english.json() == {
        "detail": "E-mail or password is wrong.",
        "code": "invalid_credentials",
    }


def test_api_field_errors_are_translated(api_client):
    response = api_client.post(
        reverse("api-register"),
        {"email": "ru@example.com", "password": "1234567890123"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="ru",
    )

    assert response.status_code == 400
    assert "пароль" in " ".join(response.json()["password"]).lower()
