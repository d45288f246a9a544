"""The ProcessManager interface (the domain's Docker ACL) and what a command returns."""

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from io import BufferedReader
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


@dataclass(frozen=True)
class SandboxHandle:
    """What a backend needs to find a project's sandbox again."""

    backend: str
    backend_id: str
    workspace: Path
    image: str = ""
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ExecutionResult:
    exit_code: int | None
    stdout: str
    stderr: str
    duration_ms: int
    timed_out: bool
    truncated: bool
    cancelled: bool = False


class ProcessManager(ABC):
    name: str

    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    @abstractmethod
    def create_container(self, *, project_id: str, workspace: Path) -> SandboxHandle:
        """CreateContainer: a sandbox for the project whose writable part is ``workspace``."""

    @abstractmethod
    def execute(
        self,
        handle: SandboxHandle,
        command: str,
        *,
        timeout: float,
        network: bool = False,
        cancel: threading.Event | None = None,
        on_output: OnOutput | None = None,
    ) -> ExecutionResult:
        """ExecuteCommand: run ``command`` (a shell line) in /workspace; never raises for
        the command's own failure, only SandboxError when the sandbox cannot run it.

        Setting ``cancel`` kills the command (and everything it started) within
        ``CANCEL_POLL`` seconds; the result then says ``cancelled``. ``on_output`` gets the
        kept output as it arrives (from reader threads), for showing it live."""

    @abstractmethod
    def stop(self, handle: SandboxHandle) -> None:
        """StopContainer: stop it and everything running in it."""

    @abstractmethod
    def orphans(self, *, older_than: datetime) -> list[str]:
        """Backend ids of sandboxes this manager started before ``older_than`` and still
        running (CleanupOrphanedContainers stops them)."""


CANCEL_POLL = 0.2  # seconds between looks at a cancel flag while a command runs


def wait_until(
    wait: Callable[[float], bool], *, timeout: float, cancel: threading.Event | None
) -> str:
    """Block on ``wait(seconds) -> finished`` until it finishes ("done"), the timeout
    passes ("timeout") or ``cancel`` is set ("cancelled").

    ``wait`` blocks at most the seconds given and returns as soon as the command ends, so
    a short command costs no polling delay; cancel is looked at every ``CANCEL_POLL``.
    """
    deadline = time.monotonic() + timeout
    while True:
        if cancel is not None and cancel.is_set():
            return "cancelled"
        left = deadline - time.monotonic()
        if left <= 0:
            return "timeout"
        if wait(min(CANCEL_POLL, left)):
            return "done"


class CappedOutput:
    """At most ``limit`` bytes of one stream; what is dropped is counted so the text says so."""

    def __init__(self, limit: int, on_kept: OnOutput | None = None) -> None:
        self.limit, self.on_kept = limit, on_kept
        self.kept = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = self.limit - len(self.kept)
        kept = chunk[:room]
        self.kept += kept
        self.dropped += max(len(chunk) - room, 0)
        if kept and self.on_kept is not None:
            self.on_kept(kept)

    def text(self) -> str:
        text = self.kept.decode("utf-8", errors="replace")
        if self.dropped:
            text += f"\n[… output truncated: {self.dropped} more bytes not kept]"
        return text


class CappedReader(threading.Thread):
    """Drain a pipe in the background into a ``CappedOutput``.

    Reading on past the cap keeps the command from blocking on a full pipe.
    """

    def __init__(self, stream: BufferedReader, limit: int, on_kept: OnOutput | None = None) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.output = CappedOutput(limit, on_kept)

    def run(self) -> None:
        # read1: whatever is there now (up to 64 KiB), so output can be shown as it comes.
        while chunk := self.stream.read1(65536):
            self.output.add(chunk)
