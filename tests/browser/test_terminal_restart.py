"""A command cut by a worker's death and run again on the next worker: the Terminal tab
keeps the two runs apart. Its own module: the worker fixture of another would take the run."""

import time

import pytest

from generation.services.lease import runs_stale
from generation.tasks import resume_stale_runs_task
from tests.browser.test_terminal_live import COMMAND, _transcript, _watching
from tests.generation.scenario import ANSWER, api_for, run_start_api, wait_for
from tests.live import QUEUE, Worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_command_rerun_after_a_worker_restart_is_shown_apart_from_the_killed_one(
    page, asgi_server, worker_env, sandbox_ready, pipeline_settings, replay
):
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
    finally:
        second.stop()

    live = page.evaluate("window.seen.live")
    # The rerun's own section holds its output once; the killed run's lines, if still on
    # screen, stay in theirs above it.
    header = f"$ {COMMAND}\n"
    assert live.rsplit(header, 1)[1] == "one\ntwo\nthree\n", live
    assert live.count(header) in (1, 2), live
