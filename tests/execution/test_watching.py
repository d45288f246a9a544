"""Watching a process's exit and both its pipes from one thread (ProcessWatch)."""

import contextlib
import os
import signal
import subprocess
from unittest import mock

import pytest

from execution.backends import watching
from execution.backends.base import CappedOutput
from execution.backends.watching import ProcessWatch

# More than a pipe holds (64 KiB) on each stream: a watch that read only one would deadlock.
LOUD = "head -c 300000 /dev/zero | tr '\\0' o; head -c 200000 /dev/zero | tr '\\0' e >&2"


def start(script: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["/bin/sh", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,  # one process group, for what it leaves behind
    )  # fmt: skip


def watched(script: str, limit: int = 1_000_000) -> tuple[bool, subprocess.Popen, tuple]:
    process = start(script)
    outputs = (CappedOutput(limit), CappedOutput(limit))
    with ProcessWatch(process, outputs) as watch:
        exited = False
        for _ in range(600):  # ends at once; at most a minute on a crowded machine
            if exited := watch.wait(0.1):
                break
        watch.drain(patience=10)
    return exited, process, outputs


@pytest.mark.parametrize("pidfd", [True, False], ids=["pidfd", "no-pidfd"])
def test_both_streams_are_read_whole_while_the_exit_is_awaited(pidfd):
    as_before_linux_5_3 = mock.patch.object(watching, "_pidfd", autospec=True, return_value=None)
    with contextlib.nullcontext() if pidfd else as_before_linux_5_3:
        exited, process, (out, err) = watched(f"{LOUD}; exit 3")

    assert exited and process.returncode == 3
    assert (bytes(out.kept), bytes(err.kept)) == (b"o" * 300000, b"e" * 200000)


def test_output_past_the_cap_is_counted_and_the_pipe_kept_flowing():
    exited, _, (out, _) = watched(LOUD, limit=1000)

    assert exited and len(out.kept) == 1000 and out.dropped == 299000


def test_a_process_that_leaves_its_pipe_to_a_survivor_is_not_waited_for_past_patience():
    process = start("sleep 30 & echo left")
    outputs = (CappedOutput(100), CappedOutput(100))
    try:
        with ProcessWatch(process, outputs) as watch:
            while not watch.wait(0.1):
                pass
            watch.drain(patience=0.2)  # the sleep still holds stdout open
    finally:
        os.killpg(process.pid, signal.SIGKILL)

    assert bytes(outputs[0].kept) == b"left\n" and process.returncode == 0
