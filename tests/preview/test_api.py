"""The preview API: start, look at and stop a project's preview, and what it refuses.

Nothing runs here: outside a committed transaction the supervisor task is never sent,
so the previews stay "starting", which is what the limits count."""

import pytest

from preview import reasons
from preview.models import Preview
from projects.services import project_create
from tests.preview.apps import TODO_APP, server_step

pytestmark = pytest.mark.django_db


def url(project) -> str:
    return f"/api/v1/projects/{project.pk}/preview"


def todo_project(owner, name: str = "Todo"):
    project = project_create(owner=owner, name=name)
    server_step(project.branches.get(), files={"app.py": TODO_APP},
                run_command="python3 app.py", port=5000)  # fmt: skip
    return project


def test_post_starts_a_preview_of_the_latest_step_get_shows_it_delete_stops_it(english_api, user):
    project = todo_project(user)

    started = english_api.post(url(project), {}, format="json")
    assert started.status_code == 201, started.content
    body = started.json()
    assert body["status"] == "starting"
    assert (body["branch"], body["step"], body["follows_branch"]) == ("main", 1, True)
    assert (body["run_command"], body["port"]) == ("python3 app.py", 5000)
    assert body["url"].startswith(f"http://{Preview.objects.get().pk.hex}.preview.localhost")
    assert "/_samokoder/enter?token=" in body["open_url"]

    shown = english_api.get(url(project))
    assert shown.status_code == 200
    assert (shown.json()["id"], shown.json()["status"]) == (body["id"], "starting")

    stopped = english_api.delete(url(project))
    assert stopped.status_code == 200
    assert (stopped.json()["status"], stopped.json()["reason"]) == ("stopped", reasons.STOPPED)
    assert stopped.json()["reason_text"] == "Stopped at your request."
    assert stopped.json()["open_url"] is None
    assert english_api.get(url(project)).json()["status"] == "stopped"


def test_a_chosen_step_stays_on_it(english_api, user):
    project = todo_project(user)
    server_step(project.branches.get(), files={"app.py": TODO_APP + "\n# two\n"},
                run_command="python3 app.py", port=5001)  # fmt: skip

    body = english_api.post(url(project), {"step": 1}, format="json").json()

    assert (body["step"], body["follows_branch"], body["port"]) == (1, False, 5000)


def test_another_users_project_is_not_found_for_each_method(api_client, user, other_user):
    project = todo_project(user)
    Preview.objects.create(project=project, owner=user, branch=project.branches.get(),
                           state=project.branches.get().states.latest("step_index"))  # fmt: skip
    api_client.force_authenticate(other_user)

    answers = [api_client.post(url(project), {}, format="json"), api_client.get(url(project)),
               api_client.delete(url(project))]  # fmt: skip

    assert [a.status_code for a in answers] == [404, 404, 404]
    assert Preview.objects.get().status == "starting"  # the owner's, untouched


def test_a_step_without_a_run_command_is_a_409_that_says_why(english_api, user):
    project = todo_project(user)

    answer = english_api.post(url(project), {"step": 0}, format="json")

    assert answer.status_code == 409
    assert answer.json()["code"] == reasons.NO_SERVER
    assert "no web app to start" in answer.json()["detail"]
    assert not Preview.objects.exists()


def test_an_unknown_step_or_branch_is_not_found_and_nothing_starts(english_api, user):
    project = todo_project(user)

    assert english_api.post(url(project), {"step": 7}, format="json").status_code == 404
    assert english_api.post(url(project), {"branch": "nope"}, format="json").status_code == 404
    assert not Preview.objects.exists()
    # None started: the project's preview status says so (the owner reaches every route).
    none = english_api.get(url(project))
    assert (none.status_code, none.json()["status"]) == (200, "none")
    assert none.json()["detail"] == "This project has no preview yet."


def test_a_preview_past_the_users_limit_is_a_429_naming_the_running_ones(
    english_api, user, settings
):
    settings.SAMOKODER_PREVIEW_PER_USER = 2
    projects = [todo_project(user, name) for name in ("Alpha", "Beta", "Gamma")]
    for project in projects[:2]:
        assert english_api.post(url(project), {}, format="json").status_code == 201

    refused = english_api.post(url(projects[2]), {}, format="json")

    assert refused.status_code == 429
    assert refused.json()["code"] == "preview_limit"
    assert "“Alpha”" in refused.json()["detail"] and "“Beta”" in refused.json()["detail"]
    assert "Stop one of them first" in refused.json()["detail"]
    assert not Preview.objects.filter(project=projects[2]).exists()
    # Once one of them is stopped, the third may start.
    english_api.delete(url(projects[0]))
    assert english_api.post(url(projects[2]), {}, format="json").status_code == 201


def test_a_second_preview_of_the_same_project_replaces_the_first(english_api, user, settings):
    settings.SAMOKODER_PREVIEW_PER_USER = 1
    project = todo_project(user)
    first = english_api.post(url(project), {}, format="json").json()

    second = english_api.post(url(project), {}, format="json")

    assert second.status_code == 201  # the project's own preview does not count
    assert second.json()["id"] != first["id"]
    replaced = Preview.objects.get(pk=first["id"])
    assert (replaced.status, replaced.reason_code) == ("stopped", reasons.REPLACED)
    assert Preview.objects.filter(project=project, status__in=Preview.ACTIVE).count() == 1
    assert english_api.get(url(project)).json()["id"] == second.json()["id"]
