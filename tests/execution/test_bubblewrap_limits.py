"""Per-command limits of the bubblewrap sandbox: one tenant's command cannot take the
memory, the CPU or the process slots another tenant's command needs.

These drive the backend directly (two tenants at once need two threads, and the ORM is
not shared across threads inside a test transaction) except where the whole sync path
is the point.
"""

import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connection

from execution.backends import cgroup_keeper
from execution.backends.base import Limits, SandboxUnavailable
from execution.backends.bubblewrap import BubblewrapProcessManager
from execution.backends.cgroup_keeper import GROUPS
from execution.backends.cgroups import cgroup_support
from execution.models import Container
from execution.services import command_execute, container_stop
from files.services import file_save
from projects.models import ProjectEvent
from projects.services import project_create


@pytest.fixture
def workspaces():
    # pytest's tmp_path is private to root (0700); the sandbox uid must reach the folder.
    folder = Path(tempfile.mkdtemp(prefix="samokoder-limits-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def bubblewrap(**limits) -> BubblewrapProcessManager:
    manager = BubblewrapProcessManager(Limits(**limits))
    try:
        manager._require_bwrap()
    except SandboxUnavailable as exc:  # a failure in CI, where skips are not allowed
        pytest.skip(str(exc))
    if cgroup_support().version == 0:
        pytest.skip(f"no writable cgroups here: {cgroup_support().reason}")
    return manager


def sandbox(manager, workspaces: Path, tenant: str):
    return manager.create_container(project_id=tenant, workspace=workspaces / tenant)


@pytest.mark.django_db
def test_a_tmpfs_bomb_is_killed_in_its_own_cgroup_and_the_site_stays_ready(client, workspaces):
    manager = bubblewrap(memory_mb=128, tmpfs_mb=1024)  # the tmpfs alone would hold it
    handle = sandbox(manager, workspaces, "bomb")

    result = manager.execute(handle, "head -c 600M /dev/zero > /tmp/fill", timeout=60)

    assert result.exit_code not in (0, None)
    assert result.usage.oom_kills >= 1  # the command's cgroup killed it, not the host
    assert result.usage.memory_peak_bytes <= 128 * 1024 * 1024
    assert client.get("/readyz").status_code == 200
    with connection.cursor() as cursor:  # the database (PostgreSQL in CI) is alive
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_a_cpu_burner_is_held_to_its_cpu_share(workspaces):
    # A tenth of a core for three busy loops: throttled even on a machine busy elsewhere.
    manager = bubblewrap(cpus=0.1)
    handle = sandbox(manager, workspaces, "burner")
    burn = "for i in 1 2 3; do timeout 2 sh -c 'while :; do :; done' & done; wait"

    result = manager.execute(handle, burn, timeout=30)

    assert result.exit_code == 0
    assert result.usage.cpu_throttled > 0


BOMB = (
    "import os, sys, time\n"
    "n = 0\n"
    "try:\n"
    "    while True:\n"
    "        if os.fork() == 0:\n"
    "            time.sleep(8); os._exit(0)\n"
    "        n += 1\n"
    "except OSError:\n"
    "    print('saturated', n, flush=True)\n"
    "time.sleep(6)\n"
)


# With cgroups each command has its own pids.max; without, its own uid from the range,
# so RLIMIT_NPROC (counted per uid) is its own too.
@pytest.mark.parametrize("cgroups", [True, False], ids=["cgroup", "rlimits-only"])
def test_a_fork_bomb_in_one_tenant_does_not_stop_another_tenants_command(
    cgroups, settings, workspaces
):
    settings.SAMOKODER_SANDBOX_CGROUPS = cgroups
    manager = bubblewrap(pids=64)
    bomb, other = sandbox(manager, workspaces, "bomb"), sandbox(manager, workspaces, "other")
    (bomb.workspace / "bomb.py").write_text(BOMB)
    saturated, results = threading.Event(), []

    def watch(chunk: bytes) -> None:
        if b"saturated" in chunk:
            saturated.set()

    def explode() -> None:
        results.append(manager.execute(bomb, "python3 bomb.py", timeout=30, on_output=watch))

    thread = threading.Thread(target=explode)
    thread.start()
    try:
        assert saturated.wait(20), "the bomb never reached its limit"
        forked = "for i in $(seq 10); do sleep 0.2 & done; wait; echo forked"
        result = manager.execute(other, forked, timeout=30)
    finally:
        thread.join(40)

    assert (result.exit_code, result.stdout.strip()) == (0, "forked"), result.stderr
    assert results[0].stdout.startswith("saturated")
    if cgroups:
        assert results[0].usage.forks_refused > 0


@pytest.fixture
def branch(user, settings, workspaces):
    settings.SAMOKODER_SANDBOX_BACKEND = "bubblewrap"
    settings.SAMOKODER_WORKSPACES_DIR = str(workspaces)
    bubblewrap()
    project = project_create(owner=user, name="Many files")
    branch = project.branches.get()
    file_save(branch=branch, path="main.py", text="print(1)\n")
    yield branch
    for container in Container.objects.filter(status=Container.Status.RUNNING):
        container_stop(container=container, reason="test over")


def _memory_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(field)


@pytest.mark.timeout(240)
def test_100000_empty_files_are_refused_without_the_worker_growing_past_50_mb(branch):
    create = "[open(f'f{i}', 'w').close() for i in range(100000)]"
    make = f'mkdir many && cd many && python3 -c "{create}"'
    Path("/proc/self/clear_refs").write_text("5")  # restart the peak (VmHWM) from now
    before = _memory_kb("VmRSS")

    outcome = command_execute(branch=branch, command=make, timeout=180)

    grown_mb = (_memory_kb("VmHWM") - before) / 1024
    print(f"100,000 files refused; the worker grew by {grown_mb:.1f} MB at most")
    assert outcome.log.exit_code == 0
    assert outcome.state is None
    refused = ProjectEvent.objects.get(name="ChangesRefused")
    assert (refused.payload["kind"], refused.payload["limit"]) == ("files", 2000)
    assert grown_mb < 50, f"the worker grew by {grown_mb:.0f} MB"
    # The next command hands the workspace over and clears the refused files, as lightly.
    Path("/proc/self/clear_refs").write_text("5")
    before = _memory_kb("VmRSS")
    assert command_execute(branch=branch, command="ls many | wc -l").log.stdout.strip() == "0"
    assert (_memory_kb("VmHWM") - before) / 1024 < 50


def test_without_cgroups_a_command_still_runs_under_rlimits(settings, workspaces):
    settings.SAMOKODER_SANDBOX_CGROUPS = False  # as where cgroups are not writable
    manager = BubblewrapProcessManager(Limits(pids=32))
    handle = sandbox(manager, workspaces, "fallback")
    (handle.workspace / "bomb.py").write_text(BOMB.replace("time.sleep(6)", ""))

    result = manager.execute(handle, "python3 bomb.py", timeout=30)

    assert result.usage is None
    assert result.stdout.startswith("saturated") and int(result.stdout.split()[-1]) < 32


def test_a_commands_cgroups_are_gone_when_it_ends(workspaces):
    manager = bubblewrap()
    handle = sandbox(manager, workspaces, "tidy")
    parents = set(cgroup_support().parents.values())
    manager.execute(handle, "true", timeout=30)
    assert GROUPS.settle()
    taken = [group for group in GROUPS.ready() if group.limits == manager.limits]
    # Groups of other commands on this machine (another worker's, one a killed worker
    # left) are none of this test's business: only what this command made must go.
    before = {group for parent in parents for group in parent.glob("samokoder-*")}

    result = manager.execute(handle, "(sleep 30 &); echo started", timeout=30)
    assert GROUPS.settle()  # its groups are removed after it returned, off its path

    assert result.stdout.strip() == "started"
    assert len(taken) == 1 and not any(folder.exists() for folder in taken[0].folders.values())
    after = {group for parent in parents for group in parent.glob("samokoder-*")}
    # What is new is the next command's group, made ahead (one in each hierarchy), empty.
    ours = [group for group in GROUPS.ready() if group.limits == manager.limits]
    assert len(ours) == 1 and after - before == set(ours[0].folders.values())
    assert not any(_members(folder) for folder in ours[0].folders.values())


def test_a_group_made_ahead_is_used_once_and_one_gone_stale_is_not(monkeypatch, workspaces):
    manager = bubblewrap()
    handle = sandbox(manager, workspaces, "ahead")
    manager.execute(handle, "true", timeout=30)
    assert GROUPS.settle()
    ahead = [group for group in GROUPS.ready() if group.limits == manager.limits]
    assert len(ahead) == 1

    with _running(manager, handle, "sleep 29.7", sleeps=1) as sleeping:
        assert _pids_group(min(sleeping)) == ahead[0].folders["pids"].name
    assert GROUPS.settle()

    assert not any(folder.exists() for folder in ahead[0].folders.values())  # used once
    ready = [group for group in GROUPS.ready() if group.limits == manager.limits]
    assert len(ready) == 1 and ready[0] is not ahead[0]  # and the next one is ready
    monkeypatch.setattr(cgroup_keeper, "READY_FOR", 0.0)  # as if it had waited past its time
    stale = ready[0]
    with _running(manager, handle, "sleep 29.7", sleeps=1) as sleeping:
        assert _pids_group(min(sleeping)).startswith("samokoder-")
        assert _pids_group(min(sleeping)) != stale.folders["pids"].name
    assert GROUPS.settle()
    assert not any(folder.exists() for folder in stale.folders.values())
    GROUPS.close()  # as at the worker's exit: nothing is left ready
    assert GROUPS.ready() == [] and not any(
        folder.exists() for group in [*ahead, stale] for folder in group.folders.values()
    )


@contextlib.contextmanager
def _running(manager, handle, command: str, *, sleeps: int) -> Iterator[set[int]]:
    """``command`` running in a thread until the block ends, once ``sleeps`` processes
    whose own command line starts with its first sleep run; yields their pids."""
    mark = command.split("&")[0].split(";")[0].strip()
    stop = threading.Event()
    thread = threading.Thread(
        target=manager.execute, args=(handle, command), kwargs={"timeout": 60, "cancel": stop}
    )
    thread.start()
    try:
        for _ in range(200):  # a few ms; 20 s on a crowded machine
            sleeping = _processes_starting(mark)
            if len(sleeping) >= sleeps:
                break
            stop.wait(0.1)
        yield sleeping
    finally:
        stop.set()
        thread.join(30)


def _pids_group(pid: int) -> str:
    """The name of the pids group ``pid`` is in, seen from the host (inside the sandbox
    its cgroup namespace shows it as the root)."""
    lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    return next(line.rsplit("/", 1)[1] for line in lines if ":pids:" in line)


def _processes_starting(mark: str) -> set[int]:
    """Processes whose own command line starts with ``mark`` (not the launcher's, which
    has it among its arguments)."""
    return _processes(lambda cmdline: cmdline.startswith(mark))


def _processes_mentioning(*marks: str) -> set[int]:
    return _processes(lambda cmdline: any(mark in cmdline for mark in marks))


def _processes(matching: Callable[[str], bool]) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):  # not a process, or one gone meanwhile
            continue
        if matching(cmdline):
            found.add(int(entry.name))
    return found


def test_every_process_of_a_running_command_is_in_its_groups_and_nothing_else(workspaces):
    # The command joins by moving its one thread (v1 `tasks`): bwrap, what bwrap starts and
    # what that forks must all be counted, and the worker must never be.
    manager = bubblewrap()
    handle = sandbox(manager, workspaces, "joined")
    parents = set(cgroup_support().parents.values())
    with _running(manager, handle, "sleep 29.5 & sleep 29.5; wait", sleeps=2):
        command = _processes_mentioning(str(handle.workspace), "sleep 29.5")
        # Other commands' groups (another worker's, the next one made ahead) are there too:
        # this command's are those holding its processes.
        every = {group for parent in parents for group in parent.glob("samokoder-*")}
        members = {group: _members(group) for group in every}

    ours = {group: found for group, found in members.items() if found & command}
    assert {group.parent for group in ours} == parents  # one group in each hierarchy
    assert len(command) >= 5  # bwrap, its child in the new PID space, the shell, two sleeps
    assert all(found == command for found in ours.values()), (ours, command)
    assert not any(os.getpid() in found for found in members.values())


def _members(group: Path) -> set[int]:
    try:
        return set(map(int, (group / "cgroup.procs").read_text().split()))
    except OSError:  # another command's group, gone meanwhile
        return set()
