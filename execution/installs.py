"""Installing a branch's dependencies: the install phase, only when the manifest changed."""

import time
from dataclasses import dataclass

from django.conf import settings

from execution.dependencies import (
    Phase,
    dependencies_clear,
    installed_digest,
    installed_record,
    manifest_digest,
    runtime_get,
)
from execution.services import CommandOutcome, command_execute, workspace_path
from files.selectors import state_get, state_texts
from projects.models import Branch


@dataclass(frozen=True)
class InstallOutcome:
    runtime: str
    skipped: bool  # nothing to do: no manifest, or the same one as the last good install
    seconds: float
    command: CommandOutcome | None = None  # the install that ran (its ExecutionLog, step)


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
    spec = runtime_get(runtime)
    files = dict(state_texts(state=state_get(branch=branch)))
    workspace, branch_id = workspace_path(branch.project), str(branch.pk)
    digest = manifest_digest(spec, files)
    if (
        spec.manifest not in files
        or installed_digest(workspace, branch_id=branch_id, runtime=spec) == digest
    ):
        return InstallOutcome(runtime=runtime, skipped=True, seconds=time.monotonic() - started)
    dependencies_clear(workspace, branch_id=branch_id, runtime=spec)
    outcome = command_execute(
        branch=branch, command=spec.install_command(files), run_id=run_id,
        timeout=timeout or settings.SAMOKODER_INSTALL_TIMEOUT, phase=Phase.INSTALL,
    )  # fmt: skip
    if outcome.log.exit_code == 0:
        after = dict(state_texts(state=outcome.state)) if outcome.state else files
        installed_record(
            workspace, branch_id=branch_id, runtime=spec, digest=manifest_digest(spec, after)
        )
    return InstallOutcome(
        runtime=runtime, skipped=False, seconds=time.monotonic() - started, command=outcome
    )
