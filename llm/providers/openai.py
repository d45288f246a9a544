"""OpenAI, and any OpenAI-compatible endpoint by ``base_url`` (Ollama, vLLM, LM Studio,
OpenRouter), on the official async SDK. Groq's adapter reuses this shape and overrides
what Groq does differently."""

from typing import Any

import openai

from llm.providers.base import BaseLLMClient, OnText
from llm.types import Completion, Conversation


class OpenAIClient(BaseLLMClient):
    sdk = openai

    def _make_client(self) -> Any:
        return openai.AsyncOpenAI(
            api_key=self.config.api_key,
            base_url=self.config.base_url,
            timeout=self.config.timeout,
            max_retries=0,
        )

    def _limit(self, conversation: Conversation) -> dict[str, int]:
        # OpenAI's newer models take only max_completion_tokens; compatible servers
        # (Ollama, vLLM, ...) mostly know max_tokens.
        if self.config.base_url is None:
            return {"max_completion_tokens": conversation.max_tokens}
        return {"max_tokens": conversation.max_tokens}

    def _request(self, conversation: Conversation, agent: str, **extra: Any) -> dict[str, Any]:
        return {
            "model": self.config.model,
            "messages": conversation.as_dicts(),
            "temperature": conversation.temperature,
            "extra_headers": self.headers(agent),
            **self._limit(conversation),
            **extra,
        }

    async def complete(self, conversation: Conversation, *, agent: str) -> Completion:
        try:
            response = await self.sdk_client().chat.completions.create(
                **self._request(conversation, agent)
            )
            return _completion(response)
        except Exception as exc:
            raise self.map_error(exc) from exc

    async def complete_json(
        self, conversation: Conversation, *, agent: str, name: str, schema: dict[str, Any]
    ) -> Completion:
        response_format = {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": schema},
        }
        try:
            response = await self.sdk_client().chat.completions.create(
                **self._request(conversation, agent, response_format=response_format)
            )
            return _completion(response)
        except Exception as exc:
            raise self.map_error(exc) from exc

    async def stream(
        self, conversation: Conversation, *, agent: str, on_text: OnText
    ) -> Completion:
        return await self._stream(self._stream_request(conversation, agent), conversation, on_text)

    async def stream_json(
        self,
        conversation: Conversation,
        *,
        agent: str,
        name: str,
        schema: dict[str, Any],
        on_text: OnText,
    ) -> Completion:
        """Structured output streamed: the JSON text arrives in pieces, like any text."""
        request = self._stream_request(conversation, agent)
        request["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": schema},
        }
        return await self._stream(request, conversation, on_text)

    async def _stream(
        self, request: dict[str, Any], conversation: Conversation, on_text: OnText
    ) -> Completion:
        pieces: list[str] = []
        usage, model = None, self.config.model
        try:
            stream = await self.sdk_client().chat.completions.create(**request)
            async for chunk in stream:
                model = chunk.model or model
                usage = self._chunk_usage(chunk) or usage
                text = chunk.choices[0].delta.content if chunk.choices else None
                if text:
                    pieces.append(text)
                    await on_text(text)
        except Exception as exc:
            raise self.map_error(exc) from exc
        return _streamed(pieces, usage, model, conversation)

    def _stream_request(self, conversation: Conversation, agent: str) -> dict[str, Any]:
        return self._request(
            conversation, agent, stream=True, stream_options={"include_usage": True}
        )

    def _chunk_usage(self, chunk: Any) -> Any:
        """The token counts a streamed chunk carries (only the last one has them)."""
        return getattr(chunk, "usage", None)


def _completion(response: Any) -> Completion:
    # ``response`` is an OpenAI-shaped chat completion of either SDK (openai's or groq's).
    choice = response.choices[0] if response.choices else None
    usage = response.usage
    return Completion(
        text=(choice.message.content or "") if choice else "",
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0,
        model=response.model,
    )


def _streamed(pieces: list[str], usage: Any, model: str, conversation: Conversation) -> Completion:
    return Completion(
        text="".join(pieces),
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0,
        model=model,
    )
