"""Domain errors become HTTP answers in one place, the API's exception handler.

Each mapping is shown through a real request, with the whole body: a service's
``ValidationError`` is a 400 keyed by field, a ``Conflict`` a 409 with a language-neutral
``code`` beside the translated ``detail``, and DRF's own errors keep their ``code`` too.
(The 429 of a rate limit is shown in tests/accounts/test_api.py.)
"""

import pytest
from django.urls import reverse
from django.utils import translation

from accounts.services import key_store
from generation.models import GenerationRun
from generation.services import run_start
from projects.services import project_create
from tests.accounts.factories import PASSWORD

pytestmark = pytest.mark.django_db

NO_SYSTEM_KEYS = {"openai": "", "anthropic": "", "groq": ""}


def in_russian(message: str) -> str:
    """The catalogue's Russian for ``message``; checked to be a translation, not a copy."""
    with translation.override("ru"):
        russian = translation.gettext(message)
    assert russian != message
    return russian


@pytest.fixture
def project(user, settings):
    settings.LLM_SYSTEM_KEYS = NO_SYSTEM_KEYS
    key_store(user=user, provider="anthropic", api_key="sk-ant-test-000000000000")
    return project_create(owner=user, name="App", description="A calculator")


@pytest.mark.parametrize("language", ["en", "ru"])
def test_a_service_validation_error_is_a_400_keyed_by_field(api_client, user, language):
    message = "An account with this e-mail already exists."
    response = api_client.post(
        reverse("api-register"),
        {"email": user.email.upper(), "password": PASSWORD},
        format="json",
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert response.status_code == 400
    assert response.json() == {"email": [in_russian(message) if language == "ru" else message]}


def test_a_path_refused_by_the_file_service_is_a_400_on_path(auth_api_client, project):
    url = reverse("api-file", args=[project.pk, "a/./b"])
    response = auth_api_client.put(url, {"content": "x"}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["path"] and len(response.json()["path"]) == 1


def test_a_taken_branch_name_is_a_400_on_name(auth_api_client, project):
    url = reverse("api-branches", args=[project.pk])
    body = {"name": "main", "step": 0}
    response = auth_api_client.post(url, body, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert response.json() == {"name": ["A branch with this name exists."]}


@pytest.mark.parametrize("language", ["en", "ru"])
def test_a_conflict_is_a_409_with_a_neutral_code(auth_api_client, project, language):
    detail = "This project already has a run in progress."
    detail = in_russian(detail) if language == "ru" else detail
    url = f"/api/v1/projects/{project.pk}/runs"
    assert auth_api_client.post(url, {}, format="json").status_code == 201
    second = auth_api_client.post(url, {}, format="json", HTTP_ACCEPT_LANGUAGE=language)
    assert second.status_code == 409
    assert second.json() == {"detail": detail, "code": "active"}


def test_answer_and_cancel_conflicts_name_their_codes(auth_api_client, project, user):
    run = run_start(project=project, user=user, provider="anthropic")
    english = {"HTTP_ACCEPT_LANGUAGE": "en"}
    answer = auth_api_client.post(f"/api/v1/runs/{run.pk}/answer", {"answer": "yes"}, **english)
    assert answer.status_code == 409
    assert answer.json() == {
        "detail": "This run is not waiting for an answer.",
        "code": "not_waiting",
    }

    assert auth_api_client.post(f"/api/v1/runs/{run.pk}/cancel").status_code == 200
    again = auth_api_client.post(f"/api/v1/runs/{run.pk}/cancel", **english)
    assert again.status_code == 409
    assert again.json() == {"detail": "This run has already finished.", "code": "finished"}


@pytest.mark.parametrize(("asked", "named"), [({"provider": "groq"}, "groq"), ({}, "OpenAI")])
def test_a_run_without_a_usable_key_is_a_400_on_provider(
    auth_api_client, user, settings, asked, named
):
    settings.LLM_SYSTEM_KEYS = NO_SYSTEM_KEYS
    project = project_create(owner=user, name="App", description="A calculator")
    url = f"/api/v1/projects/{project.pk}/runs"
    response = auth_api_client.post(url, asked, format="json", HTTP_ACCEPT_LANGUAGE="ru")
    assert response.status_code == 400
    message = f"Сначала сохраните API-ключ {named} в разделе «Настройки → API-ключи»."
    assert response.json() == {"provider": [message]}
    assert not GenerationRun.objects.exists()


def test_a_bad_sequence_number_is_a_400_on_after(auth_api_client, project, user):
    run = run_start(project=project, user=user, provider="anthropic")
    response = auth_api_client.get(
        f"/api/v1/runs/{run.pk}/events", {"after": "x"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 400
    assert response.json() == {"after": ["A sequence number (0 or more) is expected."]}


def test_drf_errors_keep_their_neutral_code(auth_api_client):
    response = auth_api_client.delete(
        reverse("api-key-detail", args=["groq"]), HTTP_ACCEPT_LANGUAGE="ru"
    )
    assert response.status_code == 404
    assert response.json() == {
        "detail": "Для этого провайдера ключ не сохранён.",
        "code": "not_found",
    }
