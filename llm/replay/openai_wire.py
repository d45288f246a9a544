"""OpenAI's chat-completions wire format, as the openai and groq SDKs parse it.

Shapes follow `openai/types/chat/chat_completion.py`, `chat_completion_chunk.py` and
`groq/types/chat/chat_completion_chunk.py` of the pinned SDKs. Groq speaks the same format
under `/openai/v1/`; the one difference the SDK sees is where streamed usage arrives: Groq
puts it in `x_groq.usage` of the last chunk, OpenAI in an extra chunk with no choices when
the request asks for `stream_options.include_usage`.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from llm.replay.transcript import Provider, Reply, StreamPlan

# (type, code) per status, as the OpenAI API fills `error`; the message is ours.
_ERROR_KINDS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}

MALFORMED_BODY = b'{"id": "chatcmpl-replay", "object": "chat.completion", "choices": ['
MALFORMED_STREAM = b'data: {"id": "chatcmpl-replay", "choices": [{"delta": \n\n'


def prompt_chars(messages: list[Any]) -> int:
    """Characters of text in chat messages (string content or a list of text parts)."""
    total = 0
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            total += len(content)
        elif isinstance(content, list):
            total += sum(len(part.get("text") or "") for part in content if isinstance(part, dict))
    return total


def sse(data: dict[str, Any] | str) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data)
    return f"data: {payload}\n\n".encode()


def format_reset(seconds: float) -> str:
    """A duration as the `x-ratelimit-reset-*` headers write it: `1s`, `0.5s`, `6m0s`."""
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{rest:g}s" if minutes else f"{rest:g}s"


class OpenAIWire:
    provider: Provider = "openai"
    malformed_body = MALFORMED_BODY
    malformed_stream = MALFORMED_STREAM
    id_prefix = "chatcmpl-replay-"

    def prompt_chars(self, body: dict[str, Any]) -> int:
        messages = body.get("messages")
        return prompt_chars(messages if isinstance(messages, list) else [])

    def completion(self, reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
        message = {"role": "assistant", "content": reply.text, "refusal": None}
        finish = "length" if reply.truncated else "stop"
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
        envelope = self._envelope(reply, "chat.completion")
        return {**envelope, "choices": [choice], "usage": self._usage(reply)}

    def stream_plan(self, reply: Reply, body: dict[str, Any]) -> StreamPlan:
        """One chunk a word (the first carries the role), a finish chunk, usage, `[DONE]`."""
        envelope = self._envelope(reply, "chat.completion.chunk")
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        if include_usage:
            envelope["usage"] = None  # as the API does: null on every chunk but the last

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            return {**envelope, "choices": [choice]}

        parts = reply.chunks()
        chunks = [chunk({"role": "assistant", "content": parts[0]})]
        chunks += [chunk({"content": part}) for part in parts[1:]]
        tail = [self._finish_chunk(chunk({}, "length" if reply.truncated else "stop"), reply)]
        if include_usage:
            tail.append({**envelope, "choices": [], "usage": self._usage(reply)})
        return StreamPlan(
            preamble=[],
            chunks=[sse(item) for item in chunks],
            tail=[sse(item) for item in tail] + [sse("[DONE]")],
        )

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        kind, code = _ERROR_KINDS.get(status, ("server_error", None))
        if status < 500 and status not in _ERROR_KINDS:
            kind = "invalid_request_error"
        return {"error": {"message": message, "type": kind, "param": None, "code": code}}

    def rate_limit_headers(self, retry_after: float) -> dict[str, str]:
        return {
            "x-ratelimit-limit-requests": "60",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": format_reset(retry_after),
        }

    def _envelope(self, reply: Reply, kind: str) -> dict[str, Any]:
        return {
            "id": f"{self.id_prefix}{uuid.uuid4().hex[:24]}",
            "object": kind,
            "created": int(time.time()),
            "model": reply.model,
            "system_fingerprint": "fp_replay",
        }

    def _finish_chunk(self, chunk: dict[str, Any], reply: Reply) -> dict[str, Any]:
        return chunk

    @staticmethod
    def _usage(reply: Reply) -> dict[str, int]:
        return {
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        }


class GroqWire(OpenAIWire):
    provider: Provider = "groq"

    def completion(self, reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
        return super().completion(reply, body) | {"x_groq": {"id": _groq_request_id()}}

    def _finish_chunk(self, chunk: dict[str, Any], reply: Reply) -> dict[str, Any]:
        return chunk | {"x_groq": {"id": _groq_request_id(), "usage": self._usage(reply)}}


def _groq_request_id() -> str:
    return f"req_replay{uuid.uuid4().hex[:16]}"
