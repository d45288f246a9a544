"""How the bubblewrap backend starts a command: plain words run without a shell, and
either way the command sees and returns the same."""

import contextlib
import os
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
