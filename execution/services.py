"""Running commands for a project in its sandbox, and keeping sandboxes tidy.

Generated code is untrusted: it runs only through a ProcessManager backend, limited and
recorded. There is no unsandboxed fallback: when the backend is missing, the command
is refused with SandboxUnavailable, whose message says what to install.
"""

import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from execution.backends.base import (
    ExecutionResult,
    Limits,
    OnOutput,
    ProcessManager,
    SandboxHandle,
)
from execution.events import (
    CommandExecuted,
    CommandTimeout,
    ContainerCreated,
    ContainerStopped,
    FilesRefused,
)
from execution.models import Container, ExecutionLog
from execution.workspace import LocalFileSystem, workspace_collect, workspace_materialize
from files.selectors import state_get, state_texts
from projects.models import Branch, Project, ProjectEvent


def process_manager() -> ProcessManager:
    """The backend the settings choose (SAMOKODER_SANDBOX_BACKEND), with its limits."""
    limits = Limits(
        memory_mb=settings.SAMOKODER_SANDBOX_MEMORY_MB,
        cpus=settings.SAMOKODER_SANDBOX_CPUS,
        pids=settings.SAMOKODER_SANDBOX_PIDS,
        file_size_mb=settings.SAMOKODER_SANDBOX_FILE_SIZE_MB,
        output_bytes=settings.SAMOKODER_SANDBOX_OUTPUT_BYTES,
    )
    if settings.SAMOKODER_SANDBOX_BACKEND == "docker":
        from execution.backends.docker import DockerProcessManager

        return DockerProcessManager(limits)
    from execution.backends.bubblewrap import BubblewrapProcessManager

    return BubblewrapProcessManager(limits)


def workspace_path(project: Project) -> Path:
    return Path(settings.SAMOKODER_WORKSPACES_DIR) / str(project.pk)


def container_get_or_create(*, project: Project, manager: ProcessManager) -> Container:
    """The project's running sandbox on this backend (one per project), made if needed."""
    running = Container.objects.filter(
        project=project, backend=manager.name, status=Container.Status.RUNNING
    ).first()
    if running is not None:
        return running
    handle = manager.create_container(project_id=str(project.pk), workspace=workspace_path(project))
    container = Container.objects.create(
        project=project, backend=manager.name, backend_id=handle.backend_id,
        image=handle.image, labels=handle.labels,
    )  # fmt: skip
    event = ContainerCreated(
        project_id=str(project.pk), container_id=str(container.pk), backend=manager.name
    )
    ProjectEvent.record(event, project=project)
    return container


def _handle(container: Container) -> SandboxHandle:
    return SandboxHandle(
        backend=container.backend,
        backend_id=container.backend_id,
        workspace=workspace_path(container.project),
        image=container.image,
        labels=container.labels,
    )


@dataclass
class CommandRun:
    """A command that has run, with the file changes it made not yet committed."""

    log: ExecutionLog
    result: ExecutionResult
    changes: dict[str, str | None]
    refused: dict[str, str]


def command_run(
    *,
    branch: Branch,
    command: str,
    run_id: uuid.UUID | None = None,
    timeout: float | None = None,
    dependency_install: bool = False,
    cancel: threading.Event | None = None,
    on_output: OnOutput | None = None,
) -> CommandRun:
    """Run ``command`` on the branch's latest files and collect what it changed.

    The caller commits the changes (the pipeline does, together with its step). Setting
    ``cancel`` kills the command; its log then says so. ``on_output`` sees the output as
    it arrives (see ProcessManager.execute). Raises SandboxError when the
    sandbox itself cannot run.
    """
    project = branch.project
    manager = process_manager()
    container = container_get_or_create(project=project, manager=manager)
    handle = _handle(container)
    files = dict(state_texts(state=state_get(branch=branch)))
    fs = LocalFileSystem(handle.workspace)
    workspace_materialize(fs, files)
    limit = timeout or settings.SAMOKODER_COMMAND_TIMEOUT
    network = dependency_install and settings.SAMOKODER_SANDBOX_INSTALL_NETWORK
    result = manager.execute(
        handle, command, timeout=limit, network=network, cancel=cancel, on_output=on_output
    )
    log = ExecutionLog.objects.create(
        project=project, container=container, run_id=run_id, command=command,
        stdout=result.stdout, stderr=result.stderr, exit_code=result.exit_code,
        duration_ms=result.duration_ms, timed_out=result.timed_out, truncated=result.truncated,
    )  # fmt: skip
    _record_command(project, command, result, limit)
    report = workspace_collect(fs, files, settings.SAMOKODER_MAX_FILE_BYTES)
    if result.cancelled:
        report.changes.clear()  # a killed command's half-written files are not kept
    return CommandRun(log=log, result=result, changes=report.changes, refused=report.refused)


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
    return count
