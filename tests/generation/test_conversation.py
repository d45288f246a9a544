"""The conversation on the project page, rendered by the server from the event log: what
each run said and did, in words, with the answers and change requests people gave."""

from decimal import Decimal

import pytest

from accounts.services import key_store
from execution.models import ExecutionLog
from files.services import files_commit
from generation.conversation import project_conversation
from generation.models import GenerationRun, PipelineEvent
from generation.services import run_start
from llm.models import LLMRequest
from projects.services import project_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(user, settings):
    settings.LLM_SYSTEM_KEYS = {"openai": "", "anthropic": "", "groq": ""}
    key_store(user=user, provider="openai", api_key="sk-test-0000000000000000")
    return project_create(owner=user, name="App", description="A calculator")


def _events(run: GenerationRun, *events: tuple[str, dict]) -> None:
    for seq, (name, payload) in enumerate(events, start=1):
        PipelineEvent.objects.create(
            run=run, project=run.project, seq=seq, name=name, payload=payload
        )


def _request(run: GenerationRun, agent: str, cost: str) -> None:
    LLMRequest.objects.create(
        user=run.user, project=run.project, run_id=run.pk, agent=agent, provider="openai",
        model="gpt-4.1", key_source="user", status="success", cost=Decimal(cost),
    )  # fmt: skip


def _panel(client, project) -> str:
    response = client.get(f"/projects/{project.pk}/generation/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    return response.content.decode()


def test_the_answer_given_is_shown_beside_the_question(client, user, project):
    run = run_start(project=project, user=user, provider="openai")
    _events(
        run,
        ("QuestionAsked", {"question": "Read standard input?"}),
        ("GenerationStepCompleted", {"agent": "SpecWriter", "step_index": 1}),
        ("QuestionAnswered", {"answer": "No, a file path is required."}),
    )
    client.force_login(user)
    body = _panel(client, project)
    assert "Read standard input?" in body
    assert "No, a file path is required." in body  # not just "You answered"


def test_each_step_says_its_agent_its_cost_and_a_command_its_ending_in_words(user, project):
    run = run_start(project=project, user=user, provider="openai")
    log = ExecutionLog.objects.create(
        project=project, run_id=run.pk, command="python3 -m unittest", stdout="FAILED",
        exit_code=1,
    )  # fmt: skip
    _request(run, "Architect", "0.0100")
    _events(
        run,
        ("GenerationStarted", {"iteration": 0}),
        ("ArchitectureDesigned", {"architecture": {"summary": "One module", "files": []}}),
        ("GenerationStepCompleted", {"agent": "Architect", "step_index": 1}),
        ("PipelineCommandExecuted", {"command": "python3 -m unittest", "exit_code": 1,
                             "timed_out": False, "log_id": str(log.pk), "output": "FAILED"}),
        ("GenerationStepCompleted", {"agent": "Executor", "step_index": 2}),
    )  # fmt: skip
    [thread] = project_conversation(project=project)
    started, architecture, command = thread.messages
    assert (started.agent, started.cost) == ("", None)  # the platform said it
    assert (architecture.agent, architecture.cost) == ("Architect", Decimal("0.0100"))
    assert (command.agent, command.log, command.outcome) == (
        "Executor",
        log,
        "Failed (exit code 1)",
    )
    assert thread.commands == [(log, "Failed (exit code 1)")]


def test_a_change_request_opens_its_run_with_its_text(client, user, project):
    first = run_start(project=project, user=user, provider="openai")
    first.finish(GenerationRun.Status.COMPLETED)
    first.save()
    branch = project.branches.get(name="main")
    data = branch.states.order_by("-step_index").first().data
    data["iterations"][0]["status"] = "completed"
    files_commit(branch=branch, changes={}, data=data)
    run_start(project=project, user=user, provider="openai", change="Add dark mode")
    client.force_login(user)
    body = _panel(client, project)
    assert body.count('class="run-thread') == 2
    assert "You asked for a change" in body and "Add dark mode" in body


def test_a_failed_run_explains_resume_and_start_again(client, user, project):
    run = run_start(project=project, user=user, provider="openai")
    run.finish(GenerationRun.Status.FAILED, code="internal")
    run.save()
    client.force_login(user)
    body = _panel(client, project)
    assert 'id="run-resume"' in body and 'id="run-start"' in body
    assert "Resume uses the same provider and model; Start again lets you choose them." in body


def test_the_model_is_a_choice_with_the_default_marked_and_others_refused(
    client, user, project, settings
):
    client.force_login(user)
    body = _panel(client, project)
    default = settings.LLM_DEFAULT_MODELS["openai"]
    assert '<select name="model"' in body and f"{default} (default)" in body
    response = client.post(
        f"/projects/{project.pk}/generation/start/",
        {"provider": "openai", "model": "no-such-model"}, HTTP_HX_REQUEST="true",
    )  # fmt: skip
    assert not GenerationRun.objects.exists()
    assert "no-such-model" in response.content.decode() and 'class="field invalid"' in (
        response.content.decode()
    )


def test_a_long_history_shows_its_last_runs_and_the_rest_on_request(client, user, project):
    from generation.conversation import RECENT_RUNS

    total = RECENT_RUNS + 2
    for number in range(1, total + 1):
        run = GenerationRun.objects.create(
            project=project, branch=project.branches.get(), user=user, provider="openai",
            status=GenerationRun.Status.COMPLETED, max_cost=1, max_llm_calls=10,
        )  # fmt: skip
        _request(run, f"Agent{number}", "0.01")
    client.force_login(user)

    body = _panel(client, project)
    assert 'aria-label="Run 3"' in body and f'aria-label="Run {total}"' in body
    assert 'aria-label="Run 1"' not in body and 'aria-label="Run 2"' not in body
    assert "Show the 2 earlier runs" in body
    everything = client.get(f"/projects/{project.pk}/generation/?runs=all",
                            HTTP_ACCEPT_LANGUAGE="en").content.decode()  # fmt: skip
    assert 'aria-label="Run 1"' in everything and "Show the 2 earlier runs" not in everything
    assert "runs=all" in everything.split('data-panel-url="', 1)[1].split('"', 1)[0]


def test_a_detected_error_names_the_fix_attempt_that_follows_counting_from_one(
    client, user, project
):
    run = run_start(project=project, user=user, provider="openai")
    _events(
        run,
        ("ErrorDetected", {"command": "pip install -r requirements.txt", "error": "no flaskk",
                           "attempt": 0}),
        ("FixApplied", {"command": "pip install -r requirements.txt",
                        "files": ["requirements.txt"], "attempt": 1}),
    )  # fmt: skip
    client.force_login(user)
    body = _panel(client, project)
    assert "fix attempt 1 follows" in body and "fix attempt 0" not in body
