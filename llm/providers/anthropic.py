"""Anthropic's Messages API on its official async SDK."""

import json
from typing import Any

import anthropic

from llm.providers.base import BaseLLMClient, OnText, schema_in_prompt
from llm.types import JSON_OBJECT, TOOL_USE, Completion, Conversation


class AnthropicClient(BaseLLMClient):
    sdk = anthropic
    native_mode = TOOL_USE

    def _make_client(self) -> anthropic.AsyncAnthropic:
        return anthropic.AsyncAnthropic(
            api_key=self.config.api_key,
            base_url=self.config.base_url,
            timeout=self.config.timeout,
            max_retries=0,
            http_client=self.http_client(),
        )

    def _request(self, conversation: Conversation, agent: str, **extra: Any) -> dict[str, Any]:
        # Anthropic takes the system prompt apart from the turns.
        system = "\n\n".join(m.content for m in conversation.messages if m.role == "system")
        turns = [
            {"role": m.role, "content": m.content}
            for m in conversation.messages
            if m.role != "system"
        ]
        request = {
            "model": self.config.model,
            "max_tokens": conversation.max_tokens,
            "messages": turns,
            "extra_headers": self.headers(agent),
            **extra,
        }
        return {**request, "system": system} if system else request

    async def complete(self, conversation: Conversation, *, agent: str) -> Completion:
        try:
            message = await self.sdk_client().messages.create(**self._request(conversation, agent))
        except Exception as exc:
            raise self.map_error(exc) from exc
        text = "".join(block.text for block in message.content if block.type == "text")
        return _completion(message, text)

    async def complete_json(
        self,
        conversation: Conversation,
        *,
        agent: str,
        name: str,
        schema: dict[str, Any],
        mode: str | None = None,
    ) -> Completion:
        """Tool use forced on one tool whose input schema is ``schema``: the input is the
        answer. Any other mode is JSON mode: the schema in the prompt, the answer as text."""
        if (mode or self.native_mode) == JSON_OBJECT:
            return await self.complete(schema_in_prompt(conversation, schema), agent=agent)
        tool = {"name": name, "description": f"Record the {name}.", "input_schema": schema}
        request = self._request(
            conversation, agent, tools=[tool], tool_choice={"type": "tool", "name": name}
        )
        try:
            message = await self.sdk_client().messages.create(**request)
        except Exception as exc:
            raise self.map_error(exc) from exc
        calls = [b.input for b in message.content if b.type == "tool_use" and b.name == name]
        text = (
            json.dumps(calls[0])
            if calls
            else "".join(b.text for b in message.content if b.type == "text")
        )
        return _completion(message, text)

    async def stream(
        self, conversation: Conversation, *, agent: str, on_text: OnText
    ) -> Completion:
        try:
            async with self.sdk_client().messages.stream(
                **self._request(conversation, agent)
            ) as stream:
                pieces = []
                async for text in stream.text_stream:
                    pieces.append(text)
                    await on_text(text)
                message = await stream.get_final_message()
        except Exception as exc:
            raise self.map_error(exc) from exc
        return _completion(message, "".join(pieces))


def _completion(message: anthropic.types.Message, text: str) -> Completion:
    return Completion(
        text=text,
        prompt_tokens=message.usage.input_tokens,
        completion_tokens=message.usage.output_tokens,
        model=message.model,
        truncated=message.stop_reason == "max_tokens",
    )
