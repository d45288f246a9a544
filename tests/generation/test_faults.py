"""Fault runs: what the replay server, the sandbox and the guards throw at a run."""

import json

import pytest

from execution.models import ExecutionLog
from files.selectors import state_get, state_texts
from generation import reasons
from generation.schemas import PipelineState
from llm.models import LLMRequest
from tests.generation.scenario import (
    event_names,
    expected_files,
    project_for,
    reference,
    run_to_end,
    with_entry,
)

pytestmark = pytest.mark.django_db(transaction=True)


def final_files(project) -> dict[str, str]:
    return dict(state_texts(state=state_get(branch=project.branches.get(name="main"))))


def test_429_storm_and_500s_are_retried_and_the_run_completes(
    user, worker, pipeline_settings, replay
):
    transcript = reference()
    for _ in range(2):
        transcript = with_entry(
            transcript, "Architect", {"fault": {"status": 429, "retry_after": 0.1}}
        )
        transcript = with_entry(transcript, "TechLead", {"fault": {"status": 500}})
    replay.load_dict(transcript)
    project = project_for(user)

    run = run_to_end(user, project, worker)

    assert run.status == "completed", run.reason
    assert final_files(project) == expected_files(transcript)
    statuses = list(LLMRequest.objects.filter(run_id=run.pk).values_list("status", flat=True))
    assert statuses.count("rate_limited") == 2 and statuses.count("error") == 2
    assert statuses.count("success") == 8
    assert run.llm_calls == 12  # failed attempts count against the budget too
    names = event_names(run)
    assert names[-1] == "GenerationCompleted" and "GenerationFailed" not in names


def test_malformed_answers_are_asked_again(user, worker, pipeline_settings, replay):
    transcript = reference()
    # An answer the sandbox cannot run (a Ruby stack) is sent back with the parse error;
    # an unreadable HTTP body is retried by the gateway like an outage.
    ruby = json.loads(transcript["responses"][2]["text"]) | {"runtime": "ruby"}
    transcript = with_entry(transcript, "Architect", {"text": json.dumps(ruby)})
    transcript = with_entry(transcript, "TechLead", {"fault": {"malformed": True}})
    replay.load_dict(transcript)
    project = project_for(user)

    run = run_to_end(user, project, worker)

    assert run.status == "completed", run.reason
    assert final_files(project) == expected_files(transcript)
    architect = [r for r in replay.requests if r["agent"] == "Architect"]
    assert len(architect) == 2
    assert "does not match the schema" in json.dumps(architect[1]["body"])
    assert "python3" in json.dumps(architect[1]["body"])


def failing_fixes(transcript: dict, count: int) -> dict:
    """Replace BugHunter's answer with ``count`` different fixes that all still fail."""
    fix = json.loads(
        next(e for e in transcript["responses"] if e.get("agent") == "BugHunter")["text"]
    )
    buggy = json.loads(transcript["responses"][5]["text"])["content"]
    wrong = ['text.split("  ")', 'text.split("\\t")', 'text.split(" ") or [1]', 'text.split(",")']
    answers = []
    for attempt in range(count):
        content = buggy.replace('text.split(" ")', wrong[attempt])
        attempt_fix = fix | {"files": [{"path": "wordcount.py", "content": content}]}
        answers.append({"agent": "BugHunter", "text": json.dumps(attempt_fix)})
    responses = [e for e in transcript["responses"] if e.get("agent") != "BugHunter"]
    return {"version": 1, "responses": responses + answers}


def test_a_fourth_failing_fix_is_not_tried_the_run_stops_after_three(
    user, worker, pipeline_settings, replay
):
    transcript = failing_fixes(reference(), 4)
    replay.load_dict(transcript)
    project = project_for(user)

    run = run_to_end(user, project, worker)

    assert run.status == "failed"
    assert run.reason_code == reasons.FIX_ATTEMPTS
    assert run.reason_params == {"command": "python3 -m unittest -v", "attempts": 3}
    assert "3" in run.reason and "python3 -m unittest -v" in run.reason
    assert [r["agent"] for r in replay.requests].count("BugHunter") == 3  # invariant 12
    assert replay.remaining() == 1  # the fourth fix was never asked for
    logs = ExecutionLog.objects.filter(run_id=run.pk)
    assert logs.count() == 4 and not logs.filter(exit_code=0).exists()
    names = event_names(run)
    assert names.count("FixApplied") == 3 and names.count("ErrorDetected") == 4
    assert names[-1] == "GenerationFailed"
    failed = run.events.get(name="GenerationFailed").payload
    assert failed["error"] == reasons.FIX_ATTEMPTS and failed["params"] == run.reason_params


def test_bug_hunter_runs_only_after_a_failed_command(user, worker, pipeline_settings, replay):
    """Invariant 11: every BugHunter request follows an ExecutionLog with exit_code != 0."""
    transcript = reference()
    replay.load_dict(transcript)
    project = project_for(user)

    run = run_to_end(user, project, worker)

    assert run.status == "completed"
    hunter = LLMRequest.objects.get(run_id=run.pk, agent="BugHunter")
    before = ExecutionLog.objects.filter(run_id=run.pk, created_at__lt=hunter.created_at)
    assert [log.exit_code for log in before] == [1]


@pytest.mark.parametrize(
    ("budget", "code"),
    [
        ({"max_run_llm_calls": 3}, reasons.BUDGET_CALLS),
        ({"max_run_cost": "0.01"}, reasons.BUDGET_COST),
    ],
)
def test_a_run_over_its_budget_stops_with_that_reason(
    user, worker, pipeline_settings, replay, budget, code
):
    replay.load_dict(reference())
    project = project_for(user)
    for field, value in budget.items():
        setattr(project, field, value)
    project.save()

    run = run_to_end(user, project, worker)

    assert run.status == "failed" and run.reason_code == code
    assert run.llm_calls == 3  # SpecWriter twice, Architect; the TechLead was never asked
    assert [r["agent"] for r in replay.requests] == ["SpecWriter", "SpecWriter", "Architect"]
    assert event_names(run)[-1] == "GenerationFailed"
    assert run.reason  # a sentence, not only a code


def test_the_same_fix_proposed_twice_stops_the_loop(user, worker, pipeline_settings, replay):
    transcript = failing_fixes(reference(), 1)
    repeated = transcript["responses"][-1]
    transcript["responses"].append(dict(repeated))
    replay.load_dict(transcript)
    project = project_for(user)

    run = run_to_end(user, project, worker)

    assert run.status == "failed" and run.reason_code == reasons.LOOP_CONTENT
    assert [r["agent"] for r in replay.requests].count("BugHunter") == 2


def test_an_answer_cut_off_at_the_token_limit_stops_the_run_saying_so(
    user, worker, pipeline_settings, replay
):
    transcript = reference()
    architect = next(e for e in transcript["responses"] if e.get("agent") == "Architect")
    architect["truncated"] = True  # whole-looking JSON, but the provider says it was cut
    replay.load_dict(transcript)
    project = project_for(user)

    run = run_to_end(user, project, worker)

    assert run.status == "failed" and run.reason_code == reasons.LLM_FAILED
    assert "4096" in run.reason  # the limit named, in the reader's language
    final = state_get(branch=project.branches.get(name="main"))
    assert PipelineState.model_validate(final.data).architecture is None  # not used
    row = LLMRequest.objects.get(run_id=run.pk, agent="Architect")
    assert (row.status, row.error_type) == ("error", "truncated")
