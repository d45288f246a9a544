"""A cgroup per sandboxed command: memory (tmpfs included), CPU share and process count.

rlimits count per process (address space) or per uid (processes). On their own they let
one command fill RAM through tmpfs until the host's OOM killer picks a victim
(PostgreSQL, daphne), keep every core busy until its timeout, or use up the shared
sandbox uid's process quota so that another tenant's command cannot fork. A group of its
own bounds a command and everything it starts, and nothing else.

Groups are made below the worker's own group in each hierarchy (what a container or a
service manager gave us; nothing outside it is touched) and removed when the command
ends. cgroup v2 is used where the worker's group delegates the three controllers to its
children (``cgroup.subtree_control``); otherwise the v1 ``memory``, ``cpu`` and ``pids``
hierarchies when they are mounted and writable. With neither, ``cgroup_support()`` says
why and the backend falls back to rlimits. The cost is small: `python3 -c pass` took a
median 65-68 ms in bubblewrap before groups and 70-71 ms with one (bench/sandbox.py,
2 cores at load 6-7, 2026-11-30). This module needs no Django:

    python -m execution.backends.cgroups    # prints what `make run` warns about
"""

import contextlib
import functools
import logging
import os
import signal
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from execution.backends.base import Limits, ResourceUsage, SandboxError

logger = logging.getLogger(__name__)

CONTROLLERS = ("memory", "cpu", "pids")
CPU_PERIOD_US = 100_000
REMOVE_FIRST_PAUSE, REMOVE_MAX_PAUSE, REMOVE_PATIENCE = 0.0005, 0.02, 2.0  # seconds
MB = 1024 * 1024
# Absent when the kernel does not account swap; without swap there is nothing to bound.
OPTIONAL_FILES = {"memory.memsw.limit_in_bytes", "memory.swap.max"}
# ResourceUsage field -> (controller, v1 file, v2 file, key in the file or "" for a number)
USAGE_FILES = {
    "memory_peak_bytes": ("memory", "memory.max_usage_in_bytes", "memory.peak", ""),
    "oom_kills": ("memory", "memory.oom_control", "memory.events", "oom_kill"),
    "cpu_throttled": ("cpu", "cpu.stat", "cpu.stat", "nr_throttled"),
    "forks_refused": ("pids", "pids.events", "pids.events", "max"),
}


@dataclass(frozen=True)
class CgroupSupport:
    version: int  # 1 or 2; 0 when commands cannot have groups of their own here
    parents: dict[str, Path]  # controller -> the folder per-command groups are made in
    reason: str = ""  # why not, when version is 0

    def describe(self) -> str:
        """``"v1: memory, cpu, pids"``, or ``""`` when there are none."""
        return f"v{self.version}: {', '.join(self.parents)}" if self.version else ""


@dataclass(frozen=True)
class _Mount:
    fstype: str
    root: str  # the part of the hierarchy this mount shows (not "/" inside a container)
    point: Path
    options: frozenset[str]


@functools.cache
def cgroup_support() -> CgroupSupport:
    """What this process may do with cgroups, found once (mounts do not change under us)."""
    try:
        mounts = _mounts(Path("/proc/self/mountinfo").read_text())
        own = _own_groups(Path("/proc/self/cgroup").read_text())
    except OSError as exc:
        return CgroupSupport(0, {}, f"cannot read /proc ({exc})")
    v2, why_not_v2 = _v2(mounts, own)
    if v2 is not None:
        return v2
    v1, why_not_v1 = _v1(mounts, own)
    return v1 if v1 is not None else CgroupSupport(0, {}, f"{why_not_v1}; {why_not_v2}")


def _mounts(mountinfo: str) -> list[_Mount]:
    found = []
    for line in mountinfo.splitlines():
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(fields) >= 5 and len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            options = frozenset(tail[2].split(","))
            found.append(_Mount(tail[0], fields[3], Path(fields[4]), options))
    return found


def _own_groups(proc_cgroup: str) -> dict[str, str]:
    """controller -> this process's group path; v2's unified group under ``""``."""
    groups = {}
    for line in proc_cgroup.splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            groups[controller] = path
    return groups


def _folder(mount: _Mount, own_path: str) -> Path:
    relative = own_path.removeprefix(mount.root) if mount.root != "/" else own_path
    return mount.point / relative.lstrip("/")


def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK | os.X_OK)


def _v2(mounts: list[_Mount], own: dict[str, str]) -> tuple[CgroupSupport | None, str]:
    mount = next((m for m in mounts if m.fstype == "cgroup2"), None)
    if mount is None or "" not in own:
        return None, "no cgroup v2"
    folder = _folder(mount, own[""])
    try:
        delegated = set((folder / "cgroup.subtree_control").read_text().split())
    except OSError:
        delegated = set()
    missing = [c for c in CONTROLLERS if c not in delegated]
    if missing or not _writable(folder):
        return None, f"cgroup v2 at {folder} does not delegate {', '.join(missing) or 'writes'}"
    return CgroupSupport(2, dict.fromkeys(CONTROLLERS, folder)), ""


def _v1(mounts: list[_Mount], own: dict[str, str]) -> tuple[CgroupSupport | None, str]:
    parents = {}
    for controller in CONTROLLERS:
        mount = next((m for m in mounts if m.fstype == "cgroup" and controller in m.options), None)
        if mount is None or controller not in own:
            return None, f"cgroup v1 {controller} hierarchy is not mounted"
        parents[controller] = _folder(mount, own[controller])
        if not _writable(parents[controller]):
            return None, f"{parents[controller]} is not writable"
    return CgroupSupport(1, parents), ""


class CommandCgroup:
    """One command's group in each hierarchy, with its limits written; a context manager
    that kills whatever is left in it and removes it on exit.

    The command joins by writing ``0`` (itself) to every ``join_files()`` before it execs
    the sandbox, so all it starts is counted from its first fork.
    """

    def __init__(self, support: CgroupSupport, limits: Limits) -> None:
        name = f"samokoder-{uuid.uuid4().hex[:12]}"
        self.version, self.limits = support.version, limits
        self.folders = {c: parent / name for c, parent in support.parents.items()}

    def __enter__(self) -> "CommandCgroup":
        return self.make()

    def make(self) -> "CommandCgroup":
        try:
            for folder in self._distinct():
                folder.mkdir()
            self._write_limits()
        except OSError as exc:
            self.remove()
            raise SandboxError(f"Could not set up the command's cgroup: {exc}") from exc
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()

    def join_files(self) -> list[Path]:
        """Where a single-threaded process writes ``0`` to move itself into the group.

        On v1 that is ``tasks``, which moves the writing thread alone: the kernel then
        skips the machine-wide lock a ``cgroup.procs`` write takes, whose RCU grace period
        made the join wait 10-15 ms (half of the time a group added to `python3 -c pass`,
        bench/sandbox.py, 2026-11-30). A shell about to exec has one thread, so it moves
        whole. v2 moves whole processes only (``cgroup.procs``)."""
        name = "tasks" if self.version == 1 else "cgroup.procs"
        return [folder / name for folder in self._distinct()]

    def usage(self) -> ResourceUsage:
        """What the kernel counted for the group so far (zeros where a file is missing)."""
        values = {}
        for field, (controller, v1, v2, key) in USAGE_FILES.items():
            name = v1 if self.version == 1 else v2
            values[field] = _number(f"{self.folders[controller]}/{name}", key)
        return ResourceUsage(**values)

    def remove(self) -> None:
        for folder in self._distinct():
            _remove(folder)

    def _distinct(self) -> list[Path]:
        return sorted(set(self.folders.values()))

    def _write_limits(self) -> None:
        for controller, name, value in self._settings():
            try:
                (self.folders[controller] / name).write_text(str(value))
            except OSError:
                if name not in OPTIONAL_FILES:
                    raise

    def _settings(self) -> list[tuple[str, str, int | str]]:
        memory, pids = self.limits.memory_mb * MB, self.limits.pids
        quota = max(int(self.limits.cpus * CPU_PERIOD_US), 1000)
        if self.version == 1:
            return [
                ("memory", "memory.limit_in_bytes", memory),
                ("memory", "memory.memsw.limit_in_bytes", memory),
                ("cpu", "cpu.cfs_period_us", CPU_PERIOD_US),
                ("cpu", "cpu.cfs_quota_us", quota),
                ("pids", "pids.max", pids),
            ]
        return [
            ("memory", "memory.max", memory),
            ("memory", "memory.swap.max", 0),
            ("cpu", "cpu.max", f"{quota} {CPU_PERIOD_US}"),
            ("pids", "pids.max", pids),
        ]


def _number(path: str, key: str) -> int:
    # os.open and os.read, not Path.read_text: a tenth of a millisecond less a command
    try:
        descriptor = os.open(path, os.O_RDONLY)
        try:
            text = os.read(descriptor, 4096).decode()
        finally:
            os.close(descriptor)
    except OSError:
        return 0
    if not key:
        return int(text.split()[0])
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            return int(value)
    return 0


def _remove(folder: Path) -> None:
    # The command's PID namespace is gone by now, but its last processes may still be
    # exiting: the kernel refuses to remove a group until they have (EBUSY), which takes
    # a millisecond or two. The waits double from 0.5 ms: a first wait of 20 ms was most
    # of what a group added to `python3 -c pass` (bench/sandbox.py, 2026-11-30). The
    # total stays about 2 s, as before.
    pause, deadline = REMOVE_FIRST_PAUSE, time.monotonic() + REMOVE_PATIENCE
    while True:
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > deadline:
                break
            _kill_members(folder)
            time.sleep(pause)
            pause = min(pause * 2, REMOVE_MAX_PAUSE)
    logger.warning("sandbox cgroup %s could not be removed; it is left empty-handed", folder)


def cgroups_sweep(*, older_than: float = 3600) -> int:
    """Remove command groups left behind (a worker killed mid-command never removes
    its): those with no process in them, made more than ``older_than`` seconds ago, so
    that one a command is joining right now is never taken. Returns how many."""
    support = cgroup_support()
    removed, cutoff = 0, time.time() - older_than
    for parent in set(support.parents.values()):
        for folder in parent.glob("samokoder-*"):
            with contextlib.suppress(OSError):
                if folder.stat().st_mtime > cutoff:
                    continue
                if (folder / "cgroup.procs").read_text().strip():
                    continue
                folder.rmdir()
                removed += 1
    return removed


def _kill_members(folder: Path) -> None:
    with contextlib.suppress(OSError):
        for pid in (folder / "cgroup.procs").read_text().split():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(pid), signal.SIGKILL)


def main() -> int:
    support = cgroup_support()
    if support.version:
        print(f"Sandbox: each command gets its own cgroup ({support.describe()}).")
    else:
        print(
            "WARNING: no writable cgroups here, so sandboxed commands are limited by rlimits "
            f"only ({support.reason}). A command can then use every core until its timeout "
            "and fill memory through /tmp; unless the app runs as root (a uid per command) "
            "all commands share one process quota. Run as root on a host with the memory, "
            "cpu and pids cgroup controllers for a cgroup per command."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
