"""Typed values of the LLM Integration context (domain model, section 4)."""

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True)
class Conversation:
    """What is sent: messages plus sampling settings (domain: Conversation)."""

    messages: tuple[Message, ...]
    temperature: float = 0.2
    max_tokens: int = 4096

    def with_messages(self, *extra: Message) -> "Conversation":
        return Conversation(self.messages + extra, self.temperature, self.max_tokens)

    def as_dicts(self) -> list[dict[str, str]]:
        return [{"role": m.role, "content": m.content} for m in self.messages]


@dataclass(frozen=True)
class ProviderConfig:
    """How to reach one provider: its key, endpoint, timeout and model."""

    provider: str
    api_key: str = field(repr=False)
    model: str
    base_url: str | None = None
    timeout: float = 120.0


@dataclass(frozen=True)
class Completion:
    """One answer and what it cost in tokens."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    model: str
    truncated: bool = False  # stopped at the token limit (finish_reason / stop_reason)


# How a typed answer is asked for (llm.capabilities picks one per model): the provider's
# JSON-schema response format, a forced tool whose input is the answer, or JSON mode with
# the schema in the prompt (every chat model can follow that one).
JSON_SCHEMA, TOOL_USE, JSON_OBJECT = "json_schema", "tool_use", "json_object"
