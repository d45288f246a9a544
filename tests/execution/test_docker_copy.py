"""The Docker sandbox with its workspace copied in and out through the Docker API (the mode
for a remote DOCKER_HOST), against the local daemon. The escape probes run in this mode
too (the docker-copy parameter of the ``sandbox`` fixture)."""

import io
import os
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import docker
import pytest

from execution.backends.docker import WORKSPACE_LABEL
from execution.backends.docker_copy import unpack
from execution.models import Container
from execution.services import command_execute, command_run, workspace_path
from files.selectors import state_get, state_texts
from files.services import file_save
from projects.services import project_create

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def branch(user, sandbox):
    project = project_create(owner=user, name="Copied")
    branch = project.branches.get()
    file_save(branch=branch, path="app/main.py", text="print('copied in')\n")
    return branch


def texts(branch) -> dict[str, str]:
    return dict(state_texts(state=state_get(branch=branch)))


def mounts_of(branch) -> dict[str, dict]:
    container = Container.objects.get(project=branch.project, status=Container.Status.RUNNING)
    attrs = docker.from_env().containers.get(container.backend_id).attrs
    return {mount["Destination"]: mount for mount in attrs["Mounts"]}


@pytest.mark.parametrize("sandbox", ["docker-copy"], indirect=True)
def test_the_workspace_goes_in_and_out_without_a_bind_mount(branch):
    outcome = command_execute(
        branch=branch, command="python3 app/main.py && mkdir -p out/deep && echo made > out/deep/x"
    )

    assert outcome.log.stdout.strip() == "copied in"
    assert texts(branch)["out/deep/x"] == "made\n"
    workspace = mounts_of(branch)["/workspace"]
    assert workspace["Type"] == "volume"
    assert workspace["Source"] != str(workspace_path(branch.project))
    container = Container.objects.get(project=branch.project)
    assert container.labels[WORKSPACE_LABEL] == "copy"


@pytest.mark.parametrize("sandbox", ["docker"], indirect=True)
def test_the_local_daemon_binds_the_workspace_by_default(branch):
    command_execute(branch=branch, command="true")

    workspace = mounts_of(branch)["/workspace"]
    assert (workspace["Type"], workspace["Source"]) == ("bind", str(workspace_path(branch.project)))


@pytest.mark.parametrize("sandbox", ["docker-copy"], indirect=True)
def test_what_a_stopped_command_left_is_gone_from_the_sandbox_before_the_next(branch):
    cancel = threading.Event()

    def stop_when_ready(chunk: bytes) -> None:
        if b"ready" in chunk:
            cancel.set()

    ran = command_run(
        branch=branch, command="echo left > leftover.txt && rm app/main.py && echo ready && "
        "sleep 60", cancel=cancel, on_output=stop_when_ready, timeout=60,
    )  # fmt: skip
    assert ran.result.cancelled and ran.changes == {}

    outcome = command_execute(branch=branch, command="ls -R . && cat app/main.py")

    assert "leftover.txt" not in outcome.log.stdout
    assert "print('copied in')" in outcome.log.stdout


@pytest.mark.parametrize("sandbox", ["docker-copy"], indirect=True)
def test_a_command_sees_its_files_with_the_permissions_to_change_them(branch):
    outcome = command_execute(
        branch=branch, command="echo more >> app/main.py && mkdir app/new && touch app/new/f"
    )

    assert outcome.log.exit_code == 0, outcome.log.stderr
    assert texts(branch)["app/main.py"] == "print('copied in')\nmore\n"
    assert texts(branch)["app/new/f"] == ""


def archive(*members: tuple[tarfile.TarInfo, bytes]) -> tarfile.TarFile:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return tarfile.open(fileobj=buffer, mode="r|")


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


def test_unpacking_never_writes_through_a_link_or_outside_the_folder(tmp_path):
    mirror, outside = tmp_path / "mirror", tmp_path / "outside"
    mirror.mkdir()
    outside.mkdir()
    crafted = archive(
        (member("escape", tarfile.SYMTYPE, str(outside)), b""),
        (member("escape/evil.txt"), b"owned"),
        (member("../evil.txt"), b"owned"),
        (member(str(outside / "abs.txt")), b"owned"),
        (member("fine", tarfile.DIRTYPE), b""),
        (member("fine/kept.txt"), b"kept"),
        (member("fine/kept.txt"), b"second copy"),
        (member("pipe", tarfile.FIFOTYPE), b""),
    )

    unpack(crafted, mirror)

    assert list(outside.iterdir()) == [] and not (tmp_path / "evil.txt").exists()
    assert os.readlink(mirror / "escape") == str(outside)
    assert (mirror / "fine" / "kept.txt").read_text() == "kept"
    assert sorted(p.name for p in mirror.iterdir()) == ["escape", "fine", "pipe"]


@pytest.mark.parametrize(
    ("docker_host", "copy", "expected"),
    [
        ("", "", "False"),
        ("unix:///var/run/docker.sock", "", "False"),
        ("tcp://sandboxes.internal:2376", "", "True"),
        ("ssh://worker@sandboxes.internal", "", "True"),
        ("tcp://sandboxes.internal:2376", "false", "False"),
        ("", "true", "True"),
    ],
)
def test_copy_mode_defaults_to_on_for_a_remote_docker_host(docker_host, copy, expected):
    env = {**os.environ, "DOCKER_HOST": docker_host, "SAMOKODER_DOCKER_COPY_WORKSPACE": copy,
           "DJANGO_SETTINGS_MODULE": "samokoder_site.settings"}  # fmt: skip
    code = "from django.conf import settings; print(settings.SAMOKODER_DOCKER_COPY_WORKSPACE)"
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip

    assert result.stdout.strip() == expected, result.stderr
