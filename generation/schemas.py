"""Typed values the agents exchange, and the pipeline state stored in ProjectState.data.

LLM answers are parsed into the ``*Answer`` models (a malformed one is sent back once
with the parse error, see ``LLMGateway.send_structured``). ``PipelineState`` is what the
orchestrator reads to pick the next agent: nothing else is needed to resume a run.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from files.paths import UnsafePathError, path_normalise


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore")


def _safe_path(value: str) -> str:
    try:
        return path_normalise(value)
    except UnsafePathError as exc:
        raise ValueError(f"unsafe path {value!r}: {exc.code}") from exc


# ---- what the agents answer -------------------------------------------------------


class Specification(_Strict):
    summary: str = Field(min_length=1)
    requirements: list[str] = Field(min_length=1)
    language: str = "en"  # of the user's description; the spec is written in it


class SpecAnswer(_Strict):
    """SpecWriter: either questions for the user or the finished specification."""

    questions: list[str] = Field(default_factory=list)
    specification: Specification | None = None


class PlannedFile(_Strict):
    path: str
    purpose: str

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        return _safe_path(value)


class Architecture(_Strict):
    # The sandbox image runs Debian's python3 with the standard library and sh, and has
    # no network: anything else would fail in Execution, so the schema refuses it.
    runtime: Literal["python3"]
    summary: str
    files: list[PlannedFile] = Field(min_length=1)
    test_command: str = Field(min_length=1, max_length=500)


class Task(_Strict):
    description: str
    instructions: str = ""
    files: list[str] = Field(default_factory=list)
    status: Literal["pending", "in_progress", "done"] = "pending"
    iteration: int = 0

    @field_validator("files")
    @classmethod
    def _check_paths(cls, value: list[str]) -> list[str]:
        return [_safe_path(path) for path in value]


class Epic(_Strict):
    title: str
    description: str = ""


class TaskPlan(_Strict):
    epics: list[Epic] = Field(default_factory=list)
    tasks: list[Task] = Field(min_length=1)


class Step(_Strict):
    type: Literal["command", "save_file", "human_intervention"]
    content: str  # the file's purpose, the shell command, or the question to the user
    related_files: list[str] = Field(default_factory=list)
    done: bool = False

    @model_validator(mode="after")
    def _one_file_per_save(self) -> "Step":
        if self.type == "save_file" and len(self.related_files) != 1:
            raise ValueError("a save_file step names exactly one path in related_files")
        return self

    @field_validator("related_files")
    @classmethod
    def _check_paths(cls, value: list[str]) -> list[str]:
        return [_safe_path(path) for path in value]


class StepPlan(_Strict):
    steps: list[Step] = Field(min_length=1)


class FileWrite(_Strict):
    path: str
    content: str

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        return _safe_path(value)


class Fix(_Strict):
    explanation: str
    files: list[FileWrite] = Field(min_length=1)


# ---- what the pipeline remembers between steps --------------------------------------


class Iteration(_Strict):
    description: str
    user_stories: list[str] = Field(default_factory=list)
    status: Literal["pending", "in_progress", "completed", "failed"] = "pending"


class Debugging(_Strict):
    """The error being fixed: its command, the latest output, and the attempts so far."""

    command: str
    error: str  # the latest output
    first_error: str = ""  # the output that opened this error, its identity once fixed
    exit_code: int | None = None
    step: int | None = None  # the failing step of the task, or None for the test command
    attempts: int = 0
    rerun: bool = False  # a fix was applied and the command must run again
    tried: list[list[str]] = Field(default_factory=list)  # sorted content hashes per fix


class PipelineState(_Strict):
    iterations: list[Iteration] = Field(default_factory=list)
    specification: Specification | None = None
    architecture: Architecture | None = None
    epics: list[Epic] = Field(default_factory=list)
    tasks: list[Task] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)  # of the task in progress
    questions: list[str] = Field(default_factory=list)  # open, awaiting the user
    asked: list[str] = Field(default_factory=list)  # answered questions, paired with answers
    answers: list[str] = Field(default_factory=list)
    tests_passed: bool = False
    debugging: Debugging | None = None
    fixed_errors: list[str] = Field(default_factory=list)  # signatures, for loop detection

    def iteration_tasks(self) -> list[Task]:
        """The tasks of the iteration in progress (the last one)."""
        iteration = len(self.iterations) - 1
        return [task for task in self.tasks if task.iteration == iteration]

    def current_task(self) -> int | None:
        """Index of the first task not done, or None when every task is."""
        return next((i for i, t in enumerate(self.tasks) if t.status != "done"), None)
