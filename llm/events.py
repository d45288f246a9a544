"""Events of the LLM Integration context. Payloads never hold prompts or keys."""

import dataclasses

from core.events import DomainEvent


@dataclasses.dataclass(frozen=True, kw_only=True)
class LLMRequestSent(DomainEvent):
    provider: str
    model: str
    agent: str
    attempt: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class LLMResponseReceived(DomainEvent):
    provider: str
    model: str
    agent: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class LLMRequestFailed(DomainEvent):
    """One attempt failed (``llm.errors.LLMError`` is the exception that says why)."""

    provider: str
    agent: str
    error_type: str
    message: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class RateLimitHit(DomainEvent):
    provider: str
    agent: str
    retry_after: float
