"""Replayed reference runs of real applications: third-party packages installed through
the allow-listed package proxy, tests passing in the sandbox, on each backend.

The LLM is the replay server; everything else is real: the Celery worker, the sandbox,
Squid and the registries behind it (PyPI, npm).
"""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from execution.backends.base import SandboxUnavailable
from execution.models import ExecutionLog
from execution.services import process_manager
from files.selectors import state_get, state_texts
from generation import reasons
from generation.schemas import PipelineState
from tests.execution.conftest import BACKENDS, package_proxy_server  # noqa: F401 - fixture
from tests.generation.scenario import (
    answer_of,
    event_names,
    project_for,
    run_start_api,
    wait_for,
)
from tests.live import Worker

pytestmark = pytest.mark.django_db(transaction=True)

TRANSCRIPTS = Path(__file__).parent / "transcripts"
PIP = "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt"
FLASK = "A to-do list HTTP API in Flask with SQLite, tested with pytest."
EXPRESS = "A hello API in Express with a node:test test."
RUN_SECONDS = 420  # two installs from the registries on a shared 2-core machine


def transcript(name: str) -> dict:
    return json.loads((TRANSCRIPTS / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module", params=BACKENDS)
def package_worker(request, worker_env, package_proxy_server) -> Iterator[Worker]:  # noqa: F811
    """A worker whose sandbox is ``request.param`` and whose installs use the session's
    package proxy (as `make run` gives them through scripts/with_proxy.py)."""
    from django.conf import settings

    backend = request.param
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(settings, "SAMOKODER_SANDBOX_BACKEND", backend)
        try:
            process_manager()
        except SandboxUnavailable as exc:  # a failure in CI, where skips are not allowed
            pytest.skip(str(exc))
    env = worker_env | {
        "SAMOKODER_SANDBOX_BACKEND": backend,
        "SAMOKODER_PACKAGE_PROXY": package_proxy_server.url,
        "SAMOKODER_PACKAGE_PROXY_LOG": str(package_proxy_server.access_log),
    }
    process = Worker(env).start()
    yield process
    process.stop()


def run_until_stopped(user, project, worker: Worker):
    run_id = run_start_api(user, project)
    return wait_for(run_id, "completed", "failed", "cancelled", timeout=RUN_SECONDS, worker=worker)


def logs_of(run) -> list[ExecutionLog]:
    return list(ExecutionLog.objects.filter(run_id=run.pk).order_by("created_at"))


def final_state(project):
    return state_get(branch=project.branches.get(name="main"))


def test_flask_todo_api_installs_flask_and_pytest_and_its_tests_pass(
    user, package_worker, pipeline_settings, replay
):
    script = transcript("flask_todo.json")
    replay.load_dict(script)
    project = project_for(user, description=FLASK)

    run = run_until_stopped(user, project, package_worker)

    assert run.status == "completed", f"{run.reason}\n{package_worker.log()[-3000:]}"
    logs = logs_of(run)
    assert [(log.command, log.exit_code) for log in logs] == [
        (PIP, 1), (PIP, 0), (".venv/bin/python -m pytest -q", 0),
    ], [log.stdout[-1500:] + log.stderr[-1500:] for log in logs]  # fmt: skip
    assert "No matching distribution found for flaskk" in logs[0].stderr + logs[0].stdout
    installed = logs[1].stdout.split("Successfully installed")[-1].lower()
    assert " flask-" in installed and " pytest-" in installed
    assert "4 passed" in logs[2].stdout
    names = event_names(run)
    assert names.count("PipelineCommandExecuted") == 3
    assert [name for name in names if name in {"ErrorDetected", "FixApplied", "ErrorFixed"}] == [
        "ErrorDetected",
        "FixApplied",
        "ErrorFixed",
    ]
    state = final_state(project)
    files = dict(state_texts(state=state))
    assert files["requirements.txt"] == "flask>=3.0\npytest>=8.0\n"
    assert set(files) == {"requirements.txt", "app.py", "test_app.py"}  # no .venv, no db
    architecture = PipelineState.model_validate(state.data).architecture
    assert (architecture.run_command, architecture.port) == (".venv/bin/python app.py", 5000)
    assert replay.remaining() == 0


def test_express_hello_api_installs_express_and_node_test_passes(
    user, package_worker, pipeline_settings, replay
):
    replay.load_dict(transcript("express_hello.json"))
    project = project_for(user, description=EXPRESS)

    run = run_until_stopped(user, project, package_worker)

    assert run.status == "completed", f"{run.reason}\n{package_worker.log()[-3000:]}"
    logs = logs_of(run)
    assert [(log.command, log.exit_code) for log in logs] == [("npm install", 0), ("npm test", 0)]
    assert "pass 1" in logs[1].stdout, logs[1].stdout[-2000:] + logs[1].stderr[-2000:]
    files = dict(state_texts(state=final_state(project)))
    # The lock file npm wrote is source, committed with the install step; node_modules is not.
    assert '"node_modules/express"' in files["package-lock.json"]
    assert not any(path.startswith("node_modules/") for path in files)
    assert replay.remaining() == 0


def test_a_host_the_proxy_refuses_stops_the_run_naming_it_once_fixes_run_out(
    user, package_worker, pipeline_settings, replay
):
    script = transcript("flask_todo.json")
    hosts = ["example.org", "example.com", "example.net", "example.edu"]
    wanted = [f"todo-kit @ https://{host}/todo_kit-1.0.tar.gz\n" for host in hosts]
    for entry in script["responses"]:
        if entry.get("match") == "the file requirements.txt.":
            entry["text"] = json.dumps({"path": "requirements.txt", "content": wanted[0]})
    fix = answer_of(script, "BugHunter")
    script["responses"] = [e for e in script["responses"] if e.get("agent") != "BugHunter"]
    for content in wanted[1:]:
        answer = fix | {"files": [{"path": "requirements.txt", "content": content}]}
        script["responses"].append({"agent": "BugHunter", "text": json.dumps(answer)})
    replay.load_dict(script)
    project = project_for(user, description=FLASK)

    run = run_until_stopped(user, project, package_worker)

    assert run.status == "failed"
    assert run.reason_code == reasons.PACKAGE_REFUSED, (run.reason_code, run.reason_params)
    assert run.reason_params == {"hosts": "example.edu:443", "attempts": 3}
    assert "example.edu:443" in run.reason
    logs = logs_of(run)
    assert [log.command for log in logs] == [PIP] * 4  # the tests never ran
    assert all("[samokoder] The package proxy refused" in log.stderr for log in logs)
    assert replay.remaining() == 0
