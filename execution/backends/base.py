"""The ProcessManager interface (the domain's Docker ACL) and what a command returns."""

import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

OnOutput = Callable[[bytes], None]  # receives a command's output as it arrives


class SandboxError(Exception):
    """The sandbox itself failed (not the command): unavailable, misconfigured, gone."""


class SandboxUnavailable(SandboxError):
    """The backend cannot run here (bwrap or Docker missing); the message says what to do."""


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 1024
    cpus: float = 1.0
    pids: int = 128
    file_size_mb: int = 256
    output_bytes: int = 1_000_000
    tmpfs_mb: int = 256  # each of /tmp and /dev/shm; RAM, so also counted in memory_mb
    disk_mb: int = 0  # the workspace's total on disk, looked at while it runs; 0: unbounded


@dataclass(frozen=True)
class Mount:
    """A host folder or file the sandbox sees at ``target`` besides its workspace."""

    source: Path
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class SandboxHandle:
    """What a backend needs to find a project's sandbox again."""

    backend: str
    backend_id: str
    workspace: Path
    image: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    mounts: tuple[Mount, ...] = ()  # fixed for the sandbox's life (Docker binds them at creation)

    def written(self) -> list[Path]:
        """Where a command can write on the host: the workspace and the writable mounts
        (dependency folders, caches); the disk limit counts them all."""
        return [self.workspace, *(m.source for m in self.mounts if not m.read_only)]


@dataclass(frozen=True)
class ResourceUsage:
    """How hard a command's own cgroup held it back, read just before the group goes."""

    memory_peak_bytes: int = 0
    oom_kills: int = 0  # processes the group's memory limit killed
    cpu_throttled: int = 0  # scheduler periods the command wanted more than its CPU share
    forks_refused: int = 0  # forks the group's process limit refused


@dataclass(frozen=True)
class ExecutionResult:
    exit_code: int | None
    stdout: str
    stderr: str
    duration_ms: int
    timed_out: bool
    truncated: bool
    cancelled: bool = False
    usage: ResourceUsage | None = None  # None where the backend cannot measure it
    disk_exceeded: bool = False  # stopped because the workspace outgrew Limits.disk_mb

    @classmethod
    def assemble(
        cls,
        *,
        outcome: str,
        exit_code: int | None,
        outputs: tuple["CappedOutput", "CappedOutput"],
        started: float,
        usage: ResourceUsage | None = None,
        disk_mb: int = 0,
    ) -> "ExecutionResult":
        """The result of a command whose wait ended in ``outcome`` (see ``wait_until``);
        ``exit_code`` counts only when it finished ("done"), ``started`` is monotonic,
        ``disk_mb`` the limit a "disk" outcome went over (said at the end of stderr)."""
        out, err = outputs
        stderr = err.text()
        if outcome == "disk":
            stderr += f"\n[… stopped: the workspace went over its disk limit of {disk_mb} MB]"
        return cls(
            exit_code=exit_code if outcome == "done" else None,
            stdout=out.text(),
            stderr=stderr,
            duration_ms=round((time.monotonic() - started) * 1000),
            timed_out=outcome == "timeout",
            truncated=bool(out.dropped or err.dropped),
            cancelled=outcome == "cancelled",
            usage=usage,
            disk_exceeded=outcome == "disk",
        )


class ProcessManager(ABC):
    name: str

    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    @abstractmethod
    def create_container(
        self, *, project_id: str, workspace: Path, mounts: tuple[Mount, ...] = ()
    ) -> SandboxHandle:
        """CreateContainer: a sandbox for the project whose writable part is ``workspace``,
        also seeing ``mounts`` (the dependency and socket folders, the CA bundle)."""

    @abstractmethod
    def execute(
        self,
        handle: SandboxHandle,
        command: str,
        *,
        timeout: float,
        cancel: threading.Event | None = None,
        on_output: OnOutput | None = None,
    ) -> ExecutionResult:
        """ExecuteCommand: run ``command`` (a shell line) in /workspace; never raises for
        the command's own failure, only SandboxError when the sandbox cannot run it.
        There is no network: what must cross goes through Unix sockets in a mount.

        Setting ``cancel`` kills the command (and everything it started) within
        ``CANCEL_POLL`` seconds; the result then says ``cancelled``. ``on_output`` gets the
        kept output as it arrives (on the waiting thread or a reader thread, as the
        backend reads it), for showing it live."""

    @abstractmethod
    def stop(self, handle: SandboxHandle) -> None:
        """StopContainer: stop it and everything running in it."""

    def sandboxes_of(self, project_id: str) -> list[str]:
        """Backend ids of the project's sandboxes still running (none on a backend whose
        sandboxes end with their command)."""
        return []

    @abstractmethod
    def orphans(self, *, older_than: datetime) -> list[str]:
        """Backend ids of sandboxes this manager started before ``older_than`` and still
        running (CleanupOrphanedContainers stops them)."""


CANCEL_POLL = 0.2  # seconds between looks at a cancel flag while a command runs
DISK_POLL = 1.0  # seconds between measurements of a running command's workspace
DISK_WALK_SPACING = 10  # a walk of T seconds waits at least T * this before the next one
DISK_POLL_MAX = 10.0  # ... but never longer than this (the command decides how long T is)


class WorkspaceWatch:
    """Whether a running command's folders (``roots``: the workspace and the writable
    mounts) hold more than ``limit_mb`` on disk together.

    Measured every ``DISK_POLL`` seconds by walking it (blocks allocated, links not
    followed, stopping as soon as the limit is passed), so the bound is what the command
    can write in about a second over the limit: enough to keep a command from filling
    the host's disk, without a file system of its own per project. A walk that takes long
    (a preview server beside 50,000 files of node_modules) spaces out the next ones, so
    that walking takes about ``1 / DISK_WALK_SPACING`` of a core for as long as the
    command runs; they are never more than ``DISK_POLL_MAX`` apart, so a tree made slow
    to walk on purpose buys the command at most that many seconds of writing."""

    def __init__(self, roots: list[Path], limit_mb: int) -> None:
        self.roots, self.limit = roots, limit_mb * 1024 * 1024
        # First look after a second: short commands, most of them, never pay for a walk.
        self.next_look = time.monotonic() + DISK_POLL

    def over(self) -> bool:
        started = time.monotonic()
        if self.limit <= 0 or started < self.next_look:
            return False
        over = self.used() > self.limit
        ended = time.monotonic()
        spacing = max(DISK_POLL, (ended - started) * DISK_WALK_SPACING)
        self.next_look = ended + min(spacing, DISK_POLL_MAX)
        return over

    def used(self) -> int:
        """Bytes on disk in the roots (or a number past the limit, once it is passed)."""
        used = 0
        for root in self.roots:
            used += disk_used(root, stop_above=self.limit - used)
        return used


def disk_used(root: Path, *, stop_above: int) -> int:
    """Bytes allocated below ``root`` (not following links), or a number past
    ``stop_above`` as soon as the walk gets there."""
    total, stack = 0, [root]
    while stack and total <= stop_above:
        try:
            with os.scandir(stack.pop()) as entries:  # lazily: a folder may hold 100,000
                for entry in entries:
                    total += _allocated(entry, stack)
        except OSError:  # removed while we looked
            continue
    return total


def _allocated(entry: os.DirEntry[str], folders: list[Path]) -> int:
    try:
        if entry.is_dir(follow_symlinks=False):
            folders.append(Path(entry.path))
        return entry.stat(follow_symlinks=False).st_blocks * 512
    except OSError:
        return 0


def wait_until(
    wait: Callable[[float], bool],
    *,
    timeout: float,
    cancel: threading.Event | None,
    watch: WorkspaceWatch | None = None,
) -> str:
    """Block on ``wait(seconds) -> finished`` until it finishes ("done"), the timeout
    passes ("timeout"), ``cancel`` is set ("cancelled") or the ``watch``ed workspace
    outgrows its limit ("disk").

    ``wait`` blocks at most the seconds given and returns as soon as the command ends, so
    a short command costs no polling delay; cancel is looked at every ``CANCEL_POLL``.
    """
    deadline = time.monotonic() + timeout
    while True:
        if cancel is not None and cancel.is_set():
            return "cancelled"
        if watch is not None and watch.over():
            return "disk"
        left = deadline - time.monotonic()
        if left <= 0:
            return "timeout"
        if wait(min(CANCEL_POLL, left)):
            return "done"


class CappedOutput:
    """At most ``limit`` bytes of one stream; what is dropped is counted so the text says so.

    ``on_output`` sees every chunk as it comes, kept or not: a served app logs for hours,
    past any cap, and its page must go on showing it (live relays cap what they send)."""

    def __init__(self, limit: int, on_output: OnOutput | None = None) -> None:
        self.limit, self.on_output = limit, on_output
        self.kept = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = max(self.limit - len(self.kept), 0)
        self.kept += chunk[:room]
        self.dropped += max(len(chunk) - room, 0)
        if chunk and self.on_output is not None:
            self.on_output(chunk)

    def text(self) -> str:
        # Invalid UTF-8 and NUL (which PostgreSQL refuses in text and JSON) both show as
        # U+FFFD, so whatever a command prints can be stored.
        text = self.kept.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
        if self.dropped:
            text += f"\n[… output truncated: {self.dropped} more bytes not kept]"
        return text
