"""Invariant 5: no endpoint lets one user reach another user's project.

The routes come from the URLconf itself, so an endpoint added later is covered without
editing this test; a route with a parameter this test cannot fill fails it instead.
"""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from files.services import file_save
from generation.models import GenerationRun
from projects.models import Project, ProjectEvent, ProjectState
from projects.services import project_create

pytestmark = pytest.mark.django_db

METHODS = ["get", "post", "put", "patch", "delete"]
PARAMETER = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")
# Runs (run_id) belong to a project, so they are checked here too.
# A user's own key, addressed by provider, never by id; a password reset link (a user id
# with a token signed for that user's current password).
NOT_PROJECT_SCOPED = {"provider", "uidb64", "token"}


def _routes(patterns=None, prefix: str = ""):
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _routes(entry.url_patterns, route)
        elif isinstance(entry, URLPattern) and PARAMETER.search(route):
            yield route


def _project_routes() -> list[str]:
    routes = [r for r in _routes() if not r.startswith(("admin/", "^static", "static/"))]
    return [r for r in routes if {m["name"] for m in PARAMETER.finditer(r)} - NOT_PROJECT_SCOPED]


def _fill(route: str, values: dict[str, str]) -> str:
    def value(match: re.Match) -> str:
        if match["name"] not in values:
            pytest.fail(f"route {route!r} has a parameter the tenancy test cannot fill")
        return values[match["name"]]

    return "/" + PARAMETER.sub(value, route).lstrip("^").rstrip("$")


@pytest.fixture
def victim_project(other_user):
    project = project_create(owner=other_user, name="Private", description="Secret app")
    branch = project.branches.get()
    file_save(branch=branch, path="secret.txt", text="top secret")
    # A run that waits for its owner's answer: an answer or a cancel from anyone else
    # would change it, so the snapshot below would see it.
    GenerationRun.objects.create(
        project=project, branch=branch, user=other_user, provider="openai",
        status=GenerationRun.Status.AWAITING_INPUT, question="top secret?",
        max_cost=1, max_llm_calls=10,
    )  # fmt: skip
    return project


def _values(project: Project) -> dict[str, str]:
    run = project.runs.get()
    return {"project_id": str(project.pk), "run_id": str(run.pk), "step": "1",
            "path": "secret.txt"}  # fmt: skip


def _snapshot(project: Project) -> tuple:
    return (
        Project.objects.filter(pk=project.pk).values_list("name", flat=True).first(),
        ProjectState.objects.filter(branch__project=project).count(),
        project.branches.count(),
        ProjectEvent.objects.filter(project=project).count(),
        list(project.runs.values_list("status", "question", "cancel_requested", "last_seq")),
        project.runs.count(),
    )


def test_the_url_conf_has_project_routes_to_check():
    assert len(_project_routes()) >= 14


@pytest.mark.parametrize("method", METHODS)
def test_every_project_route_is_404_for_another_users_project(user, victim_project, method):
    client = APIClient()
    client.force_login(user)
    values = _values(victim_project)
    before = _snapshot(victim_project)

    for route in _project_routes():
        url = _fill(route, values)
        body = {"name": "stolen", "content": "overwritten", "step": 0, "answer": "stolen"}
        response = getattr(client, method)(url, body, format="json")
        # 405 says only that the route never takes this method, for anyone.
        assert response.status_code in {404, 405}, f"{method.upper()} {url}: {response.status_code}"
        assert b"top secret" not in b"".join(getattr(response, "streaming_content", [])) + (
            response.content if not response.streaming else b""
        )

    assert _snapshot(victim_project) == before


def test_every_project_route_reaches_the_ownership_check(user, victim_project):
    """Each route answers 404 to some method, so none of them only ever says 405."""
    client = APIClient()
    client.force_login(user)
    values = _values(victim_project)

    for route in _project_routes():
        url = _fill(route, values)
        codes = {getattr(client, m)(url, {}, format="json").status_code for m in METHODS}
        assert 404 in codes, f"{url}: {codes}"


def test_the_owner_reaches_the_same_routes(other_user, victim_project):
    """The checks above are only meaningful if those URLs work for the owner."""
    client = APIClient()
    client.force_login(other_user)
    values = _values(victim_project)

    for route in _project_routes():
        url = _fill(route, values) + ("?from=0" if route.endswith("diff") else "")
        response = client.get(url)
        # A form's address (the branch form) sends a GET on to its project's page.
        within = response.get("Location", "").startswith(f"/projects/{victim_project.pk}/")
        assert response.status_code in {200, 405} or (response.status_code == 302 and within), url
