"""OpenAI, and any OpenAI-compatible endpoint by ``base_url`` (Ollama, vLLM, LM Studio,
OpenRouter), on the official async SDK. Groq's adapter reuses this shape and overrides
what Groq does differently."""

from typing import Any

import openai

from llm.providers.base import BaseLLMClient, OnText, schema_in_prompt
from llm.types import JSON_OBJECT, JSON_SCHEMA, Completion, Conversation


class OpenAIClient(BaseLLMClient):
    sdk = openai
    native_mode = JSON_SCHEMA

    def _make_client(self) -> Any:
        return openai.AsyncOpenAI(
            api_key=self.config.api_key,
            base_url=self.config.base_url,
            timeout=self.config.timeout,
            max_retries=0,
            http_client=self.http_client(),
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

    def _structured(
        self, conversation: Conversation, name: str, schema: dict[str, Any], mode: str | None
    ) -> tuple[Conversation, dict[str, Any]]:
        """The conversation to send and its response_format for ``mode``."""
        if (mode or self.native_mode) == JSON_SCHEMA:
            return conversation, {
                "type": "json_schema",
                "json_schema": {"name": name, "schema": schema},
            }
        return schema_in_prompt(conversation, schema), {"type": JSON_OBJECT}

    async def complete_json(
        self,
        conversation: Conversation,
        *,
        agent: str,
        name: str,
        schema: dict[str, Any],
        mode: str | None = None,
    ) -> Completion:
        asked, response_format = self._structured(conversation, name, schema, mode)
        try:
            response = await self.sdk_client().chat.completions.create(
                **self._request(asked, agent, response_format=response_format)
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
        mode: str | None = None,
    ) -> Completion:
        """Structured output streamed: the JSON text arrives in pieces, like any text."""
        asked, response_format = self._structured(conversation, name, schema, mode)
        request = self._stream_request(asked, agent)
        request["response_format"] = response_format
        return await self._stream(request, conversation, on_text)

    async def _stream(
        self, request: dict[str, Any], conversation: Conversation, on_text: OnText
    ) -> Completion:
        pieces: list[str] = []
        usage, model, finish = None, self.config.model, None
        try:
            stream = await self.sdk_client().chat.completions.create(**request)
            async for chunk in stream:
                model = chunk.model or model
                usage = self._chunk_usage(chunk) or usage
                finish = (chunk.choices[0].finish_reason if chunk.choices else None) or finish
                text = chunk.choices[0].delta.content if chunk.choices else None
                if text:
                    pieces.append(text)
                    await on_text(text)
        except Exception as exc:
            raise self.map_error(exc) from exc
        return _streamed(pieces, usage, model, truncated=finish == "length")

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
        truncated=choice is not None and choice.finish_reason == "length",
    )


def _streamed(pieces: list[str], usage: Any, model: str, *, truncated: bool) -> Completion:
    return Completion(
        text="".join(pieces),
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0,
        model=model,
        truncated=truncated,
    )
