"""Asking the run's agents for typed answers, through the user's key (or the system's).

Each call opens the LLM gateway on its own event loop (``async_to_sync``), streams the
answer's text to the browser as it arrives, and closes the gateway before returning.
"""

import asyncio

from asgiref.sync import async_to_sync
from django.conf import settings

from generation.agents import Agent
from generation.models import GenerationRun
from generation.publish import TextRelay, publish_transient
from llm.services import CallContext, LLMGateway


class AgentCalls:
    """The run's way to the LLM: one agent's answer, or several at once."""

    def __init__(self, run: GenerationRun) -> None:
        self.run = run

    def answer(self, agent: Agent, **values):
        """One typed answer from ``agent``."""
        self.working(agent.name)
        return async_to_sync(self._answer)(agent, values)

    def working(self, agent: str, detail: str = "") -> None:
        """Tell the browser which agent works now (live only; the step's events follow)."""
        message = {"type": "pipeline.activity", "run": str(self.run.pk), "agent": agent,
                   "detail": detail}  # fmt: skip
        publish_transient(self.run.project_id, message)

    async def _answer(self, agent: Agent, values: dict):
        llm = await LLMGateway.open(self._context(agent))
        relay = TextRelay(self.run.project_id, self.run.pk, agent.name)
        try:
            return await agent.ask(llm, on_text=relay, **values)
        finally:
            relay.close()
            await llm.aclose()  # async_to_sync ends this loop when we return

    def answers(self, agent: Agent, many: list[dict]) -> list:
        """Several answers from ``agent`` at once (parallel CodeMonkeys), at most
        SAMOKODER_CODEMONKEY_LIMIT in flight."""
        self.working(agent.name, ", ".join(str(values.get("path", "")) for values in many))
        return async_to_sync(self._answers)(agent, many)

    async def _answers(self, agent: Agent, many: list[dict]) -> list:
        llm = await LLMGateway.open(self._context(agent))
        gate = asyncio.Semaphore(settings.SAMOKODER_CODEMONKEY_LIMIT)

        async def one(values: dict):
            relay = TextRelay(self.run.project_id, self.run.pk, agent.name,
                              str(values.get("path", "")))  # fmt: skip
            async with gate:
                try:
                    return await agent.ask(llm, on_text=relay, **values)
                finally:
                    relay.close()

        try:
            # A TaskGroup cancels the others when one fails, before the client closes.
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(one(values)) for values in many]
            return [task.result() for task in tasks]
        except* Exception as failed:
            raise failed.exceptions[0] from None
        finally:
            await llm.aclose()

    def _context(self, agent: Agent) -> CallContext:
        run = self.run
        return CallContext(
            user_id=run.user_id, provider=run.provider, agent=agent.name,
            model=run.model or None, project_id=run.project_id, run_id=run.pk,
        )  # fmt: skip
