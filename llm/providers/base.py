"""The adapter interface every provider implements, and the vendor-error mapping.

The three official SDKs share one error hierarchy shape (APIStatusError with a status
code and response, APIConnectionError, APITimeoutError, APIResponseValidationError),
so one mapping serves all; each adapter passes its SDK module.
"""

import asyncio
import json
import ssl
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Hashable
from functools import cache
from types import ModuleType
from typing import Any

import httpx

from core.providers import provider_label
from llm import errors
from llm.providers.pool import ClientPool, client_key, pool_here
from llm.retry import retry_after_from_headers
from llm.types import JSON_SCHEMA, Completion, Conversation, Message, ProviderConfig

OnText = Callable[[str], Awaitable[None]]
CONTEXT_HINTS = (
    "context length",
    "context_length",
    "too long",
    "maximum context",
    "too many tokens",
)


@cache
def tls_context() -> ssl.SSLContext:
    """One TLS context per process, shared by every SDK client.

    Building it (loading the CA bundle) is most of what an SDK client costs: 25 ms of
    the 27 ms measured for one, against 3 ms with this context passed in (bench/pipeline.py,
    2026-11-30). A context holds no connection, so clients on different event loops
    and threads may share it.
    """
    return httpx.create_ssl_context()


class BaseLLMClient(ABC):
    sdk: ModuleType
    native_mode = JSON_SCHEMA  # the structured-output mode when none is named

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self._client: Any = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._pool: ClientPool | None = None  # where the client is held, when it is kept

    @abstractmethod
    def _make_client(self) -> Any:
        """The vendor SDK's async client, with the SDK's own retries off (ours count);
        built on ``http_client()``."""

    def http_client(self) -> Any:
        """The SDK's own HTTP client (its httpx, or the fork it ships with) with the SDK's
        defaults (timeouts, pool limits, redirects), on the process's shared TLS context
        instead of a new one per client."""
        return self.sdk.DefaultAsyncHttpxClient(verify=tls_context())

    def sdk_client(self) -> Any:
        """The SDK client for the running event loop.

        On the process's long-lived loop (core.loop) it is the one kept for this
        provider, key, base URL and timeout (llm.providers.pool), held until ``aclose``.
        An SDK client's connection pool belongs to the loop that opened it, so on any
        other loop (``async_to_sync`` makes one per call) it is built for that loop.
        """
        loop = asyncio.get_running_loop()
        if self._client_loop is not loop:
            self._drop_pooled()
            self._pool = pool_here()
            if self._pool is not None:
                self._client = self._pool.acquire(self._pool_key(), self._make_client)
            else:
                self._client = self._make_client()
            self._client_loop = loop
        return self._client

    async def aclose(self) -> None:
        """Give a kept client back, or close this call's own client in the loop that
        opened its connections.

        Left to the garbage collector, the SDK closes them from whatever loop runs then;
        a connection of a loop that has since closed then fails ("Event loop is closed").
        """
        if self._pool is not None:
            self._drop_pooled()
            return
        client, self._client, self._client_loop = self._client, None, None
        if client is not None:
            await client.close()

    def _drop_pooled(self) -> None:
        """Give the kept client back to its pool, on the pool's own loop."""
        if self._pool is not None and self._client_loop is not None:
            self._client_loop.call_soon_threadsafe(self._pool.release, self._pool_key())
        self._pool, self._client, self._client_loop = None, None, None

    def _pool_key(self) -> Hashable:
        config = self.config
        return client_key(type(self), api_key=config.api_key, base_url=config.base_url,
                          timeout=config.timeout)  # fmt: skip

    @abstractmethod
    async def complete(self, conversation: Conversation, *, agent: str) -> Completion:
        """One answer, whole."""

    @abstractmethod
    async def stream(
        self, conversation: Conversation, *, agent: str, on_text: OnText
    ) -> Completion:
        """One answer, handing each piece of text to ``on_text`` as it arrives."""

    @abstractmethod
    async def complete_json(
        self,
        conversation: Conversation,
        *,
        agent: str,
        name: str,
        schema: dict[str, Any],
        mode: str | None = None,
    ) -> Completion:
        """One answer as JSON text meant to match ``schema``, asked for in ``mode``
        (llm.types; ``native_mode`` when None). A mode the adapter lacks is JSON mode."""

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
        """``complete_json`` with the answer's text handed to ``on_text`` as it arrives.

        This default answers whole and hands the text over once: for providers whose
        structured mode does not stream (Anthropic's forced tool use, Groq's JSON schema).
        """
        completion = await self.complete_json(
            conversation, agent=agent, name=name, schema=schema, mode=mode
        )
        await on_text(completion.text)
        return completion

    def headers(self, agent: str) -> dict[str, str]:
        # Lets a replay server (and logs on a proxy) tell the agents apart.
        return {"X-Samokoder-Agent": agent}

    def map_error(self, exc: Exception) -> errors.LLMError:
        """The vendor exception as one of ours; callers ``raise ... from exc``."""
        label = provider_label(self.config.provider)
        sdk = self.sdk
        if isinstance(exc, sdk.APIStatusError):
            return self._map_status(exc, label)
        if isinstance(exc, sdk.APIConnectionError):  # includes APITimeoutError
            detail = "timeout" if isinstance(exc, sdk.APITimeoutError) else "connection failed"
            return errors.ProviderUnavailable(params={"provider": label, "detail": detail})
        if isinstance(exc, sdk.APIResponseValidationError | json.JSONDecodeError | ValueError):
            return errors.MalformedResponse(params={"provider": label})
        return errors.ProviderUnavailable(params={"provider": label, "detail": type(exc).__name__})

    def _map_status(self, exc: Any, label: str) -> errors.LLMError:
        status, detail = exc.status_code, _detail(exc)
        values = {"provider": label, "detail": detail}
        if status == 401:
            return errors.KeyRejected(params=values, status=status)
        if status == 403:
            return errors.KeyRejected(errors.PERMISSION_DENIED, params=values, status=status)
        if status == 429:
            wait = retry_after_from_headers(exc.response.headers)
            seconds = f"{wait:g}" if wait is not None else "?"
            params = {"provider": label, "seconds": seconds}
            return errors.RateLimited(params=params, retry_after=wait, status=status)
        if status == 413 or (status == 400 and any(h in detail.lower() for h in CONTEXT_HINTS)):
            return errors.ContextTooLong(params=values, status=status)
        if status >= 500:
            return errors.ProviderUnavailable(params=values, status=status)
        return errors.BadRequest(params=values, status=status)


def schema_in_prompt(conversation: Conversation, schema: dict[str, Any]) -> Conversation:
    """JSON mode's request: the schema said in a system message before the others."""
    instruction = Message(
        "system", f"Answer with one JSON object matching this JSON schema:\n{json.dumps(schema)}"
    )
    return Conversation(
        (instruction, *conversation.messages), conversation.temperature, conversation.max_tokens
    )


def _detail(exc: Any) -> str:
    body = exc.body if isinstance(getattr(exc, "body", None), dict) else {}
    error = body.get("error", body)
    message = error.get("message") if isinstance(error, dict) else None
    return str(message or getattr(exc, "message", "") or exc.status_code)[:500]
