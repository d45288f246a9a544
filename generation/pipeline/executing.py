"""Handlers of execution and debugging: run a command or the tests in the sandbox, and
let BugHunter fix what failed (at most the configured attempts, never in circles)."""

import hashlib
import re
from collections.abc import Callable
from typing import Literal

from execution.services import CommandRun, command_run, commands_refused_report
from files.models import content_hash
from files.selectors import state_manifest
from generation import events, reasons
from generation.agents import BugHunter
from generation.context import project_context
from generation.pipeline.work import Cancelled, StepWork, StopRun
from generation.publish import OutputRelay
from generation.schemas import Debugging
from generation.services.steps import StepChange
from projects import labels
from projects.labels import StepLabel

OUTPUT_TAIL = 4000  # characters of a command's output kept in events and prompts
EXECUTOR = "Executor"  # no agent: the sandbox ran it


def run_tests(work: StepWork) -> StepChange:
    return _execute(work, work.data.architecture.test_command, step=None)


def run_command(work: StepWork) -> StepChange:
    """The task's next command step, or the failing command again after a fix."""
    debugging = work.data.debugging
    if debugging is not None:
        return _execute(work, debugging.command, step=debugging.step)
    step = work.action.steps[0]
    return _execute(work, work.data.steps[step].content, step=step)


def _execute(work: StepWork, command: str, *, step: int | None) -> StepChange:
    branch = work.run.branch
    work.agents.working(EXECUTOR, command)
    ran = sandboxed(work, command, lambda **how: command_run(branch=branch, command=command,
                                                             state=work.state, **how))  # fmt: skip
    executed = command_executed(work, command, ran)
    output = executed.output
    if ran.result.exit_code == 0:
        new, outcome = _passed(work, command, step), labels.RAN
    else:
        new, outcome = failed(work, command, step, output, ran.result.exit_code), labels.FAILED
    label = StepLabel(outcome, {"command": command})
    return work.change(EXECUTOR, executed, *new, files=ran.changes, label=label)


def sandboxed(work: StepWork, command: str, start: Callable[..., CommandRun]) -> CommandRun:
    """``start(run_id=, cancel=, on_output=)`` with the output relayed to the terminal as
    it comes; a stop asked meanwhile ends the step uncommitted; refused files reported."""
    relay = OutputRelay(work.run.project_id, work.run.pk, command)
    try:
        ran = start(run_id=work.run.pk, cancel=work.cancel, on_output=relay)
    finally:
        relay.close()
    if ran.result.cancelled:
        raise Cancelled
    commands_refused_report(branch=work.run.branch, refused=ran.refused)
    return ran


def command_executed(
    work: StepWork, command: str, ran: CommandRun
) -> events.PipelineCommandExecuted:
    result = ran.result
    return events.PipelineCommandExecuted(
        project_id=work.project_id, command=command, exit_code=result.exit_code,
        timed_out=result.timed_out, log_id=ran.log.pk, output=_tail(result.stdout + result.stderr),
    )  # fmt: skip


def _passed(work: StepWork, command: str, step: int | None) -> list:
    data = work.data
    new = fixed(work, command)
    if step is None:
        data.tests_passed = True
    else:
        data.steps[step].done = True
        data.task_close_if_done()
    return new


def fixed(work: StepWork, command: str) -> list:
    """The error being debugged is fixed: remembered (loop detection) and closed."""
    debugging = work.data.debugging
    if debugging is None:
        return []
    work.data.fixed_errors.append(_signature(debugging.command, debugging.first_error))
    work.data.debugging = None
    return [events.ErrorFixed(project_id=work.project_id, command=command,
                              attempts=debugging.attempts)]  # fmt: skip


def failed(
    work: StepWork, command: str, step: int | None, output: str, exit_code: int | None,
    phase: Literal["run", "install"] = "run",
) -> list:  # fmt: skip
    """The command failed: debugging opens (or goes on) for it. A failed install while a
    command's error was being fixed is an error of its own, with its own attempts."""
    signature = _signature(command, output)
    if signature in work.data.fixed_errors:
        raise StopRun(reasons.LOOP_ERROR, command=command)
    debugging = work.data.debugging
    if debugging is None or debugging.phase != phase:
        debugging = Debugging(
            command=command, error=output, first_error=output, step=step, phase=phase
        )
    debugging.command = command  # an install's may turn from npm install into npm ci
    debugging.error, debugging.exit_code, debugging.rerun = output, exit_code, False
    work.data.debugging = debugging
    return [events.ErrorDetected(project_id=work.project_id, command=command, error=output,
                                 attempt=debugging.attempts)]  # fmt: skip


def debug(work: StepWork) -> StepChange:
    debugging = work.data.debugging
    files = work.files()
    focus = _mentioned(files, debugging.error) + work.task_files()
    fix = work.agents.answer(
        BugHunter(), command=debugging.command, error=debugging.error,
        exit_code=debugging.exit_code, attempts=debugging.attempts, phase=debugging.phase,
        attempt=debugging.attempts + 1, architecture=work.data.architecture,
        context=project_context(files, focus), answers=work.data.answers_with_questions(),
    )  # fmt: skip
    written = {item.path: item.content for item in fix.files}
    manifest = state_manifest(work.state)
    fingerprint = sorted(f"{path}:{content_hash(text)}" for path, text in written.items())
    unchanged = all(manifest.get(path) == content_hash(text) for path, text in written.items())
    if unchanged or fingerprint in debugging.tried:
        raise StopRun(reasons.LOOP_CONTENT, command=debugging.command)
    debugging.attempts += 1
    debugging.tried.append(fingerprint)
    debugging.rerun = True
    applied = events.FixApplied(project_id=work.project_id, command=debugging.command,
                                files=sorted(written), attempt=debugging.attempts)  # fmt: skip
    label = StepLabel(labels.FIX, {"attempt": debugging.attempts, "command": debugging.command})
    return work.change(BugHunter.name, applied, files=written, label=label)


def _tail(text: str) -> str:
    return text if len(text) <= OUTPUT_TAIL else "…" + text[-OUTPUT_TAIL:]


_NOISE = re.compile(r"\d+\.\d+s|0x[0-9a-f]+|line \d+")


def _signature(command: str, output: str) -> str:
    """An error's identity: its command and output with timings and addresses removed."""
    normalised = _NOISE.sub("#", output.strip())
    return hashlib.sha256(f"{command}\n{normalised}".encode()).hexdigest()[:32]


def _mentioned(files: dict[str, str], output: str) -> list[str]:
    """Project files named in an error's output (tracebacks name them by path)."""
    return [path for path in files if path in output or path.rsplit("/", 1)[-1] in output]
