"""Admin: runs with their events and a cancel action; users with their LLM usage."""

import pytest
from django.urls import reverse

from accounts.services import key_store
from generation.models import GenerationRun
from generation.services import run_start
from llm.accounting import Attempt, request_record
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
