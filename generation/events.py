"""Events of the Code Generation context (domain model, section 3).

Each is appended to the run's PipelineEvent log with a sequence number, in the same
transaction as the step it belongs to, and published to the project's channel group
once that transaction has committed.
"""

import dataclasses
from typing import Any

from samokoder_site.events import DomainEvent


@dataclasses.dataclass(frozen=True, kw_only=True)
class GenerationStarted(DomainEvent):
    project_id: str
    iteration: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class GenerationStepCompleted(DomainEvent):
    project_id: str
    step_index: int
    stage: str
    agent: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProjectStateUpdated(DomainEvent):
    project_id: str
    step_index: int
    progress: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class SpecificationGenerated(DomainEvent):
    project_id: str
    spec: dict[str, Any]


@dataclasses.dataclass(frozen=True, kw_only=True)
class QuestionAsked(DomainEvent):
    project_id: str
    question: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class QuestionAnswered(DomainEvent):
    project_id: str
    answer: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class ArchitectureDesigned(DomainEvent):
    project_id: str
    architecture: dict[str, Any]


@dataclasses.dataclass(frozen=True, kw_only=True)
class TasksCreated(DomainEvent):
    project_id: str
    tasks: list[Any]


@dataclasses.dataclass(frozen=True, kw_only=True)
class StepsPlanned(DomainEvent):
    project_id: str
    task_index: int
    steps: list[Any]


@dataclasses.dataclass(frozen=True, kw_only=True)
class CodeGenerated(DomainEvent):
    project_id: str
    files: list[str]


@dataclasses.dataclass(frozen=True, kw_only=True)
class CommandExecuted(DomainEvent):
    project_id: str
    command: str
    exit_code: int | None
    timed_out: bool
    log_id: int
    output: str  # the tail of the output, for the terminal panel


@dataclasses.dataclass(frozen=True, kw_only=True)
class ErrorDetected(DomainEvent):
    project_id: str
    command: str
    error: str
    attempt: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class FixApplied(DomainEvent):
    project_id: str
    command: str
    files: list[str]
    attempt: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class ErrorFixed(DomainEvent):
    project_id: str
    command: str
    attempts: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class GenerationCompleted(DomainEvent):
    project_id: str
    step_index: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class GenerationFailed(DomainEvent):
    project_id: str
    error: str  # language-neutral reason code
    reason: str  # the sentence, in the language of whoever started the run


@dataclasses.dataclass(frozen=True, kw_only=True)
class GenerationCancelled(DomainEvent):
    project_id: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class GenerationResumed(DomainEvent):
    project_id: str
    after: str  # "answer", "crash"
