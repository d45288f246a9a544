"""A uid of its own for each running sandboxed command, leased from a configured range.

RLIMIT_NPROC counts processes per uid: with one sandbox uid shared by every command, one
tenant's fork bomb used up the quota of every other tenant's command. (Where cgroups are
writable each command also has its own ``pids.max``; the uid is what holds without.)

A lease is a ``flock`` on one file per uid in a folder every worker on the machine
shares, so it ends when its holder ends, even one that was killed.
"""

import contextlib
import fcntl
import os
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path

from execution.backends.base import SandboxUnavailable


def leases_folder() -> Path:
    folder = Path(tempfile.gettempdir()) / f"samokoder-sandbox-uids-{os.geteuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    if folder.lstat().st_uid != os.geteuid() or folder.is_symlink():
        raise SandboxUnavailable(f"{folder} belongs to someone else; remove it.")
    return folder


@contextlib.contextmanager
def uid_lease(*, first: int, count: int, prefer: int | None = None) -> Iterator[int]:
    """Hold one uid of ``first .. first + count - 1`` no other command holds; when all
    are held, wait for one (tried from a random one on, so waiters spread out).

    ``prefer`` (the uid that owns the workspace already) is tried first: a workspace
    handed to the uid it belongs to has nothing to change hands (see ``hand_over``)."""
    folder = leases_folder()
    # A random start, not a shuffle of the range (random.sample took 0.15 ms a command
    # for 64 uids under cProfile); no secret here.
    start = random.randrange(count)  # noqa: S311
    order = [first + (start + n) % count for n in range(count)]
    if prefer in order:
        order.remove(prefer)
        order.insert(0, prefer)
    for uid in order:
        handle = (folder / str(uid)).open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        with handle:
            yield uid
        return
    with (folder / str(order[0])).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield order[0]
