"""Docker: the production sandbox, on any Docker endpoint (DOCKER_HOST).

One long-lived container per project (``docker run`` copies the image layer with the
vfs driver, ~1.4 s; ``docker exec`` into a running one is cheap), created with no
network, memory/CPU/PID limits, every capability dropped, no-new-privileges, a
read-only root with a writable /workspace and tmpfs /tmp, as a non-root user. After
each command every process but the container's init is killed, so nothing started by
one command outlives it.

/workspace is the project's folder bind-mounted from this machine, or, with
SAMOKODER_DOCKER_COPY_WORKSPACE (a remote DOCKER_HOST), a volume of the sandbox's own that
the folder is copied into before each command and back from after it (docker_copy.py).
The other mounts (dependency folders, the install bridge, the pip/npm caches) are bind
mounts from this machine either way: on a remote daemon they are paths on ITS host.
"""

import contextlib
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import docker
from django.conf import settings
from docker.errors import DockerException, NotFound

from execution.backends.base import (
    CappedOutput,
    ExecutionResult,
    Limits,
    Mount,
    OnOutput,
    ProcessManager,
    SandboxError,
    SandboxHandle,
    SandboxUnavailable,
    WorkspaceWatch,
    wait_until,
)
from execution.backends.docker_copy import ContainerDiskWatch, copy_in, copy_out
from execution.workspace import hand_over

LABEL = "managed-by"
WORKSPACE_LABEL = "workspace"  # "bind" or "copy": how this sandbox sees its workspace
KILL_ALL = ["/bin/sh", "-c", "kill -KILL -1 2>/dev/null; true"]
# PID 1 of each container: reaps every orphan (so killed commands leave no zombies to
# fill the PID limit) and, being init, is the one process `kill -KILL -1` spares.
REAPER = (
    "import os, time\n"
    "while True:\n"
    "    try:\n"
    "        os.wait()\n"
    "    except ChildProcessError:\n"
    "        time.sleep(1)\n"
)


class DockerProcessManager(ProcessManager):
    name = "docker"

    def __init__(self, limits: Limits) -> None:
        super().__init__(limits)
        try:
            self.client = docker.from_env()
            self.client.ping()
        except DockerException as exc:
            raise SandboxUnavailable(
                "No Docker daemon answers (DOCKER_HOST or /var/run/docker.sock); "
                "start one, or set SAMOKODER_SANDBOX_BACKEND=bubblewrap."
            ) from exc

    def create_container(
        self, *, project_id: str, workspace: Path, mounts: tuple[Mount, ...] = ()
    ) -> SandboxHandle:
        workspace.mkdir(parents=True, exist_ok=True)
        hand_over(workspace)
        copy = settings.SAMOKODER_DOCKER_COPY_WORKSPACE
        labels = {
            LABEL: "samokoder",
            "project_id": project_id,
            "creation_timestamp": str(int(time.time())),
            WORKSPACE_LABEL: "copy" if copy else "bind",
        }
        image = settings.SAMOKODER_SANDBOX_IMAGE
        isolation = self._isolation(workspace, copy=copy)
        isolation["volumes"].update(_mount_volumes(mounts))
        try:
            container = self.client.containers.create(
                image, ["python3", "-c", REAPER], labels=labels, **isolation
            )
        except DockerException as exc:
            raise SandboxError(f"Could not create a sandbox from {image}: {exc}") from exc
        try:
            container.start()
        except DockerException as exc:
            container.remove(force=True)  # never leave a created-but-dead container behind
            raise SandboxError(f"Could not start a sandbox from {image}: {exc}") from exc
        return SandboxHandle(
            backend=self.name,
            backend_id=container.id,  # type: ignore[arg-type]  # a created one has an id
            workspace=workspace,
            image=image,
            labels=labels,
            mounts=mounts,
        )

    def _isolation(self, workspace: Path, *, copy: bool) -> dict[str, Any]:
        limits, uid = self.limits, settings.SAMOKODER_SANDBOX_UID
        where: dict[str, Any] = (
            # An anonymous volume, starting as the image's /workspace (the sandbox user's).
            {"volumes": {}, "mounts": [docker.types.Mount("/workspace", None)]}
            if copy
            else {"volumes": {str(workspace): {"bind": "/workspace", "mode": "rw"}}}
        )
        return {
            **where,
            "network_mode": "none",
            "mem_limit": f"{limits.memory_mb}m",
            "memswap_limit": f"{limits.memory_mb}m",
            "nano_cpus": int(limits.cpus * 1e9),
            "pids_limit": limits.pids,
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "read_only": True,
            "tmpfs": {"/tmp": f"rw,nosuid,nodev,size={limits.tmpfs_mb}m"},  # noqa: S108 - the container's own
            "shm_size": f"{limits.tmpfs_mb}m",
            "user": f"{uid}:{uid}",
            "working_dir": "/workspace",
            "environment": {"PYTHONDONTWRITEBYTECODE": "1", "HOME": "/workspace"},
            "ulimits": [
                docker.types.Ulimit(
                    name="fsize", soft=limits.file_size_mb << 20, hard=limits.file_size_mb << 20
                )
            ],
        }

    def execute(
        self,
        handle: SandboxHandle,
        command: str,
        *,
        timeout: float,
        cancel: threading.Event | None = None,
        on_output: OnOutput | None = None,
    ) -> ExecutionResult:
        copy = self._workspace_in(handle)
        api = self.client.api
        try:
            exec_id = api.exec_create(
                handle.backend_id, ["/bin/sh", "-c", command], workdir="/workspace"
            )["Id"]
            stream = api.exec_start(exec_id, stream=True, demux=True)
        except NotFound as exc:
            raise SandboxError(
                "The project's sandbox container is gone; it will be recreated."
            ) from exc
        started = time.monotonic()
        reader = _DemuxReader(stream, self.limits.output_bytes, on_output)
        reader.start()
        watch = self._disk_watch(handle, copy=copy)
        outcome = wait_until(
            partial(_finished, reader), timeout=timeout, cancel=cancel, watch=watch
        )
        self._kill_all(handle)  # a stopped command, and anything left in the background
        reader.join(10)
        if copy and outcome != "disk":  # one over the limit is thrown away whole
            copy_out(self.client, handle.backend_id, handle.workspace)
        exit_code = api.exec_inspect(exec_id)["ExitCode"] if outcome == "done" else None
        return ExecutionResult.assemble(
            outcome=outcome, exit_code=exit_code, outputs=reader.outputs, started=started,
            disk_mb=self.limits.disk_mb,
        )  # fmt: skip

    def _workspace_in(self, handle: SandboxHandle) -> bool:
        """Make the workspace the sandbox's: copied in (True) or handed over in place."""
        if handle.labels.get(WORKSPACE_LABEL) != "copy":
            hand_over(handle.workspace)
            return False
        uid = settings.SAMOKODER_SANDBOX_UID
        copy_in(self.client, handle.backend_id, handle.workspace, uid=uid)
        return True

    def _disk_watch(self, handle: SandboxHandle, *, copy: bool) -> WorkspaceWatch:
        """The disk limit's measure: our folders, or (copied) the sandbox's from inside."""
        if copy:
            return ContainerDiskWatch(self.client, handle.backend_id, self.limits.disk_mb)
        return WorkspaceWatch(handle.written(), self.limits.disk_mb)

    def _kill_all(self, handle: SandboxHandle) -> None:
        with contextlib.suppress(DockerException):  # the container died: nothing left to kill
            self.client.api.exec_start(
                self.client.api.exec_create(handle.backend_id, KILL_ALL)["Id"]
            )

    def stop(self, handle: SandboxHandle) -> None:
        with contextlib.suppress(NotFound):
            # v: its anonymous volume too (a copied workspace); bind mounts are untouched.
            self.client.containers.get(handle.backend_id).remove(force=True, v=True)

    def sandboxes_of(self, project_id: str) -> list[str]:
        labels = [f"{LABEL}=samokoder", f"project_id={project_id}"]
        found = self.client.containers.list(all=True, filters={"label": labels})
        return [c.id for c in found if c.id]

    def orphans(self, *, older_than: datetime) -> list[str]:
        cutoff = older_than.timestamp()
        found = self.client.containers.list(filters={"label": f"{LABEL}=samokoder"})
        # A listed container has an id; the stub allows None for any model.
        return [c.id for c in found if float(c.labels.get("creation_timestamp", "0")) < cutoff]  # type: ignore[misc]


def _mount_volumes(mounts: tuple[Mount, ...]) -> dict[str, dict[str, str]]:
    """Volumes for the extra mounts; on a remote DOCKER_HOST the sources are paths on that
    host (the dependency and socket folders must then live there)."""
    return {
        str(m.source): {"bind": m.target, "mode": "ro" if m.read_only else "rw"} for m in mounts
    }


class _DemuxReader(threading.Thread):
    """Drain a demultiplexed exec stream into one ``CappedOutput`` per stream."""

    def __init__(
        self,
        stream: Iterator[tuple[bytes | None, bytes | None]],
        limit: int,
        on_kept: OnOutput | None = None,
    ) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.outputs = (CappedOutput(limit, on_kept), CappedOutput(limit, on_kept))

    def run(self) -> None:
        for chunks in self.stream:
            for output, chunk in zip(self.outputs, chunks, strict=True):
                if chunk:
                    output.add(chunk)


def _finished(reader: threading.Thread, seconds: float) -> bool:
    reader.join(seconds)
    return not reader.is_alive()
