"""A sandboxed process's exit and output, watched from the calling thread alone.

One ``poll(2)`` waits on a pidfd (readable the moment the process exits) and on both
output pipes. Two reader threads did the reading before: on a busy machine each start
waits for the new thread to be scheduled, 1-4 ms of the time bubblewrap added to
`python3 -c pass` (bench/sandbox.py, 2026-11-30). ``Popen.wait(timeout)`` is no
alternative for the exit: it polls with sleeps that double up to 50 ms.
"""

import os
import select
import subprocess
import time
from io import BufferedReader
from typing import cast

from execution.backends.base import CappedOutput

CHUNK = 65536  # what one read takes from a pipe at most
NO_PIDFD_SLICE = 0.005  # seconds between looks at the exit where there is no pidfd


class ProcessWatch:
    """``wait(seconds) -> exited`` for ``process`` (stdout and stderr piped), reading both
    pipes into ``outputs`` meanwhile; ``drain`` reads what is left once it has ended.
    A context manager that closes the pipes and the pidfd."""

    def __init__(
        self, process: subprocess.Popen[bytes], outputs: tuple[CappedOutput, CappedOutput]
    ) -> None:
        self.process = process
        # Both are pipes; typeshed's Popen says only "IO[bytes] | None".
        pipes = cast("tuple[BufferedReader, BufferedReader]", (process.stdout, process.stderr))
        self.pipes = pipes
        self.reading = {pipe.fileno(): output for pipe, output in zip(pipes, outputs, strict=True)}
        self.poller = select.poll()
        for fd in self.reading:
            self.poller.register(fd, select.POLLIN)
        self.pidfd = _pidfd(process)
        if self.pidfd is not None:
            self.poller.register(self.pidfd, select.POLLIN)

    def __enter__(self) -> "ProcessWatch":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._forget_pidfd()
        for pipe in self.pipes:
            pipe.close()

    def wait(self, seconds: float) -> bool:
        """Read output for at most ``seconds``; True as soon as the process has exited."""
        deadline = time.monotonic() + seconds
        while True:
            left = max(deadline - time.monotonic(), 0)
            if self.pidfd is None:
                left = min(left, NO_PIDFD_SLICE)
            if self._poll(left) or self.process.poll() is not None:
                self.process.wait()  # it has exited: reaping it does not block
                return True
            if time.monotonic() >= deadline:
                return False

    def drain(self, patience: float) -> None:
        """Read the pipes to their end, for at most ``patience`` seconds (a process that
        escaped with a copy of one could hold it open)."""
        self._forget_pidfd()
        deadline = time.monotonic() + patience
        while self.reading:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._poll(left)

    def _poll(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for output or the exit; read what came. True on exit."""
        exited = False
        for fd, _ in self.poller.poll(round(seconds * 1000)):
            if fd == self.pidfd:
                exited = True
            else:
                self._read(fd)
        return exited

    def _read(self, fd: int) -> None:
        chunk = os.read(fd, CHUNK)  # poll said readable: this does not block
        if chunk:
            self.reading[fd].add(chunk)
        else:  # the end: every writer has closed it
            self.poller.unregister(fd)
            del self.reading[fd]

    def _forget_pidfd(self) -> None:
        # Once the process has exited its pidfd stays readable: poll would spin on it.
        if self.pidfd is not None:
            self.poller.unregister(self.pidfd)
            os.close(self.pidfd)
            self.pidfd = None


def _pidfd(process: subprocess.Popen[bytes]) -> int | None:
    try:
        return os.pidfd_open(process.pid)
    except (AttributeError, OSError):  # Linux before 5.3: looked at every NO_PIDFD_SLICE
        return None
