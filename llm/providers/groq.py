"""Groq on its official async SDK (an OpenAI-shaped API)."""

import json
from typing import Any

import groq

from llm.providers.base import BaseLLMClient
from llm.providers.openai import OpenAIClient, _completion
from llm.types import Completion, Conversation, Message


class GroqClient(OpenAIClient):
    sdk = groq

    def _make_client(self) -> Any:
        return groq.AsyncGroq(
            api_key=self.config.api_key,
            base_url=self.config.base_url,
            timeout=self.config.timeout,
            max_retries=0,
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

    async def complete_json(
        self, conversation: Conversation, *, agent: str, name: str, schema: dict[str, Any]
    ) -> Completion:
        """JSON mode, the structured output every Groq model has; the schema goes in the prompt."""
        instruction = Message(
            "system",
            f"Answer with one JSON object matching this JSON schema:\n{json.dumps(schema)}",
        )
        asked = Conversation(
            (instruction, *conversation.messages), conversation.temperature, conversation.max_tokens
        )
        request = self._request(asked, agent, response_format={"type": "json_object"})
        try:
            return _completion(await self.sdk_client().chat.completions.create(**request))
        except Exception as exc:
            raise self.map_error(exc) from exc
