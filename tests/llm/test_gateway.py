"""The three adapters over HTTP, through the gateway, against the replay server.

The real SDK clients talk to the replay server; nothing is patched. Each adapter is
shown plain, streaming, structured, 429-then-success (the wait honoured), 500 four
times (3 retries, then an error on record) and 401 (fails at once).
"""

import time
from decimal import Decimal

import pydantic
import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.utils import translation

from accounts.services import key_store
from llm import errors
from llm.models import LLMRequest, TokenUsage
from llm.services import CallContext, LLMGateway
from llm.types import Conversation, Message
from projects.models import ProjectEvent
from projects.services import project_create

pytestmark = pytest.mark.django_db

PROVIDERS = ["openai", "anthropic", "groq"]
USER_KEYS = {
    "openai": "sk-proj-USERKEY-openai-0001",
    "anthropic": "sk-ant-USERKEY-anthropic-0002",
    "groq": "gsk_USERKEY_groq_0003",
}
MODELS = {"openai": "gpt-4.1", "anthropic": "claude-sonnet-4-6", "groq": "llama-3.3-70b-versatile"}
HELLO = Conversation((Message("system", "Be brief."), Message("user", "Say hello")))


class Plan(pydantic.BaseModel):
    title: str
    steps: list[str]


@pytest.fixture
def wired(replay, settings, user):
    """Every provider pointed at the replay server; the user has a key for each."""
    settings.LLM_BASE_URLS = {
        "openai": f"{replay.url}/v1",
        "anthropic": replay.url,
        "groq": replay.url,
    }
    settings.LLM_RETRY_BASE_DELAY = 0.05
    for provider, key in USER_KEYS.items():
        key_store(user=user, provider=provider, api_key=key)
    return replay


@pytest.fixture
def project(user):
    return project_create(owner=user, name="LLM")


def _gateway(user, provider, project=None, agent="SpecWriter") -> LLMGateway:
    context = CallContext(
        user_id=user.pk,
        provider=provider,
        agent=agent,
        model=MODELS[provider],
        project_id=project.pk if project else None,
    )
    return async_to_sync(LLMGateway.open)(context)


def _key_sent(request: dict) -> str:
    headers = {k.lower(): v for k, v in request["headers"].items()}
    return headers.get("x-api-key") or headers["authorization"].removeprefix("Bearer ")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_plain_request_is_answered_recorded_and_priced(wired, user, project, provider):
    wired.load_dict(
        {
            "version": 1,
            "responses": [
                {"text": "Hello!", "usage": {"prompt_tokens": 1000, "completion_tokens": 500}},
            ],
        }
    )

    completion = async_to_sync(_gateway(user, provider, project).send)(HELLO)

    assert completion.text == "Hello!"
    assert (completion.prompt_tokens, completion.completion_tokens) == (1000, 500)
    row = LLMRequest.objects.get()
    assert (row.status, row.provider, row.model, row.key_source) == (
        "success",
        provider,
        MODELS[provider],
        "user",
    )
    assert row.prompt[-1] == {"role": "user", "content": "Say hello"}
    assert _key_sent(wired.requests[0]) == USER_KEYS[provider]
    usage = TokenUsage.objects.get(user=user)
    assert (usage.requests, usage.prompt_tokens, usage.completion_tokens) == (1, 1000, 500)
    assert usage.cost == row.cost and row.cost is not None
    names = list(ProjectEvent.objects.filter(project=project).values_list("name", flat=True))
    assert names[-2:] == ["LLMRequestSent", "LLMResponseReceived"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_structured_answer_is_typed_and_a_malformed_one_is_sent_back_once(wired, user, provider):
    wired.load_dict(
        {
            "version": 1,
            "responses": [
                {"text": '{"title": "Shop"}'},  # misses "steps": sent back with the error
                {"text": '{"title": "Shop", "steps": ["spec", "code"]}'},
            ],
        }
    )

    plan = async_to_sync(_gateway(user, provider).send_structured)(HELLO, Plan)

    assert plan == Plan(title="Shop", steps=["spec", "code"])
    second = wired.requests[1]["body"]
    assert "does not match the schema" in str(second["messages"][-1])
    assert LLMRequest.objects.count() == 2


@pytest.mark.parametrize("provider", PROVIDERS)
def test_structured_answer_malformed_twice_fails_with_a_typed_error(wired, user, provider):
    wired.load_dict({"version": 1, "responses": [{"text": '{"title": 1}'}, {"text": "not json"}]})

    with pytest.raises(errors.MalformedResponse):
        async_to_sync(_gateway(user, provider).send_structured)(HELLO, Plan)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_429_then_success_waits_as_asked(wired, user, project, provider):
    wired.load_dict(
        {
            "version": 1,
            "responses": [
                {"fault": {"status": 429, "retry_after": 1.0}},
                {"text": "after the wait"},
            ],
        }
    )

    started = time.monotonic()
    completion = async_to_sync(_gateway(user, provider, project).send)(HELLO)
    waited = time.monotonic() - started

    assert completion.text == "after the wait"
    assert waited >= 1.0
    statuses = list(LLMRequest.objects.order_by("attempt").values_list("status", "attempt"))
    assert statuses == [("rate_limited", 1), ("success", 2)]
    hit = ProjectEvent.objects.get(project=project, name="RateLimitHit")
    assert hit.payload["retry_after"] == 1.0


@pytest.mark.parametrize("provider", PROVIDERS)
def test_500_four_times_gives_up_after_three_retries(wired, user, provider):
    wired.load_dict({"version": 1, "responses": [{"fault": {"status": 500}}] * 5})

    with pytest.raises(errors.ProviderUnavailable):
        async_to_sync(_gateway(user, provider).send)(HELLO)

    assert len(wired.requests) == 4
    rows = list(
        LLMRequest.objects.order_by("attempt").values_list("attempt", "status", "error_type")
    )
    assert rows == [(n, "error", "provider_unavailable") for n in (1, 2, 3, 4)]
    assert wired.remaining() == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_401_fails_at_once_with_a_message_a_user_can_act_on(wired, user, provider, settings):
    wired.load_dict({"version": 1, "responses": [{"fault": {"status": 401}}, {"text": "never"}]})

    with pytest.raises(errors.KeyRejected) as caught:
        async_to_sync(_gateway(user, provider).send)(HELLO)

    assert len(wired.requests) == 1
    assert errors.provider_label(provider) in caught.value.message
    assert "rejected" in caught.value.message or "отклон" in caught.value.message
    row = LLMRequest.objects.get()
    assert (row.status, row.error_type) == ("error", "key_rejected")


def test_parallel_requests_all_arrive_and_respect_the_cap(wired, user):
    wired.load_dict(
        {"version": 1, "responses": [{"text": "ok", "repeat": True, "fault": {"delay": 0.3}}]}
    )
    gateway = _gateway(user, "openai")

    started = time.monotonic()
    answers = async_to_sync(gateway.send_many)([HELLO] * 8, 4)
    elapsed = time.monotonic() - started

    assert [a.text for a in answers] == ["ok"] * 8
    assert 0.55 <= elapsed < 2.4  # two waves of four, not eight in a row
    assert LLMRequest.objects.count() == 8


def test_a_planted_key_never_reaches_the_database(wired, user, settings):
    planted_system = "sk-proj-PLANTEDSYSTEMKEY-777777"
    settings.LLM_SYSTEM_KEYS = {**settings.LLM_SYSTEM_KEYS, "openai": planted_system}
    user_key = USER_KEYS["openai"]
    wired.load_dict(
        {
            "version": 1,
            "responses": [
                {"text": f"Your key {user_key} and {planted_system} look fine"},
                {"fault": {"status": 400, "message": f"Incorrect API key provided: {user_key}"}},
            ],
        }
    )
    leaky = Conversation((Message("user", f"my key is {user_key}, also {planted_system}"),))
    gateway = _gateway(user, "openai")

    async_to_sync(gateway.send)(leaky)
    with pytest.raises(errors.BadRequest) as raised:
        async_to_sync(gateway.send)(leaky)
    # The provider's own words travel on as the error's parameters (a run's stop reason).
    assert "USERKEY" not in repr(raised.value.params) and "masked" in repr(raised.value.params)

    with connection.cursor() as cursor:
        cursor.execute("SELECT prompt, response, error FROM llm_llmrequest")
        dump = repr(cursor.fetchall())
    assert user_key not in dump and planted_system not in dump
    assert "USERKEY" not in dump and "PLANTEDSYSTEMKEY" not in dump
    assert "masked" in dump


def test_no_key_refuses_before_any_request(replay, settings, other_user):
    settings.LLM_SYSTEM_KEYS = {"openai": "", "anthropic": "", "groq": ""}
    with pytest.raises(errors.KeyMissing):
        _gateway(other_user, "anthropic")
    assert replay.requests == []


def test_system_key_is_used_when_the_user_has_none_and_is_limited(replay, settings, other_user):
    settings.LLM_BASE_URLS = {"openai": f"{replay.url}/v1", "anthropic": None, "groq": None}
    settings.LLM_SYSTEM_KEYS = {"openai": "sk-proj-SYSTEM-0000000009", "anthropic": "", "groq": ""}
    settings.RATELIMIT_LLM_SYSTEM = "2/h"
    replay.load_dict({"version": 1, "responses": [{"text": "ok", "repeat": True}]})
    gateway = _gateway(other_user, "openai")

    async_to_sync(gateway.send)(HELLO)
    async_to_sync(gateway.send)(HELLO)
    with pytest.raises(errors.UsageLimitReached):
        async_to_sync(gateway.send)(HELLO)

    assert len(replay.requests) == 2
    assert _key_sent(replay.requests[0]) == "sk-proj-SYSTEM-0000000009"
    assert set(LLMRequest.objects.values_list("key_source", flat=True)) == {"system"}


def test_a_users_own_key_is_limited_when_a_limit_is_set_for_own_keys(wired, settings, user):
    settings.RATELIMIT_LLM_BYOK = "1/h"
    wired.load_dict({"version": 1, "responses": [{"text": "ok", "repeat": True}]})
    gateway = _gateway(user, "openai")

    async_to_sync(gateway.send)(HELLO)
    with pytest.raises(errors.UsageLimitReached):
        async_to_sync(gateway.send)(HELLO)

    assert len(wired.requests) == 1
    assert LLMRequest.objects.count() == 1  # the refused one was never sent, nor recorded


def test_unknown_model_cost_is_unknown_not_zero(wired, user):
    wired.load_dict({"version": 1, "responses": [{"text": "hi"}]})
    context = CallContext(
        user_id=user.pk, provider="openai", agent="Architect", model="my-local-llama"
    )
    async_to_sync(async_to_sync(LLMGateway.open)(context).send)(HELLO)

    row = LLMRequest.objects.get()
    assert row.cost is None
    assert TokenUsage.objects.get(model="my-local-llama").unpriced_requests == 1
    assert TokenUsage.objects.get(model="my-local-llama").cost == Decimal(0)


def test_a_stream_cut_midway_is_a_typed_error_and_not_replayed(wired, user):
    # OpenAI streams structured answers (the others answer whole): cut it after two pieces.
    answer = '{"title": "Shop", "steps": ["write the spec", "write the code"]}'
    wired.load_dict(
        {
            "version": 1,
            "responses": [
                {"text": answer, "fault": {"cut_stream_after": 2}},
                {"text": "a retry would have taken this"},
            ],
        }
    )
    pieces: list[str] = []

    async def collect(text: str) -> None:
        pieces.append(text)

    with pytest.raises(errors.ProviderUnavailable):
        async_to_sync(_gateway(user, "openai").send_structured)(HELLO, Plan, collect)

    assert 1 <= len(pieces) <= 2  # what arrived was handed over, and nothing twice
    assert wired.remaining() == 1
    assert LLMRequest.objects.get().status == "error"


def test_usage_api_sums_per_day_and_model(wired, user):
    wired.load_dict(
        {
            "version": 1,
            "responses": [
                {"text": "a", "usage": {"prompt_tokens": 100, "completion_tokens": 10}},
                {"text": "b", "usage": {"prompt_tokens": 200, "completion_tokens": 20}},
            ],
        }
    )
    gateway = _gateway(user, "groq")
    async_to_sync(gateway.send)(HELLO)
    async_to_sync(gateway.send)(HELLO)

    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    rows = client.get("/api/v1/usage").json()
    assert len(rows) == 1
    row = rows[0]
    assert (row["model"], row["requests"], row["prompt_tokens"], row["completion_tokens"]) == (
        "llama-3.3-70b-versatile",
        2,
        300,
        30,
    )
    # llama-3.3-70b-versatile: $0.59 in, $0.79 out per million tokens.
    assert Decimal(row["cost"]) == Decimal("0.000201")
    assert client.get("/api/v1/usage?days=0").status_code == 400
    assert client.get("/api/v1/usage", {"days": "³"}).status_code == 400


def test_admin_request_log_is_read_only_with_totals(wired, user, admin_client):
    wired.load_dict(
        {
            "version": 1,
            "responses": [{"text": "a", "usage": {"prompt_tokens": 5, "completion_tokens": 7}}],
        }
    )
    async_to_sync(_gateway(user, "openai").send)(HELLO)
    row = LLMRequest.objects.get()

    page = admin_client.get("/admin/llm/llmrequest/")
    assert page.status_code == 200
    assert page.context["totals"]["completion_tokens"] == 7
    admin_client.post(f"/admin/llm/llmrequest/{row.pk}/change/", {"status": "error"})
    assert LLMRequest.objects.get().status == "success"
    assert admin_client.get("/admin/llm/modelprice/").status_code == 200


def test_a_recorded_run_exported_as_a_transcript_replays_the_same_answers(wired, user, tmp_path):
    import uuid

    from django.core.management import call_command

    from llm.replay.transcript import load_transcript

    run_id = uuid.uuid4()
    wired.load_dict(
        {
            "version": 1,
            "responses": [
                {
                    "text": "the spec",
                    "agent": "SpecWriter",
                    "usage": {"prompt_tokens": 3, "completion_tokens": 2},
                },
                {"fault": {"status": 500}},
                {"text": "the architecture", "agent": "Architect"},
            ],
        }
    )

    def ask(agent: str, provider: str) -> str:
        context = CallContext(
            user_id=user.pk, provider=provider, agent=agent, model=MODELS[provider], run_id=run_id
        )
        return async_to_sync(async_to_sync(LLMGateway.open)(context).send)(HELLO).text

    first = [ask("SpecWriter", "openai"), ask("Architect", "anthropic")]
    target = tmp_path / "run.json"
    call_command("export_transcript", str(run_id), "--output", str(target))
    wired.load(load_transcript(target))
    again = [ask("Architect", "anthropic"), ask("SpecWriter", "openai")]

    assert first == ["the spec", "the architecture"]
    assert sorted(again) == sorted(first)
    assert wired.remaining() == 0


def test_context_too_long_fails_at_once_with_its_own_type(wired, user):
    wired.load_dict(
        {
            "version": 1,
            "responses": [
                {
                    "fault": {
                        "status": 400,
                        "message": "This model's maximum context length is 8192 tokens",
                    }
                },
                {"text": "never"},
            ],
        }
    )

    with pytest.raises(errors.ContextTooLong):
        async_to_sync(_gateway(user, "openai").send)(HELLO)
    assert len(wired.requests) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_structured_answer_can_be_watched_as_it_is_written(wired, user, provider):
    answer = '{"title": "Shop", "steps": ["write the spec", "write the code"]}'
    wired.load_dict({"version": 1, "responses": [{"text": answer}]})
    pieces: list[str] = []

    async def watch(text: str) -> None:
        pieces.append(text)

    plan = async_to_sync(_gateway(user, provider).send_structured)(HELLO, Plan, watch)

    assert plan == Plan(title="Shop", steps=["write the spec", "write the code"])
    assert "".join(pieces).replace(" ", "") == answer.replace(" ", "")
    # OpenAI streams structured output piece by piece; the others answer whole.
    assert (len(pieces) > 3) == (provider == "openai"), pieces
    body = wired.requests[0]["body"]
    assert body.get("stream", False) == (provider == "openai")
    assert LLMRequest.objects.get().prompt_tokens > 0


def test_an_error_is_stored_as_a_code_and_read_in_the_readers_language(wired, user):
    wired.load_dict({"version": 1, "responses": [{"fault": {"status": 401}}]})
    with translation.override("ru"), pytest.raises(errors.KeyRejected) as caught:
        async_to_sync(_gateway(user, "openai").send)(HELLO)

    stored = LLMRequest.objects.get().error
    assert "отклон" not in stored and "was rejected" not in stored  # no language frozen
    with translation.override("en"):
        assert errors.stored_error_text(stored) == caught.value.message
        assert caught.value.message.startswith("Your OpenAI key was rejected.")
    with translation.override("ru"):
        assert "OpenAI" in caught.value.message and "отклон" in caught.value.message
    assert errors.stored_error_text("an old sentence") == "an old sentence"


def test_no_attempt_follows_a_stop_even_when_the_error_is_retryable(wired, user):
    wired.load_dict({"version": 1, "responses": [{"fault": {"status": 500}}] * 4})
    context = CallContext(user_id=user.pk, provider="openai", agent="SpecWriter")
    # The user presses Stop while the first attempt is answered with a 500.
    gateway = async_to_sync(LLMGateway.open)(context, stopped=lambda: bool(wired.requests))

    with pytest.raises(errors.RequestCancelled):
        async_to_sync(gateway.send)(HELLO)

    assert len(wired.requests) == 1
    assert LLMRequest.objects.count() == 1


def test_each_attempt_is_recorded_with_its_sent_event_dated_when_it_was_sent(wired, user, project):
    slow = {"delay": 0.3}
    wired.load_dict({"version": 1, "responses": [{"fault": {"status": 500, **slow}},
                                                 {"text": "Hello!", "fault": slow}]})  # fmt: skip
    async_to_sync(_gateway(user, "openai", project).send)(HELLO)

    logged = ProjectEvent.objects.filter(project=project, name__startswith="LLM").order_by("id")
    names = [(event.name, event.payload.get("attempt")) for event in logged]
    assert names == [("LLMRequestSent", 1), ("LLMRequestFailed", None),
                     ("LLMRequestSent", 2), ("LLMResponseReceived", None)]  # fmt: skip
    times = [event.created_at for event in logged]
    assert times == sorted(times)
    for sent, outcome in (times[0:2], times[2:4]):
        assert (outcome - sent).total_seconds() >= 0.3  # the Sent event's time: when sent
    assert LLMRequest.objects.count() == 2
