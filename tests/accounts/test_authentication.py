import pytest
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.authentication import user_by_id
from accounts.services import key_store
from generation import reasons
from generation.models import GenerationRun
from generation.services import run_start
from generation.services.runs import run_finish
from llm import errors
from projects.services import project_create

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


READS = {
    "en": "The language model could not answer: OpenAI sent an answer that could not be read.",
    "ru": "Языковая модель не смогла ответить: OpenAI прислал ответ, который не удалось прочитать.",
}


def _failed_run(user) -> GenerationRun:
    key_store(user=user, provider="openai", api_key="sk-test-0000000000000000")
    project = project_create(owner=user, name="App", description="A calculator")
    run = run_start(project=project, user=user, provider="openai")
    error = errors.MalformedResponse(params={"provider": "OpenAI"})
    run_finish(run=run, status="failed", code=reasons.LLM_FAILED,
               params={"error": error.code, **error.params})  # fmt: skip
    return run


@pytest.mark.parametrize("language", ["en", "ru"])
def test_a_token_request_answers_in_the_users_saved_language(user, language):
    user.language = language
    user.save(update_fields=["language"])
    run = _failed_run(user)
    client = APIClient(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    url = reverse("api-run", args=[run.pk])

    plain = client.get(url)
    # The browser's Accept-Language does not override the saved language, as on pages.
    other = client.get(url, HTTP_ACCEPT_LANGUAGE="ru" if language == "en" else "en")

    assert plain.json()["reason"] == other.json()["reason"] == READS[language]
    assert plain["Content-Language"] == language


def test_the_language_cookie_wins_over_the_saved_language_in_the_api_too(user):
    user.language = "en"
    user.save(update_fields=["language"])
    run = _failed_run(user)
    client = APIClient(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    client.cookies["django_language"] = "ru"

    answer = client.get(reverse("api-run", args=[run.pk]))

    assert answer.json()["reason"] == READS["ru"]
