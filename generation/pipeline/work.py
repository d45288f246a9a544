"""What a step handler works with, and how it says the run cannot go on."""

import threading

from files.selectors import state_texts
from generation import events
from generation.models import GenerationRun
from generation.orchestrator import Action
from generation.pipeline.agent_calls import AgentCalls, Cancelled
from generation.schemas import PipelineState, Task
from generation.services.steps import StepChange
from projects import labels
from projects.labels import StepLabel
from projects.models import ProjectState

__all__ = ["Cancelled", "StepWork", "StopRun"]


class StopRun(Exception):
    """The run cannot go on; ``code`` and ``params`` say why (generation.reasons)."""

    def __init__(self, code: str, **params) -> None:
        super().__init__(code)
        self.code, self.params = code, params


class StepWork:
    """One action on one committed state. A handler changes ``data`` (a copy of the
    state's) and returns the StepChange to commit."""

    def __init__(
        self, run: GenerationRun, agents: AgentCalls, cancel: threading.Event,
        state: ProjectState, data: PipelineState, action: Action,
    ) -> None:  # fmt: skip
        self.run, self.agents, self.cancel = run, agents, cancel
        self.state, self.action = state, action
        self.data = data.model_copy(deep=True)
        self.project_id = str(run.project_id)

    def change(self, agent: str, *new_events, **fields) -> StepChange:
        return StepChange(data=self.data, events=list(new_events), stage=self.action.stage,
                          agent=agent, **fields)  # fmt: skip

    def questions(self, questions: list[str], agent: str) -> StepChange:
        """Park the run on ``questions`` until its user answers."""
        self.data.questions = questions
        text = "\n".join(questions)
        asked = events.QuestionAsked(project_id=self.project_id, question=text)
        return self.change(agent, asked, status=GenerationRun.Status.AWAITING_INPUT,
                           question=text, label=StepLabel(labels.QUESTION))  # fmt: skip

    def files(self) -> dict[str, str]:
        """Every file of the committed state, path → text."""
        return dict(state_texts(state=self.state))

    def task(self) -> Task:
        """The task the action works on."""
        return self.data.tasks[self.action.task]

    def task_files(self) -> list[str]:
        """The files of the task in progress, if any."""
        task = self.data.current_task()
        return self.data.tasks[task].files if task is not None else []
