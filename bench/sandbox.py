"""Per-command overhead of each sandbox backend, and what a CPU burner costs a neighbour.

1. The same command (`python3 -c pass`) runs N times bare, in bubblewrap under rlimits
   only (no cgroups: the path before issue 14, and the fallback), in bubblewrap with a
   cgroup per command, and, when a Docker daemon answers, by `docker exec` in an already
   running container, its workspace bind-mounted or copied in and out through the Docker
   API (the mode for a remote DOCKER_HOST); medians side by side from one run. The two
   bubblewrap rows run again as they were before (bench/sandbox_before.py): with the
   command's group made and removed on its path (before the keeper), with prlimit after
   the joining shell and setpriv too (before dash's ulimit), before
   the one-thread watch and the v1 `tasks` join, and before issue 18 (through /bin/sh,
   the exit found by Popen's polling, a group's removal retried every 20 ms). The goal of
   issue 18 (at most 1.6x bare) is checked against the rows of today.
   Then the profile of the goal's row: each link of its exec chain (dash joining the
   cgroup and setting the rlimits, setpriv, bwrap and its namespaces, python3) timed by strace,
   and the host's own work around it by cProfile.
2. Tenant isolation (issue 14): one project's command keeps busy loops on every core
   while another project's `python3 -c pass` is timed; the ratio to its idle median is
   printed, with how often the burner's cgroup throttled it.

    python bench/sandbox.py
"""

import contextlib
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from profiles import exec_links, profiled, table_of
from sandbox_before import as_before
from setup import django_on_fresh_database

RUNS = 30
COMMAND = "python3 -c pass"
BURN_SECONDS = 20
GOAL_RATIO = 1.6  # issue 18: bubblewrap at most 1.6x bare
COPIED_FILES = 100  # 10 KB each: a small project's workspace
RLIMITS_ONLY = "bubblewrap, rlimits only"
CPU_MS: dict[str, float] = {}  # row -> median CPU milliseconds per call (see interleaved)
CPU_GROUP: Path | None = None  # the bench's own cpuacct group, while it runs


def median_ms(call, runs: int = RUNS) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def run() -> None:
    from django.conf import settings

    from execution.backends.base import Limits
    from execution.backends.bubblewrap import BubblewrapProcessManager

    workspace = Path(tempfile.mkdtemp(prefix="samokoder-bench-", dir="/tmp"))
    workspace.chmod(0o755)
    try:
        manager = BubblewrapProcessManager(Limits())
        handle = manager.create_container(project_id="bench", workspace=workspace / "ws")
        with cpu_group():
            rows = interleaved(overhead_calls(manager, handle))
        rows += docker_rows(workspace)
        print_overhead(rows)
        print_goal(rows)
        found = dict(rows)
        print_chain(manager, handle, found.get("bubblewrap + cgroup", found[RLIMITS_ONLY]))
        if manager.cgroups() is not None:
            settings.SAMOKODER_SANDBOX_CGROUPS = False
            neighbour(manager, workspace, "rlimits only")
            settings.SAMOKODER_SANDBOX_CGROUPS = True
            neighbour(manager, workspace, "cgroup")
        else:
            print("tenant isolation: not measured (no writable cgroups here)")
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


def overhead_calls(manager, handle) -> list[tuple[str, Callable[[], object]]]:
    """The rows of 1, each one call of the command."""
    from django.conf import settings

    def bubblewrap(cgroups: bool, before: str = "") -> Callable[[], object]:
        def call() -> object:
            settings.SAMOKODER_SANDBOX_CGROUPS = cgroups
            old = as_before(manager, since=before) if before else None
            with old or contextlib.nullcontext():
                return manager.execute(handle, COMMAND, timeout=30)

        return call

    raw = [shutil.which("bwrap") or "bwrap", *manager._arguments(handle.workspace, ()),
           "/usr/bin/python3", "-c", "pass"]  # fmt: skip
    calls = [
        ("bare subprocess", lambda: subprocess.run(["/usr/bin/python3", "-c", "pass"], check=True)),
        ("raw bwrap (the floor)", lambda: subprocess.run(raw, check=True)),
        ("bubblewrap, rlimits only", bubblewrap(cgroups=False)),
        ("  with prlimit", bubblewrap(cgroups=False, before="ulimit")),
        ("  before the one-thread watch", bubblewrap(cgroups=False, before="watch")),
        ("  as before issue 18", bubblewrap(cgroups=False, before="issue 18")),
    ]
    settings.SAMOKODER_SANDBOX_CGROUPS = True
    if manager.cgroups() is not None:
        calls += [
            ("bubblewrap + cgroup", bubblewrap(cgroups=True)),
            ("  groups made inline", bubblewrap(cgroups=True, before="keeper")),
            ("  and with prlimit", bubblewrap(cgroups=True, before="ulimit")),
            ("  before the tasks join", bubblewrap(cgroups=True, before="watch")),
            ("  as before issue 18", bubblewrap(cgroups=True, before="issue 18")),
        ]
    return calls


# What each link of the exec chain is, by the name exec_links gives it.
LINKS = {
    "dash": "dash: joins the cgroup, rlimits",
    "setpriv": "setpriv: drops to the uid",
    "bwrap": "bwrap: reads its options",
    "bwrap, forked": "bwrap's child: namespaces, mounts",
    "bwrap, forked, forked": "bwrap's init: forks, execs",
    "python3": "python3 -c pass",
    "exit": "exits, back to the first",
}
# The host's own work around the chain: (label, file, function) of cProfile's table.
HOST_WORK = [
    ("uid lease", "uids.py", "uid_lease"),
    ("hand-over", "workspace.py", "hand_over"),
    ("cgroup taken", "cgroup_keeper.py", "group"),  # made and removed on the keeper's thread
    ("Popen", "subprocess.py", "__init__"),
    ("usage read", "cgroups.py", "usage"),
]
TRACED_RUNS = 10


def chain_argv(manager, handle, group) -> list[str]:
    """The argv ``manager.execute`` runs for COMMAND, joining ``group`` when there is one."""
    from django.conf import settings

    uid = settings.SAMOKODER_SANDBOX_UID if os.geteuid() == 0 else None
    raw = [shutil.which("bwrap") or "bwrap", *manager._arguments(handle.workspace, ()),
           "/usr/bin/python3", "-c", "pass"]  # fmt: skip
    return [*manager._launcher(uid, group), *raw]


def print_chain(manager, handle, goal_ms: float) -> None:
    """Where the goal's row spends its time: each link of its exec chain (median of
    TRACED_RUNS runs under strace, which stops the chain at its execs, forks and exits
    only) and the host's own work around it (cProfile of as many calls)."""
    from django.conf import settings

    from execution.backends.cgroups import CommandCgroup

    if not shutil.which("strace"):
        print("profile: strace is not installed (apt-get install strace)")
        return
    settings.SAMOKODER_SANDBOX_CGROUPS = True
    support = manager.cgroups()
    with CommandCgroup(support, manager.limits) if support else contextlib.nullcontext() as group:
        argv, output = chain_argv(manager, handle, group), handle.workspace.parent / "strace.txt"
        runs = [dict(exec_links(argv, output)) for _ in range(TRACED_RUNS)]
    host = profiled(lambda: [manager.execute(handle, COMMAND, timeout=30)
                             for _ in range(TRACED_RUNS)])  # fmt: skip
    print(f"profile of the goal's row ({goal_ms:.1f} ms), its exec chain link by link "
          f"(strace --seccomp-bpf, median of {TRACED_RUNS}):")  # fmt: skip
    for name, label in LINKS.items():
        spent = [run[name] for run in runs if name in run]
        if spent:
            print(f"  {label:36} {statistics.median(spent) * 1000:6.1f} ms")
    traced = statistics.median(sum(run.values()) for run in runs) * 1000
    print(f"  {'all of it, traced (the row untraced)':36} {traced:6.1f} ms ({goal_ms:.1f} ms)")
    table = table_of(host)
    work = {label: sum(row[3] for (file, _, function), row in table.items()
                       if file.endswith(f"/{name}") and function == function_name)
            for label, name, function_name in HOST_WORK}  # fmt: skip
    print("  the host's own work (cProfile), ms a call: "
          + ", ".join(f"{label} {seconds * 1000 / TRACED_RUNS:.2f}"
                      for label, seconds in work.items()))  # fmt: skip


def interleaved(calls: list[tuple[str, Callable[[], object]]]) -> list[tuple[str, float]]:
    """Median milliseconds of each call, the calls taking turns RUNS times, so that a
    change in the machine's load falls on every row alike. The median CPU time of each
    (the bench's and all it starts, see cpu_seconds) goes to CPU_MS: on a crowded machine the
    wall time is mostly waiting for a core, the CPU time much less so."""
    from execution.backends.cgroup_keeper import GROUPS

    timings: list[list[float]] = [[] for _ in calls]
    cpu: list[list[float]] = [[] for _ in calls]
    for _ in range(RUNS):
        for (_, call), kept, spent in zip(calls, timings, cpu, strict=True):
            started, cpu_started = time.perf_counter(), cpu_seconds()
            call()
            kept.append((time.perf_counter() - started) * 1000)
            # What a call left the keeper's thread (its group's removal, the next one's
            # making) is done before the next call is timed, as between two commands of a
            # run: off this row's wall time and the next one's, but in this row's CPU time.
            GROUPS.settle()
            spent.append((cpu_seconds() - cpu_started) * 1000)
    for (name, _), spent in zip(calls, cpu, strict=True):
        if CPU_GROUP is not None:
            CPU_MS[name] = statistics.median(spent)
    return [(name, statistics.median(kept)) for (name, _), kept in zip(calls, timings, strict=True)]


def cpu_seconds() -> float:
    """CPU seconds used so far by the bench and every process it started (a process reaped
    inside a sandbox is not in our rusage, so a cgroup v1 cpuacct group of our own counts
    them), or 0 where there is none."""
    if CPU_GROUP is None:
        return 0.0
    return int((CPU_GROUP / "cpuacct.usage").read_text()) / 1e9


@contextlib.contextmanager
def cpu_group() -> Iterator[None]:
    """Move the bench's thread into a cpuacct group of its own (v1) for the run."""
    global CPU_GROUP
    root = Path("/sys/fs/cgroup/cpuacct")
    folder = root / f"samokoder-bench-{os.getpid()}"
    try:
        folder.mkdir()
        (folder / "tasks").write_text("0")
    except OSError:
        yield
        return
    CPU_GROUP = folder
    try:
        yield
    finally:
        CPU_GROUP = None
        (root / "tasks").write_text("0")
        for _ in range(100):  # its last processes may still be exiting
            with contextlib.suppress(OSError):
                folder.rmdir()
                break
            time.sleep(0.01)


def bubblewrap_ms(manager, handle) -> float:
    return median_ms(lambda: manager.execute(handle, COMMAND, timeout=30))


def print_goal(rows: list[tuple[str, float]]) -> None:
    bare, found = rows[0][1], dict(rows)
    print(f"floor, raw bwrap: {found['raw bwrap (the floor)'] / bare:.2f}x bare")
    for name in ("bubblewrap, rlimits only", "bubblewrap + cgroup"):
        if name in found:
            ratio = found[name] / bare
            verdict = "met" if ratio <= GOAL_RATIO else "MISSED"
            cpu = f"; CPU time {CPU_MS[name] / CPU_MS[rows[0][0]]:.2f}x" if CPU_MS else ""
            print(f"goal {name}: {ratio:.2f}x bare (at most {GOAL_RATIO}x: {verdict}){cpu}")


def print_overhead(rows: list[tuple[str, float]]) -> None:
    bare = rows[0][1]
    print(f"`{COMMAND}`, median of {RUNS} runs (wall time; CPU time where measured)")
    for name, ms in rows:
        cpu = f"   CPU {CPU_MS[name]:6.1f} ms" if name in CPU_MS else ""
        print(f"{name:30} {ms:8.1f} ms   overhead {ms - bare:+7.1f} ms   ({ms / bare:.2f}x){cpu}")


def neighbour(manager, workspace: Path, label: str) -> None:
    """Project B's command latency, idle and while project A burns every core."""
    burner = manager.create_container(project_id="burner", workspace=workspace / "burner")
    other = manager.create_container(project_id="other", workspace=workspace / "other")
    idle = bubblewrap_ms(manager, other)
    loops = " ".join(str(n) for n in range(2 * (os.cpu_count() or 1)))
    burn = f"for i in {loops}; do timeout {BURN_SECONDS} sh -c 'while :; do :; done' & done; wait"
    results = []
    thread = threading.Thread(
        target=lambda: results.append(manager.execute(burner, burn, timeout=BURN_SECONDS + 30))
    )
    thread.start()
    time.sleep(2)  # the burner is running on every core by now
    busy = median_ms(lambda: manager.execute(other, COMMAND, timeout=30), runs=15)
    thread.join()
    usage = results[0].usage
    throttled = f"{usage.cpu_throttled} periods" if usage else "not capped"
    print(
        f"{label}: neighbour `{COMMAND}` while another project burns {len(loops.split())} "
        f"loops (share {manager.limits.cpus} CPU): idle {idle:.1f} ms, busy {busy:.1f} ms, "
        f"ratio {busy / idle:.2f}x; burner throttled: {throttled}"
    )


# The Docker rows: the workspace bind-mounted (the local default), then copied in and out
# through the API as for a remote DOCKER_HOST, empty and with files in it.
DOCKER_ROWS = [
    ("docker exec (running)", False, 0),
    ("docker, workspace copied", True, 0),
    (f"docker, copied, {COPIED_FILES} files", True, COPIED_FILES),
]


def docker_rows(workspace: Path) -> list[tuple[str, float]]:
    from django.conf import settings

    from execution.backends.base import SandboxError

    try:
        from execution.backends.base import Limits
        from execution.backends.docker import DockerProcessManager

        manager = DockerProcessManager(Limits())
    except Exception as exc:  # no daemon or no backend here: say so, measure the rest
        print(f"docker: not measured ({exc})")
        return []
    rows: list[tuple[str, float]] = []
    for index, (label, copy, files) in enumerate(DOCKER_ROWS):
        settings.SAMOKODER_DOCKER_COPY_WORKSPACE = copy
        folder = workspace / f"docker-{index}"
        for n in range(files):  # 10 KB each, in ten folders
            (folder / f"pkg{n % 10}").mkdir(parents=True, exist_ok=True)
            (folder / f"pkg{n % 10}" / f"module{n}.py").write_text("# padding\n" * 1000)
        try:
            handle = manager.create_container(project_id="bench", workspace=folder)
        except SandboxError as exc:  # a daemon without the sandbox image: say so
            print(f"docker: not measured ({exc})")
            return rows
        try:
            ms = median_ms(lambda h=handle: manager.execute(h, COMMAND, timeout=30))
            rows.append((label, ms))
        finally:
            manager.stop(handle)
    return rows


if __name__ == "__main__":
    django_on_fresh_database("sandbox")
    run()
