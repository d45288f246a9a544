"""bubblewrap: the embedded default sandbox, no daemon needed.

Each command runs in fresh namespaces (no network unless asked, its own PID space so
nothing outlives it), sees /usr read-only and the project's workspace as the only
writable place, and runs under rlimits (address space, CPU time, processes, file
size). Started as root, it drops to a dedicated uid first: the kernel does not count
root's processes against RLIMIT_NPROC, so a fork bomb would otherwise go unchecked.
"""

import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from datetime import datetime
from functools import partial
from io import BufferedReader
from pathlib import Path
from typing import cast

from django.conf import settings

from execution.backends.base import (
    CappedReader,
    ExecutionResult,
    OnOutput,
    ProcessManager,
    SandboxHandle,
    SandboxUnavailable,
    wait_until,
)
from execution.workspace import hand_over

READ_ONLY_SYSTEM = ["--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib",
                    "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin",
                    "--symlink", "usr/sbin", "/sbin"]  # fmt: skip
NETWORK_FILES = ["/etc/resolv.conf", "/etc/hosts", "/etc/ssl", "/etc/ca-certificates"]


class BubblewrapProcessManager(ProcessManager):
    name = "bubblewrap"

    def create_container(self, *, project_id: str, workspace: Path) -> SandboxHandle:
        self._require_bwrap()
        workspace.mkdir(parents=True, exist_ok=True)
        self._require_reachable(workspace)
        return SandboxHandle(backend=self.name, backend_id=str(uuid.uuid4()), workspace=workspace)

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
        bwrap = self._require_bwrap()
        hand_over(handle.workspace)
        started = time.monotonic()
        # The command is untrusted by design: it runs only inside the sandbox built here.
        sandbox = [bwrap, *self._arguments(handle.workspace, network), "/bin/sh", "-c", command]
        process = subprocess.Popen(  # noqa: S603
            [*self._launcher(), *sandbox],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # one process group to kill on timeout
            env={"PATH": "/usr/bin:/bin"},
        )
        return self._collect(process, started, timeout, cancel, on_output)

    def stop(self, handle: SandboxHandle) -> None:
        """Nothing keeps running between commands: each dies with its PID namespace."""

    def orphans(self, *, older_than: datetime) -> list[str]:
        return []

    def _require_bwrap(self) -> str:
        found = shutil.which("bwrap")
        if found is None:
            raise SandboxUnavailable(
                "bubblewrap is not installed, so generated code cannot run. "
                "Install it with: sudo apt-get install bubblewrap"
            )
        return found

    def _require_reachable(self, workspace: Path) -> None:
        # bwrap runs as the sandbox uid and must walk down to the workspace to bind it.
        if os.geteuid() != 0:
            return
        for folder in workspace.resolve().parents:
            if not folder.stat().st_mode & 0o001:
                raise SandboxUnavailable(
                    f"The sandbox user (uid {settings.SAMOKODER_SANDBOX_UID}) cannot reach "
                    f"{workspace}: {folder} is not traversable by others. Run chmod o+x on it "
                    "or set SAMOKODER_WORKSPACES_DIR to a folder under one that is."
                )

    def _arguments(self, workspace: Path, network: bool) -> list[str]:
        arguments = ["--unshare-all", "--die-with-parent", "--new-session", *READ_ONLY_SYSTEM,
                     "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",  # noqa: S108 - the sandbox's own tmpfs
                     "--bind", str(workspace), "/workspace", "--chdir", "/workspace",
                     "--clearenv", "--setenv", "PATH", "/usr/bin:/bin",
                     "--setenv", "HOME", "/workspace", "--setenv", "LANG", "C.UTF-8",
                     # bytecode caches are binary: they would only be refused on sync-back
                     "--setenv", "PYTHONDONTWRITEBYTECODE", "1"]  # fmt: skip
        if Path("/etc/alternatives").is_dir():
            arguments += ["--ro-bind", "/etc/alternatives", "/etc/alternatives"]
        if network:
            arguments += ["--share-net"]
            for path in filter(os.path.exists, NETWORK_FILES):
                arguments += ["--ro-bind", path, path]
        return [*arguments, "--"]

    def _launcher(self) -> list[str]:
        """setpriv (as root: drop to the sandbox uid, no groups) then prlimit (the limits),
        both exec'ing the next: no Python runs in the child, so a worker's other threads
        (heartbeat, publishing, output readers) cannot deadlock it as preexec_fn could.
        Root is exempt from RLIMIT_NPROC, hence the uid first."""
        limits, mb = self.limits, 1024 * 1024
        prlimit = [
            self._tool("prlimit"), f"--as={limits.memory_mb * mb}",
            f"--fsize={limits.file_size_mb * mb}", f"--nproc={limits.pids}", "--core=0", "--",
        ]  # fmt: skip
        if os.geteuid() != 0:
            return prlimit
        uid = settings.SAMOKODER_SANDBOX_UID
        setpriv = [self._tool("setpriv"), f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
        return [*setpriv, *prlimit]

    @staticmethod
    def _tool(name: str) -> str:
        found = shutil.which(name, path="/usr/bin:/bin")
        if found is None:
            raise SandboxUnavailable(f"{name} (util-linux) is missing: apt-get install util-linux.")
        return found

    def _collect(
        self,
        process: subprocess.Popen[bytes],
        started: float,
        timeout: float,
        cancel: threading.Event | None,
        on_output: OnOutput | None,
    ) -> ExecutionResult:
        limit = self.limits.output_bytes
        # Both are pipes, buffered readers; typeshed's Popen says only "IO[bytes] | None".
        pipes = cast("tuple[BufferedReader, BufferedReader]", (process.stdout, process.stderr))
        readers = [CappedReader(pipe, limit, on_output) for pipe in pipes]
        for reader in readers:
            reader.start()
        outcome = wait_until(partial(_exited, process), timeout=timeout, cancel=cancel)
        timed_out = outcome == "timeout"
        if outcome != "done":
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        for reader in readers:
            reader.join(timeout=10)
        out, err = (reader.output for reader in readers)
        return ExecutionResult(
            exit_code=process.returncode if outcome == "done" else None,
            stdout=out.text(),
            stderr=err.text(),
            duration_ms=round((time.monotonic() - started) * 1000),
            timed_out=timed_out,
            truncated=bool(out.dropped or err.dropped),
            cancelled=outcome == "cancelled",
        )


def _exited(process: subprocess.Popen[bytes], seconds: float) -> bool:
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return False
    return True
