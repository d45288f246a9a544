"""The reference scenario end to end: API → Celery worker → SDK over HTTP → replay server,
bubblewrap sandbox, PostgreSQL/SQLite and Redis. Nothing in the pipeline is faked."""

from decimal import Decimal

import pytest
from django.utils import translation

from execution.models import ExecutionLog
from files.selectors import state_get, state_texts
from generation import display
from generation.models import GenerationRun
from generation.schemas import PipelineState
from llm.models import LLMRequest, ModelPrice
from tests.generation.scenario import (
    ANSWER,
    USER_KEY,
    api_for,
    expected_files,
    project_for,
    reference,
    run_start_api,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)

EXPECTED_EVENTS = [
    "GenerationStarted",
    "QuestionAsked", "GenerationStepCompleted", "ProjectStateUpdated",
    "QuestionAnswered", "ProjectStateUpdated",
    "GenerationResumed",
    "SpecificationGenerated", "GenerationStepCompleted", "ProjectStateUpdated",
    "ArchitectureDesigned", "GenerationStepCompleted", "ProjectStateUpdated",
    "TasksCreated", "GenerationStepCompleted", "ProjectStateUpdated",
    "StepsPlanned", "GenerationStepCompleted", "ProjectStateUpdated",
    "CodeGenerated", "GenerationStepCompleted", "ProjectStateUpdated",
    "PipelineCommandExecuted", "ErrorDetected", "GenerationStepCompleted", "ProjectStateUpdated",
    "FixApplied", "GenerationStepCompleted", "ProjectStateUpdated",
    "PipelineCommandExecuted", "ErrorFixed", "GenerationStepCompleted", "ProjectStateUpdated",
    "PipelineCommandExecuted", "GenerationStepCompleted", "ProjectStateUpdated",
    "GenerationCompleted",
]  # fmt: skip


def test_reference_scenario_generates_a_tested_code_base(user, worker, pipeline_settings, replay):
    transcript = reference()
    replay.load_dict(transcript)
    project = project_for(user)
    run_id = run_start_api(user, project)

    run = wait_for(run_id, "awaiting_input", worker=worker)
    assert run.question == "Should the counter read standard input when no file is given?"
    answered = api_for(user).post(f"/api/v1/runs/{run_id}/answer", {"answer": ANSWER})
    assert answered.status_code == 200, answered.content
    run = wait_for(run_id, "completed", "failed", worker=worker)

    assert run.status == "completed", run.reason
    assert run.progress == 100 and run.finished_at is not None
    branch = project.branches.get(name="main")
    final = state_get(branch=branch)
    assert dict(state_texts(state=final)) == expected_files(transcript)
    assert replay.remaining() == 0

    # Every state: one per step, contiguous, each a valid pipeline state.
    states = list(branch.states.order_by("step_index"))
    assert [s.step_index for s in states] == list(range(len(states)))
    assert len(states) == 14
    data = [PipelineState.model_validate(s.data) for s in states]
    assert data[4].specification is not None and data[3].specification is None
    assert data[-1].tests_passed and data[-1].iterations[-1].status == "completed"

    # The events, in order, with no gap in their sequence numbers.
    events = list(GenerationRun.objects.get(pk=run_id).events.order_by("seq"))
    assert [e.name for e in events] == EXPECTED_EVENTS
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    steps = [e.payload["step_index"] for e in events if e.name == "GenerationStepCompleted"]
    assert steps == sorted(set(steps))  # no step committed twice

    # The sandbox ran the tests three times: failing, then passing twice.
    logs = list(ExecutionLog.objects.filter(run_id=run_id).order_by("created_at"))
    assert [log.command for log in logs] == ["python3 -m unittest -v"] * 3
    assert [log.exit_code for log in logs] == [1, 0, 0]
    assert "FAILED" in logs[0].stderr and "OK" in logs[1].stderr

    # Every LLM call went through the user's key, was recorded and priced.
    requests = list(LLMRequest.objects.filter(run_id=run_id))
    assert len(requests) == 8 and all(r.status == "success" for r in requests)
    assert all(r.key_source == "user" for r in requests)
    assert all(USER_KEY not in str(r.prompt) for r in requests)
    assert sorted(r.agent for r in requests) == sorted(
        ["SpecWriter"] * 2
        + ["Architect", "TechLead", "Developer", "BugHunter"]
        + ["CodeMonkey"] * 2
    )
    price = ModelPrice.objects.get(provider="openai", model=requests[0].model)
    one = (1000 * price.input_per_million + 200 * price.output_per_million) / Decimal(1_000_000)
    assert run.cost == sum(r.cost for r in requests) == 8 * one
    assert (run.llm_calls, run.prompt_tokens, run.completion_tokens) == (8, 8000, 1600)
    assert all(r["api_key"] == USER_KEY for r in replay.requests)


def test_reference_progress_grows_with_the_plan_and_each_stage_lights_up_as_it_starts(
    user, worker, pipeline_settings, replay
):
    replay.load_dict(reference())
    project = project_for(user)
    run_id = run_start_api(user, project)
    wait_for(run_id, "awaiting_input", worker=worker)
    api_for(user).post(f"/api/v1/runs/{run_id}/answer", {"answer": ANSWER})
    run = wait_for(run_id, "completed", "failed", worker=worker)
    assert run.status == "completed", run.reason
    events = list(run.events.order_by("seq"))

    # Progress: never back, up at every step from the plan on (not stuck at 25 %).
    progress = [e.payload["progress"] for e in events if e.name == "ProjectStateUpdated"]
    progress.append(run.progress)
    assert progress == sorted(progress) and progress[-1] == 100
    after = {name: p for names, p in zip(_steps(events), progress, strict=False) for name in names}
    planned, written = after["StepsPlanned"], after["CodeGenerated"]
    assert 25 < planned < written < after["FixApplied"] < after["ErrorFixed"] < 100
    assert len(set(progress)) >= 8

    # Stages: the stage a step belongs to is the current one while it works, read from
    # the state before it (as the page shows it), Debugging while the BugHunter works.
    branch = project.branches.get(name="main")
    data = {s.step_index: PipelineState.model_validate(s.data) for s in branch.states.all()}
    running = GenerationRun(status=GenerationRun.Status.RUNNING)
    shown = []
    for e in events:
        if e.name == "GenerationStepCompleted":
            stages = display.stages(data[e.payload["step_index"] - 1], running)
            current = [stage["value"] for stage in stages if stage["status"] == "current"]
            assert current == [e.payload["stage"]], e.payload
            shown.append((e.payload["agent"], current[0]))
    assert ("BugHunter", "debugging") in shown
    assert [stage for _, stage in shown][:4] == [
        "specification", "specification", "architecture", "tasks"
    ]  # fmt: skip

    # The status line and the activity line, in both languages.
    final = data[max(data)]
    with translation.override("en"):
        assert display.status_label(final, run) == "Completed"
        assert display.activity(data[4], running) == "The Architect is choosing the structure…"
        failed = GenerationRun(status=GenerationRun.Status.FAILED)
        assert display.status_label(data[9], failed) == "Failed at Debugging"
    with translation.override("ru"):
        assert display.status_label(final, run) == "Завершено"
        assert display.status_label(data[9], failed) == "Ошибка на этапе «Отладка»"
        assert "Архитектор" in display.activity(data[4], running)

    # Each step says what it did, in the reader's language.
    states = list(branch.states.order_by("step_index"))
    with translation.override("en"):
        labels = [s.label for s in states]
    assert labels[0] == "Project created" and labels[4] == "Spec written"
    assert "Wrote wordcount.py, test_wordcount.py" in labels
    assert "Fix 1 for `python3 -m unittest -v`" in labels
    assert not [label for label in labels if label.startswith("Step ")]  # no bare number
    with translation.override("ru"):
        assert states[4].label == "Спецификация написана"
    listed = api_for(user).get(f"/api/v1/projects/{project.pk}/states?branch=main")
    assert listed.status_code == 200, listed.content
    body = listed.json()
    rows = body["results"] if isinstance(body, dict) else body
    assert rows[4]["label"] in {"Spec written", "Спецификация написана"}


def _steps(events) -> list[list[str]]:
    """For each ProjectStateUpdated, the names of the events of its step."""
    steps: list[list[str]] = []
    names: list[str] = []
    for e in events:
        if e.name == "ProjectStateUpdated":
            steps.append(names)
            names = []
        else:
            names.append(e.name)
    return steps
