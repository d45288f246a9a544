"""The LLM gateway: key resolution, retries, accounting and events around the adapters.

Commands of the domain model: ``send`` (SendLLMRequest), ``send_many``
(ParallelLLMRequests) and ``send_structured`` (a typed answer, optionally streamed to a
watcher: StreamLLMResponse as the pipeline uses it).
Every attempt, failed ones too, is recorded as an LLMRequest with secrets masked.
Network errors, timeouts, 5xx, 429 and unreadable answers are retried at most
``LLM_MAX_RETRIES`` (3) times, waiting what the provider asked (Retry-After or its
reset header) or an exponential backoff with jitter; anything else fails at once.
A stop (the caller's ``stopped`` says so, or the calling task is cancelled) is never
retried: the attempt in flight is recorded as cancelled and no other is sent.

Call from async code, or from sync code through ``asgiref.sync.async_to_sync`` or
``core.loop.LoopCaller`` (the worker's way: one long-lived loop, SDK clients kept), so the
database work runs on the caller's thread and connection. The gateway hands that work
over in as few trips as it can: the key and the model's structured-output mode are read
before the loop is entered (``prepare``), and each attempt's bookkeeping goes in one trip
and one transaction once it is answered (or failed, or cancelled): its LLMRequest row, the
day's totals, and its LLMRequestSent and outcome events in one insert, the Sent event
dated when the attempt was sent. Before an attempt only the usage limit needs a trip, on
the first attempt and only where a limit applies (llm.limits); the stop check is the
caller's ``stopped``, asked on the loop.

So LLMRequestSent is written with the attempt's record, not before it is sent (invariant
15 is about the record, which never was written earlier): a worker killed while a
request is in flight leaves no Sent event, as it leaves no LLMRequest row.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pydantic
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.events import DomainEvent
from llm import errors, events
from llm.accounting import Attempt, request_record
from llm.capabilities import refuses_mode, structured_mode, structured_mode_learn
from llm.keys import ResolvedKey, key_resolve, known_secrets
from llm.limits import usage_limited, usage_take
from llm.masking import mask_text, mask_value
from llm.models import LLMRequest
from llm.providers.base import BaseLLMClient, OnText
from llm.providers.registry import client_for
from llm.retry import backoff_delay
from llm.types import JSON_OBJECT, Completion, Conversation, Message, ProviderConfig
from projects.models import ProjectEvent

Model = TypeVar("Model", bound=pydantic.BaseModel)
# Sent to the model, not shown to people: stays English whatever the user's language.
SCHEMA_MISMATCH = "That answer does not match the schema:"
ANSWER_AGAIN = "Answer again with the corrected JSON only."
# Runs a sync function where the caller's database connection is: ``await sync(f, *args)``.
SyncCall = Callable[..., Awaitable[Any]]
# Told of each request once it is recorded, on the caller's thread (a run's totals).
OnRecord = Callable[[LLMRequest], None]


async def thread_sensitive(function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """``SyncCall`` under ``async_to_sync`` or in async code: asgiref's thread-sensitive
    executor (the thread that called ``async_to_sync``, or Django's one sync thread)."""
    return await sync_to_async(function)(*args, **kwargs)


@dataclass(frozen=True)
class CallContext:
    """Who asks, for what: every request is recorded against these."""

    user_id: int
    provider: str
    agent: str
    model: str | None = None
    project_id: Any = None
    run_id: Any = None


class _Sent:
    """One attempt, as it is sent: its number, and when (the wall clock for its
    LLMRequestSent event, the monotonic one for its latency)."""

    def __init__(self, attempt: int) -> None:
        self.attempt = attempt
        self.at = timezone.now()
        self.started = time.monotonic()

    def elapsed_ms(self) -> int:
        return round((time.monotonic() - self.started) * 1000)


class LLMGateway:
    """One agent's access to one provider, with the key resolved once."""

    def __init__(
        self, context: CallContext, key: ResolvedKey, client: BaseLLMClient,
        stopped: Callable[[], bool] = lambda: False, *, mode: str | None = None,
        sync: SyncCall = thread_sensitive, on_record: OnRecord | None = None,
    ) -> None:  # fmt: skip
        self.context, self.key, self.client = context, key, client
        self.secrets = known_secrets(key)
        self.stopped = stopped
        self.mode = mode  # structured output's, from the capability table (None: native)
        self.sync = sync
        self.on_record = on_record

    @classmethod
    def prepare(
        cls, context: CallContext, stopped: Callable[[], bool] = lambda: False, *,
        sync: SyncCall = thread_sensitive, on_record: OnRecord | None = None,
    ) -> "LLMGateway":  # fmt: skip
        """Resolve the key (KeyMissing when there is none), look up the model's
        structured-output mode and build the adapter; sync, on the caller's thread.

        ``stopped`` is asked before every attempt and every wait, on the event loop (so it
        must be thread-safe and touch no database): once it says True, the gateway raises
        RequestCancelled instead of sending anything more. ``sync`` is how the gateway's
        coroutines reach the caller's database connection. ``on_record`` is given each
        request's row once its transaction committed, on the caller's thread.
        """
        key = key_resolve(user_id=context.user_id, provider=context.provider)
        model = context.model or settings.LLM_DEFAULT_MODELS[context.provider]
        config = ProviderConfig(
            provider=context.provider,
            api_key=key.api_key,
            model=model,
            base_url=settings.LLM_BASE_URLS.get(context.provider),
            timeout=settings.LLM_TIMEOUT,
        )
        mode = structured_mode(context.provider, model)
        return cls(context, key, client_for(config), stopped, mode=mode, sync=sync,
                   on_record=on_record)  # fmt: skip

    @classmethod
    async def open(
        cls, context: CallContext, stopped: Callable[[], bool] = lambda: False
    ) -> "LLMGateway":
        """``prepare`` from async code (or under ``async_to_sync``)."""
        return await sync_to_async(cls.prepare)(context, stopped)

    async def aclose(self) -> None:
        """Release the adapter's connections; call before the event loop ends."""
        await self.client.aclose()

    @property
    def model(self) -> str:
        return self.client.config.model

    async def send(self, conversation: Conversation) -> Completion:
        return await self._with_retries(
            conversation, lambda: self.client.complete(conversation, agent=self.context.agent)
        )

    async def send_many(
        self, conversations: list[Conversation], limit: int | None = None
    ) -> list[Completion]:
        """Several requests at once, at most ``limit`` (LLM_PARALLEL_LIMIT) in flight."""
        gate = asyncio.Semaphore(limit or settings.LLM_PARALLEL_LIMIT)

        async def one(conversation: Conversation) -> Completion:
            async with gate:
                return await self.send(conversation)

        return list(await asyncio.gather(*(one(c) for c in conversations)))

    async def send_structured(
        self, conversation: Conversation, schema: type[Model], on_text: OnText | None = None
    ) -> Model:
        """A typed answer; a malformed one is sent back once with the parse error.

        With ``on_text`` the answer's text is streamed to it as it arrives (where the
        provider streams structured output), retried only before the first piece. The
        mode is the capability table's for the model (llm.capabilities); a 400 refusing
        it is answered by JSON mode, remembered for the model. An answer cut off at the
        token limit raises AnswerTruncated, its tokens recorded.
        """
        name, json_schema = schema.__name__, schema.model_json_schema()
        mode = self.mode
        streamed = False

        async def relay(text: str) -> None:
            nonlocal streamed
            streamed = True
            if on_text is not None:  # relay is handed over only when it is
                await on_text(text)

        def ask(asked: Conversation) -> Callable[[], Awaitable[Completion]]:
            options: dict[str, Any] = {
                "agent": self.context.agent,
                "name": name,
                "schema": json_schema,
            }
            if on_text is None:
                return lambda: self.client.complete_json(asked, mode=mode, **options)
            return lambda: self.client.stream_json(asked, on_text=relay, mode=mode, **options)

        try:
            completion = await self._with_retries(
                conversation, ask(conversation), may_retry=lambda: not streamed, whole=True
            )
        except errors.BadRequest as error:
            if (mode or self.client.native_mode) == JSON_OBJECT or not refuses_mode(error):
                raise
            mode = self.mode = JSON_OBJECT  # this gateway's other requests too
            await self.sync(
                structured_mode_learn, provider=self.context.provider, model=self.model, mode=mode
            )
            completion = await self._with_retries(
                conversation, ask(conversation), may_retry=lambda: not streamed, whole=True
            )
        try:
            return schema.model_validate_json(completion.text)
        except pydantic.ValidationError as exc:
            retry = conversation.with_messages(
                Message("assistant", completion.text),
                Message("user", f"{SCHEMA_MISMATCH}\n{exc}\n{ANSWER_AGAIN}"),
            )
        streamed = False
        completion = await self._with_retries(
            retry, ask(retry), may_retry=lambda: not streamed, whole=True
        )
        try:
            return schema.model_validate_json(completion.text)
        except pydantic.ValidationError as exc:
            label = errors.provider_label(self.context.provider)
            raise errors.MalformedResponse(params={"provider": label}) from exc

    async def _with_retries(
        self,
        conversation: Conversation,
        call: Callable[[], Awaitable[Completion]],
        may_retry: Callable[[], bool] = lambda: True,
        whole: bool = False,
    ) -> Completion:
        """``call`` with the retries above; ``whole``: an answer cut off at the token limit
        is recorded as failed (its tokens counted) and raised as AnswerTruncated."""
        for attempt in range(1, settings.LLM_MAX_RETRIES + 2):
            if attempt == 1 and usage_limited(key_source=self.key.source):
                await self.sync(usage_take, user_id=self.context.user_id,
                                key_source=self.key.source)  # fmt: skip
            self._stop_if_asked()
            sent = _Sent(attempt)
            try:
                completion = await call()
            except asyncio.CancelledError:
                # Recorded (tokens may have been spent), then the cancel goes on its way.
                await self._failed(conversation, errors.RequestCancelled(), sent)
                raise
            except errors.LLMError as error:
                await self._failed(conversation, error, sent)
                if not error.retryable or attempt > settings.LLM_MAX_RETRIES or not may_retry():
                    raise
                self._stop_if_asked()
                await asyncio.sleep(await self._wait(error, attempt))
                continue
            if whole and completion.truncated:
                raise await self._truncated(conversation, completion, sent)
            await self._succeeded(conversation, completion, sent)
            return completion
        raise AssertionError("unreachable: the last attempt raises or returns")

    def _stop_if_asked(self) -> None:
        if self.stopped():
            raise errors.RequestCancelled()

    async def _wait(self, error: errors.LLMError, attempt: int) -> float:
        if isinstance(error, errors.RateLimited):
            wait = error.retry_after if error.retry_after is not None else backoff_delay(attempt)
            await self._emit(
                events.RateLimitHit(
                    provider=self.context.provider, agent=self.context.agent, retry_after=wait
                )
            )
            return wait
        return error.retry_after if error.retry_after is not None else backoff_delay(attempt)

    async def _succeeded(self, conversation: Conversation, completion: Completion,
                         sent: _Sent) -> None:  # fmt: skip
        latency = sent.elapsed_ms()
        received = events.LLMResponseReceived(
            provider=self.context.provider,
            model=self.model,
            agent=self.context.agent,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            latency_ms=latency,
        )
        await self._record(
            conversation,
            sent,
            latency,
            received,
            response=completion.text,
            status="success",
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
        )

    async def _truncated(
        self, conversation: Conversation, completion: Completion, sent: _Sent
    ) -> errors.AnswerTruncated:
        label = errors.provider_label(self.context.provider)
        values = {"provider": label, "limit": conversation.max_tokens}
        error = errors.AnswerTruncated(params=values)
        await self._failed(conversation, error, sent, completion)
        return error

    async def _failed(
        self,
        conversation: Conversation,
        error: errors.LLMError,
        sent: _Sent,
        completion: Completion | None = None,
    ) -> None:
        status = "rate_limited" if isinstance(error, errors.RateLimited) else "error"
        # The provider's own words go on as parameters (a run's stop reason): masked too.
        error.params = mask_value(error.params, self.secrets)
        stored = error.stored()  # rendered when shown
        spent = {}
        if completion is not None:  # an answer that came but cannot be used still cost tokens
            spent = {
                "response": completion.text,
                "prompt_tokens": completion.prompt_tokens,
                "completion_tokens": completion.completion_tokens,
            }
        failed = events.LLMRequestFailed(
            provider=self.context.provider,
            agent=self.context.agent,
            error_type=error.error_type,
            message=stored,
        )
        await self._record(
            conversation,
            sent,
            sent.elapsed_ms(),
            failed,
            status=status,
            error_type=error.error_type,
            error=stored,
            **spent,
        )

    async def _record(
        self,
        conversation: Conversation,
        sent: _Sent,
        latency_ms: int,
        event: DomainEvent,
        **outcome: Any,
    ) -> None:
        """The attempt's LLMRequest row (and the day's totals) with its LLMRequestSent
        and outcome events, in one trip to the caller's thread and one transaction."""
        outcome["response"] = mask_text(outcome.get("response", ""), self.secrets)
        row = Attempt(
            user_id=self.context.user_id,
            project_id=self.context.project_id,
            run_id=self.context.run_id,
            agent=self.context.agent,
            provider=self.context.provider,
            model=self.model,
            key_source=self.key.source,
            prompt=mask_value(conversation.as_dicts(), self.secrets),
            latency_ms=latency_ms,
            attempt=sent.attempt,
            **{"prompt_tokens": 0, "completion_tokens": 0, **outcome},
        )
        await self.sync(self._recorded, row, sent, event)

    def _recorded(self, row: Attempt, sent: _Sent, event: DomainEvent) -> None:
        with transaction.atomic():
            request = request_record(row, savepoint=False)
            if self.context.project_id is not None:
                was_sent = events.LLMRequestSent(
                    provider=self.context.provider, model=self.model,
                    agent=self.context.agent, attempt=sent.attempt,
                )  # fmt: skip
                ProjectEvent.record_many([was_sent, event], at=[sent.at],
                                         project_id=self.context.project_id)  # fmt: skip
        if self.on_record is not None:
            self.on_record(request)

    async def _emit(self, event: DomainEvent) -> None:
        await self.sync(self._event_record, event)

    def _event_record(self, event: DomainEvent) -> None:
        if self.context.project_id is not None:
            ProjectEvent.record(event, project_id=self.context.project_id)
