"""The replay server, driven by the real openai, anthropic and groq SDK clients over HTTP.

SDK clients run with `max_retries=0` so a fault reaches the test as the SDK raises it,
except where a test is about the SDK's own retry.
"""

import asyncio
import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anthropic
import groq
import httpx
import httpx2
import openai
import pytest
from pydantic import ValidationError

from llm.replay import ReplayServer, Transcript, load_transcript

ROOT = Path(__file__).resolve().parents[2]
# The same plain messages go to all three SDKs, each of which has its own TypedDicts.
MESSAGES: list[Any] = [
    {"role": "user", "content": "Describe the app in one line."}
]  # 29 characters
TEXT = "A to-do list with due dates and reminders"


def openai_client(url: str, **options) -> openai.AsyncOpenAI:
    options.setdefault("max_retries", 0)
    return openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="sk-test", **options)


def anthropic_client(url: str, **options) -> anthropic.AsyncAnthropic:
    options.setdefault("max_retries", 0)
    return anthropic.AsyncAnthropic(base_url=url, api_key="sk-ant-test", **options)


def groq_client(url: str, **options) -> groq.AsyncGroq:
    options.setdefault("max_retries", 0)
    return groq.AsyncGroq(base_url=url, api_key="gsk_test", **options)


async def openai_ask(url: str, *, client_options: dict | None = None, **create):
    async with openai_client(url, **(client_options or {})) as client:
        return await client.chat.completions.create(model="gpt-test", messages=MESSAGES, **create)


async def groq_ask(url: str, *, client_options: dict | None = None, **create):
    async with groq_client(url, **(client_options or {})) as client:
        return await client.chat.completions.create(model="llama-test", messages=MESSAGES, **create)


async def openai_stream(url: str, chunks: list, **create) -> None:
    """Collect chunks into `chunks` (so a test sees them even when the stream raises)."""
    async with openai_client(url) as client:
        stream = await client.chat.completions.create(
            model="gpt-test", messages=MESSAGES, stream=True, **create
        )
        async for chunk in stream:
            chunks.append(chunk)


async def anthropic_ask(url: str, *, client_options: dict | None = None, **create):
    async with anthropic_client(url, **(client_options or {})) as client:
        return await client.messages.create(
            model="claude-test", max_tokens=256, messages=MESSAGES, **create
        )


async def anthropic_stream(url: str, texts: list[str], **create):
    async with (
        anthropic_client(url) as client,
        client.messages.stream(
            model="claude-test", max_tokens=256, messages=MESSAGES, **create
        ) as stream,
    ):
        async for text in stream.text_stream:
            texts.append(text)
        return await stream.get_final_message()


def test_openai_completion_returns_text_usage_and_the_requested_model(replay):
    replay.load_dict(
        {"responses": [{"text": TEXT, "usage": {"prompt_tokens": 12, "completion_tokens": 3}}]}
    )

    completion = asyncio.run(openai_ask(replay.url))

    assert completion.choices[0].message.content == TEXT
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "gpt-test"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (12, 3)
    assert completion.usage.total_tokens == 15


def test_usage_is_estimated_from_characters_when_the_entry_has_none(replay):
    replay.load_dict({"responses": [{"text": TEXT}]})

    completion = asyncio.run(openai_ask(replay.url))

    assert completion.usage.prompt_tokens == 29 // 4
    assert completion.usage.completion_tokens == len(TEXT) // 4


def test_openai_stream_sends_a_chunk_per_word_then_a_usage_chunk(replay):
    replay.load_dict(
        {"responses": [{"text": TEXT, "usage": {"prompt_tokens": 7, "completion_tokens": 9}}]}
    )
    chunks: list = []

    asyncio.run(openai_stream(replay.url, chunks, stream_options={"include_usage": True}))

    content = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert len(content) >= 3
    assert "".join(content) == TEXT
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (7, 9)


def test_anthropic_message_returns_text_and_usage(replay):
    replay.load_dict(
        {"responses": [{"text": TEXT, "usage": {"prompt_tokens": 12, "completion_tokens": 3}}]}
    )

    message = asyncio.run(anthropic_ask(replay.url))

    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == TEXT
    assert message.stop_reason == "end_turn"
    assert message.model == "claude-test"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (12, 3)


def test_anthropic_stream_text_joins_to_the_text_and_the_final_message_has_usage(replay):
    replay.load_dict(
        {"responses": [{"text": TEXT, "usage": {"prompt_tokens": 12, "completion_tokens": 8}}]}
    )
    texts: list[str] = []

    message = asyncio.run(anthropic_stream(replay.url, texts))

    assert len(texts) >= 3
    assert "".join(texts) == TEXT == message.content[0].text
    assert (message.usage.input_tokens, message.usage.output_tokens) == (12, 8)
    assert message.stop_reason == "end_turn"


FORCED_TOOL = {
    "tools": [{"name": "emit_spec", "input_schema": {"type": "object"}}],
    "tool_choice": {"type": "tool", "name": "emit_spec"},
}
SPEC = {"name": "todo", "features": ["due dates", "reminders"]}


def test_anthropic_forced_tool_answers_a_tool_use_block_with_the_parsed_text(replay):
    replay.load_dict({"responses": [{"text": json.dumps(SPEC)}, {"text": json.dumps(SPEC)}]})

    message = asyncio.run(anthropic_ask(replay.url, **FORCED_TOOL))
    streamed = asyncio.run(anthropic_stream(replay.url, [], **FORCED_TOOL))

    for answer in (message, streamed):
        assert answer.stop_reason == "tool_use"
        assert [(b.type, b.name, b.input) for b in answer.content] == [
            ("tool_use", "emit_spec", SPEC)
        ]


def test_anthropic_forced_tool_with_text_that_is_not_json_answers_plain_text(replay):
    replay.load_dict({"responses": [{"text": "Sorry, no JSON today"}]})

    message = asyncio.run(anthropic_ask(replay.url, **FORCED_TOOL))

    assert [block.type for block in message.content] == ["text"]
    assert message.stop_reason == "end_turn"


def test_groq_completion_and_stream_use_the_openai_path_under_openai_v1(replay):
    usage = {"prompt_tokens": 5, "completion_tokens": 6}
    replay.load_dict(
        {"responses": [{"text": TEXT, "usage": usage}, {"text": TEXT, "usage": usage}]}
    )

    async def ask():
        async with groq_client(replay.url) as client:
            completion = await client.chat.completions.create(model="llama-test", messages=MESSAGES)
            stream = await client.chat.completions.create(
                model="llama-test", messages=MESSAGES, stream=True
            )
            return completion, [chunk async for chunk in stream]

    completion, chunks = asyncio.run(ask())

    assert completion.choices[0].message.content == TEXT
    assert completion.usage.completion_tokens == 6
    content = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert len(content) >= 3 and "".join(content) == TEXT
    # Groq sends streamed usage in x_groq of the finishing chunk (the SDK has no stream_options).
    assert chunks[-1].x_groq.usage.prompt_tokens == 5
    assert [r["path"] for r in replay.requests] == ["/openai/v1/chat/completions"] * 2
    assert {r["provider"] for r in replay.requests} == {"groq"}


def test_entries_for_agents_go_to_those_agents_whatever_the_order(replay):
    replay.load_dict(
        {
            "responses": [
                {"text": "architecture", "agent": "Architect"},
                {"text": "spec", "agent": "SpecWriter"},
            ]
        }
    )

    def ask_as(agent: str):
        return openai_ask(replay.url, extra_headers={"X-Samokoder-Agent": agent})

    spec = asyncio.run(ask_as("SpecWriter"))
    architecture = asyncio.run(ask_as("Architect"))

    assert spec.choices[0].message.content == "spec"
    assert architecture.choices[0].message.content == "architecture"
    assert [r["agent"] for r in replay.requests] == ["SpecWriter", "Architect"]


def test_an_entry_for_one_provider_is_not_given_to_another(replay):
    replay.load_dict(
        {"responses": [{"text": "for claude", "provider": "anthropic"}, {"text": "for gpt"}]}
    )

    completion = asyncio.run(openai_ask(replay.url))
    message = asyncio.run(anthropic_ask(replay.url))

    assert completion.choices[0].message.content == "for gpt"
    assert message.content[0].text == "for claude"


def test_an_entry_for_one_api_key_answers_only_requests_with_that_key(replay):
    replay.load_dict({"responses": [{"text": "for another user", "key": "sk-other"},
                                    {"text": "for this user", "key": "sk-test"}]})  # fmt: skip

    completion = asyncio.run(openai_ask(replay.url))

    assert completion.choices[0].message.content == "for this user"
    assert replay.remaining() == 1


def test_a_repeat_entry_is_never_consumed(replay):
    replay.load_dict({"responses": [{"text": "again", "repeat": True}]})

    answers = [asyncio.run(openai_ask(replay.url)).choices[0].message.content for _ in range(3)]

    assert answers == ["again"] * 3
    assert replay.remaining() == 1


SDKS = {
    "openai": (openai_ask, openai),
    "anthropic": (anthropic_ask, anthropic),
    "groq": (groq_ask, groq),
}
RESET_HEADERS = {
    "openai": "x-ratelimit-reset-requests",
    "anthropic": "anthropic-ratelimit-requests-reset",
    "groq": "x-ratelimit-reset-requests",
}


@pytest.mark.parametrize("sdk", SDKS)
def test_a_429_raises_rate_limit_error_with_retry_after(replay, sdk):
    ask, module = SDKS[sdk]
    replay.load_dict({"responses": [{"fault": {"status": 429, "retry_after": 1.5}}]})

    with pytest.raises(module.RateLimitError) as raised:
        asyncio.run(ask(replay.url))

    headers = raised.value.response.headers
    assert (headers["retry-after"], headers["retry-after-ms"]) == ("1.5", "1500")
    assert headers[RESET_HEADERS[sdk]]


@pytest.mark.parametrize("sdk", SDKS)
def test_the_sdk_waits_for_retry_after_before_its_own_retry(replay, sdk):
    ask, _ = SDKS[sdk]
    replay.load_dict(
        {"responses": [{"fault": {"status": 429, "retry_after": 0.9}}, {"text": TEXT}]}
    )

    started = time.monotonic()
    asyncio.run(ask(replay.url, client_options={"max_retries": 1}))

    assert time.monotonic() - started >= 0.9  # above any first backoff (at most 0.5 s)
    assert [r["headers"]["x-stainless-retry-count"] for r in replay.requests] == ["0", "1"]


@pytest.mark.parametrize("sdk", SDKS)
@pytest.mark.parametrize(
    ("status", "error"), [(500, "InternalServerError"), (401, "AuthenticationError")]
)
def test_status_faults_raise_the_sdks_status_errors(replay, sdk, status, error):
    ask, module = SDKS[sdk]
    replay.load_dict({"responses": [{"fault": {"status": status}}]})

    with pytest.raises(getattr(module, error)) as raised:
        asyncio.run(ask(replay.url))

    assert raised.value.status_code == status


def test_a_malformed_body_surfaces_as_a_json_decode_error_from_every_sdk(replay):
    # Not an APIResponseValidationError: the SDKs let json.JSONDecodeError through.
    replay.load_dict({"responses": [{"fault": {"malformed": True}}] * 3})

    with pytest.raises(json.JSONDecodeError):
        asyncio.run(openai_ask(replay.url))
    with pytest.raises(json.JSONDecodeError):
        asyncio.run(anthropic_ask(replay.url))
    with pytest.raises(json.JSONDecodeError):
        asyncio.run(anthropic_stream(replay.url, []))


CUT = {"fault": {"cut_stream_after": 2}, "text": "one two three four"}


def test_a_cut_stream_raises_after_the_chunks_sent(replay):
    # Only openai wraps the broken connection into its own error; anthropic lets httpx2's
    # error through and groq httpx's. LLM adapters must catch all three.
    replay.load_dict({"responses": [CUT, CUT, CUT]})
    chunks: list = []
    texts: list[str] = []

    with pytest.raises(openai.APIConnectionError):
        asyncio.run(openai_stream(replay.url, chunks))
    with pytest.raises(httpx2.RemoteProtocolError):
        asyncio.run(anthropic_stream(replay.url, texts))

    async def groq_stream(received: list[str]) -> None:
        async with groq_client(replay.url) as client:
            stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
            async for chunk in stream:
                content = chunk.choices[0].delta.content
                assert content is not None
                received.append(content)

    received: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError):
        asyncio.run(groq_stream(received))
    assert ["".join(c.choices[0].delta.content for c in chunks), "".join(texts)] == ["one two "] * 2
    assert "".join(received) == "one two "


def test_a_cut_non_streaming_answer_is_a_connection_error(replay):
    replay.load_dict({"responses": [CUT]})

    with pytest.raises(openai.APIConnectionError):
        asyncio.run(openai_ask(replay.url))


def test_a_delay_holds_the_answer_and_a_shorter_client_timeout_gives_up(replay):
    slow = {"fault": {"delay": 1.0}, "text": "slow answer"}
    replay.load_dict({"responses": [slow] * 4})

    started = time.monotonic()
    completion = asyncio.run(openai_ask(replay.url))
    assert time.monotonic() - started >= 1.0
    assert completion.choices[0].message.content == "slow answer"

    with pytest.raises(openai.APITimeoutError):
        asyncio.run(openai_ask(replay.url, client_options={"timeout": 0.3}))
    with pytest.raises(anthropic.APITimeoutError):
        asyncio.run(anthropic_ask(replay.url, client_options={"timeout": 0.3}))
    with pytest.raises(groq.APITimeoutError):
        asyncio.run(groq_ask(replay.url, client_options={"timeout": 0.3}))


def test_an_exhausted_transcript_answers_500_once_even_with_sdk_retries(replay):
    with pytest.raises(anthropic.InternalServerError, match="replay transcript exhausted"):
        asyncio.run(anthropic_ask(replay.url, client_options={"max_retries": 2}))
    with pytest.raises(openai.InternalServerError, match="replay transcript exhausted"):
        asyncio.run(openai_ask(replay.url))

    assert len(replay.requests) == 2  # x-should-retry: false kept the SDK from retrying


def test_recorded_requests_carry_the_api_key_each_sdk_sent(replay):
    replay.load_dict({"responses": [{"text": "a"}, {"text": "b"}, {"text": "c"}]})

    asyncio.run(openai_ask(replay.url))
    asyncio.run(anthropic_ask(replay.url))
    asyncio.run(groq_ask(replay.url))

    openai_request, anthropic_request, groq_request = replay.requests
    assert openai_request["headers"]["authorization"] == "Bearer sk-test"
    assert openai_request["body"]["messages"] == MESSAGES
    # anthropic 2.14 sends its api_key as a Bearer token, not as x-api-key.
    assert anthropic_request["headers"]["authorization"] == "Bearer sk-ant-test"
    assert groq_request["headers"]["authorization"] == "Bearer gsk_test"
    assert [r["api_key"] for r in replay.requests] == ["sk-test", "sk-ant-test", "gsk_test"]


def test_control_endpoints_load_count_and_list(replay):
    transcript = {"version": 1, "responses": [{"text": "one"}, {"text": "two"}]}
    typo = {"responses": [{"txt": "typo"}]}
    with httpx.Client(base_url=replay.url) as http:
        loaded = http.post("/_replay/transcript", json=transcript)
        answered = http.post("/v1/chat/completions", json={"model": "m", "messages": []})
        remaining = http.get("/_replay/remaining")
        recorded = http.get("/_replay/requests")
        rejected = http.post("/_replay/transcript", json=typo)

    assert loaded.json() == {"remaining": 2}
    assert answered.json()["choices"][0]["message"]["content"] == "one"
    assert remaining.json() == {"remaining": 1}
    assert [r["path"] for r in recorded.json()] == ["/v1/chat/completions"]
    assert rejected.status_code == 400
    assert replay.remaining() == 1  # a rejected transcript leaves the loaded one alone


def test_transcripts_reject_unknown_keys_and_load_from_a_file(tmp_path):
    with pytest.raises(ValidationError):
        Transcript.model_validate({"responses": [{"text": "x", "fault": {"stauts": 429}}]})
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"version": 1, "responses": [{"text": "x", "agent": "Tester"}]}))

    assert load_transcript(path).responses[0].agent == "Tester"


def test_the_server_refuses_a_non_loopback_address_unless_allowed():
    with pytest.raises(ValueError, match="loopback"):
        ReplayServer(host="192.0.2.1")
    ReplayServer(host="192.0.2.1", allow_remote=True)  # built, never started


def test_the_management_command_serves_a_transcript_file(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"version": 1, "responses": [{"text": "from the file"}]}))
    command = [sys.executable, "manage.py", "llm_replay_server", "--transcript", str(path)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([process.stdout], [], [], 30)
        assert ready, "the command printed nothing within 30 s"
        line = process.stdout.readline()
        assert "listening on http://127.0.0.1:" in line, line
        url = line.split()[-1]
        answer = httpx.post(f"{url}/v1/chat/completions", json={"model": "m", "messages": MESSAGES})
        assert answer.json()["choices"][0]["message"]["content"] == "from the file"
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
        process.stdout.close()
