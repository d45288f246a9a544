"""Settings → generation defaults: a model per provider and a budget per run."""

from decimal import Decimal

import pytest

from accounts.models import User
from accounts.services import key_store
from generation.services import run_start
from projects.services import project_create

pytestmark = pytest.mark.django_db


def save(client, **fields):
    data = {"form": "defaults", "openai_model": "", "anthropic_model": "", "groq_model": "",
            "run_max_cost": "", "run_max_llm_calls": "", **fields}  # fmt: skip
    return client.post("/accounts/settings/", data, HTTP_ACCEPT_LANGUAGE="en")


def test_defaults_are_saved_and_shown_again(client, user):
    client.force_login(user)
    response = save(client, groq_model="llama-3.1-8b-instant", run_max_cost="2.50",
                    run_max_llm_calls="40")  # fmt: skip
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.default_models == {"groq": "llama-3.1-8b-instant"}
    assert (user.run_max_cost, user.run_max_llm_calls) == (Decimal("2.50"), 40)
    page = client.get("/accounts/settings/").content.decode()
    assert 'value="llama-3.1-8b-instant"' in page


def test_bad_defaults_are_refused_field_by_field_and_nothing_changes(client, user):
    client.force_login(user)
    response = save(client, openai_model="gpt 4", run_max_llm_calls="0")
    assert response.status_code == 400
    body = response.content.decode()
    assert "A model name has no spaces." in body
    assert "greater than or equal to 1" in body
    assert User.objects.get(pk=user.pk).default_models == {}


def test_a_run_takes_the_users_defaults_unless_the_project_sets_its_own(user):
    user.default_models = {"groq": "llama-3.1-8b-instant"}
    user.run_max_cost, user.run_max_llm_calls = Decimal("2.50"), 40
    user.save()
    key_store(user=user, provider="groq", api_key="gsk-test-000000000000")  # a run needs a key
    project = project_create(owner=user, name="A", description="d")
    run = run_start(project=project, user=user, provider="groq")
    assert (run.model, run.max_cost, run.max_llm_calls) == ("llama-3.1-8b-instant", 2.5, 40)
    run.delete()
    project.max_run_llm_calls = 7
    project.save()
    run = run_start(project=project, user=user, provider="groq", model="other")
    assert (run.model, run.max_llm_calls) == ("other", 7)


def test_the_default_budget_is_written_as_the_reader_writes_amounts(client, user, settings):
    settings.SAMOKODER_RUN_MAX_COST = Decimal("5.00")
    client.force_login(user)
    russian = client.get("/accounts/settings/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    english = client.get("/accounts/settings/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "$5,00." in russian and "$5.00." not in russian
    assert "Empty: $5.00." in english
