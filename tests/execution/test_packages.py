"""Third-party packages: installed through the allow-listed proxy, used offline.

Real registries (PyPI, npm) through the session's Squid and the Unix-socket bridge, on
each backend. The install phase reaches only the allow-listed hosts; the run phase
reaches nothing at all; dependencies never enter the database or the zip.
"""

import uuid

import pytest
from django.urls import reverse

from execution.dependencies import Phase
from execution.folders import bridge_folder, deps_folder
from execution.installs import dependencies_install
from execution.models import ExecutionLog
from execution.services import command_execute, workspace_path
from files.models import File
from files.selectors import state_get, state_manifest, state_texts
from files.services import branch_fork, file_save
from projects.services import project_create

pytestmark = pytest.mark.django_db

FLASK_APP = """\
from flask import Flask

app = Flask(__name__)


@app.get("/hello/<name>")
def hello(name):
    return {"greeting": f"Hello, {name}!"}
"""
FLASK_TEST = """\
from app import app


def test_hello_answers_json():
    response = app.test_client().get("/hello/Ada")
    assert response.status_code == 200
    assert response.get_json() == {"greeting": "Hello, Ada!"}
"""
PACKAGE_JSON = '{"name": "probe", "version": "1.0.0", "dependencies": {"express": "^4.21.0"}}\n'
# node:http, not fetch: undici's WebAssembly parser reserves more address space than the
# bubblewrap sandbox's RLIMIT_AS allows (fetch fails there with "Out of memory").
EXPRESS_TEST = """\
const test = require("node:test");
const assert = require("node:assert");
const http = require("node:http");
const { once } = require("node:events");
const express = require("express");

test("express answers on loopback", async () => {
  const app = express();
  app.get("/", (request, response) => response.json({ ok: true }));
  const server = app.listen(0, "127.0.0.1");
  try {
    await once(server, "listening");
    const url = `http://127.0.0.1:${server.address().port}/`;
    const [response] = await once(http.get(url, { agent: false }), "response");
    let body = "";
    for await (const chunk of response) body += chunk;
    assert.deepStrictEqual(JSON.parse(body), { ok: true });
  } finally {
    server.close();
  }
});
"""
# Python one-liners run in the sandbox. The proxy variables are set only in the install
# phase; urllib honours them.
FETCH = "import urllib.request as u; print(u.urlopen('{url}', timeout=20).status)"
REACH_PROXY_PORT = "import socket; socket.create_connection(('127.0.0.1', 3128), timeout=3)"
REACH_SOCKET = "import socket; socket.socket(socket.AF_UNIX).connect('/bridge/proxy.sock')"


@pytest.fixture
def project(user, sandbox, package_proxy):
    return project_create(owner=user, name="Packages")


def save(project, files: dict[str, str]):
    branch = project.branches.get()
    for path, text in files.items():
        file_save(branch=branch, path=path, text=text)
    return branch


def synced_paths(branch) -> set[str]:
    return set(state_manifest(state_get(branch=branch)))


def test_flask_installs_through_the_proxy_and_its_tests_pass_offline(project, auth_api_client):
    branch = save(project, {"requirements.txt": "flask\npytest\n", "app.py": FLASK_APP,
                            "test_app.py": FLASK_TEST})  # fmt: skip

    first = dependencies_install(branch=branch, runtime="python3")
    tests = command_execute(branch=branch, command=".venv/bin/python -m pytest -q")
    second = dependencies_install(branch=branch, runtime="python3")

    install_log = first.command.log
    assert install_log.exit_code == 0, install_log.stderr[-3000:]
    assert install_log.command.endswith("pip install -r requirements.txt")
    assert "Successfully installed" in install_log.stdout and "flask" in install_log.stdout.lower()
    assert tests.log.exit_code == 0, tests.log.stdout[-3000:]
    assert "1 passed" in tests.log.stdout
    assert second.skipped and second.command is None
    assert second.seconds < first.seconds / 10
    print(f"\npython3 install: first {first.seconds:.1f} s, second {second.seconds:.3f} s")
    assert ExecutionLog.objects.filter(project=project).count() == 2  # the skip ran nothing
    # The venv lives beside the workspace, not in the database or the zip.
    assert synced_paths(branch) == {"requirements.txt", "app.py", "test_app.py"}
    assert not File.objects.filter(project=project, path__contains=".venv").exists()
    zipped = auth_api_client.get(reverse("api-download", args=[project.pk])).getvalue()
    assert b"site-packages" not in zipped and b".venv" not in zipped
    venv = deps_folder(workspace_path(project), str(branch.pk)) / ".venv"
    assert (venv / "pyvenv.cfg").is_file()


def test_express_installs_through_the_proxy_and_node_test_passes_offline(project):
    branch = save(project, {"package.json": PACKAGE_JSON, "app.test.js": EXPRESS_TEST})

    first = dependencies_install(branch=branch, runtime="node")
    tests = command_execute(branch=branch, command="node --test")
    second = dependencies_install(branch=branch, runtime="node")

    assert first.command.log.command == "npm install"
    assert first.command.log.exit_code == 0, first.command.log.stderr[-3000:]
    # npm's update notice would tell the agents to upgrade an npm they cannot upgrade.
    assert "npm notice" not in first.command.log.stderr, first.command.log.stderr[-3000:]
    assert tests.log.exit_code == 0, tests.log.stdout[-3000:] + tests.log.stderr[-2000:]
    assert "pass 1" in tests.log.stdout
    assert second.skipped, "the lock file npm wrote is part of the recorded manifest"
    print(f"\nnode install: first {first.seconds:.1f} s, second {second.seconds:.3f} s")
    # The lock file is source and comes back; node_modules never does.
    assert synced_paths(branch) == {"package.json", "package-lock.json", "app.test.js"}
    lock = dict(state_texts(state=state_get(branch=branch)))["package-lock.json"]
    assert '"node_modules/express"' in lock
    assert (
        not File.objects.filter(project=project, path__contains="node_modules/")
        .exclude(path="package-lock.json")
        .exists()
    )


def test_a_changed_manifest_installs_again(project):
    branch = save(project, {"requirements.txt": "# nothing yet\n"})
    assert not dependencies_install(branch=branch, runtime="python3").skipped
    assert dependencies_install(branch=branch, runtime="python3").skipped

    file_save(branch=branch, path="requirements.txt", text="six\n")
    again = dependencies_install(branch=branch, runtime="python3")

    assert not again.skipped and again.command.log.exit_code == 0
    check = command_execute(branch=branch, command=".venv/bin/python -c 'import six'")
    assert check.log.exit_code == 0, check.log.stderr


def test_a_host_off_the_list_is_refused_with_403_and_logged(project, package_proxy):
    branch = project.branches.get()
    host = f"not-a-registry-{uuid.uuid4().hex[:8]}.example.com"
    refused = FETCH.format(url=f"https://{host}/")
    allowed = FETCH.format(url="https://pypi.org/simple/")

    outcome = command_execute(
        branch=branch, command=f'python3 -c "{allowed}" && python3 -c "{refused}"',
        phase=Phase.INSTALL,
    )  # fmt: skip

    assert outcome.log.stdout.strip() == "200"  # the registry answered through the bridge
    assert outcome.log.exit_code != 0
    assert "403" in outcome.log.stderr
    assert f"The package proxy refused: {host}:443." in outcome.log.stderr
    denied = [line for line in package_proxy.access_log.read_text().splitlines() if host in line]
    assert len(denied) == 1 and "TCP_DENIED/403 " in denied[0]
    assert f"CONNECT {host}:443" in denied[0]


def test_pip_cannot_install_from_a_url_outside_the_list(project):
    url = "https://github.com/pallets/flask/archive/refs/tags/3.0.0.zip"
    branch = save(project, {"requirements.txt": f"flask @ {url}\n"})

    first = dependencies_install(branch=branch, runtime="python3")
    again = dependencies_install(branch=branch, runtime="python3")

    assert first.command.log.exit_code != 0
    assert "403" in first.command.log.stdout + first.command.log.stderr
    assert "The package proxy refused: github.com:443." in first.command.log.stderr
    assert not again.skipped, "a failed install is not recorded as done"


def test_the_run_phase_has_no_proxy_socket_and_no_network(project):
    branch = project.branches.get()
    install = command_execute(branch=branch, command="ls /bridge", phase=Phase.INSTALL)

    run = command_execute(
        branch=branch,
        command=f'ls -A /bridge; python3 -c "{REACH_PROXY_PORT}"; python3 -c "{REACH_SOCKET}"',
    )

    assert install.log.stdout.split() == ["proxy.sock"]
    assert "Connection refused" in run.log.stderr
    assert "FileNotFoundError" in run.log.stderr
    assert run.log.stdout.strip() == ""  # /bridge is empty
    assert list(bridge_folder(workspace_path(project)).iterdir()) == []


def test_each_branch_has_its_own_dependency_folders(project):
    main = save(project, {"main.py": "print('hi')\n"})
    fork = branch_fork(source=main, step=state_get(branch=main).step_index, name="experiment")

    command_execute(branch=main, command="echo main > .venv/marker")
    on_fork = command_execute(branch=fork, command="ls -A .venv; echo fork > .venv/m")
    on_main = command_execute(branch=main, command="cat .venv/marker; ls .venv")

    assert on_fork.log.exit_code == 0 and on_fork.log.stdout.strip() == ""
    assert on_main.log.stdout.split() == ["main", "marker"]
    assert not File.objects.filter(project=project, path__startswith=".venv").exists()
