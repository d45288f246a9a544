"""What every agent shares: its prompt templates and one typed question to the LLM."""

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

from django.template import Context, Engine
from pydantic import BaseModel

from execution.dependencies import RUNTIMES
from llm.types import Conversation, Message

Answer = TypeVar("Answer", bound=BaseModel)
PROMPTS = Path(__file__).resolve().parent.parent / "prompts"
# Prompts are text for a model, not HTML: nothing is escaped.
_engine = Engine(dirs=[str(PROMPTS)], autoescape=False)


OnText = Callable[[str], Awaitable[None]]


class LLM(Protocol):
    """The part of ``llm.services.LLMGateway`` an agent uses."""

    async def send_structured(
        self, conversation: Conversation, schema: type[Answer], on_text: OnText | None = None
    ) -> Answer: ...


def render(template: str, **values: Any) -> str:
    return _engine.get_template(template).render(Context(values)).strip()


class Agent:
    name: ClassVar[str]  # also the agent recorded on each LLMRequest
    role: ClassVar[str]
    duty: ClassVar[str]
    template: ClassVar[str]
    answer: ClassVar[type[BaseModel]]

    def conversation(self, **values: Any) -> Conversation:
        system = render("system.txt", role=self.role, duty=self.duty)
        # Every prompt may say what the sandbox runs (prompts/sandbox.txt), from one table.
        user = render(self.template, runtimes=list(RUNTIMES.values()), **values)
        return Conversation(messages=(Message("system", system), Message("user", user)))

    async def ask(self, llm: LLM, *, on_text: OnText | None = None, **values: Any) -> Any:
        """The typed answer; ``on_text`` sees its text as it streams in, for watching."""
        return await llm.send_structured(self.conversation(**values), self.answer, on_text)
