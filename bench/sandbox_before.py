"""The bubblewrap backend's earlier paths, put back for bench/sandbox.py's side-by-side rows.

- before issue 18: every command through /bin/sh, Popen's polling wait for its exit,
  20 ms between tries to remove a group; and what follows.
- before the one-thread watch (issue 18, second pass): two reader threads for the output
  and a pidfd for the exit; a group joined by writing the command's pid to cgroup.procs
  (the machine-wide lock and its RCU grace period).
- before dash's ulimit (issue 18, fourth pass): three programs before bwrap, not two: sh
  joining the group, setpriv dropping to the uid, prlimit setting the rlimits.
- before the keeper (the same pass): a command's group made before it starts and removed
  before it returns, not ahead and after on a thread of its own.
"""

import contextlib
import os
import shlex
import signal
import threading
from collections.abc import Callable, Iterator

OLD_REMOVE_PAUSE = 0.02  # seconds between tries to remove a group, before issue 18


class ReaderThread(threading.Thread):
    """A pipe drained in the background into a CappedOutput, as each stream was."""

    def __init__(self, stream, limit: int, on_output) -> None:
        from execution.backends.base import CappedOutput

        super().__init__(daemon=True)
        self.stream, self.output = stream, CappedOutput(limit, on_output)

    def run(self) -> None:
        while chunk := self.stream.read1(65536):
            self.output.add(chunk)


@contextlib.contextmanager
def pidfd_exit(process) -> Iterator[Callable[[float], bool]]:
    import select

    pidfd = os.pidfd_open(process.pid)
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)

    def exited(seconds: float) -> bool:
        if not poller.poll(max(0, round(seconds * 1000))):
            return process.poll() is not None
        process.wait()
        return True

    try:
        yield exited
    finally:
        os.close(pidfd)


@contextlib.contextmanager
def polling_exit(process) -> Iterator[Callable[[float], bool]]:
    import subprocess

    def exited(seconds: float) -> bool:
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return False
        return True

    yield exited


def threaded_collect(manager, exit_waiter) -> Callable:
    """``manager._collect`` with two reader threads and ``exit_waiter`` for the exit."""
    from execution.backends.base import ExecutionResult, wait_until

    def collect(process, waiting, on_output, group):
        limit = manager.limits.output_bytes
        pipes = (process.stdout, process.stderr)
        readers = [ReaderThread(pipe, limit, on_output) for pipe in pipes]
        for reader in readers:
            reader.start()
        with exit_waiter(process) as exited:
            outcome = wait_until(
                exited, timeout=waiting.timeout, cancel=waiting.cancel, watch=waiting.watch
            )
        if outcome != "done":
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        for reader in readers:
            reader.join(timeout=10)
        return ExecutionResult.assemble(
            outcome=outcome, exit_code=process.returncode,
            outputs=(readers[0].output, readers[1].output), started=waiting.started,
            usage=group.usage() if group is not None else None, disk_mb=manager.limits.disk_mb,
        )  # fmt: skip

    return collect


def old_launcher(manager, *, procs: bool) -> Callable:
    """``manager._launcher`` as it was: sh joining the group as root (writing its pid to
    cgroup.procs with ``procs``, else 0 to tasks), setpriv, then prlimit."""
    limits, mb = manager.limits, 1024 * 1024

    def launcher(uid, group):
        joining = []
        if group is not None:
            name = "cgroup.procs" if procs else "tasks"
            files = [folder / name for folder in sorted(set(group.folders.values()))]
            value = "$$" if procs else "0"
            joins = [f"echo {value} > {shlex.quote(str(path))}" for path in files]
            joining = ["/bin/sh", "-c", " && ".join([*joins, 'exec "$@"']), "samokoder-sandbox"]
        nproc = [] if group is not None else [f"--nproc={limits.pids}"]
        prlimit = ["/usr/bin/prlimit", f"--as={limits.memory_mb * mb}",
                   f"--fsize={limits.file_size_mb * mb}", *nproc, "--core=0", "--"]  # fmt: skip
        setpriv = [] if uid is None else [
            "/usr/bin/setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]  # fmt: skip
        return [*joining, *setpriv, *prlimit]

    return launcher


@contextlib.contextmanager
def as_before(manager, *, since: str) -> Iterator[None]:
    """``manager`` as before ``since``: "keeper", "ulimit", "watch" (and the tasks join) or
    "issue 18"; each also as before those after it."""
    from execution.backends import bubblewrap, cgroups

    saved = manager._collect, manager._launcher, bubblewrap._argv, cgroups.REMOVE_FIRST_PAUSE
    saved_cgroup = manager._cgroup
    manager._cgroup = lambda: inline_cgroup(manager)
    if since != "keeper":
        manager._launcher = old_launcher(manager, procs=since != "ulimit")
    if since not in ("keeper", "ulimit"):
        exit_waiter = polling_exit if since == "issue 18" else pidfd_exit
        manager._collect = threaded_collect(manager, exit_waiter)
    if since == "issue 18":
        bubblewrap._argv = lambda command: ["/bin/sh", "-c", command]
        cgroups.REMOVE_FIRST_PAUSE = OLD_REMOVE_PAUSE
    try:
        yield
    finally:
        manager._collect, manager._launcher, bubblewrap._argv, cgroups.REMOVE_FIRST_PAUSE = saved
        manager._cgroup = saved_cgroup


def inline_cgroup(manager) -> contextlib.AbstractContextManager:
    """The command's group made before it starts and removed before it returns."""
    from execution.backends.cgroups import CommandCgroup

    support = manager.cgroups()
    return CommandCgroup(support, manager.limits) if support else contextlib.nullcontext()
