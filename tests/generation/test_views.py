"""The generation panel as each kind of user meets it (server-rendered, no browser)."""

import html

import pytest

from accounts.services import key_store
from execution.models import ExecutionLog
from generation import reasons
from generation.models import GenerationRun
from generation.services import run_start
from generation.services.runs import run_finish
from llm import errors
from projects.services import project_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(user):
    return project_create(owner=user, name="App", description="A calculator")


@pytest.fixture
def no_system_keys(settings):
    settings.LLM_SYSTEM_KEYS = {"openai": "", "anthropic": "", "groq": ""}


def panel(client, project):
    return client.get(f"/projects/{project.pk}/generation/", HTTP_ACCEPT_LANGUAGE="en")


def test_without_a_key_the_panel_says_what_to_do(client, user, project, no_system_keys):
    client.force_login(user)
    body = panel(client, project).content.decode()
    assert 'id="no-key"' in body and "/settings/" in body
    assert 'id="run-start"' not in body


def test_with_a_key_the_panel_offers_to_start(client, user, project, no_system_keys):
    key_store(user=user, provider="groq", api_key="gsk-test-000000000000")
    client.force_login(user)
    body = panel(client, project).content.decode()
    assert 'id="run-start"' in body and "Groq" in body


def test_starting_from_the_page_queues_a_run(client, user, project, no_system_keys):
    key_store(user=user, provider="groq", api_key="gsk-test-000000000000")
    client.force_login(user)
    response = client.post(f"/projects/{project.pk}/generation/start/", {"provider": "groq"})
    assert response.status_code == 302
    run = GenerationRun.objects.get()
    assert (run.provider, run.status) == ("groq", "queued")


def test_a_waiting_run_shows_its_question_and_takes_the_answer(
    client, user, project, no_system_keys
):
    key_store(user=user, provider="groq", api_key="gsk-test-000000000000")
    run = run_start(project=project, user=user, provider="groq")
    GenerationRun.objects.filter(pk=run.pk).update(status="awaiting_input", question="Stdin?")
    client.force_login(user)
    body = panel(client, project).content.decode()
    assert 'id="run-question"' in body and "Stdin?" in body
    answered = client.post(
        f"/projects/{project.pk}/runs/{run.pk}/answer/", {"answer": "No"}, HTTP_HX_REQUEST="true"
    )
    assert answered.status_code == 200
    assert GenerationRun.objects.get(pk=run.pk).status == "queued"


def test_a_failed_run_says_why_and_offers_to_resume(client, user, project, no_system_keys):
    key_store(user=user, provider="groq", api_key="gsk-test-000000000000")
    run = run_start(project=project, user=user, provider="groq")
    GenerationRun.objects.filter(pk=run.pk).update(
        status="failed", reason_code="budget_calls", reason_params={"limit": 200}
    )
    client.force_login(user)
    body = panel(client, project).content.decode()
    assert 'id="run-reason"' in body and "200 LLM calls" in body
    assert 'id="run-resume"' in body


def test_another_users_panel_and_actions_are_404(client, other_user, project):
    client.force_login(other_user)
    assert panel(client, project).status_code == 404
    assert client.post(f"/projects/{project.pk}/generation/start/").status_code == 404


def test_a_change_asked_after_the_key_was_revoked_says_where_to_store_one(
    client, user, project, no_system_keys
):
    from accounts.services import key_revoke
    from generation.services.runs import run_finish

    key_store(user=user, provider="groq", api_key="gsk-test-000000000000")
    run_finish(run=run_start(project=project, user=user, provider="groq"), status="completed")
    key_revoke(user=user, provider="groq")
    client.force_login(user)

    response = client.post(
        f"/projects/{project.pk}/generation/start/", {"change": "Add a --json flag"},
        HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="en",
    )  # fmt: skip

    assert response.status_code == 200
    assert "Store an API key for groq under Settings" in response.content.decode()
    assert GenerationRun.objects.count() == 1  # the change was not queued


def test_a_change_sent_while_another_tabs_change_runs_is_refused_with_its_text_kept(
    client, user, project, no_system_keys
):
    key_store(user=user, provider="groq", api_key="gsk-test-000000000000")
    run_finish(run=run_start(project=project, user=user, provider="groq"), status="completed")
    client.force_login(user)
    url = f"/projects/{project.pk}/generation/start/"
    htmx = {"HTTP_HX_REQUEST": "true", "HTTP_ACCEPT_LANGUAGE": "en"}
    first = client.post(url, {"change": "Add a --json flag"}, **htmx)
    assert first.status_code == 200

    second = client.post(url, {"change": "Count lines too"}, **htmx)

    body = html.unescape(second.content.decode())
    assert "Another run of this project is already going, so your change was not" in body
    assert 'id="run-change"' in body and "Count lines too</textarea>" in body
    changes = [run.iteration for run in GenerationRun.objects.order_by("created_at")]
    assert changes == [0, 1]  # the first change runs; the second made no run


@pytest.mark.parametrize(
    ("language", "reason", "status", "foreign"),
    [("en", "The language model could not answer: OpenAI sent an answer that could not be "
      "read.", "Failed at Specification", "не удалось"),
     ("ru", "Языковая модель не смогла ответить: OpenAI прислал ответ, который не удалось "
      "прочитать.", "Ошибка на этапе «Спецификация»", "could not")],
)  # fmt: skip
def test_a_stop_reason_and_the_timeline_read_in_the_readers_language(
    client, user, project, no_system_keys, language, reason, status, foreign
):
    key_store(user=user, provider="openai", api_key="sk-test-0000000000000000")
    old = run_start(project=project, user=user, provider="openai")
    # A run logged before the codes were kept: its sentence shows as it was written.
    run_finish(run=old, status="failed", code="")
    old.events.filter(name="GenerationFailed").update(
        payload={"error": "", "reason": "Старая причина, как её записали."}
    )
    run = run_start(project=project, user=user, provider="openai")
    user.language = "ru" if language == "en" else "en"  # the worker's language is no guide
    user.save(update_fields=["language"])
    error = errors.MalformedResponse(params={"provider": "OpenAI"})
    run_finish(run=run, status="failed", code=reasons.LLM_FAILED,
               params={"error": error.code, **error.params})  # fmt: skip
    client.force_login(user)
    client.cookies["django_language"] = language

    body = html.unescape(panel(client, project).content.decode())

    assert body.count(reason) == 2  # the stop reason and the timeline's last entry
    assert status in body
    assert foreign not in body
    # The older run's sentence, in the conversation as it was written.
    assert "Старая причина, как её записали." in body


def test_a_run_without_commands_says_earlier_runs_output_is_in_the_conversation(
    client, user, project, no_system_keys
):
    key_store(user=user, provider="openai", api_key="sk-test-0000000000000000")
    client.force_login(user)
    first = run_start(project=project, user=user, provider="openai")
    run_finish(run=first, status="failed", code="")
    assert "No command has run yet." in panel(client, project).content.decode()
    ExecutionLog.objects.create(project=project, run_id=first.pk, command="npm test", exit_code=0)
    resumed = run_start(project=project, user=user, provider="openai")
    run_finish(run=resumed, status="cancelled", code="")  # stopped before any command

    body = html.unescape(panel(client, project).content.decode())

    assert "No command has run yet." not in body
    assert "This run has run no command yet." in body
    assert "in those runs' messages in the conversation" in body
