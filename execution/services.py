"""Running commands for a project in its sandbox, and keeping sandboxes tidy.

Generated code is untrusted: it runs only through a ProcessManager backend, limited and
recorded. There is no unsandboxed fallback: when the backend is missing, the command
is refused with SandboxUnavailable, whose message says what to install.
"""

import contextlib
import dataclasses
import os
import shutil
import threading
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.durability import commit_unflushed
from core.rows import rows_insert
from execution.backends.base import (
    ExecutionResult,
    Limits,
    OnOutput,
    ProcessManager,
    SandboxHandle,
    SandboxUnavailable,
)
from execution.bridge import Bridge, proxy_bridge, refusal_notice
from execution.dependencies import (
    RUNTIMES,
    Phase,
    dependencies_clear,
    phase_command,
    sandbox_mounts,
)
from execution.events import (
    ChangesRefused,
    CommandExecuted,
    CommandTimeout,
    ContainerCreated,
    ContainerStopped,
    FilesRefused,
)
from execution.folders import bridge_folder, sandbox_folder, workspace_folder
from execution.models import Container, ExecutionLog
from execution.workspace import (
    LocalFileSystem,
    SyncLimits,
    workspace_clear,
    workspace_collect,
    workspace_materialize,
)
from files.selectors import state_get, state_texts
from files.services import files_commit
from projects.models import Branch, Project, ProjectEvent, ProjectState


def process_manager() -> ProcessManager:
    """The backend the settings choose (SAMOKODER_SANDBOX_BACKEND), with its limits."""
    limits = Limits(
        memory_mb=settings.SAMOKODER_SANDBOX_MEMORY_MB,
        cpus=settings.SAMOKODER_SANDBOX_CPUS,
        pids=settings.SAMOKODER_SANDBOX_PIDS,
        file_size_mb=settings.SAMOKODER_SANDBOX_FILE_SIZE_MB,
        output_bytes=settings.SAMOKODER_SANDBOX_OUTPUT_BYTES,
        tmpfs_mb=settings.SAMOKODER_SANDBOX_TMPFS_MB,
        disk_mb=settings.SAMOKODER_SANDBOX_DISK_MB,
    )
    if settings.SAMOKODER_SANDBOX_BACKEND == "docker":
        from execution.backends.docker import DockerProcessManager

        return DockerProcessManager(limits)
    from execution.backends.bubblewrap import BubblewrapProcessManager

    return BubblewrapProcessManager(limits)


def sandbox_limits_describe() -> dict[str, str]:
    """How sandboxed commands are limited on this machine, for /readyz: the backend, the
    cgroups each command gets ("" when none) and the limits in words."""
    backend = settings.SAMOKODER_SANDBOX_BACKEND
    if backend == "docker":
        return {"backend": backend, "cgroups": "", "limits": "per-container limits (Docker)"}
    from execution.backends.bubblewrap import BubblewrapProcessManager

    support = BubblewrapProcessManager(Limits()).cgroups()
    if support is None:
        processes = "per command uid" if os.geteuid() == 0 else "one quota for all commands"
        return {
            "backend": backend,
            "cgroups": "",
            "limits": "rlimits only: no CPU share, memory per process (tmpfs not counted), "
            f"processes {processes}",
        }
    return {
        "backend": backend,
        "cgroups": support.describe(),
        "limits": "per-command cgroup: memory with tmpfs, CPU share, process count",
    }


BRANCH_LABEL = "branch_id"  # whose dependency folders a sandbox mounts


def workspace_path(project: Project) -> Path:
    return workspace_folder(str(project.pk))


def container_get_or_create(
    *, project: Project, manager: ProcessManager, branch: Branch
) -> Container:
    """The project's running sandbox on this backend (one per project), made if needed.

    It mounts one branch's dependency folders (Docker binds them at creation), so a
    command on another branch replaces it."""
    running = Container.objects.filter(
        project=project, backend=manager.name, status=Container.Status.RUNNING
    ).first()
    if running is not None and running.labels.get(BRANCH_LABEL) == str(branch.pk):
        return running
    if running is not None:
        container_stop(container=running, reason="another branch's dependencies")
    workspace = workspace_path(project)
    mounts = sandbox_mounts(workspace, branch_id=str(branch.pk))
    handle = manager.create_container(
        project_id=str(project.pk), workspace=workspace, mounts=mounts
    )
    container = Container.objects.create(
        project=project, backend=manager.name, backend_id=handle.backend_id,
        image=handle.image, labels={**handle.labels, BRANCH_LABEL: str(branch.pk)},
    )  # fmt: skip
    event = ContainerCreated(
        project_id=str(project.pk), container_id=str(container.pk), backend=manager.name
    )
    ProjectEvent.record(event, project=project)
    return container


def _handle(container: Container) -> SandboxHandle:
    workspace = workspace_folder(str(container.project_id))  # the id is enough: no query
    return SandboxHandle(
        backend=container.backend,
        backend_id=container.backend_id,
        workspace=workspace,
        image=container.image,
        labels=container.labels,
        mounts=sandbox_mounts(workspace, branch_id=container.labels.get(BRANCH_LABEL)),
    )


@dataclass
class CommandOutcome:
    log: ExecutionLog
    state: ProjectState | None  # the step holding the files the command changed
    refused: dict[str, str] = field(default_factory=dict)


@dataclass
class CommandRun:
    """A command that has run, with the file changes it made not yet committed."""

    log: ExecutionLog
    result: ExecutionResult
    changes: dict[str, str | None]
    refused: dict[str, str]


def command_execute(
    *,
    branch: Branch,
    command: str,
    run_id: uuid.UUID | None = None,
    timeout: float | None = None,
    phase: Phase = Phase.RUN,
) -> CommandOutcome:
    """ExecuteCommand on the branch's latest files; what it changes becomes the next step.

    There is no network; in the install ``phase`` the package proxy is reachable through
    the bridge (execution/bridge.py). Records an ExecutionLog and CommandExecuted (or
    CommandTimeout); refused files are reported (FilesRefused), never synced.
    """
    ran = command_run(branch=branch, command=command, run_id=run_id, timeout=timeout, phase=phase)
    state = None
    if ran.changes:
        try:
            state = files_commit(branch=branch, changes=ran.changes)
        except ValidationError as exc:
            ran.refused.update({path: "; ".join(exc.messages) for path in ran.changes})
    commands_refused_report(branch=branch, refused=ran.refused)
    return CommandOutcome(log=ran.log, state=state, refused=ran.refused)


def command_run(
    *,
    branch: Branch,
    command: str,
    run_id: uuid.UUID | None = None,
    timeout: float | None = None,
    phase: Phase = Phase.RUN,
    cancel: threading.Event | None = None,
    on_output: OnOutput | None = None,
    state: ProjectState | None = None,
) -> CommandRun:
    """Run ``command`` on the branch's latest files (or ``state``'s: the pipeline's step
    runs on the state it read) and collect what it changed.

    The caller commits the changes (the pipeline does, together with its step). Setting
    ``cancel`` kills the command; its log then says so. ``on_output`` sees the output as
    it arrives (see ProcessManager.execute). A command that created more files or bytes
    than SAMOKODER_SYNC_MAX_FILES / _BYTES allow has no changes (ChangesRefused is
    recorded); one stopped for outgrowing SAMOKODER_SANDBOX_DISK_MB has none and its
    workspace is emptied (the next command materialises it again). ``phase`` install
    opens the package proxy bridge for this command only. Raises SandboxError
    when the sandbox itself cannot run.
    """
    project = branch.project
    manager = process_manager()
    container = container_get_or_create(project=project, manager=manager, branch=branch)
    handle = _handle(container)
    files = dict(state_texts(state=state or state_get(branch=branch)))
    fs = LocalFileSystem(handle.workspace)
    workspace_materialize(fs, files)
    limit = timeout or settings.SAMOKODER_COMMAND_TIMEOUT
    with _bridge(handle, phase) as bridge:
        result = manager.execute(
            handle, phase_command(command, phase=phase), timeout=limit, cancel=cancel,
            on_output=on_output,
        )  # fmt: skip
    result = _with_refusals(result, bridge)
    with transaction.atomic():  # the log and its event: one commit, not two
        if run_id is not None:  # a pipeline's command: its step, redone on resume, runs it
            commit_unflushed()
        [log] = rows_insert([ExecutionLog(
            project=project, container=container, run_id=run_id, command=command,
            stdout=result.stdout, stderr=result.stderr, exit_code=result.exit_code,
            duration_ms=result.duration_ms, timed_out=result.timed_out, truncated=result.truncated,
        )])  # fmt: skip
        _record_command(project, command, result, limit)
    if result.disk_exceeded:  # nothing it left is kept, and the space is given back
        workspace_clear(fs)
        for runtime in RUNTIMES.values():  # installed again by the next install phase
            dependencies_clear(handle.workspace, branch_id=str(branch.pk), runtime=runtime)
        return CommandRun(log=log, result=result, changes={}, refused={})
    report = workspace_collect(fs, files, SyncLimits.from_settings())
    if result.cancelled:
        report.changes.clear()  # a killed command's half-written files are not kept
    elif report.over_limit is not None:
        kind, most = report.over_limit
        refused = ChangesRefused(project_id=str(project.pk), command=command, kind=kind, limit=most)
        ProjectEvent.record(refused, project=project)
    return CommandRun(log=log, result=result, changes=report.changes, refused=report.refused)


def _bridge(
    handle: SandboxHandle, phase: Phase
) -> contextlib.AbstractContextManager[Bridge | None]:
    """The package proxy's socket for an install; nothing at all for any other phase."""
    if phase != Phase.INSTALL:
        return contextlib.nullcontext()
    return proxy_bridge(
        folder=bridge_folder(handle.workspace),
        proxy_url=settings.SAMOKODER_PACKAGE_PROXY,
        # Open to every uid: bubblewrap gives each command a uid of its own, and the
        # folder is seen only by this project's sandbox (the proxy's port is open anyway).
        socket_uid=None,
    )


def _with_refusals(result: ExecutionResult, bridge: Bridge | None) -> ExecutionResult:
    """Say in the output what the package proxy refused this install: the tool's own
    message is a bare 403 and the proxy's log is not the user's to read."""
    if bridge is None:
        return result
    notice = refusal_notice(
        access_log=Path(settings.SAMOKODER_PACKAGE_PROXY_LOG), source=bridge.source,
        hosts=settings.SAMOKODER_PACKAGE_HOSTS,
    )  # fmt: skip
    return dataclasses.replace(result, stderr=result.stderr + notice) if notice else result


def command_interrupted_record(
    *, project_id: uuid.UUID, run_id: uuid.UUID, command: str, output: str, truncated: bool
) -> ExecutionLog:
    """The ExecutionLog of a command whose worker died while it ran: ``output`` is what it
    printed until then (as far as it was relayed), its exit code unknown."""
    return ExecutionLog.objects.create(
        project_id=project_id, run_id=run_id, command=command, stdout=output,
        truncated=truncated, interrupted=True,
    )  # fmt: skip


def commands_refused_report(*, branch: Branch, refused: dict[str, str]) -> None:
    """FilesRefused for what a command wrote that cannot be kept (symlinks, binaries…)."""
    if refused:
        event = FilesRefused(project_id=str(branch.project_id), paths=refused)
        ProjectEvent.record(event, project_id=branch.project_id)


def _record_command(project: Project, command: str, result: ExecutionResult, limit: float) -> None:
    event: CommandTimeout | CommandExecuted
    if result.timed_out:
        event = CommandTimeout(project_id=str(project.pk), command=command, timeout_s=limit)
    else:
        event = CommandExecuted(
            project_id=str(project.pk), command=command, exit_code=result.exit_code,
            duration_ms=result.duration_ms, truncated=result.truncated,
        )  # fmt: skip
    ProjectEvent.record(event, project=project)


def container_stop(*, container: Container, reason: str) -> None:
    """StopContainer: stop it on its backend and mark it stopped (ContainerStopped)."""
    process_manager().stop(_handle(container))
    container.status = Container.Status.STOPPED
    container.stopped_at = timezone.now()
    container.save(update_fields=["status", "stopped_at"])
    event = ContainerStopped(
        project_id=str(container.project_id), container_id=str(container.pk), reason=reason
    )
    ProjectEvent.record(event, project_id=container.project_id)


def containers_cleanup(*, max_age: timedelta = timedelta(hours=24)) -> int:
    """CleanupOrphanedContainers (invariant 21): stop sandboxes older than ``max_age``.

    Covers the ones we know (Container rows) and, on Docker, labelled containers the
    database no longer knows (a crash between create and record). Returns the count.
    """
    cutoff = timezone.now() - max_age
    stale = Container.objects.filter(status=Container.Status.RUNNING, created_at__lt=cutoff)
    count = 0
    for container in stale.select_related("project"):
        container_stop(container=container, reason="older than 24 h")
        count += 1
    manager = process_manager()
    for backend_id in manager.orphans(older_than=cutoff):
        manager.stop(SandboxHandle(backend=manager.name, backend_id=backend_id, workspace=Path()))
        count += 1
    if settings.SAMOKODER_SANDBOX_BACKEND == "bubblewrap" and settings.SAMOKODER_SANDBOX_CGROUPS:
        from execution.backends.cgroups import cgroups_sweep

        cgroups_sweep()  # groups a killed worker's commands left, empty and old
    return count


def project_sandbox_remove(*, project_id: str) -> None:
    """What a deleted project leaves outside the database: its sandboxes on the backend,
    its workspace, and the folder beside it (dependencies, caches, sockets)."""
    with contextlib.suppress(SandboxUnavailable):  # no backend here: the folders still go
        manager = process_manager()
        for backend_id in manager.sandboxes_of(project_id):
            manager.stop(
                SandboxHandle(backend=manager.name, backend_id=backend_id, workspace=Path())
            )
    workspace = workspace_folder(project_id)
    for folder in (workspace, sandbox_folder(workspace)):
        shutil.rmtree(folder, ignore_errors=True)
