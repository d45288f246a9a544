"""Real models answer in the format we ask: each model's structured-output mode comes from
the capability table, a 400 saying the mode is unsupported falls back to JSON mode (and is
remembered), and an answer cut off at the token limit is never parsed as if complete.

The real SDK clients talk to the replay server over HTTP; nothing is patched.
"""

import importlib
import json

import pytest
from asgiref.sync import async_to_sync

from accounts.services import key_store
from llm import errors
from llm.capabilities import JSON_OBJECT, JSON_SCHEMA, TOOL_USE, structured_mode
from llm.models import LLMRequest, ModelCapability
from llm.services import CallContext, LLMGateway
from tests.llm.test_gateway import HELLO, PROVIDERS, USER_KEYS, Plan

pytestmark = pytest.mark.django_db

ANSWER = '{"title": "Shop", "steps": ["spec", "code"]}'
UNSUPPORTED = (
    "response_format `json_schema` is not supported with this model. Use `json_object` instead."
)


@pytest.fixture
def wired(replay, settings, user):
    """Every provider pointed at the replay server; the user has a key for each."""
    settings.LLM_BASE_URLS = {"openai": f"{replay.url}/v1", "anthropic": replay.url,
                              "groq": replay.url}  # fmt: skip
    for provider, key in USER_KEYS.items():
        key_store(user=user, provider=provider, api_key=key)
    return replay


def gateway_for(user, provider: str, model: str = "") -> LLMGateway:
    model = model or {"openai": "gpt-4.1", "anthropic": "claude-sonnet-4-6"}.get(
        provider, "llama-3.3-70b-versatile"
    )
    context = CallContext(user_id=user.pk, provider=provider, agent="Architect", model=model)
    return async_to_sync(LLMGateway.open)(context)


@pytest.fixture
def default_capabilities():
    """The table as the data migration fills it (tests start from a flushed table)."""
    migration = importlib.import_module("llm.migrations.0004_default_capabilities")
    from django.apps import apps

    migration.add_capabilities(apps, None)


def test_the_default_table_picks_each_providers_native_mode(default_capabilities):
    assert set(ModelCapability.StructuredMode.values) == {JSON_SCHEMA, TOOL_USE, JSON_OBJECT}
    assert structured_mode("openai", "gpt-4.1") == JSON_SCHEMA
    assert structured_mode("anthropic", "claude-sonnet-4-6") == TOOL_USE
    assert structured_mode("groq", "llama-3.3-70b-versatile") == JSON_OBJECT
    assert structured_mode("groq", "openai/gpt-oss-120b") == JSON_SCHEMA
    # A model the table does not name gets its provider's row ("*").
    assert structured_mode("openai", "gpt-5-nano") == JSON_SCHEMA
    assert structured_mode("anthropic", "claude-new") == TOOL_USE


def test_a_model_the_table_does_not_know_gets_its_adapters_native_mode(wired, user):
    ModelCapability.objects.all().delete()
    assert {structured_mode(p, "m") for p in PROVIDERS} == {None}
    wired.load_dict({"version": 1, "responses": [{"text": ANSWER, "repeat": True}]})
    for provider in PROVIDERS:
        async_to_sync(gateway_for(user, provider).send_structured)(HELLO, Plan)
    openai, anthropic, groq = (request["body"] for request in wired.requests)
    assert openai["response_format"]["type"] == JSON_SCHEMA
    assert anthropic["tool_choice"]["type"] == "tool"
    assert groq["response_format"]["type"] == JSON_OBJECT


@pytest.mark.parametrize(
    ("provider", "model", "field", "value"),
    [
        ("openai", "gpt-4.1", "response_format", "json_schema"),
        ("groq", "openai/gpt-oss-120b", "response_format", "json_schema"),
        ("groq", "llama-3.3-70b-versatile", "response_format", "json_object"),
        ("anthropic", "claude-sonnet-4-6", "tool_choice", "tool"),
    ],
)
def test_the_request_uses_the_mode_the_table_names(
    wired, user, default_capabilities, provider, model, field, value
):
    wired.load_dict({"version": 1, "responses": [{"text": ANSWER}]})
    gateway = gateway_for(user, provider, model)

    plan = async_to_sync(gateway.send_structured)(HELLO, Plan)

    assert plan.steps == ["spec", "code"]
    body = wired.requests[0]["body"]
    assert body[field]["type"] == value
    in_prompt = "JSON schema" in str(body.get("messages"))
    assert in_prompt == (value == "json_object")  # JSON mode carries the schema in the prompt


def asked_mode(body: dict) -> str:
    """The structured-output mode a request body asked for."""
    if "tool_choice" in body:
        return TOOL_USE
    return body.get("response_format", {}).get("type", JSON_OBJECT)


@pytest.mark.parametrize(
    ("provider", "model", "native", "refusal"),
    [
        ("openai", "gpt-4.1", JSON_SCHEMA, UNSUPPORTED),
        ("groq", "openai/gpt-oss-120b", JSON_SCHEMA,
         "This model does not support response format `json_schema`."),
        ("anthropic", "claude-sonnet-4-6", TOOL_USE,
         "tool_choice is not supported by this model."),
    ],
)  # fmt: skip
def test_a_400_saying_the_mode_is_unsupported_falls_back_to_json_mode_and_is_remembered(
    wired, user, default_capabilities, provider, model, native, refusal
):
    wired.load_dict({"version": 1, "responses": [
        {"fault": {"status": 400, "message": refusal}}, {"text": ANSWER}, {"text": ANSWER},
    ]})  # fmt: skip
    gateway = gateway_for(user, provider, model)

    first = async_to_sync(gateway.send_structured)(HELLO, Plan)
    second = async_to_sync(gateway_for(user, provider, model).send_structured)(HELLO, Plan)

    assert first == second == Plan(title="Shop", steps=["spec", "code"])
    modes = [asked_mode(request["body"]) for request in wired.requests]
    assert modes == [native, JSON_OBJECT, JSON_OBJECT]  # the refusal is paid once
    assert "JSON schema" in json.dumps(wired.requests[1]["body"])  # the schema in the prompt
    assert structured_mode(provider, model) == JSON_OBJECT
    remembered = ModelCapability.objects.get(provider=provider, model=model)
    assert remembered.structured_mode == JSON_OBJECT and remembered.learned
    statuses = list(LLMRequest.objects.order_by("created_at").values_list("status", flat=True))
    assert statuses[:2] == ["error", "success"]


def test_another_400_is_not_taken_for_an_unsupported_mode(wired, user, default_capabilities):
    wired.load_dict({"version": 1, "responses": [
        {"fault": {"status": 400, "message": "temperature must be at most 2"}},
    ]})  # fmt: skip

    with pytest.raises(errors.BadRequest):
        async_to_sync(gateway_for(user, "openai").send_structured)(HELLO, Plan)
    assert structured_mode("openai", "gpt-4.1") == JSON_SCHEMA
    assert len(wired.requests) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("watched", [False, True])
def test_an_answer_cut_off_at_the_token_limit_is_reported_not_parsed(
    wired, user, default_capabilities, provider, watched
):
    # Even a cut that happens to parse (the list closed early) must not be taken as whole.
    wired.load_dict({"version": 1, "responses": [{"text": ANSWER, "truncated": True}]})
    pieces: list[str] = []

    async def watch(text: str) -> None:
        pieces.append(text)

    with pytest.raises(errors.AnswerTruncated) as raised:
        async_to_sync(gateway_for(user, provider).send_structured)(
            HELLO, Plan, watch if watched else None
        )

    assert "4096" in raised.value.message
    assert len(wired.requests) == 1  # not retried: the same limit would cut it again
    row = LLMRequest.objects.get()
    assert row.status == "error" and row.error_type == "truncated"
    assert row.completion_tokens > 0  # its tokens were spent and are counted


def test_operators_edit_the_table_in_admin(admin_client, default_capabilities):
    row = ModelCapability.objects.get(provider="groq", model="openai/gpt-oss-120b")
    listed = admin_client.get("/admin/llm/modelcapability/")
    assert listed.status_code == 200 and "openai/gpt-oss-120b" in listed.content.decode()

    changed = admin_client.post(
        f"/admin/llm/modelcapability/{row.pk}/change/",
        {"provider": "groq", "model": row.model, "structured_mode": JSON_OBJECT},
    )

    assert changed.status_code == 302
    assert structured_mode("groq", "openai/gpt-oss-120b") == JSON_OBJECT
