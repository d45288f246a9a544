"""Groq on its official async SDK (an OpenAI-shaped API)."""

from typing import Any

import groq

from llm.providers.base import BaseLLMClient
from llm.providers.openai import OpenAIClient
from llm.types import JSON_OBJECT, Conversation


class GroqClient(OpenAIClient):
    sdk = groq
    # JSON mode is the structured output every Groq model has; json_schema only some have
    # (the capability table names them).
    native_mode = JSON_OBJECT

    def _make_client(self) -> Any:
        return groq.AsyncGroq(
            api_key=self.config.api_key,
            base_url=self.config.base_url,
            timeout=self.config.timeout,
            max_retries=0,
            http_client=self.http_client(),
        )

    # Groq's JSON-schema mode is not streamed here: the answer comes whole (base class).
    stream_json = BaseLLMClient.stream_json

    def _limit(self, conversation: Conversation) -> dict[str, int]:
        return {"max_completion_tokens": conversation.max_tokens}

    def _stream_request(self, conversation: Conversation, agent: str) -> dict[str, Any]:
        # The Groq SDK has no stream_options argument; the API takes it in the body.
        return self._request(
            conversation, agent, stream=True, extra_body={"stream_options": {"include_usage": True}}
        )

    def _chunk_usage(self, chunk: Any) -> Any:
        # Groq reports a stream's token counts under its own x_groq field as well.
        x_groq = getattr(chunk, "x_groq", None)
        return super()._chunk_usage(chunk) or getattr(x_groq, "usage", None)
