"""Fair scheduling: at most SAMOKODER_RUNS_PER_USER runs of one user are running at once;
the others wait, queued, without holding a worker, and start when one of theirs ends."""

import pytest
from django.urls import reverse

from generation.models import GenerationRun
from generation.selectors import run_queue_position
from generation.services import run_cancel, run_start
from generation.services.lease import run_claim
from projects.services import project_create
from tests.generation.scenario import api_for, project_for, run_start_api, wait_for
from tests.live import Worker

SLOW = 40  # seconds an answer is held back: the runs stay running meanwhile


def _project(user, name: str):
    return project_create(owner=user, name=name, description=f"The {name} app: a small tool.")


@pytest.mark.django_db
def test_a_run_over_the_users_limit_is_not_claimed_and_waits_in_order(user, other_user, settings):
    settings.SAMOKODER_RUNS_PER_USER = 1
    settings.LLM_SYSTEM_KEYS = {"openai": "sk-platform-000000000000", "anthropic": "",
                                "groq": ""}  # fmt: skip
    first, second, third = (_project(user, name) for name in ("Alpha", "Beta", "Gamma"))
    runs = [run_start(project=p, user=user, provider="openai") for p in (first, second, third)]
    theirs = run_start(project=_project(other_user, "Delta"), user=other_user, provider="openai")

    # The newest run's message arrives first: an older run of the same user goes before it.
    assert run_claim(project_id=str(third.pk), user_id=user.pk) is None
    assert run_claim(project_id=str(first.pk), user_id=user.pk) is not None
    assert run_claim(project_id=str(second.pk), user_id=user.pk) is None  # the slot is taken
    assert run_claim(project_id=str(theirs.project_id), user_id=other_user.pk) is not None

    statuses = list(GenerationRun.objects.filter(user=user).order_by("created_at")
                    .values_list("status", flat=True))  # fmt: skip
    assert statuses == ["running", "queued", "queued"]
    assert [run_queue_position(run=r) for r in runs] == [None, 1, 2]
    assert run_queue_position(run=theirs) is None

    run_cancel(run=runs[1])  # a waiting run leaves the line: the one behind moves up
    assert run_queue_position(run=runs[2]) == 1


@pytest.mark.django_db(transaction=True)
def test_a_third_run_of_one_user_waits_while_another_users_run_starts(
    user, other_user, worker_env, sandbox_ready, pipeline_settings, replay
):
    pipeline_settings.SAMOKODER_RUNS_PER_USER = 2
    names = ["Alpha", "Beta", "Gamma", "Delta"]
    # Alpha fails after a while (its slot then frees); the others keep their worker busy.
    answers = [{"agent": "SpecWriter", "match": f"The {names[0]} app",
                "fault": {"delay": 15, "status": 400, "message": "no"}}]  # fmt: skip
    answers += [{"agent": "SpecWriter", "match": f"The {name} app", "text": "{}",
                 "fault": {"delay": SLOW}} for name in names[1:]]  # fmt: skip
    replay.load_dict({"version": 1, "responses": answers})
    alpha, beta, gamma = (project_for(user, description=f"The {n} app: a tool.") for n in names[:3])
    delta = project_for(other_user, description="The Delta app: a tool.")
    pool = Worker(dict(worker_env, SAMOKODER_RUNS_PER_USER="2"), concurrency=3).start()
    try:
        ids = [run_start_api(user, project) for project in (alpha, beta, gamma)]
        for run_id in ids[:2]:
            wait_for(run_id, "running", worker=pool, timeout=30)
        # The third run's task was refused (it returned at once) rather than kept waiting.
        _wait_until(lambda: pool.log().count("succeeded in") >= 1, "the third run was run")
        assert GenerationRun.objects.get(pk=ids[2]).status == "queued"

        theirs = run_start_api(other_user, delta)
        wait_for(theirs, "running", worker=pool, timeout=20)

        assert GenerationRun.objects.get(pk=ids[0]).status == "running"  # still within Alpha
        assert GenerationRun.objects.get(pk=ids[2]).status == "queued"
        body = api_for(user).get(f"/api/v1/runs/{ids[2]}").json()
        assert body["queue_position"] == 1
        assert api_for(other_user).get(f"/api/v1/runs/{theirs}").json()["queue_position"] is None
        panel = _panel(user, gamma)
        assert "Waiting: 1 run ahead of yours" in panel

        # Alpha ends: the waiting run starts by itself (no beat runs in this test).
        assert wait_for(ids[0], "failed", worker=pool, timeout=40).status == "failed"
        wait_for(ids[2], "running", worker=pool, timeout=20)
        assert GenerationRun.objects.get(pk=ids[1]).status == "running"
    finally:
        pool.kill()


def _panel(user, project) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    url = reverse("generation:panel", args=[project.pk])
    return client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()


def _wait_until(condition, message: str, timeout: float = 30) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.1)


def test_beat_tasks_have_a_queue_of_their_own_that_the_procfile_serves(settings):
    from pathlib import Path

    from samokoder_site.celery import app

    beat = settings.SAMOKODER_QUEUE_BEAT
    assert beat not in (settings.SAMOKODER_QUEUE_GENERATION, settings.CELERY_TASK_DEFAULT_QUEUE)
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert app.amqp.router.route({}, entry["task"])["queue"].name == beat
    assert app.amqp.router.route({}, "generation.run_generation")["queue"].name != beat
    procfile = (Path(settings.BASE_DIR) / "Procfile").read_text().splitlines()
    queues = {line.split(":", 1)[0]: line.split("--queues ")[1].split()[0].split(",")
              for line in procfile if "--queues" in line}  # fmt: skip
    assert "beat" in queues["worker"]
    # A worker of its own for beat's queue: runs filling the main worker never delay it.
    assert ["beat"] in queues.values()
