"""The LLM context's pure parts: key choice, masking, prices, limits, retry waits, usage."""

from decimal import Decimal

import pytest
from groq.types.chat import ChatCompletionChunk

from accounts.services import key_store
from llm import errors
from llm.accounting import cost_for
from llm.keys import key_resolve
from llm.limits import usage_limited, usage_take
from llm.masking import mask_text, mask_value
from llm.providers.groq import GroqClient
from llm.providers.openai import OpenAIClient
from llm.retry import retry_after_from_headers
from llm.types import ProviderConfig

pytestmark = pytest.mark.django_db


def test_user_key_wins_over_the_system_key(user, settings):
    settings.LLM_SYSTEM_KEYS = {**settings.LLM_SYSTEM_KEYS, "openai": "sk-system-key-000000001"}
    assert key_resolve(user_id=user.pk, provider="openai").source == "system"

    key_store(user=user, provider="openai", api_key="sk-user-own-key-00000002")
    resolved = key_resolve(user_id=user.pk, provider="openai")
    assert (resolved.api_key, resolved.source) == ("sk-user-own-key-00000002", "user")


def test_no_key_at_all_is_refused_with_a_reason(user, settings):
    settings.LLM_SYSTEM_KEYS = {"openai": "", "anthropic": "", "groq": ""}
    with pytest.raises(errors.KeyMissing) as caught:
        key_resolve(user_id=user.pk, provider="anthropic")
    assert "Anthropic" in caught.value.message


def test_masking_hides_known_keys_and_key_shaped_text():
    known = "a-custom-secret-without-prefix-9911"
    text = f"use {known} or sk-proj-ABCDEFGHIJKLMNOP1234 or gsk_abcdefghijklmnop5678"
    masked = mask_text(text, [known])

    assert known not in masked
    assert "ABCDEFGHIJKLMNOP" not in masked and "abcdefghijklmnop" not in masked
    assert "…9911" in masked and "…1234" in masked and "…5678" in masked
    nested = mask_value([{"role": "user", "content": text}], [known])
    assert known not in str(nested)


def test_cost_matches_the_price_table_to_the_cent():
    # gpt-4.1: $2.00 in, $8.00 out per million tokens (default price table).
    assert cost_for(
        provider="openai", model="gpt-4.1", prompt_tokens=1_234_567, completion_tokens=89_012
    ) == Decimal("3.181230")
    assert (
        cost_for(provider="openai", model="no-such-model", prompt_tokens=10, completion_tokens=10)
        is None
    )


def test_system_key_requests_are_limited_per_user(user, other_user, settings):
    settings.RATELIMIT_LLM_SYSTEM = "3/h"
    for _ in range(3):
        usage_take(user_id=user.pk, key_source="system")
    with pytest.raises(errors.UsageLimitReached) as caught:
        usage_take(user_id=user.pk, key_source="system")

    assert caught.value.retry_after > 0
    usage_take(user_id=other_user.pk, key_source="system")  # someone else is not affected
    for _ in range(10):
        usage_take(user_id=user.pk, key_source="user")  # own keys: not limited by default


def test_a_key_source_is_counted_only_when_a_limit_is_set_for_it(settings):
    settings.RATELIMIT_LLM_SYSTEM, settings.RATELIMIT_LLM_BYOK = "3/h", ""
    assert usage_limited(key_source="system")
    assert not usage_limited(key_source="user")  # the gateway then makes no trip for it
    settings.RATELIMIT_LLM_BYOK = "100/d"
    assert usage_limited(key_source="user")


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"x-ratelimit-reset-requests": "6m0s"}, 360.0),
        ({"x-ratelimit-reset-requests": "250ms"}, 0.25),
        ({}, None),
    ],
)
def test_retry_waits_come_from_the_providers_headers(headers, seconds):
    assert retry_after_from_headers(headers) == seconds


def test_groq_reads_streamed_usage_from_x_groq_and_openai_does_not():
    usage = {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12}
    choice = {"index": 0, "delta": {}, "finish_reason": "stop"}
    last = ChatCompletionChunk.model_validate(
        {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
         "choices": [choice], "x_groq": {"id": "req_1", "usage": usage}}
    )  # fmt: skip
    config = ProviderConfig(provider="groq", api_key="gsk_test", model="m")
    counted = GroqClient(config)._chunk_usage(last)
    assert (counted.prompt_tokens, counted.completion_tokens) == (7, 5)
    assert OpenAIClient(config)._chunk_usage(last) is None
