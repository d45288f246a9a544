"""Typed values the agents exchange, and the pipeline state stored in ProjectState.data.

LLM answers are parsed into the ``*Answer`` models (a malformed one is sent back once
with the parse error, see ``LLMGateway.send_structured``). ``PipelineState`` is what the
orchestrator reads to pick the next agent: nothing else is needed to resume a run.
"""

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from execution.dependencies import RUNTIMES
from files.paths import UnsafePathError, path_normalise


class _IgnoresExtraKeys(BaseModel):
    """A value that drops keys it does not know (models add some) instead of refusing them."""

    model_config = ConfigDict(extra="ignore")


def _safe_path(value: str) -> str:
    try:
        return path_normalise(value)
    except UnsafePathError as exc:
        raise ValueError(f"unsafe path {value!r}: {exc.code}") from exc


# A project-relative path, normalised; traversal, absolute paths and NUL are refused.
SafePath = Annotated[str, AfterValidator(_safe_path)]


# ---- what the agents answer -------------------------------------------------------


class Specification(_IgnoresExtraKeys):
    summary: str = Field(min_length=1)
    requirements: list[str] = Field(min_length=1)
    language: str = "en"  # of the user's description; the spec is written in it


class SpecAnswer(_IgnoresExtraKeys):
    """SpecWriter: either questions for the user or the finished specification."""

    questions: list[str] = Field(default_factory=list)
    specification: Specification | None = None


class PlannedFile(_IgnoresExtraKeys):
    path: SafePath
    purpose: str


# The sandbox has exactly the runtimes of execution's table (Debian's python3 and node,
# packages installed through the proxy): anything else would fail in Execution, so the
# schema refuses it.
RuntimeName = Literal[tuple(RUNTIMES)]  # type: ignore[valid-type]


class Architecture(_IgnoresExtraKeys):
    runtime: RuntimeName  # type: ignore[valid-type]  # built from RUNTIMES at import
    summary: str
    files: list[PlannedFile] = Field(min_length=1)
    test_command: str = Field(min_length=1, max_length=500)
    # A server: how it starts and the loopback port it listens on (kept for the preview).
    run_command: str = Field(default="", max_length=500)
    port: int | None = Field(default=None, ge=1024, le=65535)

    @model_validator(mode="after")
    def _server_names_both(self) -> "Architecture":
        if bool(self.run_command) != (self.port is not None):
            raise ValueError("a server names both run_command and port; other apps neither")
        return self


class Task(_IgnoresExtraKeys):
    description: str
    instructions: str = ""
    files: list[SafePath] = Field(default_factory=list)
    status: Literal["pending", "in_progress", "done"] = "pending"
    iteration: int = 0


class Epic(_IgnoresExtraKeys):
    title: str
    description: str = ""


class TaskPlan(_IgnoresExtraKeys):
    epics: list[Epic] = Field(default_factory=list)
    tasks: list[Task] = Field(min_length=1)


class PlannedStep(_IgnoresExtraKeys):
    """One step of a task as the Developer planned it (the pipeline performs it later)."""

    type: Literal["command", "save_file", "human_intervention"]
    content: str  # the file's purpose, the shell command, or the question to the user
    related_files: list[SafePath] = Field(default_factory=list)
    done: bool = False

    @model_validator(mode="after")
    def _one_file_per_save(self) -> "PlannedStep":
        if self.type == "save_file" and len(self.related_files) != 1:
            raise ValueError("a save_file step names exactly one path in related_files")
        return self


class StepPlan(_IgnoresExtraKeys):
    steps: list[PlannedStep] = Field(min_length=1)


class FileWrite(_IgnoresExtraKeys):
    path: SafePath
    content: str


class Fix(_IgnoresExtraKeys):
    explanation: str
    files: list[FileWrite] = Field(min_length=1)


# ---- what the pipeline remembers between steps --------------------------------------


class Iteration(_IgnoresExtraKeys):
    description: str
    user_stories: list[str] = Field(default_factory=list)
    status: Literal["pending", "in_progress", "completed", "failed"] = "pending"


class Debugging(_IgnoresExtraKeys):
    """The error being fixed: its command, the latest output, and the attempts so far."""

    command: str
    error: str  # the latest output
    first_error: str = ""  # the output that opened this error, its identity once fixed
    exit_code: int | None = None
    step: int | None = None  # the failing step of the task, or None for the test command
    attempts: int = 0
    rerun: bool = False  # a fix was applied and the command must run again
    tried: list[list[str]] = Field(default_factory=list)  # sorted content hashes per fix
    phase: Literal["run", "install"] = "run"  # install: the failing command is the install


class PipelineState(_IgnoresExtraKeys):
    iterations: list[Iteration] = Field(default_factory=list)
    specification: Specification | None = None
    architecture: Architecture | None = None
    epics: list[Epic] = Field(default_factory=list)
    tasks: list[Task] = Field(default_factory=list)
    steps: list[PlannedStep] = Field(default_factory=list)  # of the task in progress
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

    def progress(self) -> int:
        """A percentage from the plan: the planning stages, then the iteration's tasks and
        each task's steps done of those planned (a fix attempt counts part of its step),
        then the tests (a fix counts part of them). Never goes back within an iteration:
        every part only grows until its task or the tests are done."""
        if self.specification is None:
            return 5 if self.asked or self.questions else 0
        if self.architecture is None:
            return 10
        tasks = self.iteration_tasks()
        if not tasks:
            return 20
        if any(task.status != "done" for task in tasks):
            done = sum(self._task_share(task) for task in tasks)
            return 25 + int(65 * done / len(tasks))
        if self.tests_passed:
            return 100
        return 90 + int(8 * self._fix_share())

    def _task_share(self, task: Task) -> float:
        """How much of ``task`` is done: planning its steps counts as one of them."""
        if task.status == "done":
            return 1.0
        if task.status != "in_progress" or not self.steps:
            return 0.0
        done = sum(step.done for step in self.steps) + self._fix_share()
        return (1 + done) / (1 + len(self.steps))

    def _fix_share(self) -> float:
        """Part of the failing step (or of the tests) that fix attempts stand for: below 1,
        so passing is always more."""
        attempts = self.debugging.attempts if self.debugging is not None else 0
        return attempts / (attempts + 1)

    def answers_with_questions(self) -> list[tuple[str, str]]:
        """Each of the user's answers with the questions it answered (for every agent)."""
        return list(zip(self.asked, self.answers, strict=False))

    def answer_record(self, answer: str) -> None:
        """The user answered every open question at once: one round, one answer. A
        human_intervention step waiting for it is then done."""
        self.answers.append(answer)
        self.asked.append("\n".join(self.questions))
        self.questions = []
        pending = next((step for step in self.steps if not step.done), None)
        if pending is not None and pending.type == "human_intervention":
            pending.done = True
            self.task_close_if_done()

    def task_close_if_done(self) -> None:
        """When every planned step is done, the task is done and its steps are cleared."""
        if self.steps and all(step.done for step in self.steps):
            task = self.current_task()
            if task is not None:
                self.tasks[task].status = "done"
            self.steps = []

    def iteration_open(self, description: str) -> None:
        """A new iteration (the first from the description, later ones from a change)."""
        self.iterations.append(Iteration(description=description, status="in_progress"))
        self.tests_passed = False

    def debugging_retry(self) -> None:
        """A new run on a failed iteration gives its error a fresh set of fix attempts."""
        # Called only with a failed command's debugging open (run_start looks first).
        self.debugging.attempts, self.debugging.tried = 0, []  # type: ignore[union-attr]

    def iteration_complete(self) -> None:
        self.iterations[-1].status = "completed"
