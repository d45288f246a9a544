"""Runs on the platform's own (system) keys: only priced models, a capped budget."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from accounts.services import key_store
from generation.models import GenerationRun
from projects.services import project_create

pytestmark = pytest.mark.django_db

SYSTEM_KEY = "sk-platform-0000000000000000"


@pytest.fixture
def platform(settings):
    settings.LLM_SYSTEM_KEYS = {"openai": SYSTEM_KEY, "anthropic": "", "groq": ""}
    settings.SAMOKODER_PLATFORM_MAX_RUN_COST = Decimal("1.00")
    return settings


@pytest.fixture
def project(user):
    return project_create(owner=user, name="Notes", description="A notes app.")


def start(user, project, language: str = "en", **body):
    client = APIClient()
    client.force_authenticate(user)
    return client.post(f"/api/v1/projects/{project.pk}/runs", body, format="json",
                       HTTP_ACCEPT_LANGUAGE=language)  # fmt: skip


def test_a_model_without_a_price_is_refused_on_the_platform_key(user, project, platform):
    response = start(user, project, provider="openai", model="my-unpriced-model")

    assert response.status_code == 400, response.content
    message = response.json()["model"][0]
    assert "my-unpriced-model" in message and "price" in message
    assert not GenerationRun.objects.exists()


def test_the_refusal_is_in_the_readers_language(user, project, platform):
    response = start(user, project, language="ru", provider="openai", model="my-unpriced-model")

    assert response.status_code == 400
    message = response.json()["model"][0]
    assert "my-unpriced-model" in message
    assert "нет цены" in message, message


def test_the_default_model_of_a_user_counts_as_the_asked_model(user, project, platform):
    user.default_models = {"openai": "my-unpriced-default"}
    user.save(update_fields=["default_models"])

    response = start(user, project, provider="openai")

    assert response.status_code == 400
    assert "my-unpriced-default" in response.json()["model"][0]


def test_a_priced_model_starts_on_the_platform_key(user, project, platform):
    response = start(user, project, provider="openai", model="gpt-4.1-mini")
    assert response.status_code == 201, response.content


def test_an_unpriced_model_is_fine_on_the_users_own_key(user, project, platform):
    key_store(user=user, provider="openai", api_key="sk-user-own-000000000000000")

    response = start(user, project, provider="openai", model="my-local-model")

    assert response.status_code == 201, response.content


def test_a_budget_above_the_platform_cap_is_clamped_for_system_key_runs(user, project, platform):
    user.run_max_cost = Decimal("20.00")
    user.save(update_fields=["run_max_cost"])
    project.max_run_cost = Decimal("50.00")
    project.save(update_fields=["max_run_cost"])

    response = start(user, project, provider="openai", model="gpt-4.1-mini")

    assert response.status_code == 201
    assert Decimal(response.json()["max_cost"]) == Decimal("1.00")


def test_a_budget_below_the_cap_is_kept_and_own_keys_are_not_capped(user, platform):
    small = project_create(owner=user, name="Small", description="A small app.")
    small.max_run_cost = Decimal("0.40")
    small.save(update_fields=["max_run_cost"])
    assert Decimal(start(user, small, provider="openai").json()["max_cost"]) == Decimal("0.40")

    key_store(user=user, provider="anthropic", api_key="sk-ant-own-00000000000000000")
    big = project_create(owner=user, name="Big", description="A big app.")
    big.max_run_cost = Decimal("50.00")
    big.save(update_fields=["max_run_cost"])
    response = start(user, big, provider="anthropic")
    assert Decimal(response.json()["max_cost"]) == Decimal("50.00")


def test_the_settings_page_says_that_platform_keys_are_capped(client, user, platform):
    client.force_login(user)
    page = client.get("/accounts/settings/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "platform" in page and "$1.00" in page
