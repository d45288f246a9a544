import pytest
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.authentication import user_by_id

pytestmark = pytest.mark.django_db


def _me(token: AccessToken):
    return APIClient().get(reverse("api-me"), HTTP_AUTHORIZATION=f"Bearer {token}")


def test_a_token_signs_in_its_own_user_and_nobody_else(user, other_user):
    response = _me(AccessToken.for_user(user))

    assert response.status_code == 200
    assert response.json()["email"] == user.email
    assert user_by_id(other_user.pk) == other_user


def test_a_token_of_a_deactivated_user_is_refused(user):
    token = AccessToken.for_user(user)
    user.is_active = False
    user.save()

    refused = _me(token)

    assert refused.status_code == 401
    assert refused.json()["code"] == "user_inactive"


def test_a_token_of_a_deleted_user_is_refused(user):
    token = AccessToken.for_user(user)
    user.delete()

    refused = _me(token)

    assert refused.status_code == 401
    assert refused.json()["code"] == "user_not_found"
    assert user_by_id(token["user_id"]) is None


def test_the_api_schema_says_its_operations_take_a_bearer_token(client):
    """drf-spectacular knows simplejwt's class, not ours: without accounts.authentication's
    JWTScheme the schema lost the bearer scheme (and `check --deploy` warned 20 times)."""
    schema = client.get("/api/schema/?format=json").json()

    assert schema["components"]["securitySchemes"]["jwtAuth"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT"
    }  # fmt: skip
    assert {"jwtAuth": []} in schema["paths"]["/api/v1/projects"]["get"]["security"]
