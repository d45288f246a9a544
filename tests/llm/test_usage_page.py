"""The usage page: charts per day and model, a table per project, only one's own."""

import pytest

from llm.accounting import Attempt, request_record
from projects.services import project_create

pytestmark = pytest.mark.django_db


def record(user, project, model: str, tokens: int, provider: str = "openai") -> None:
    request_record(Attempt(
        user_id=user.pk, project_id=project.pk, run_id=None, agent="CodeMonkey",
        provider=provider, model=model, key_source="user", prompt=[], response="ok",
        prompt_tokens=tokens, completion_tokens=tokens // 10, latency_ms=5, status="success",
    ))  # fmt: skip


def test_usage_shows_each_model_and_project_and_nobody_elses(client, user, other_user):
    shop = project_create(owner=user, name="Shop", description="d")
    blog = project_create(owner=user, name="Blog", description="d")
    record(user, shop, "gpt-4.1", 1000)
    record(user, shop, "gpt-4.1-mini", 500)
    record(user, blog, "gpt-4.1", 2000)
    secret = project_create(owner=other_user, name="Secret", description="d")
    record(other_user, secret, "gpt-4o", 9999)
    client.force_login(user)

    body = client.get("/usage/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert body.count("<rect ") == 4  # today: two models in each of the two charts
    assert "gpt-4.1-mini" in body and "gpt-4o" not in body and "Secret" not in body
    assert "3000 / 300" in body and "500 / 50" in body  # per model today
    assert "Shop" in body and "1500 / 150" in body  # per project
    assert "0.0056" in body  # Blog: 2000 in, 200 out at gpt-4.1 prices ($2 and $8 a million)


def test_usage_without_requests_says_so(client, user):
    client.force_login(user)
    body = client.get("/usage/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "No LLM requests yet." in body and "<svg" not in body


def test_usage_needs_a_login(client):
    assert client.get("/usage/").status_code == 302
