import pytest
from django.urls import reverse

from projects.models import Project
from projects.services import project_create

pytestmark = pytest.mark.django_db


def test_create_list_read_rename_delete(auth_api_client, user):
    created = auth_api_client.post(
        reverse("api-projects"), {"name": "Todo", "description": "tasks"}, format="json"
    )
    assert created.status_code == 201
    project_id = created.json()["id"]
    assert created.json()["folder_name"] == "todo"

    listed = auth_api_client.get(reverse("api-projects")).json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == project_id

    url = reverse("api-project", args=[project_id])
    renamed = auth_api_client.patch(url, {"name": "Renamed", "folder_name": "hack"}, format="json")
    assert renamed.json()["name"] == "Renamed"
    assert renamed.json()["folder_name"] == "todo"

    assert auth_api_client.delete(url).status_code == 204
    assert auth_api_client.get(url).status_code == 404


def test_list_is_paginated_and_only_mine(auth_api_client, user, other_user):
    for n in range(3):
        project_create(owner=user, name=f"Mine {n}")
    project_create(owner=other_user, name="Theirs")

    body = auth_api_client.get(reverse("api-projects")).json()
    assert body["count"] == 3
    assert {p["name"] for p in body["results"]} == {"Mine 0", "Mine 1", "Mine 2"}


def test_create_bad_input_names_the_field(auth_api_client):
    response = auth_api_client.post(
        reverse("api-projects"), {"name": "   ", "description": "x"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"name"}


@pytest.mark.parametrize("description", [None, "", " \n\t "])
def test_create_without_a_description_is_refused_on_its_field(auth_api_client, description):
    body = {"name": "Blank"} | ({} if description is None else {"description": description})
    response = auth_api_client.post(
        reverse("api-projects"), body, format="json", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 400
    assert response.json() == {
        "description": ["A project needs a description: say what the app should do."]
    }
    assert not Project.objects.exists()


def test_eleventh_project_in_a_day_gets_429_and_failed_forms_do_not_count(auth_api_client):
    for _ in range(3):
        auth_api_client.post(reverse("api-projects"), {"name": ""}, format="json")
    codes = [
        auth_api_client.post(
            reverse("api-projects"), {"name": f"P{n}", "description": "x"}, format="json"
        ).status_code
        for n in range(11)
    ]

    assert codes == [201] * 10 + [429]
    assert Project.objects.count() == 10


def test_states_list_and_detail(auth_api_client, user):
    project = project_create(owner=user, name="States")
    states = auth_api_client.get(reverse("api-states", args=[project.pk])).json()
    assert [s["step_index"] for s in states["results"]] == [0]

    detail = auth_api_client.get(reverse("api-state", args=[project.pk, 0])).json()
    assert detail["data"]["tasks"] == []
    assert auth_api_client.get(reverse("api-state", args=[project.pk, 5])).status_code == 404
    missing_branch = auth_api_client.get(reverse("api-states", args=[project.pk]) + "?branch=x")
    assert missing_branch.status_code == 404
