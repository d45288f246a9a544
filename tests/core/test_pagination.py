"""The API's lists count without COUNT(*) only when the first page holds them all."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.pagination import PageNumbers
from projects.services import project_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def page_size(monkeypatch):
    # DRF reads PAGE_SIZE once, into the class, when it is imported.
    monkeypatch.setattr(PageNumbers, "page_size", 3)
    return 3


def _projects(user, n: int) -> None:
    for i in range(n):
        project_create(owner=user, name=f"Project {i}")


def _get(client, query: str = "") -> tuple[dict, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("api-projects") + query)
    assert response.status_code == 200
    return response.json(), [q["sql"] for q in queries.captured_queries]


def test_a_short_first_page_is_its_own_count(auth_api_client, user, page_size):
    _projects(user, page_size - 1)

    body, queries = _get(auth_api_client)

    assert (body["count"], body["next"], len(body["results"])) == (2, None, 2)
    assert not [sql for sql in queries if "COUNT(" in sql]


def test_an_empty_list_counts_none(auth_api_client, page_size):
    body, queries = _get(auth_api_client)

    assert (body["count"], body["results"]) == (0, [])
    assert not [sql for sql in queries if "COUNT(" in sql]


@pytest.mark.parametrize("extra", [0, 1, 4])
def test_a_full_first_page_asks_the_database_for_the_count(auth_api_client, user, page_size, extra):
    _projects(user, page_size + extra)

    body, queries = _get(auth_api_client)

    assert (body["count"], len(body["results"])) == (page_size + extra, page_size)
    assert (body["next"] is not None) == (extra > 0)
    assert [sql for sql in queries if "COUNT(" in sql]


def test_later_pages_count_as_before(auth_api_client, user, page_size):
    _projects(user, page_size + 1)

    body, _queries = _get(auth_api_client, "?page=2")

    assert (body["count"], len(body["results"]), body["next"]) == (4, 1, None)
    assert body["previous"] is not None
    assert auth_api_client.get(reverse("api-projects") + "?page=3").status_code == 404
