"""The queries of the API's most frequent requests (issue 18: the project list, a file's
content, a run's status), one by one: a change that adds one fails here and says which.

Each request is made as a client makes it, with a JWT, so the token's user read counts.
"""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from files.services import files_commit
from generation.models import GenerationRun
from projects.services import project_create
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

FROM = re.compile(r'\bFROM "(\w+)"')


@pytest.fixture
def client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


@pytest.fixture
def project(user):
    project = project_create(owner=user, name="Shop", description="A shop")
    branch = project.branches.get()
    files_commit(branch=branch, changes={"a.py": "A = 1\n", "b.py": "B = 1\n"})
    files_commit(branch=branch, changes={"a.py": "A = 2\n"})
    return project


def tables_read(client: APIClient, url: str) -> list[str]:
    """The table each query of a GET of ``url`` reads first, in order, after one GET
    that warms this process's caches as a running server has them (a state's manifest:
    its first read costs two more queries, files.selectors.state_replay)."""
    assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return [FROM.search(q["sql"])[1] for q in queries.captured_queries]  # type: ignore[index]


def assert_queries(actual: list[str], expected: list[tuple[str, str]]) -> None:
    wanted = [table for table, _purpose in expected]
    reasons = "\n".join(f"  {table}: {purpose}" for table, purpose in expected)
    assert actual == wanted, f"queries read {actual}; expected only:\n{reasons}"


USER = ("accounts_user", "the token's user (simplejwt's checks: active, password unchanged)")


def test_project_list_reads_the_user_then_the_page_and_no_count(client, user, project):
    for n in range(3):
        project_create(owner=user, name=f"More {n}")
    project_create(owner=UserFactory(), name="Someone else's")

    actual = tables_read(client, reverse("api-projects"))

    assert_queries(actual, [USER, ("projects_project", "the page; short, so also its count")])
    assert client.get(reverse("api-projects")).json()["count"] == 4


def test_file_read_reads_the_user_the_state_then_the_content(client, project):
    url = reverse("api-file", args=[project.pk, "a.py"])

    actual = tables_read(client, url)

    assert_queries(actual, [
        USER,
        ("projects_projectstate", "the latest step of the user's project's main branch, "
                                  "one join for project, owner and branch"),
        ("files_filecontent", "the file's content"),
    ])  # fmt: skip
    assert client.get(url).json()["content"] == "A = 2\n"


def test_run_status_reads_the_user_then_the_run_and_its_branch(client, user, project):
    run = GenerationRun.objects.create(
        project=project, branch=project.branches.get(), user=user, provider="openai",
        status="completed", max_cost=1, max_llm_calls=10, finished_at=timezone.now(),
    )  # fmt: skip

    actual = tables_read(client, reverse("api-run", args=[run.pk]))

    assert_queries(actual, [USER, ("generation_generationrun", "the user's run, with its branch")])
