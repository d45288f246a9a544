"""Events of the Code Generation context (domain model, section 3).

Each is about one project (``project_id``, from the base class), appended to the run's
PipelineEvent log with a sequence number, in the same transaction as the step it belongs
to, and published to the project's channel group once that transaction has committed.
"""

import dataclasses
import uuid
from typing import Any

from core.events import ProjectScopedEvent


@dataclasses.dataclass(frozen=True, kw_only=True)
class GenerationStarted(ProjectScopedEvent):
    iteration: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class GenerationStepCompleted(ProjectScopedEvent):
    step_index: int
    stage: str
    agent: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProjectStateUpdated(ProjectScopedEvent):
    step_index: int
    progress: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class SpecificationGenerated(ProjectScopedEvent):
    spec: dict[str, Any]


@dataclasses.dataclass(frozen=True, kw_only=True)
class QuestionAsked(ProjectScopedEvent):
    question: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class QuestionAnswered(ProjectScopedEvent):
    answer: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class ArchitectureDesigned(ProjectScopedEvent):
    architecture: dict[str, Any]


@dataclasses.dataclass(frozen=True, kw_only=True)
class TasksCreated(ProjectScopedEvent):
    tasks: list[Any]


@dataclasses.dataclass(frozen=True, kw_only=True)
class StepsPlanned(ProjectScopedEvent):
    task_index: int
    steps: list[Any]


@dataclasses.dataclass(frozen=True, kw_only=True)
class CodeGenerated(ProjectScopedEvent):
    files: list[str]


@dataclasses.dataclass(frozen=True, kw_only=True)
class PipelineCommandExecuted(ProjectScopedEvent):
    """A command a pipeline step ran in the sandbox (the Execution context logs its own
    ``CommandExecuted`` about the sandbox process)."""

    command: str
    exit_code: int | None
    timed_out: bool
    log_id: uuid.UUID  # the ExecutionLog row (its text in the payload)
    output: str  # the tail of the output, for the terminal panel


@dataclasses.dataclass(frozen=True, kw_only=True)
class ErrorDetected(ProjectScopedEvent):
    command: str
    error: str
    attempt: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class FixApplied(ProjectScopedEvent):
    command: str
    files: list[str]
    attempt: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class ErrorFixed(ProjectScopedEvent):
    command: str
    attempts: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class GenerationCompleted(ProjectScopedEvent):
    step_index: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class GenerationFailed(ProjectScopedEvent):
    # The reason as a code and its parameters (generation.reasons), rendered for each
    # reader; rows logged before 2026-11-30 also hold "reason", a sentence in one language.
    error: str
    params: dict


@dataclasses.dataclass(frozen=True, kw_only=True)
class GenerationCancelled(ProjectScopedEvent):
    """Stopped at the user's request."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class GenerationResumed(ProjectScopedEvent):
    after: str  # "answer", "crash"
