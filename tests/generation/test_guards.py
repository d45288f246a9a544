"""Guards and error states, driven in this process (``run_drive`` is what the Celery task
calls): wall clock, a fixed error coming back, a rejected key, a missing sandbox."""

import json

import pytest

from generation import reasons
from generation.services import run_start
from tests.generation.scenario import drive_here, event_names, project_for, reference

pytestmark = pytest.mark.django_db(transaction=True)


def drive(user, project, **start):
    """Start a run and drive it to its end here, answering the question when asked."""
    return drive_here(run_start(project=project, user=user, provider="openai", **start))


def test_a_run_past_its_wall_clock_stops_with_that_reason(user, pipeline_settings, replay):
    pipeline_settings.SAMOKODER_RUN_MAX_SECONDS = 1.0
    transcript = reference()
    architect = next(e for e in transcript["responses"] if e["agent"] == "Architect")
    architect["fault"] = {"delay": 1.5}
    replay.load_dict(transcript)
    project = project_for(user)

    run = drive(user, project)

    assert run.status == "failed" and run.reason_code == reasons.WALL_CLOCK
    assert [r["agent"] for r in replay.requests][-1] == "Architect"
    assert event_names(run)[-1] == "GenerationFailed"


def test_a_fixed_error_that_comes_back_stops_the_loop(user, pipeline_settings, replay):
    transcript = reference()
    responses = transcript["responses"]
    buggy = next(e for e in responses if e.get("match") == "content of the file wordcount.py")
    developer = next(e for e in responses if e["agent"] == "Developer")
    plan = json.loads(developer["text"])
    # After the tests pass, a later step rewrites the module as it was: the same error.
    plan["steps"] += [dict(plan["steps"][0], content="tidy up"), plan["steps"][2]]
    developer["text"] = json.dumps(plan)
    responses.append(dict(buggy, match="content of the file wordcount.py"))
    replay.load_dict(transcript)
    project = project_for(user)

    run = drive(user, project)

    assert run.status == "failed" and run.reason_code == reasons.LOOP_ERROR
    names = event_names(run)
    assert names.count("ErrorFixed") == 1 and names.count("FixApplied") == 1
    assert "python3 -m unittest -v" in run.reason


def test_a_rejected_key_says_so_and_where_to_fix_it(user, pipeline_settings, replay):
    replay.load_dict({"version": 1, "responses": [
        {"fault": {"status": 401, "message": "Incorrect API key provided"}}]})  # fmt: skip
    project = project_for(user)

    run = drive(user, project)

    assert run.status == "failed" and run.reason_code == reasons.KEY_REJECTED
    assert run.reason_params == {"provider": "OpenAI"}
    assert len(replay.requests) == 1  # a rejected key is not retried


def test_a_missing_sandbox_stops_the_run_with_what_to_do(
    user, pipeline_settings, replay, monkeypatch
):
    pipeline_settings.SAMOKODER_SANDBOX_BACKEND = "docker"
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    replay.load_dict(reference())
    project = project_for(user)

    run = drive(user, project)

    assert run.status == "failed" and run.reason_code == reasons.SANDBOX
    assert run.reason_params["detail"]
    assert project.branches.get().states.filter(data__steps__0__done=True).exists()
