"""Escape probes: generated code tries to get out; each attempt is contained and reported.

Run through the whole path a pipeline command takes (materialise the workspace, run in
the sandbox, record the log, sync changes back), against each backend.
"""

import subprocess
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from execution.models import ExecutionLog
from execution.services import (
    command_execute,
    command_run,
    workspace_path,
)
from files.models import File
from files.services import file_save
from projects.models import ProjectEvent
from projects.services import project_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def branch(user, sandbox):
    project = project_create(owner=user, name="Probe")
    branch = project.branches.get()
    file_save(branch=branch, path="main.py", text="print('hello from the sandbox')\n")
    return branch


def run(branch, command: str, **kwargs):
    return command_execute(branch=branch, command=command, **kwargs)


def test_a_plain_command_runs_and_is_recorded(branch):
    outcome = run(branch, "python3 main.py")

    assert outcome.log.exit_code == 0
    assert outcome.log.stdout.strip() == "hello from the sandbox"
    assert ExecutionLog.objects.get().command == "python3 main.py"
    assert ProjectEvent.objects.filter(name="CommandExecuted").exists()


def test_files_a_command_writes_come_back_as_a_new_step(branch):
    outcome = run(branch, "mkdir -p out && echo generated > out/result.txt && rm main.py")

    assert outcome.state is not None
    assert File.objects.filter(project=branch.project, path="out/result.txt").exists()
    from files.selectors import state_manifest

    assert set(state_manifest(outcome.state)) == {"out/result.txt"}


def test_network_is_unreachable(branch):
    redis_port = django_settings.REDIS_URL.rsplit(":", 1)[1].split("/")[0]
    connect = f"socket.create_connection(('127.0.0.1', {redis_port}), timeout=3)"
    tcp = run(branch, f'python3 -c "import socket; {connect}"')
    dns = run(branch, "python3 -c \"import socket; socket.getaddrinfo('deb.debian.org', 80)\"")

    assert tcp.log.exit_code != 0 and (
        "refused" in tcp.log.stderr or "unreachable" in tcp.log.stderr
    )
    assert dns.log.exit_code != 0 and "gaierror" in dns.log.stderr


def test_writing_outside_the_workspace_fails_and_the_host_is_untouched(branch):
    outcome = run(
        branch,
        "echo owned > /usr/evil.txt; echo owned > /evil.txt; echo owned > ../evil.txt; echo ok",
    )

    assert (
        "Read-only file system" in outcome.log.stderr or "Permission denied" in outcome.log.stderr
    )
    assert not Path("/usr/evil.txt").exists() and not Path("/evil.txt").exists()
    assert not (workspace_path(branch.project).parent / "evil.txt").exists()


def test_another_projects_workspace_cannot_be_read(branch, other_user):
    other = project_create(owner=other_user, name="Other")
    file_save(branch=other.branches.get(), path="secret.txt", text="other tenant's secret\n")
    run(other.branches.get(), "true")  # materialise it on disk
    other_dir = workspace_path(other)
    assert (other_dir / "secret.txt").exists()

    outcome = run(branch, f"cat {other_dir}/secret.txt; ls {other_dir.parent}")

    assert "other tenant's secret" not in outcome.log.stdout
    assert outcome.log.exit_code != 0


def test_a_fork_bomb_is_stopped_by_the_process_limit(branch):
    bomb = (
        "import os, time\n"
        "n = 0\n"
        "try:\n"
        "    for _ in range(2000):\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(5); os._exit(0)\n"
        "        n += 1\n"
        "except OSError:\n"
        "    print('stopped after', n)\n"
    )
    file_save(branch=branch, path="bomb.py", text=bomb)

    outcome = run(branch, "python3 bomb.py", timeout=30)

    assert "stopped after" in outcome.log.stdout
    assert int(outcome.log.stdout.split()[-1]) < django_settings.SAMOKODER_SANDBOX_PIDS
    # The bomb's leftovers are gone: the same sandbox can start processes again.
    assert (
        run(branch, "python3 -c 'import os; os.fork() or print(1)'", timeout=30).log.stdout.strip()
        == "1"
    )


def test_a_memory_bomb_is_killed(branch):
    outcome = run(
        branch, 'python3 -c "x = [bytearray(64 * 1024 * 1024) for _ in range(200)]"', timeout=60
    )

    assert outcome.log.exit_code not in (0, None)
    assert "MemoryError" in outcome.log.stderr or outcome.log.exit_code in (-9, 137)


def test_an_endless_loop_is_killed_at_the_timeout(branch):
    # The sandbox is created first: on Docker's vfs driver creating a container alone can
    # take tens of seconds, which says nothing about when the loop is killed.
    assert run(branch, "true").log.exit_code == 0
    outcome = run(branch, "while true; do :; done", timeout=2)

    assert outcome.log.timed_out and outcome.log.exit_code is None
    # Killed at the timeout, not left to run: the command's own recorded time stays near 2 s.
    assert outcome.log.duration_ms < 12_000
    assert ProjectEvent.objects.filter(name="CommandTimeout").exists()


def test_100_mb_of_output_is_truncated_visibly(branch, settings):
    settings.SAMOKODER_SANDBOX_OUTPUT_BYTES = 100_000
    outcome = run(branch, "head -c 100000000 /dev/zero | tr '\\0' 'a'", timeout=120)

    assert outcome.log.truncated
    assert len(outcome.log.stdout) < 100_200
    assert "output truncated" in outcome.log.stdout


def test_a_background_process_does_not_outlive_its_command(branch):
    outcome = run(branch, "(sleep 77 &) ; echo started")
    time.sleep(0.5)

    assert outcome.log.stdout.strip() == "started"
    left = subprocess.run(["pgrep", "-f", "sleep 77"], capture_output=True, text=True).stdout
    assert left.strip() == ""


def test_a_symlink_to_etc_passwd_is_not_followed_on_sync(branch):
    outcome = run(branch, "ln -s /etc/passwd leak.txt && ln -s ../../ escape && echo done")

    assert outcome.refused.get("leak.txt", "").startswith("symlink")
    assert not File.objects.filter(project=branch.project, path="leak.txt").exists()
    assert ProjectEvent.objects.filter(name="FilesRefused").exists()


def run_until_printed(branch, command: str, marker: bytes):
    """Run ``command`` and cancel it once it prints ``marker``: what it left stays on disk
    but nothing is synced back, as when a user stops a run mid-command."""
    cancel = threading.Event()

    def watch(chunk: bytes) -> None:
        if marker in chunk:
            cancel.set()

    ran = command_run(branch=branch, command=command, cancel=cancel, on_output=watch, timeout=60)
    assert ran.result.cancelled
    return ran


# Opening a FIFO for writing blocks until a reader comes: the signal timeout turns the old
# hang into a failure. The second command must simply run.
@pytest.mark.timeout(60, method="signal")
def test_a_fifo_left_where_a_file_belongs_does_not_block_the_next_command(branch):
    run_until_printed(branch, "rm main.py && mkfifo main.py && echo ready && sleep 60", b"ready")

    outcome = run(branch, "cat main.py")

    assert outcome.log.stdout.strip() == "print('hello from the sandbox')"


@pytest.mark.timeout(60, method="signal")
def test_a_symlink_left_where_a_file_belongs_is_replaced_on_the_next_command(branch):
    run_until_printed(
        branch, "rm main.py && ln -s /etc/passwd main.py && echo ready && sleep 60", b"ready"
    )

    outcome = run(branch, "cat main.py")

    assert outcome.log.stdout.strip() == "print('hello from the sandbox')"


@pytest.mark.timeout(60, method="signal")
def test_fifos_and_sockets_a_command_makes_are_refused_and_reported(branch):
    make = "mkfifo pipe && python3 -c \"import socket; socket.socket(socket.AF_UNIX).bind('sock')\""
    outcome = run(branch, make)

    assert outcome.refused == {"pipe": "not a regular file", "sock": "not a regular file"}
    assert ProjectEvent.objects.filter(name="FilesRefused").exists()
    assert run(branch, "echo free").log.stdout.strip() == "free"


def test_nul_bytes_and_invalid_utf8_in_output_are_stored(branch):
    outcome = run(branch, "printf 'a\\000b\\377c'; printf 'e\\000rr' >&2")

    outcome.log.refresh_from_db()
    assert outcome.log.stdout == "a\ufffdb\ufffdc"
    assert outcome.log.stderr == "e\ufffdrr"
    executed = ProjectEvent.objects.filter(name="CommandExecuted").get()
    assert executed.payload["exit_code"] == 0


def test_a_file_name_that_is_not_utf8_is_refused_and_reported(branch):
    outcome = run(branch, "touch \"$(printf 'bad\\377name')\"")

    assert outcome.refused == {"bad\ufffdname": "file name is not UTF-8"}
    refused = ProjectEvent.objects.get(name="FilesRefused")
    assert refused.payload["paths"] == {"bad\ufffdname": "file name is not UTF-8"}


def test_more_files_than_allowed_refuse_the_whole_change(branch, settings):
    settings.SAMOKODER_SYNC_MAX_FILES = 20
    outcome = run(branch, "echo changed > main.py; for i in $(seq 21); do touch f$i; done")

    assert outcome.state is None  # nothing committed, not even the change to main.py
    assert not File.objects.filter(project=branch.project, path="f1").exists()
    event = ProjectEvent.objects.get(name="ChangesRefused")
    assert (event.payload["limit"], event.payload["kind"]) == (20, "files")


def test_a_tmpfs_bomb_is_bounded(branch):
    # /tmp and /dev/shm are sized: filling them fails inside the sandbox, not on the host.
    # The files stay under the file size limit; there are more than the tmpfs holds.
    fill = (
        'fill() { for i in 1 2 3; do head -c 200M /dev/zero > "$1/$i" || '
        '{ echo "$1 full"; return; }; done; }; fill /dev/shm; fill /tmp'
    )
    outcome = run(branch, fill, timeout=60)

    assert outcome.log.stdout.split("\n")[:2] == ["/dev/shm full", "/tmp full"]  # noqa: S108
    assert "No space left on device" in outcome.log.stderr


def test_a_command_filling_the_workspace_is_stopped_at_the_disk_limit(branch, settings):
    settings.SAMOKODER_SANDBOX_DISK_MB = 20
    # Not synced back (node_modules), each file small: only the workspace's total shows it.
    fill = (
        "mkdir -p node_modules && for i in $(seq 100); do "
        "head -c 1M /dev/zero > node_modules/f$i; done; sleep 20; echo never"
    )
    outcome = run(branch, fill, timeout=60)

    assert outcome.log.exit_code is None and not outcome.log.timed_out
    assert "never" not in outcome.log.stdout
    assert "disk limit of 20 MB" in outcome.log.stderr
    assert run(branch, "echo free").log.stdout.strip() == "free"
