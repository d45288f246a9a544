"""Handlers of execution and debugging: run a command or the tests in the sandbox, and
let BugHunter fix what failed (at most the configured attempts, never in circles)."""

import hashlib
import re

from execution.services import command_run, commands_refused_report
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
    branch, run_id = work.run.branch, work.run.pk
    work.agents.working(EXECUTOR, command)
    relay = OutputRelay(work.run.project_id, run_id, command)
    try:
        ran = command_run(
            branch=branch, command=command, run_id=run_id, cancel=work.cancel, on_output=relay
        )
    finally:
        relay.close()
    if ran.result.cancelled:
        raise Cancelled
    commands_refused_report(branch=branch, refused=ran.refused)
    result = ran.result
    output = _tail(result.stdout + result.stderr)
    executed = events.PipelineCommandExecuted(
        project_id=work.project_id, command=command, exit_code=result.exit_code,
        timed_out=result.timed_out, log_id=ran.log.pk, output=output,
    )  # fmt: skip
    if result.exit_code == 0:
        new, outcome = _passed(work, command, step), labels.RAN
    else:
        new, outcome = _failed(work, command, step, output, result.exit_code), labels.FAILED
    label = StepLabel(outcome, {"command": command})
    return work.change(EXECUTOR, executed, *new, files=ran.changes, label=label)


def _passed(work: StepWork, command: str, step: int | None) -> list:
    data, new = work.data, []
    debugging = data.debugging
    if debugging is not None:
        data.fixed_errors.append(_signature(debugging.command, debugging.first_error))
        new.append(events.ErrorFixed(project_id=work.project_id, command=command,
                                     attempts=debugging.attempts))  # fmt: skip
        data.debugging = None
    if step is None:
        data.tests_passed = True
    else:
        data.steps[step].done = True
        data.task_close_if_done()
    return new


def _failed(
    work: StepWork, command: str, step: int | None, output: str, exit_code: int | None
) -> list:
    signature = _signature(command, output)
    if signature in work.data.fixed_errors:
        raise StopRun(reasons.LOOP_ERROR, command=command)
    debugging = work.data.debugging or Debugging(
        command=command, error=output, first_error=output, step=step
    )
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
        exit_code=debugging.exit_code, attempts=debugging.attempts,
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
