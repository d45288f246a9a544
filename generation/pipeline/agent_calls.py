"""Asking the run's agents for typed answers, through the user's key (or the system's).

Each call prepares the LLM gateway on the step's thread (the key, the model's mode), runs
on the process's long-lived event loop (core.loop: the SDK client and its connection are
kept from one call to the next), streams the answer's text to the browser as it arrives,
and gives the gateway's client back before returning. The gateway's database work comes
back to the step's thread, on its connection. A stop (the run's ``cancel`` event, set by
the heartbeat) interrupts the call in flight within ``CANCEL_CHECK_SECONDS`` and raises
``Cancelled``; the gateway sends nothing after. What the gateways record is added up
(``spent``) for the step's commit, which adds it to the run's totals.
"""

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any

from django.conf import settings

from core.loop import LoopCaller
from generation.agents import Agent
from generation.models import GenerationRun
from generation.publish import TextRelay, publish_transient
from generation.services.steps import Cancelled
from llm.accounting import Spent
from llm.models import LLMRequest
from llm.services import CallContext, LLMGateway

CANCEL_CHECK_SECONDS = 0.1  # how often a call in flight looks at the run's cancel event


class AgentCalls:
    """The run's way to the LLM: one agent's answer, or several at once."""

    def __init__(self, run: GenerationRun, cancel: threading.Event | None = None) -> None:
        self.run = run
        self.cancel = cancel or threading.Event()
        self.spent = Spent()  # the requests recorded since the last step's commit

    def answer(self, agent: Agent, **values):
        """One typed answer from ``agent``."""
        self.working(agent.name)
        caller = LoopCaller()
        return caller.run(self._answer(self._open(agent, caller), agent, values))

    def working(self, agent: str, detail: str = "") -> None:
        """Tell the browser which agent works now (live only; the step's events follow)."""
        message = {"type": "pipeline.activity", "run": str(self.run.pk), "agent": agent,
                   "detail": detail}  # fmt: skip
        publish_transient(self.run.project_id, message)

    async def _answer(self, llm: LLMGateway, agent: Agent, values: dict):
        relay = TextRelay(self.run.project_id, self.run.pk, agent.name)
        try:
            return await self._unless_cancelled(agent.ask(llm, on_text=relay, **values))
        finally:
            relay.close()
            await llm.aclose()

    def answers(self, agent: Agent, many: list[dict]) -> list:
        """Several answers from ``agent`` at once (parallel CodeMonkeys), at most
        SAMOKODER_CODEMONKEY_LIMIT in flight."""
        self.working(agent.name, ", ".join(str(values.get("path", "")) for values in many))
        caller = LoopCaller()
        return caller.run(self._answers(self._open(agent, caller), agent, many))

    async def _answers(self, llm: LLMGateway, agent: Agent, many: list[dict]) -> list:
        gate = asyncio.Semaphore(settings.SAMOKODER_CODEMONKEY_LIMIT)

        async def one(values: dict):
            relay = TextRelay(self.run.project_id, self.run.pk, agent.name,
                              str(values.get("path", "")))  # fmt: skip
            async with gate:
                try:
                    return await agent.ask(llm, on_text=relay, **values)
                finally:
                    relay.close()

        async def all_of_them() -> list:
            try:
                # A TaskGroup cancels the others when one fails, before the client closes.
                async with asyncio.TaskGroup() as group:
                    tasks = [group.create_task(one(values)) for values in many]
                return [task.result() for task in tasks]
            except* Exception as failed:
                raise failed.exceptions[0] from None

        try:
            return await self._unless_cancelled(all_of_them())
        finally:
            await llm.aclose()

    def spent_take(self) -> Spent:
        """The requests recorded since the last take (a step's commit adds them to the
        run), counting afresh from here."""
        spent, self.spent = self.spent, Spent()
        return spent

    def _open(self, agent: Agent, caller: LoopCaller) -> LLMGateway:
        if self.cancel.is_set():
            raise Cancelled
        return LLMGateway.prepare(self._context(agent), stopped=self.cancel.is_set,
                                  sync=caller.sync, on_record=self._recorded)  # fmt: skip

    def _recorded(self, request: LLMRequest) -> None:
        self.spent.add(request)  # on the step's thread, as the gateway's database work

    async def _unless_cancelled(self, call: Coroutine[Any, Any, Any]) -> Any:
        """``call``'s result, or Cancelled as soon as the run's cancel event is set (the
        call is cancelled then, whatever it was waiting for: an answer, a retry's wait)."""
        task = asyncio.ensure_future(call)
        while not task.done() and not self.cancel.is_set():
            await asyncio.wait({task}, timeout=CANCEL_CHECK_SECONDS)
        if not self.cancel.is_set():
            return task.result()
        task.cancel()
        # Whatever the call ended with while it was stopped, the stop is what counts.
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        raise Cancelled

    def _context(self, agent: Agent) -> CallContext:
        run = self.run
        return CallContext(
            user_id=run.user_id, provider=run.provider, agent=agent.name,
            model=run.model or None, project_id=run.project_id, run_id=run.pk,
        )  # fmt: skip
