"""How a preview's life ends or goes on, each backend: an app that never listens, one that
crashes, one nobody visits, a newer preview of the project, new files on the branch, and
the hourly sweep of previews whose worker is gone."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone, translation

from execution.serving import app_socket
from files.services import files_commit
from generation import publish
from generation.models import GenerationRun
from preview import reasons, services, supervisor
from preview.gateway import ROUTE_SECONDS, PreviewGateway
from preview.models import Preview
from preview.serializers import PreviewSerializer
from projects.services import project_create
from tests.preview.apps import TODO_APP, server_step
from tests.preview.conftest import entry_path, gateway_client, run, supervise, wait_status

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def supervised(user):
    """Start a preview of a branch and run its supervisor; all are stopped afterwards."""
    started = []

    def start(branch, **kwargs):
        preview = services.preview_start(project=branch.project, user=user, branch=branch,
                                         **kwargs)  # fmt: skip
        started.append((preview, supervise(preview)))
        return preview, started[-1][1]

    yield start
    for preview, thread in started:
        services.preview_stop(preview=preview)
        thread.join(timeout=30)


def app_branch(user, run_command: str, port: int = 5000, files=None):
    project = project_create(owner=user, name="App")
    branch = project.branches.get()
    server_step(branch, files=files or {"app.py": TODO_APP}, run_command=run_command,
                port=port)  # fmt: skip
    return branch


def text_of(preview: Preview) -> str:
    with translation.override("en"):
        return PreviewSerializer(preview).data["reason_text"]


def test_an_app_that_never_listens_fails_naming_its_port(user, preview_settings, supervised):
    preview_settings.SAMOKODER_PREVIEW_START_SECONDS = 3
    command = "python3 -c \"print('warming up', flush=True); import time; time.sleep(600)\""
    preview, thread = supervised(app_branch(user, command, port=5123))

    thread.join(timeout=60)

    assert not thread.is_alive()
    preview.refresh_from_db()
    assert (preview.status, preview.reason_code) == ("failed", reasons.NEVER_LISTENED)
    assert "port 5123 within 3 seconds" in text_of(preview)
    assert "warming up" in preview.output_tail
    assert not app_socket(str(preview.project_id), preview.pk.hex).parent.exists()


def test_an_app_that_crashes_fails_with_its_exit_code_and_last_lines(
    user, preview_settings, supervised
):
    preview, thread = supervised(
        app_branch(user, "python3 -c \"print('boom', flush=True); raise SystemExit(3)\"")
    )

    thread.join(timeout=60)

    assert not thread.is_alive()
    preview.refresh_from_db()
    assert (preview.status, preview.reason_code, preview.exit_code) == (
        "failed", reasons.CRASHED, 3,
    )  # fmt: skip
    assert "boom" in preview.output_tail
    assert "exit code 3" in text_of(preview)


def test_the_apps_output_is_kept_and_relayed_without_terminal_colour_codes(
    user, preview_settings, supervised
):
    # werkzeug colours its banner like this, whether or not a terminal reads it.
    banner = r"print('\\x1b[31m\\x1b[1mWARNING: development server\\x1b[0m', flush=True)"
    preview, thread = supervised(app_branch(user, f'python3 -c "{banner}; raise SystemExit(3)"'))

    thread.join(timeout=60)

    preview.refresh_from_db()
    assert "WARNING: development server" in preview.output_tail
    assert "\x1b" not in preview.output_tail and "[31m" not in preview.output_tail
    relay = supervisor.AppOutput(preview)
    sent: list[str] = []
    relay.batch.add = sent.append  # what the page would get
    for chunk in (b"\x1b[3", b"1mred\x1b", b"[0m plain\n"):  # a sequence cut between chunks
        relay(chunk)
    assert "".join(sent) == "red plain\n"


def test_output_before_a_quiet_spell_reaches_the_page_at_once_not_with_the_next_line(
    user, preview_settings, supervised, monkeypatch
):
    # Held back until more output came, the banner reached a page that had meanwhile
    # fetched the kept tail holding it: the page showed it twice.
    sent: list[str] = []
    monkeypatch.setattr(publish, "_send", lambda project_id, message, wait=True: sent.append(
        message.get("text", "")) if message["type"] == "preview.output" else None)  # fmt: skip
    banner = "print('first', flush=True); print('second', flush=True)"
    preview, _thread = supervised(app_branch(user, f'python3 -c "{banner}"; python3 app.py'))
    wait_status(preview, Preview.Status.RUNNING)

    deadline = time.monotonic() + 5
    while "second" not in "".join(sent) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "".join(sent).count("second") == 1, sent
    preview.refresh_from_db()
    assert "second" in preview.output_tail


def test_a_preview_nobody_visits_stops_as_idle(user, preview_settings, supervised):
    preview_settings.SAMOKODER_PREVIEW_IDLE_SECONDS = 2
    preview, thread = supervised(app_branch(user, "python3 app.py"))
    wait_status(preview, Preview.Status.RUNNING)

    thread.join(timeout=60)

    assert not thread.is_alive()
    preview.refresh_from_db()
    assert (preview.status, preview.reason_code) == ("stopped", reasons.IDLE)
    assert "listening on 5000" in preview.output_tail


def test_a_newer_preview_of_the_project_ends_the_running_one(user, preview_settings, supervised):
    branch = app_branch(user, "python3 app.py")
    first, first_thread = supervised(branch)
    wait_status(first, Preview.Status.RUNNING)

    second, _thread = supervised(branch)
    first_thread.join(timeout=30)

    assert not first_thread.is_alive()
    first.refresh_from_db()
    assert (first.status, first.reason_code) == ("stopped", reasons.REPLACED)
    assert "listening on 5000" in first.output_tail  # kept although it did not fail
    assert not app_socket(str(first.project_id), first.pk.hex).parent.exists()
    wait_status(second, Preview.Status.RUNNING)


async def _page(gateway: PreviewGateway, preview: Preview, user_id: int, *, enter: bool):
    async with gateway_client(preview.pk, gateway) as client:
        if enter:
            await client.get(entry_path(preview.pk, user_id))
        return await client.get("/")


def test_new_files_on_the_branch_restart_the_preview_on_them(user, preview_settings, supervised):
    branch = app_branch(user, "python3 app.py")
    preview, _thread = supervised(branch)
    wait_status(preview, Preview.Status.RUNNING)
    gateway = PreviewGateway()  # one gateway throughout, as the preview origin is
    before = run(_page(gateway, preview, user.pk, enter=True))
    assert "<h1>Todo</h1>" in before.text

    changed = TODO_APP.replace("<h1>Todo</h1>", "<h1>Todo, second version</h1>")
    server_step(branch, files={"app.py": changed}, run_command="python3 app.py", port=5000)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        preview.refresh_from_db()
        if preview.restarts == 1 and preview.status == Preview.Status.RUNNING:
            break
        time.sleep(0.2)
    time.sleep(ROUTE_SECONDS + 0.1)  # past what the gateway trusts a looked-up route for
    after = run(_page(gateway, preview, user.pk, enter=True))

    assert (preview.restarts, preview.status) == (1, "running")
    assert preview.state.step_index == 2
    assert after.status_code == 200, after.text
    assert "<h1>Todo, second version</h1>" in after.text


def test_a_step_with_the_same_files_moves_the_preview_without_a_restart(
    user, preview_settings, supervised
):
    branch = app_branch(user, "python3 app.py")
    preview, _thread = supervised(branch)
    wait_status(preview, Preview.Status.RUNNING)
    started_at = preview.ready_at

    # What a run's bookkeeping commits: the same files and architecture, a step further.
    latest = files_commit(branch=branch, changes={}, data=preview.state.data)
    deadline = time.monotonic() + 30
    while preview.state_id != latest.pk and time.monotonic() < deadline:
        time.sleep(0.2)
        preview.refresh_from_db()

    assert preview.state_id == latest.pk
    assert (preview.restarts, preview.status, preview.ready_at) == (0, "running", started_at)


def test_no_restart_while_a_run_works_on_the_branch_then_one_after(
    user, preview_settings, supervised
):
    branch = app_branch(user, "python3 app.py")
    preview, _thread = supervised(branch)
    wait_status(preview, Preview.Status.RUNNING)
    run = GenerationRun.objects.create(
        project=branch.project, branch=branch, user=user, provider="openai", max_cost=1,
        max_llm_calls=1, status=GenerationRun.Status.RUNNING,
    )  # fmt: skip
    server_step(branch, files={"app.py": TODO_APP + "\n# half-written\n"},
                run_command="python3 app.py", port=5000)  # fmt: skip
    time.sleep(2)  # four looks by the supervisor, each seeing the run at work
    preview.refresh_from_db()
    assert (preview.restarts, preview.state.step_index) == (0, 1)

    GenerationRun.objects.filter(pk=run.pk).update(status=GenerationRun.Status.COMPLETED)

    deadline = time.monotonic() + 60
    while preview.restarts == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
        preview.refresh_from_db()
    assert (preview.restarts, preview.state.step_index) == (1, 2)
    wait_status(preview, Preview.Status.RUNNING)


@pytest.mark.django_db(transaction=False)
def test_the_sweep_stops_previews_whose_worker_stopped_beating(user):
    project = project_create(owner=user, name="Swept")
    branch = project.branches.get()
    state = server_step(branch, files={"app.py": TODO_APP}, run_command="python3 app.py",
                        port=5000)  # fmt: skip
    now = timezone.now()

    def preview_of(name: str, **fields) -> Preview:
        target = project_create(owner=user, name=name).branches.get()
        row = Preview.objects.create(project=target.project, owner=user, branch=branch,
                                     state=state, **fields)  # fmt: skip
        Preview.objects.filter(pk=row.pk).update(created_at=now - timedelta(minutes=10))
        return row

    silent = preview_of("Silent", status="running", heartbeat_at=now - timedelta(minutes=5))
    never_beat = preview_of("Never", status="starting")
    beating = preview_of("Beating", status="running", heartbeat_at=now - timedelta(seconds=10))
    ended = preview_of("Ended", status="failed", heartbeat_at=now - timedelta(hours=2),
                       reason_code=reasons.CRASHED)  # fmt: skip

    assert services.previews_cleanup() == 2

    for row in (silent, never_beat, beating, ended):
        row.refresh_from_db()
    assert (silent.status, silent.reason_code) == ("stopped", reasons.LOST)
    assert (never_beat.status, never_beat.reason_code) == ("stopped", reasons.LOST)
    assert beating.status == "running"
    assert (ended.status, ended.reason_code) == ("failed", reasons.CRASHED)
    assert "worker running this preview stopped" in text_of(silent)


@pytest.mark.django_db(transaction=False)
def test_a_preview_replaced_as_new_files_arrive_is_not_restarted(user):
    """The supervisor looks at its preview's status, then at the branch: a newer preview
    may start in between. Its decision to restart must not bring the old one back (two
    active previews of one project, which the database refuses)."""
    branch = app_branch(user, "python3 app.py")
    old = services.preview_start(project=branch.project, user=user, branch=branch)
    server_step(branch, files={"app.py": TODO_APP + "\n# new\n"}, run_command="python3 app.py",
                port=5000)  # fmt: skip
    newer = services.preview_start(project=branch.project, user=user, branch=branch)

    assert supervisor._moved_on(old) is False  # the look the old supervisor had in flight

    old.refresh_from_db()
    assert (old.status, old.reason_code, old.restarts) == ("stopped", reasons.REPLACED, 0)
    newer.refresh_from_db()
    assert newer.status == "starting"
