"""Installing a branch's dependencies: the install phase, only when the manifest changed."""

import threading
import time
from dataclasses import dataclass

from django.conf import settings

from execution.backends.base import OnOutput
from execution.dependencies import (
    Phase,
    Runtime,
    dependencies_clear,
    installed_digest,
    installed_record,
    manifest_digest,
    runtime_get,
)
from execution.services import (
    CommandOutcome,
    CommandRun,
    command_execute,
    command_run,
    workspace_path,
)
from files.models import FileContent
from files.selectors import state_get, state_manifest
from projects.models import Branch, ProjectState


@dataclass(frozen=True)
class InstallOutcome:
    runtime: str
    skipped: bool  # nothing to do: no manifest, or the same one as the last good install
    seconds: float
    command: CommandOutcome | None = None  # the install that ran (its ExecutionLog, step)


@dataclass(frozen=True)
class PendingInstall:
    """An install the branch needs: its manifest differs from the last good install's."""

    runtime: Runtime
    command: str
    files: dict[str, str]  # the manifest (and lock file) the install starts from


def dependencies_install(
    *, branch: Branch, runtime: str, run_id=None, timeout: float | None = None
) -> InstallOutcome:
    """Install the branch's dependencies for ``runtime`` ("python3" or "node").

    Runs the runtime's install command in the install phase (registries reachable through
    the package proxy; nothing else is), recorded as an ExecutionLog like any command;
    files it writes (package-lock.json) become the next step. Skipped when the manifest
    (and lock file) are what the branch's last successful install saw, or there is none.
    A failed install records nothing, so the next call tries again. Raises ValueError
    for an unknown runtime, SandboxError when the sandbox or the proxy cannot run.
    """
    started = time.monotonic()
    pending = install_pending(branch=branch, runtime=runtime, state=state_get(branch=branch))
    if pending is None:
        return InstallOutcome(runtime=runtime, skipped=True, seconds=time.monotonic() - started)
    _clear(branch, pending.runtime)
    outcome = command_execute(
        branch=branch, command=pending.command, run_id=run_id,
        timeout=timeout or settings.SAMOKODER_INSTALL_TIMEOUT, phase=Phase.INSTALL,
    )  # fmt: skip
    if outcome.log.exit_code == 0:
        after = _manifest_files(outcome.state, pending.runtime) if outcome.state else pending.files
        _record(branch, pending.runtime, after)
    return InstallOutcome(
        runtime=runtime, skipped=False, seconds=time.monotonic() - started, command=outcome
    )


def install_pending(*, branch: Branch, runtime: str, state: ProjectState) -> PendingInstall | None:
    """What must be installed before the next command on ``state``, or None: no manifest,
    or the one the branch's last successful install saw. Reads the manifest and lock file
    only (the pipeline asks before every step). Raises ValueError for an unknown runtime."""
    spec = runtime_get(runtime)
    files = _manifest_files(state, spec)
    if spec.manifest not in files:
        return None
    workspace = workspace_path(branch.project)
    digest = manifest_digest(spec, files)
    if installed_digest(workspace, branch_id=str(branch.pk), runtime=spec) == digest:
        return None
    return PendingInstall(runtime=spec, command=spec.install_command(files), files=files)


def install_run(
    *, branch: Branch, pending: PendingInstall, run_id=None,
    cancel: threading.Event | None = None, on_output: OnOutput | None = None,
) -> CommandRun:  # fmt: skip
    """Run ``pending`` in the install phase; the caller commits the files it wrote (the
    pipeline does, with its step). A success is recorded against the manifest as it is
    after the install (npm writes package-lock.json), so the next check finds nothing to
    do; a failure records nothing. Raises SandboxError when the sandbox or proxy cannot run.
    """
    spec = pending.runtime
    _clear(branch, spec)
    ran = command_run(
        branch=branch, command=pending.command, run_id=run_id,
        timeout=settings.SAMOKODER_INSTALL_TIMEOUT, phase=Phase.INSTALL, cancel=cancel,
        on_output=on_output,
    )  # fmt: skip
    if ran.result.exit_code == 0 and not ran.result.cancelled:
        # What it wrote to the manifest or lock file (None: deleted) over what it started from.
        written = {p: ran.changes[p] for p in (spec.manifest, spec.lock) if p in ran.changes}
        after = {**pending.files, **written}
        _record(branch, spec, {path: text for path, text in after.items() if text is not None})
    return ran


def _manifest_files(state: ProjectState, spec: Runtime) -> dict[str, str]:
    """The texts of the runtime's manifest and lock file at ``state`` (those present)."""
    wanted = (spec.manifest, spec.lock)
    hashes = {path: h for path, h in state_manifest(state).items() if path in wanted}
    if not hashes:  # no manifest (the pipeline asks before every step): no query to build
        return {}
    texts = dict(FileContent.objects.filter(pk__in=hashes.values()).values_list("pk", "text"))
    return {path: texts[h] for path, h in hashes.items()}


def _clear(branch: Branch, spec: Runtime) -> None:
    dependencies_clear(workspace_path(branch.project), branch_id=str(branch.pk), runtime=spec)


def _record(branch: Branch, spec: Runtime, files: dict[str, str]) -> None:
    workspace, digest = workspace_path(branch.project), manifest_digest(spec, files)
    installed_record(workspace, branch_id=str(branch.pk), runtime=spec, digest=digest)
