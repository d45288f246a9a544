"""Anthropic's Messages wire format, as the anthropic SDK parses it.

Shapes follow `anthropic/types/message.py` and the `raw_*_event.py` stream events of the
pinned SDK. Structured output is asked for with a forced tool
(`tool_choice: {"type": "tool", "name": X}`): the entry's text, when it is a JSON object,
becomes that tool's input; any other text answers as a plain text block, so the client
sees no tool call and can take its "malformed answer" path.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from llm.replay.openai_wire import prompt_chars
from llm.replay.transcript import Provider, Reply, StreamPlan

# Error types of the Anthropic API by status; others fall back by class (4xx / 5xx).
_ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

MALFORMED_BODY = b'{"id": "msg_replay", "type": "message", "content": ['
MALFORMED_STREAM = b'event: message_start\ndata: {"type": "message_start", "message": {\n\n'


def sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


def forced_tool_input(reply: Reply, body: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(tool name, input) when the request forces a tool and the text is a JSON object."""
    choice = body.get("tool_choice")
    if not isinstance(choice, dict) or choice.get("type") != "tool" or not choice.get("name"):
        return None
    try:
        parsed = json.loads(reply.text)
    except ValueError:
        return None
    return (str(choice["name"]), parsed) if isinstance(parsed, dict) else None


class AnthropicWire:
    provider: Provider = "anthropic"
    malformed_body = MALFORMED_BODY
    malformed_stream = MALFORMED_STREAM

    def prompt_chars(self, body: dict[str, Any]) -> int:
        system = body.get("system")
        system_parts = [{"content": system}] if system else []
        messages = body.get("messages")
        return prompt_chars(system_parts + (messages if isinstance(messages, list) else []))

    def completion(self, reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
        tool = forced_tool_input(reply, body)
        if tool is None:
            content: dict[str, Any] = {"type": "text", "text": reply.text}
        else:
            content = {"type": "tool_use", "id": _tool_use_id(), "name": tool[0], "input": tool[1]}
        usage = {"input_tokens": reply.prompt_tokens, "output_tokens": reply.completion_tokens}
        return {
            **self._message(reply, stop_reason=_stop_reason(reply, tool)),
            "content": [content],
            "usage": usage,
        }

    def stream_plan(self, reply: Reply, body: dict[str, Any]) -> StreamPlan:
        """message_start, a block with one delta a word, block stop, message_delta, stop."""
        tool = forced_tool_input(reply, body)
        if tool is None:
            block: dict[str, Any] = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": part} for part in reply.chunks()]
        else:
            block = {"type": "tool_use", "id": _tool_use_id(), "name": tool[0], "input": {}}
            as_text = Reply(json.dumps(tool[1]), reply.model, 0, 0)
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in as_text.chunks()]
        start = self._message(reply, stop_reason=None) | {"content": []}
        start["usage"] = {"input_tokens": reply.prompt_tokens, "output_tokens": 1}
        message_delta = {
            "type": "message_delta",
            "delta": {"stop_reason": _stop_reason(reply, tool), "stop_sequence": None},
            "usage": {"output_tokens": reply.completion_tokens},
        }
        preamble: list[dict[str, Any]] = [
            {"type": "message_start", "message": start},
            {"type": "content_block_start", "index": 0, "content_block": block},
            {"type": "ping"},
        ]
        chunks = [{"type": "content_block_delta", "index": 0, "delta": d} for d in deltas]
        tail: list[dict[str, Any]] = [
            {"type": "content_block_stop", "index": 0},
            message_delta,
            {"type": "message_stop"},
        ]
        return StreamPlan(
            preamble=[sse(e) for e in preamble],
            chunks=[sse(e) for e in chunks],
            tail=[sse(e) for e in tail],
        )

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        kind = _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return {
            "type": "error",
            "error": {"type": kind, "message": message},
            "request_id": f"req_replay{uuid.uuid4().hex[:16]}",
        }

    def rate_limit_headers(self, retry_after: float) -> dict[str, str]:
        reset = datetime.now(UTC) + timedelta(seconds=retry_after)
        return {
            "anthropic-ratelimit-requests-limit": "50",
            "anthropic-ratelimit-requests-remaining": "0",
            "anthropic-ratelimit-requests-reset": reset.isoformat(timespec="seconds").replace(
                "+00:00", "Z"
            ),
        }

    @staticmethod
    def _message(reply: Reply, *, stop_reason: str | None) -> dict[str, Any]:
        return {
            "id": f"msg_replay{uuid.uuid4().hex[:20]}",
            "type": "message",
            "role": "assistant",
            "model": reply.model,
            "stop_reason": stop_reason,
            "stop_sequence": None,
        }


def _stop_reason(reply: Reply, tool: tuple[str, dict[str, Any]] | None) -> str:
    if reply.truncated:
        return "max_tokens"
    return "tool_use" if tool else "end_turn"


def _tool_use_id() -> str:
    return f"toolu_replay{uuid.uuid4().hex[:16]}"
