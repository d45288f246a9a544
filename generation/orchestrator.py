"""The orchestrator: the next action, read from the committed pipeline state alone.

Because nothing else is consulted, a run can stop anywhere (crash, restart, a question
to the user, another worker) and continue from its last committed step. The order of
the checks below is the order of the stages (invariant 9): specification, architecture,
tasks, development, execution; debugging only after a command failed (invariant 11),
at most ``fix_attempts`` times for one error (invariant 12). The one fact read besides
the state is ``install_pending``: the branch's manifest differs from its last good
install, so the dependencies are installed before the next command or the tests.
"""

from dataclasses import dataclass, field
from enum import StrEnum

from generation.models import Stage
from generation.schemas import Debugging, PipelineState, PlannedStep


class ActionKind(StrEnum):
    ASK_USER = "ask"  # park the run on the open questions (or a human_intervention step)
    SPEC = "spec"
    ARCHITECTURE = "architecture"
    TASKS = "tasks"
    PLAN = "plan"  # the Developer plans the current task's steps
    WRITE = "write"  # CodeMonkeys write a batch of independent files
    RUN = "run"  # a command step, or the failing command again after a fix
    DEBUG = "debug"
    TEST = "test"
    INSTALL = "install"  # the dependencies of a changed manifest, before a command runs
    DONE = "done"  # nothing left: the run completes
    FAIL = "fail"  # the error outlived its fix attempts


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    stage: str
    task: int | None = None
    steps: tuple[int, ...] = field(default_factory=tuple)  # step indices in the task


def next_action(
    state: PipelineState, *, fix_attempts: int, parallel: int, install_pending: bool = False
) -> Action:
    action = _next(state, fix_attempts, parallel)
    if action.kind in (ActionKind.RUN, ActionKind.TEST) and install_pending:
        return Action(ActionKind.INSTALL, action.stage, task=action.task)
    return action


def _next(state: PipelineState, fix_attempts: int, parallel: int) -> Action:
    if state.questions:
        return Action(ActionKind.ASK_USER, _asking_stage(state))
    if state.specification is None:
        return Action(ActionKind.SPEC, Stage.SPECIFICATION)
    if state.architecture is None:
        return Action(ActionKind.ARCHITECTURE, Stage.ARCHITECTURE)
    if not state.iteration_tasks():
        return Action(ActionKind.TASKS, Stage.TASKS)
    if state.debugging is not None:
        return _debugging(state, state.debugging, fix_attempts)
    task = state.current_task()
    if task is None:
        return (
            Action(ActionKind.DONE, Stage.EXECUTION)
            if state.tests_passed
            else Action(ActionKind.TEST, Stage.EXECUTION)
        )
    if not state.steps:
        return Action(ActionKind.PLAN, Stage.DEVELOPMENT, task=task)
    return _development(state.steps, task, parallel)


def _asking_stage(state: PipelineState) -> str:
    return Stage.SPECIFICATION if state.specification is None else Stage.DEVELOPMENT


def _debugging(state: PipelineState, debugging: Debugging, fix_attempts: int) -> Action:
    stage = Stage.DEBUGGING
    if debugging.rerun and debugging.phase == "install":
        return Action(ActionKind.INSTALL, stage, task=state.current_task())
    if debugging.rerun:
        steps = _step_of(debugging.step)
        return Action(ActionKind.RUN, stage, task=state.current_task(), steps=steps)
    if debugging.attempts >= fix_attempts:
        return Action(ActionKind.FAIL, stage)
    return Action(ActionKind.DEBUG, stage, task=state.current_task())


def _step_of(step: int | None) -> tuple[int, ...]:
    return () if step is None else (step,)


def _development(steps: list[PlannedStep], task: int, parallel: int) -> Action:
    first = next(i for i, step in enumerate(steps) if not step.done)
    kind = steps[first].type
    if kind == "command":
        return Action(ActionKind.RUN, Stage.EXECUTION, task=task, steps=(first,))
    if kind == "human_intervention":
        return Action(ActionKind.ASK_USER, Stage.DEVELOPMENT, task=task, steps=(first,))
    return Action(
        ActionKind.WRITE, Stage.DEVELOPMENT, task=task, steps=disjoint_batch(steps, first, parallel)
    )


def disjoint_batch(steps: list[PlannedStep], first: int, limit: int) -> tuple[int, ...]:
    """Consecutive pending save_file steps from ``first`` whose files do not overlap
    (invariant 10: CodeMonkeys run side by side only on independent files)."""
    batch: list[int] = []
    taken: set[str] = set()
    for index in range(first, len(steps)):
        step = steps[index]
        if step.done:
            continue
        files = set(step.related_files)
        if step.type != "save_file" or files & taken or len(batch) == limit:
            break
        batch.append(index)
        taken |= files
    return tuple(batch)
