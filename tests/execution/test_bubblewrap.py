"""How the bubblewrap backend starts a command: plain words run without a shell, and
either way the command sees and returns the same."""

import contextlib
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from execution.backends.base import Limits, SandboxUnavailable
from execution.backends.bubblewrap import BubblewrapProcessManager, _argv


@pytest.fixture
def sandbox():
    manager = BubblewrapProcessManager(Limits())
    try:
        manager._require_bwrap()
    except SandboxUnavailable as exc:
        pytest.skip(str(exc))
    # pytest's tmp_path is private to root (0700); the sandbox uid must reach the folder.
    folder = Path(tempfile.mkdtemp(prefix="samokoder-bwrap-", dir="/tmp"))
    folder.chmod(0o755)
    yield manager, manager.create_container(project_id="argv", workspace=folder / "ws")
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize(
    ("command", "argv"),
    [
        ("python3 -m unittest", ["python3", "-m", "unittest"]),
        ("python3 -c pass", ["python3", "-c", "pass"]),
        ("echo hi", ["/bin/sh", "-c", "echo hi"]),  # a builtin
        ("FOO=1 python3 app.py", ["/bin/sh", "-c", "FOO=1 python3 app.py"]),
        ("python3 -c 'print(1)'", ["/bin/sh", "-c", "python3 -c 'print(1)'"]),
        ("ls *.py", ["/bin/sh", "-c", "ls *.py"]),
        ("python3 app.py > out.txt", ["/bin/sh", "-c", "python3 app.py > out.txt"]),
        ("python3 a.py; python3 b.py", ["/bin/sh", "-c", "python3 a.py; python3 b.py"]),
        ("ls $HOME", ["/bin/sh", "-c", "ls $HOME"]),
        ("./run.sh", ["/bin/sh", "-c", "./run.sh"]),
        ("no-such-program x", ["/bin/sh", "-c", "no-such-program x"]),
        ("python3  -c pass", ["/bin/sh", "-c", "python3  -c pass"]),
    ],
)
def test_only_plain_words_naming_a_program_skip_the_shell(command, argv):
    assert _argv(command) == argv


def test_a_command_without_a_shell_sees_what_it_would_see_with_one(sandbox):
    manager, handle = sandbox
    (handle.workspace / "here.txt").write_text("x")

    plain = manager.execute(handle, "env", timeout=30)
    shelled = manager.execute(handle, "env | sort", timeout=30)
    listed = manager.execute(handle, "ls", timeout=30)

    assert sorted(plain.stdout.splitlines()) == shelled.stdout.splitlines()
    assert "PWD=/workspace" in shelled.stdout.splitlines()
    assert listed.stdout.split() == ["here.txt"]


def test_exit_codes_are_the_same_with_or_without_the_shell(sandbox):
    manager, handle = sandbox

    missing_module = manager.execute(handle, "python3 -m no_such_module", timeout=30)
    missing_program = manager.execute(handle, "no-such-program", timeout=30)
    exits = manager.execute(handle, "python3 -c 'raise SystemExit(3)'", timeout=30)

    assert missing_module.exit_code == 1 and "No module named" in missing_module.stderr
    assert missing_program.exit_code == 127
    assert exits.exit_code == 3


def test_a_workspace_goes_back_to_its_owner_and_everything_in_it_is_handed_over(sandbox):
    manager, handle = sandbox
    if os.geteuid() != 0:
        pytest.skip("commands run as us: nothing changes hands")  # CI runs as root
    made = manager.execute(handle, "mkdir -p deep/er && touch deep/er/made", timeout=30)
    owner = handle.workspace.lstat().st_uid
    (handle.workspace / "deep" / "by-root").write_text("x")  # as workspace_materialize does

    listed = manager.execute(
        handle, "stat -c '%u %g %n' . deep deep/er deep/er/made deep/by-root", timeout=30
    )

    assert made.exit_code == 0 and handle.workspace.lstat().st_uid == owner  # the same uid
    assert {line.split()[0] for line in listed.stdout.splitlines()} == {str(owner)}
    assert {line.split()[1] for line in listed.stdout.splitlines()} == {str(owner)}


@pytest.mark.parametrize("cgroups", [True, False], ids=["cgroup", "rlimits-only"])
def test_an_output_callback_that_raises_ends_the_command_with_all_it_started(
    cgroups, sandbox, settings
):
    settings.SAMOKODER_SANDBOX_CGROUPS = cgroups
    manager, handle = sandbox

    def relay_down(chunk: bytes) -> None:
        raise ConnectionError("the relay is gone")

    with pytest.raises(ConnectionError):
        manager.execute(
            handle, "echo up; sleep 29.25 & sleep 29.25", timeout=60, on_output=relay_down
        )

    for _ in range(100):  # killed at once; gone when the kernel has reaped them
        if not _running("sleep 29.25"):
            break
        time.sleep(0.1)
    assert not _running("sleep 29.25")


def _running(mark: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            if mark in cmdline and (entry / "stat").read_text().split()[2] != "Z":
                found.append(cmdline)
    return found


def _status(text: str) -> dict[str, list[str]]:
    """/proc/<pid>/status as field -> its values."""
    fields = (line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {name: value.split() for name, value in fields}


@pytest.fixture
def supplementary_groups():
    """The worker with a supplementary group, as a service manager may start it with;
    inside the sandbox's user namespace it would show as the overflow gid."""
    if os.geteuid() != 0:
        pytest.skip("commands run as us: no uid to drop to")  # CI runs as root
    saved = os.getgroups()
    os.setgroups([*saved, 4242])
    yield
    os.setgroups(saved)


@pytest.mark.parametrize("cgroups", [True, False], ids=["cgroup", "rlimits-only"])
def test_a_command_runs_as_its_own_uid_with_no_groups_capabilities_or_our_files(
    cgroups, sandbox, settings, supplementary_groups
):
    settings.SAMOKODER_SANDBOX_CGROUPS = cgroups
    manager, handle = sandbox

    status = _status(manager.execute(handle, "cat /proc/self/status", timeout=30).stdout)
    fds = manager.execute(handle, "ls /proc/self/fd", timeout=30).stdout.split()

    owner = handle.workspace.lstat().st_uid  # the uid it ran as, handed the workspace
    first = settings.SAMOKODER_SANDBOX_UID
    assert first <= owner < first + settings.SAMOKODER_SANDBOX_UID_COUNT
    assert status["Uid"] == [str(owner)] * 4  # real, effective, saved and filesystem
    assert status["Gid"] == [str(owner)] * 4
    assert status["Groups"] == []
    assert status["CapEff"] == status["CapPrm"] == status["CapBnd"] == ["0" * 16]
    assert fds == ["0", "1", "2", "3"]  # its output, and ls's own listing: nothing of ours


def _limits(text: str) -> dict[str, tuple[str, str]]:
    """/proc/<pid>/limits as name -> (soft, hard)."""
    rows = {}
    for line in text.splitlines()[1:]:
        name, soft, hard = line[:26].strip(), *line[26:].split()[:2]
        rows[name] = (soft, hard)
    return rows


@pytest.mark.parametrize("cgroups", [True, False], ids=["cgroup", "rlimits-only"])
def test_the_rlimits_are_in_force_inside_the_sandbox(cgroups, settings):
    settings.SAMOKODER_SANDBOX_CGROUPS = cgroups
    manager = BubblewrapProcessManager(Limits(memory_mb=300, file_size_mb=7, pids=40))
    if cgroups and manager.cgroups() is None:
        pytest.skip("no writable cgroups here")
    folder = Path(tempfile.mkdtemp(prefix="samokoder-bwrap-", dir="/tmp"))
    folder.chmod(0o755)
    handle = manager.create_container(project_id="limits", workspace=folder / "ws")
    try:
        read = manager.execute(handle, "cat /proc/self/limits", timeout=30)
        big = manager.execute(handle, "head -c 8M /dev/zero > big", timeout=30)
        written = (handle.workspace / "big").stat().st_size
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    limits, mb = _limits(read.stdout), 1024 * 1024
    assert limits["Max address space"] == (str(300 * mb),) * 2
    assert limits["Max file size"] == (str(7 * mb),) * 2
    assert limits["Max core file size"] == ("0", "0")
    # In a cgroup the process count is the group's; without one, RLIMIT_NPROC of its uid.
    ours = resource.getrlimit(resource.RLIMIT_NPROC)
    nproc = ("40", "40") if not cgroups else tuple(_limit_text(n) for n in ours)
    assert limits["Max processes"] == nproc
    assert big.exit_code != 0 and written == 7 * mb  # SIGXFSZ at the limit


def _limit_text(value: int) -> str:
    return "unlimited" if value == resource.RLIM_INFINITY else str(value)
