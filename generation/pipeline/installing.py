"""The install step: a changed manifest's dependencies, installed through the package
proxy before the next command runs, and why a run stopped when they could not be.

Recorded like any command (an ExecutionLog, PipelineCommandExecuted, the output streamed
to the terminal); a failure goes to BugHunter like any other, who may fix the manifest.
"""

import re
from typing import Literal
from urllib.parse import unquote

from execution.installs import install_pending, install_run
from generation import reasons
from generation.pipeline.executing import (
    EXECUTOR,
    command_executed,
    failed,
    fixed,
    sandboxed,
)
from generation.pipeline.work import StepWork, StopRun
from generation.schemas import Debugging
from generation.services.steps import StepChange
from projects import labels
from projects.labels import StepLabel
from projects.models import Branch, ProjectState

INSTALL: Literal["install"] = "install"  # Debugging.phase of a failed install


def install_needed(*, branch: Branch, state: ProjectState, data) -> bool:
    """The branch's manifest differs from its last good install (the orchestrator asks)."""
    if data.architecture is None or not data.iteration_tasks():
        return False
    runtime = data.architecture.runtime
    return install_pending(branch=branch, runtime=runtime, state=state) is not None


def install(work: StepWork) -> StepChange:
    """Install what the manifest lists; a success closes an install error being fixed."""
    branch, architecture = work.run.branch, work.data.architecture
    assert architecture is not None  # installs come after the Architect (orchestrator)
    pending = install_pending(branch=branch, runtime=architecture.runtime,
                              state=work.state)  # fmt: skip
    if pending is None:  # the fix removed the manifest or restored the installed one
        return work.change(EXECUTOR, *_installed(work, ""))
    command = pending.command
    ran = sandboxed(work, command, lambda **how: install_run(branch=branch, pending=pending, **how))
    executed = command_executed(work, command, ran)
    if ran.result.exit_code == 0:
        new, outcome = _installed(work, command), labels.RAN
    else:
        new = failed(work, command, None, executed.output, ran.result.exit_code, phase=INSTALL)
        outcome = labels.FAILED
    label = StepLabel(outcome, {"command": command})
    return work.change(EXECUTOR, executed, *new, files=ran.changes, label=label)


def _installed(work: StepWork, command: str) -> list:
    """An install error is fixed; a command's error waits for its command to run again."""
    debugging = work.data.debugging
    return fixed(work, command) if debugging and debugging.phase == INSTALL else []


def out_of_fixes(debugging: Debugging) -> StopRun:
    """Why the run stops when ``debugging`` used up its fix attempts: for an install, the
    host the proxy refused or the package the registry lacks, when the output names one."""
    attempts = debugging.attempts
    if debugging.phase == INSTALL:
        hosts = refused_hosts(debugging.error)
        if hosts:
            return StopRun(reasons.PACKAGE_REFUSED, hosts=hosts, attempts=attempts)
        package = missing_package(debugging.error)
        if package:
            return StopRun(reasons.PACKAGE_MISSING, package=package, attempts=attempts)
    return StopRun(reasons.FIX_ATTEMPTS, command=debugging.command, attempts=attempts)


_REFUSED = re.compile(r"\[samokoder\] The package proxy refused: (.+?)\. Installs may reach")
_PIP_MISSING = re.compile(r"No matching distribution found for (\S+)")
_NPM_404 = re.compile(r"404 Not Found - GET \S+?://[^/\s]+/(\S+)")
_NPM_NO_VERSION = re.compile(r"No matching version found for (\S+?)\.?(?:\s|$)")
# Where a requirement's name ends: a version, extras, a marker, or a URL.
_REQUIREMENT_END = re.compile(r"[<>=!~\[;@ ]")


def refused_hosts(output: str) -> str:
    """The hosts of the last refusal line the install's output got, or ""."""
    found = _REFUSED.findall(output)
    return found[-1] if found else ""


def missing_package(output: str) -> str:
    """The package pip or npm could not find in the registry, or ""."""
    if match := _PIP_MISSING.search(output):
        return _REQUIREMENT_END.split(match.group(1), maxsplit=1)[0]
    if match := _NPM_404.search(output):
        return unquote(match.group(1))
    if match := _NPM_NO_VERSION.search(output):
        return match.group(1)
    return ""
