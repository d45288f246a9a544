"""bubblewrap: the embedded default sandbox, no daemon needed.

Each command runs in fresh namespaces (no network, its own PID space so
nothing outlives it), sees /usr read-only, sized tmpfs /tmp and /dev/shm, and the
project's workspace as the only writable place. Where cgroups are writable it runs in a
cgroup of its own (see ``cgroups``): memory including its tmpfs, a CPU share and a
process count that are its alone. Everywhere it runs under rlimits (address space, file
size; processes too when there is no pids group). Started as root, it drops to a uid
of the command's own first (leased from SAMOKODER_SANDBOX_UID on): the kernel does not
count root's processes against RLIMIT_NPROC, and counts everyone else's per uid.
"""

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings

from execution.backends.base import (
    CappedOutput,
    ExecutionResult,
    Mount,
    OnOutput,
    ProcessManager,
    SandboxHandle,
    SandboxUnavailable,
    WorkspaceWatch,
    wait_until,
)
from execution.backends.cgroup_keeper import GROUPS
from execution.backends.cgroups import CgroupSupport, CommandCgroup, cgroup_support
from execution.backends.uids import uid_lease
from execution.backends.watching import ProcessWatch
from execution.workspace import hand_over

# A command of plain words only: no quoting, expansion, redirection, globbing, separator or
# comment, so splitting it at spaces is exactly what the shell would run.
PLAIN_WORDS = re.compile(r"[A-Za-z0-9_./:,+@%-]+( [A-Za-z0-9_./:,+@%=-]+)*")
SANDBOX_PATH = "/usr/bin:/bin"
# Words the shell runs itself (dash's builtins and reserved words), never as a program.
SHELL_WORDS = frozenset(
    re.split(
        r"\s+",
        "alias bg break cd command continue echo eval exec exit export false fc fg getopts "
        "hash jobs kill local printf pwd read readonly return set shift test times trap true "
        "type ulimit umask unalias unset wait if then else elif fi case esac for while until "
        "do done in function select time",
    )
)
FOUND_TOOLS: dict[tuple[str, str | None], str] = {}  # (name, PATH) -> where it is
READ_ONLY_SYSTEM = ["--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib",
                    "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin",
                    "--symlink", "usr/sbin", "/sbin"]  # fmt: skip


class BubblewrapProcessManager(ProcessManager):
    name = "bubblewrap"

    def create_container(
        self, *, project_id: str, workspace: Path, mounts: tuple[Mount, ...] = ()
    ) -> SandboxHandle:
        self._require_bwrap()
        workspace.mkdir(parents=True, exist_ok=True)
        self._require_reachable(workspace)
        return SandboxHandle(
            backend=self.name, backend_id=str(uuid.uuid4()), workspace=workspace, mounts=mounts
        )

    def execute(
        self,
        handle: SandboxHandle,
        command: str,
        *,
        timeout: float,
        cancel: threading.Event | None = None,
        on_output: OnOutput | None = None,
    ) -> ExecutionResult:
        bwrap = self._require_bwrap()
        # The command is untrusted by design: it runs only inside the sandbox built here.
        arguments = self._arguments(handle.workspace, handle.mounts)
        sandbox = [bwrap, *arguments, *_argv(command)]
        with self._uid(handle.workspace) as uid, self._cgroup() as group:
            hand_over(handle.workspace, uid=uid)
            for mount in handle.mounts:  # dependency folders and caches are written too
                if not mount.read_only and mount.source.is_dir():
                    hand_over(mount.source, uid=uid)
            started = time.monotonic()
            process = subprocess.Popen(  # noqa: S603
                [*self._launcher(uid, group), *sandbox],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # one process group to kill on timeout
                env={"PATH": "/usr/bin:/bin"},
            )
            watch = WorkspaceWatch(handle.written(), self.limits.disk_mb)
            waiting = Waiting(started, timeout, cancel, watch)
            return self._collect(process, waiting, on_output, group)

    def stop(self, handle: SandboxHandle) -> None:
        """Nothing keeps running between commands: each dies with its PID namespace."""

    def orphans(self, *, older_than: datetime) -> list[str]:
        return []

    def cgroups(self) -> CgroupSupport | None:
        """The cgroups each command gets, or None when it runs under rlimits only
        (SAMOKODER_SANDBOX_CGROUPS off, or none writable here)."""
        if not settings.SAMOKODER_SANDBOX_CGROUPS:
            return None
        support = cgroup_support()
        return support if support.version else None

    def _uid(self, workspace: Path) -> contextlib.AbstractContextManager[int | None]:
        """As root, a uid of the command's own (see ``uids``), the workspace's owner when
        that one is free; otherwise it runs as us."""
        if os.geteuid() != 0:
            return contextlib.nullcontext()
        first, count = settings.SAMOKODER_SANDBOX_UID, settings.SAMOKODER_SANDBOX_UID_COUNT
        return uid_lease(first=first, count=count, prefer=workspace.lstat().st_uid)

    def _cgroup(self) -> contextlib.AbstractContextManager[CommandCgroup | None]:
        support = self.cgroups()
        return GROUPS.group(support, self.limits) if support else contextlib.nullcontext()

    def _require_bwrap(self) -> str:
        found = _found("bwrap", os.environ.get("PATH"))
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
                    f"The sandbox users (uid {settings.SAMOKODER_SANDBOX_UID} on) cannot reach "
                    f"{workspace}: {folder} is not traversable by others. Run chmod o+x on it "
                    "or set SAMOKODER_WORKSPACES_DIR to a folder under one that is."
                )

    def _arguments(self, workspace: Path, mounts: tuple[Mount, ...]) -> list[str]:
        tmpfs_size = str(self.limits.tmpfs_mb * 1024 * 1024)
        arguments = ["--unshare-all", "--die-with-parent", "--new-session", *READ_ONLY_SYSTEM,
                     "--proc", "/proc", "--dev", "/dev",
                     "--size", tmpfs_size, "--tmpfs", "/tmp",  # noqa: S108 - the sandbox's own tmpfs
                     "--size", tmpfs_size, "--tmpfs", "/dev/shm",  # noqa: S108 - likewise
                     "--bind", str(workspace), "/workspace", "--chdir", "/workspace",
                     "--clearenv", "--setenv", "PATH", "/usr/bin:/bin",
                     "--setenv", "HOME", "/workspace", "--setenv", "LANG", "C.UTF-8",
                     # bytecode caches are binary: they would only be refused on sync-back
                     "--setenv", "PYTHONDONTWRITEBYTECODE", "1"]  # fmt: skip
        if Path("/etc/alternatives").is_dir():
            arguments += ["--ro-bind", "/etc/alternatives", "/etc/alternatives"]
        for mount in mounts:  # never --share-net: what crosses goes through sockets here
            bind = "--ro-bind" if mount.read_only else "--bind"
            arguments += [bind, str(mount.source), mount.target]
        return [*arguments, "--"]

    def _launcher(self, uid: int | None, group: CommandCgroup | None) -> list[str]:
        """What runs before bwrap: dash joins ``group`` and sets the rlimits with its
        ``ulimit`` (soft and hard), then, as root, execs setpriv, which drops to ``uid``
        with no groups and execs bwrap. So the command is in its group and under its limits
        before it can fork, and no Python runs in the child (a worker's other threads,
        heartbeat and publishing, could deadlock it as preexec_fn could).

        Root is exempt from RLIMIT_NPROC, hence the uid; in a group the process count is
        the group's own, and RLIMIT_NPROC is left out. Popen could drop the uid itself,
        but then it forks the whole worker instead of vfork'ing it: 2 ms more a command
        than setpriv's exec (bench/sandbox.py, 2026-12-01)."""
        limits = self.limits
        joins = (
            [f"echo 0 > {shlex.quote(str(path))}" for path in group.join_files()] if group else []
        )
        rlimits = [
            f"ulimit -v {limits.memory_mb * 1024}",  # address space, in kB
            f"ulimit -f {limits.file_size_mb * 2048}",  # file size, in 512-byte blocks
            "ulimit -c 0",  # no core files
        ]
        if group is None:
            rlimits.append(f"ulimit -p {limits.pids}")  # dash's -p: RLIMIT_NPROC
        script = " && ".join([*joins, *rlimits, 'exec "$@"'])
        dash = [self._tool("dash"), "-c", script, "samokoder-sandbox"]
        if uid is None:
            return dash
        return [*dash, self._tool("setpriv"), f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]

    @staticmethod
    def _tool(name: str) -> str:
        found = _found(name, "/usr/bin:/bin")
        if found is None:
            package = "dash" if name == "dash" else "util-linux"
            raise SandboxUnavailable(f"{name} is missing: apt-get install {package}.")
        return found

    def _collect(
        self,
        process: subprocess.Popen[bytes],
        waiting: "Waiting",
        on_output: OnOutput | None,
        group: CommandCgroup | None,
    ) -> ExecutionResult:
        limit = self.limits.output_bytes
        outputs = (CappedOutput(limit, on_output), CappedOutput(limit, on_output))
        with ProcessWatch(process, outputs) as watch:
            outcome = "raised"  # on_output runs here now: what it raises ends the command too
            try:
                outcome = wait_until(
                    watch.wait, timeout=waiting.timeout, cancel=waiting.cancel, watch=waiting.watch
                )
            finally:
                if outcome != "done":
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
            watch.drain(patience=10)
        return ExecutionResult.assemble(
            outcome=outcome, exit_code=process.returncode, outputs=outputs,
            started=waiting.started, usage=group.usage() if group is not None else None,
            disk_mb=self.limits.disk_mb,
        )  # fmt: skip


@dataclass(frozen=True)
class Waiting:
    """How long and on what a running command is waited for."""

    started: float
    timeout: float
    cancel: threading.Event | None
    watch: WorkspaceWatch


def _found(name: str, path: str | None) -> str | None:
    """``shutil.which``, remembered once found: the sandbox's own tools stay where they
    are, and each look walks PATH (a tenth of a millisecond per command for the three).
    One not found is looked for again, so installing it needs no restart."""
    key = (name, path)
    if key not in FOUND_TOOLS:
        found = shutil.which(name, path=path)
        if found is None:
            return None
        FOUND_TOOLS[key] = found
    return FOUND_TOOLS[key]


def _argv(command: str) -> list[str]:
    """What bwrap execs for ``command``: the shell, or, for plain words naming a program
    in the sandbox's PATH, that program itself. Its environment, working folder and exit
    code are the same; one exec fewer is 1-4 ms of the 15 ms `python3 -c pass` takes
    bare (bench/sandbox.py, 2026-11-30)."""
    if PLAIN_WORDS.fullmatch(command):
        words = command.split(" ")
        program = words[0]
        runs_itself = "/" not in program and program not in SHELL_WORDS
        if runs_itself and shutil.which(program, path=SANDBOX_PATH) is not None:
            return words
    return ["/bin/sh", "-c", command]
