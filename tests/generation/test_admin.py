"""Admin: runs with their events and a cancel action; users with their LLM usage."""

import pytest
from django.urls import reverse

from accounts.services import key_store
from generation import reasons
from generation.models import GenerationRun
from generation.services import run_start
from generation.services.runs import run_finish
from llm import errors
from llm.accounting import Attempt, request_record
from llm.models import LLMRequest
from projects.services import project_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(user):
    key_store(user=user, provider="groq", api_key="gsk-admin-test-0000000000")
    project = project_create(owner=user, name="Admin run", description="d")
    return run_start(project=project, user=user, provider="groq")


def test_admin_cancels_selected_active_runs(admin_client, run):
    url = reverse("admin:generation_generationrun_changelist")
    assert admin_client.get(url).status_code == 200
    assert (
        admin_client.get(
            reverse("admin:generation_generationrun_change", args=[run.pk])
        ).status_code
        == 200
    )
    response = admin_client.post(
        url, {"action": "cancel", "_selected_action": [str(run.pk)]}, follow=True
    )
    assert response.status_code == 200
    run.refresh_from_db()
    assert run.status == "cancelled"
    assert list(run.events.values_list("name", flat=True)) == ["GenerationCancelled"]


def test_admin_lists_users_with_their_usage(admin_client, user, run):
    request_record(Attempt(
        user_id=user.pk, project_id=run.project_id, run_id=run.pk, agent="SpecWriter",
        provider="openai", model="gpt-4.1", key_source="user", prompt=[], response="ok",
        prompt_tokens=1200, completion_tokens=34, latency_ms=5, status="success",
    ))  # fmt: skip
    body = admin_client.get(reverse("admin:accounts_user_changelist")).content.decode()
    assert "1234" in body  # tokens in + out
    assert GenerationRun.objects.count() == 1


@pytest.mark.parametrize(
    ("language", "expected", "foreign"),
    [("en", "OpenAI sent an answer that could not be read.", "не удалось"),
     ("ru", "OpenAI прислал ответ, который не удалось прочитать.", "could not be read")],
)  # fmt: skip
def test_admin_shows_errors_in_the_readers_language(
    admin_client, admin_user, user, run, language, expected, foreign
):
    admin_user.language = language
    admin_user.save(update_fields=["language"])
    error = errors.MalformedResponse(params={"provider": "OpenAI"})
    request_record(Attempt(
        user_id=user.pk, project_id=run.project_id, run_id=run.pk, agent="Architect",
        provider="openai", model="gpt-4.1", key_source="user", prompt=[], response="", latency_ms=5,
        prompt_tokens=0, completion_tokens=0, status="error", error_type=error.error_type,
        error=error.stored(),
    ))  # fmt: skip
    run_finish(run=run, status="failed", code=reasons.LLM_FAILED,
               params={"error": error.code, **error.params})  # fmt: skip
    row = LLMRequest.objects.get()

    request = admin_client.get(reverse("admin:llm_llmrequest_change", args=[row.pk]))
    shown = admin_client.get(reverse("admin:generation_generationrun_change", args=[run.pk]))

    assert expected in request.content.decode()
    assert expected in shown.content.decode()
    assert foreign not in request.content.decode() + shown.content.decode()
