"""A command cut by a worker's death and run again on the next worker: the Terminal tab
keeps the two runs apart, and keeps the killed attempt's output, marked, after the panel
re-renders and after a reload; its owner's only. Its own module: the worker fixture of
another would take the run."""

import time

import pytest
from playwright.sync_api import expect

from execution.models import ExecutionLog
from generation.services.lease import runs_stale
from generation.tasks import resume_stale_runs_task
from tests.accounts.factories import PASSWORD, UserFactory
from tests.browser.test_terminal_live import COMMAND, _transcript, _watching
from tests.generation.scenario import ANSWER, api_for, run_start_api, wait_for
from tests.live import QUEUE, Worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
HEADER = f"$ {COMMAND}\n"
INTERRUPTED = {
    "en": "[Interrupted: the worker running it stopped; above is what it printed until then]",
    "ru": "[Прервано: исполнитель, выполнявший команду, остановился; выше — то, что она успела "
    "вывести]",
}
RERENDER = """() => htmx.ajax("GET", document.getElementById("generation-panel").dataset.panelUrl,
    {target: "#generation-panel", swap: "outerHTML"})"""
RERUN = {"en": "[Succeeded (exit code 0)]", "ru": "[Успешно (код выхода 0)]"}


def _killed_and_rerun(page, asgi_server, worker_env, replay):
    """The page watching while the first worker dies in the command's 2 s sleep and the
    next one runs it again, to the run's end."""
    replay.load_dict(_transcript())
    user, project = _watching(page, asgi_server, "restart@example.com")
    first = Worker(worker_env).start()
    try:
        run_id = run_start_api(user, project)
        wait_for(run_id, "awaiting_input", worker=first)
        api_for(user).post(f"/api/v1/runs/{run_id}/answer", {"answer": ANSWER})
        page.wait_for_function("window.seen.twoFirst !== null", timeout=60_000)
        first.kill()  # in the command's 2 s sleep
    finally:
        first.kill()

    second = Worker(worker_env).start()
    try:
        deadline = time.monotonic() + 20
        while not any(str(run.pk) == run_id for run in runs_stale()):
            assert time.monotonic() < deadline, "the killed worker's heartbeat never went stale"
            time.sleep(0.1)
        resume_stale_runs_task.apply_async(queue=QUEUE)  # as beat would
        page.wait_for_function("window.seen.live !== ''", timeout=60_000)
        wait_for(run_id, "completed", worker=second)
    finally:
        second.stop()
    return project


def _terminal_shows_both(page, language: str) -> None:
    terminal = page.locator("#terminal")
    killed = terminal.locator(".interrupted")
    expect(killed).to_have_text(f"{HEADER}one\ntwo\n{INTERRUPTED[language]}")
    expect(terminal).to_contain_text(f"{HEADER}one\ntwo\nthree\n{RERUN[language]}")
    assert terminal.text_content().count(HEADER) == 2


def test_a_command_rerun_after_a_worker_restart_is_shown_apart_from_the_killed_one(
    page, browser, asgi_server, worker_env, sandbox_ready, pipeline_settings, replay
):
    project = _killed_and_rerun(page, asgi_server, worker_env, replay)

    live = page.evaluate("window.seen.live")
    # The rerun's own section holds its output once.
    assert live.rsplit(HEADER, 1)[1] == "one\ntwo\nthree\n", live
    page.evaluate(RERENDER)
    _terminal_shows_both(page, "en")  # re-rendered: the killed attempt's output is kept

    page.reload()
    page.locator("#tab-terminal-tab").click()
    _terminal_shows_both(page, "en")
    page.get_by_label("Language").select_option("ru")
    page.get_by_role("button", name="Switch").click()
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    page.locator("#tab-terminal-tab").click()
    _terminal_shows_both(page, "ru")

    kept = ExecutionLog.objects.get(interrupted=True)
    assert (kept.project_id, kept.exit_code, kept.stdout) == (project.pk, None, "one\ntwo\n")
    # Someone else, signed in, reads none of it.
    other = UserFactory(email="other@example.com", language="en")
    context = browser.new_context(base_url=asgi_server.url)
    try:
        stranger = context.new_page()
        stranger.goto("/accounts/login/")
        stranger.locator("input[type=email]").fill(other.email)
        stranger.locator("input[type=password]").fill(PASSWORD)
        stranger.locator("main form button[type=submit]").click()
        expect(stranger.locator("nav form.inline button")).to_be_visible()
        for path in (f"/projects/{project.pk}/", f"/projects/{project.pk}/generation/"):
            response = stranger.goto(path)
            assert response is not None and response.status == 404, path
            assert "one\ntwo" not in stranger.content() and COMMAND not in stranger.content()
    finally:
        context.close()
