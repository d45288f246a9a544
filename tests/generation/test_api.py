"""The run API: clear refusals, the one-active-run rule, answers and events."""

import pytest
from django.db import IntegrityError, transaction

from accounts.models import User
from accounts.services import key_store
from generation.models import GenerationRun
from generation.services import run_start
from generation.services.runs import run_finish
from projects.services import project_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(user):
    return project_create(owner=user, name="App", description="A calculator")


@pytest.fixture
def keyed(user, settings):
    settings.LLM_SYSTEM_KEYS = {"openai": "", "anthropic": "", "groq": ""}
    key_store(user=user, provider="anthropic", api_key="sk-ant-test-000000000000")
    return user


def test_a_run_needs_a_key_and_says_where_to_store_one(auth_api_client, project, settings):
    settings.LLM_SYSTEM_KEYS = {"openai": "", "anthropic": "", "groq": ""}
    response = auth_api_client.post(f"/api/v1/projects/{project.pk}/runs", {}, format="json")
    assert response.status_code == 400
    assert "provider" in response.json()
    assert not GenerationRun.objects.exists()


def test_the_users_own_provider_is_used_by_default(auth_api_client, project, keyed):
    response = auth_api_client.post(f"/api/v1/projects/{project.pk}/runs", {}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["provider"] == "anthropic" and body["status"] == "queued"
    assert body["branch"] == "main" and body["iteration"] == 0


def test_a_second_active_run_is_refused(auth_api_client, project, keyed):
    url = f"/api/v1/projects/{project.pk}/runs"
    assert auth_api_client.post(url, {}, format="json").status_code == 201
    second = auth_api_client.post(url, {}, format="json")
    assert second.status_code == 409 and second.json()["code"] == "active"
    assert GenerationRun.objects.count() == 1


def test_a_change_while_another_runs_is_refused_and_starts_nothing(auth_api_client, project, keyed):
    run_finish(run=run_start(project=project, user=keyed, provider="anthropic"), status="completed")
    url = f"/api/v1/projects/{project.pk}/runs"
    assert auth_api_client.post(url, {"change": "Add a flag"}, format="json").status_code == 201
    second = auth_api_client.post(url, {"change": "Count lines"}, format="json")
    assert second.status_code == 409 and second.json()["code"] == "active"
    assert GenerationRun.objects.count() == 2


def test_the_database_itself_holds_one_active_run_per_project(project, user):
    branch = project.branches.get()
    fields = {"project": project, "branch": branch, "user": user, "provider": "openai",
              "max_cost": 1, "max_llm_calls": 1}  # fmt: skip
    GenerationRun.objects.create(status="running", **fields)
    GenerationRun.objects.create(status="completed", **fields)  # finished ones do not count
    with pytest.raises(IntegrityError):
        GenerationRun.objects.create(status="awaiting_input", **fields)


def test_a_project_without_description_cannot_start(auth_api_client, user, keyed):
    empty = project_create(owner=user, name="Empty")
    response = auth_api_client.post(f"/api/v1/projects/{empty.pk}/runs", {}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "no_description"


def test_answers_only_go_to_a_waiting_run(auth_api_client, project, keyed):
    run = run_start(project=project, user=keyed, provider="anthropic")
    url = f"/api/v1/runs/{run.pk}/answer"
    assert auth_api_client.post(url, {"answer": "yes"}, format="json").status_code == 409
    run.status = GenerationRun.Status.AWAITING_INPUT
    run.save()
    blank = auth_api_client.post(url, {"answer": "   "}, format="json")
    assert blank.status_code == 400 and "answer" in blank.json()
    assert GenerationRun.objects.get(pk=run.pk).status == "awaiting_input"


def test_cancelling_a_queued_run_stops_it_at_once(auth_api_client, project, keyed):
    run = run_start(project=project, user=keyed, provider="anthropic")
    response = auth_api_client.post(f"/api/v1/runs/{run.pk}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    events = auth_api_client.get(f"/api/v1/runs/{run.pk}/events").json()
    assert [e["name"] for e in events] == ["GenerationCancelled"]
    # And the project may start again.
    again = auth_api_client.post(f"/api/v1/projects/{project.pk}/runs", {}, format="json")
    assert again.status_code == 201


def test_events_after_a_sequence_number(auth_api_client, project, keyed):
    run = run_start(project=project, user=keyed, provider="anthropic")
    auth_api_client.post(f"/api/v1/runs/{run.pk}/cancel")
    url = f"/api/v1/runs/{run.pk}/events"
    assert len(auth_api_client.get(url, {"after": 0}).json()) == 1
    assert auth_api_client.get(url, {"after": 1}).json() == []
    bad = auth_api_client.get(url, {"after": "x"})
    assert bad.status_code == 400 and "after" in bad.json()


def test_a_stop_reason_reads_in_the_users_language(project, user):
    from django.utils import translation

    run = GenerationRun(project=project, branch=project.branches.get(), user=user,
                        reason_code="fix_attempts",
                        reason_params={"command": "make test", "attempts": 3})  # fmt: skip
    with translation.override("en"):
        assert run.reason.startswith("“make test” still fails after 3 attempts")
    with translation.override("ru"):
        assert "make test" in run.reason and "still fails" not in run.reason


def test_a_change_while_the_last_one_is_unfinished_is_refused(auth_api_client, project, keyed):
    run = run_start(project=project, user=keyed, provider="anthropic")
    auth_api_client.post(f"/api/v1/runs/{run.pk}/cancel")
    url = f"/api/v1/projects/{project.pk}/runs"
    response = auth_api_client.post(url, {"change": "Add dark mode"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "unfinished"
    assert auth_api_client.post(url, {}, format="json").status_code == 201  # resume is fine


def test_a_non_ascii_digit_is_not_a_sequence_number(auth_api_client, project, keyed):
    run = run_start(project=project, user=keyed, provider="anthropic")
    response = auth_api_client.get(f"/api/v1/runs/{run.pk}/events", {"after": "²"})
    assert response.status_code == 400


def test_stop_pressed_while_a_question_is_being_asked_stops_the_run(project, keyed):
    from generation.schemas import PipelineState
    from generation.services.lease import run_claim, run_heartbeat
    from generation.services.steps import StepChange, step_commit

    run_start(project=project, user=keyed, provider="anthropic")
    claim = run_claim(project_id=str(project.pk), user_id=keyed.pk)
    assert claim is not None
    run, lease = claim.run, claim.lease
    run_cancel_api = GenerationRun.objects.filter(pk=run.pk)
    run_cancel_api.update(cancel_requested=True)  # as POST …/cancel does for a live run
    assert run_heartbeat(run_id=run.pk, lease=lease) is True
    data = PipelineState(questions=["Which database?"])
    change = StepChange(data=data, status="awaiting_input", question="Which database?")

    step_commit(run=run, lease=lease, change=change)

    run.refresh_from_db()
    assert run.status == "cancelled" and run.question == ""
    names = list(run.events.order_by("seq").values_list("name", flat=True))
    assert names[-3:] == ["GenerationStepCompleted", "ProjectStateUpdated", "GenerationCancelled"]


def test_queued_runs_whose_message_was_lost_are_picked_up_again(project, keyed, settings):
    from datetime import timedelta

    from django.utils import timezone

    from generation.services.lease import runs_stale

    run = run_start(project=project, user=keyed, provider="anthropic")
    assert runs_stale() == []
    old = timezone.now() - timedelta(seconds=settings.SAMOKODER_RUN_STALE_SECONDS + 5)
    GenerationRun.objects.filter(pk=run.pk).update(created_at=old)
    assert [r.pk for r in runs_stale()] == [run.pk]


def test_one_answer_goes_with_all_the_questions_it_answers():
    from generation.schemas import PipelineState

    data = PipelineState(questions=["Which database?", "Which port?"])
    data.answer_record("SQLite on 8000")
    assert data.asked == ["Which database?\nWhich port?"] and data.answers == ["SQLite on 8000"]
    assert data.questions == []


def test_the_key_check_never_decrypts_a_key(auth_api_client, project, keyed):
    from unittest import mock

    from accounts.models import ProviderKey

    with mock.patch.object(ProviderKey, "reveal", autospec=True) as reveal:
        response = auth_api_client.post(f"/api/v1/projects/{project.pk}/runs", {}, format="json")
    assert response.status_code == 201, response.content
    reveal.assert_not_called()


def _integrity_error(create) -> IntegrityError:
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        create()
    return caught.value


def test_only_the_one_active_run_constraint_means_a_run_in_progress(project, keyed):
    from generation.services.runs import ONE_ACTIVE_RUN, _is_violation_of

    run = run_start(project=project, user=keyed, provider="anthropic")
    second_run = _integrity_error(
        lambda: GenerationRun.objects.create(
            project=project,
            branch=run.branch,
            user=keyed,
            provider="anthropic",
            max_cost=1,
            max_llm_calls=1,
        )
    )
    same_email = _integrity_error(
        lambda: User.objects.create_user(email=keyed.email, password="another-password")
    )
    assert _is_violation_of(second_run, ONE_ACTIVE_RUN)
    assert not _is_violation_of(same_email, ONE_ACTIVE_RUN)


def test_another_integrity_error_on_start_is_not_reported_as_a_run_in_progress(project, keyed):
    from unittest import mock

    other = _integrity_error(
        lambda: User.objects.create_user(email=keyed.email, password="another-password")
    )
    commit = "generation.services.runs.state_data_commit"
    with mock.patch(commit, autospec=True, side_effect=other), pytest.raises(IntegrityError):
        run_start(project=project, user=keyed, provider="anthropic")
    assert not GenerationRun.objects.exists()
