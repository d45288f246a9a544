import io
import zipfile

import pytest
from django.urls import reverse

from projects.services import project_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(user):
    return project_create(owner=user, name="Shop")


def _put(client, project, path, content, branch=None):
    url = reverse("api-file", args=[project.pk, path]) + (f"?branch={branch}" if branch else "")
    return client.put(url, {"content": content}, format="json")


def test_edit_twice_then_read_each_step_history_and_diff(auth_api_client, project):
    first = _put(auth_api_client, project, "src/app.py", "print('a')\n")
    second = _put(auth_api_client, project, "src/app.py", "print('b')\n")
    assert (first.status_code, second.status_code) == (200, 200)
    assert (first.json()["step_index"], second.json()["step_index"]) == (1, 2)

    url = reverse("api-file", args=[project.pk, "src/app.py"])
    assert auth_api_client.get(url + "?step=1").json()["content"] == "print('a')\n"
    assert auth_api_client.get(url).json()["content"] == "print('b')\n"

    history = auth_api_client.get(reverse("api-file-history", args=[project.pk, "src/app.py"]))
    assert [v["step_index"] for v in history.json()] == [1, 2]

    diff = auth_api_client.get(
        reverse("api-file-diff", args=[project.pk, "src/app.py"]) + "?from=1&to=2"
    ).json()
    assert "-print('a')" in diff["diff"] and "+print('b')" in diff["diff"]


def test_tree_at_a_step(auth_api_client, project):
    _put(auth_api_client, project, "b.txt", "bb")
    _put(auth_api_client, project, "a.txt", "a")

    at_1 = auth_api_client.get(reverse("api-files", args=[project.pk]) + "?step=1").json()
    latest = auth_api_client.get(reverse("api-files", args=[project.pk])).json()
    assert [f["path"] for f in at_1] == ["b.txt"]
    assert [(f["path"], f["size"]) for f in latest] == [("a.txt", 1), ("b.txt", 2)]


@pytest.mark.parametrize(
    ("path", "content"),
    [("../x", "x"), ("a/./b", "x"), (".git/config", "x"), ("ok.txt", "bin\x00ary")],
)
def test_hostile_or_binary_writes_are_400_and_write_nothing(
    auth_api_client, project, path, content
):
    response = _put(auth_api_client, project, path, content)
    assert response.status_code == 400, response.content
    states = auth_api_client.get(reverse("api-states", args=[project.pk])).json()
    assert states["count"] == 1


def test_oversize_file_is_a_clear_400(auth_api_client, project, settings):
    settings.SAMOKODER_MAX_FILE_BYTES = 5
    response = _put(auth_api_client, project, "big.txt", "123456")
    assert response.status_code == 400
    assert "5" in response.json()["content"][0]


def test_delete_file_and_missing_file_is_404(auth_api_client, project):
    _put(auth_api_client, project, "gone.txt", "x")
    url = reverse("api-file", args=[project.pk, "gone.txt"])

    assert auth_api_client.delete(url).status_code == 204
    assert auth_api_client.get(url).status_code == 404
    assert auth_api_client.get(url + "?step=1").status_code == 200
    assert auth_api_client.delete(url).status_code == 404


@pytest.mark.parametrize("step", ["-1", "1.0", "²", "\u0661", "1e3", " 1"])
def test_bad_step_is_400(auth_api_client, project, step):
    """Only ASCII digits: `"²".isdigit()` is true but `int("²")` raises."""
    response = auth_api_client.get(reverse("api-files", args=[project.pk]), {"step": step})
    assert response.status_code == 400
    assert "step" in response.json()


def test_download_is_a_zip_of_that_step(auth_api_client, project):
    _put(auth_api_client, project, "README.md", "# Shop\n")
    _put(auth_api_client, project, "src/тест.py", "x = 1\n")

    response = auth_api_client.get(reverse("api-download", args=[project.pk]) + "?step=2")
    assert response["Content-Type"] == "application/zip"
    assert "shop-main-step2.zip" in response["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.testzip() is None
    assert {n: archive.read(n).decode() for n in archive.namelist()} == {
        "shop/README.md": "# Shop\n",
        "shop/src/тест.py": "x = 1\n",
    }
    first = auth_api_client.get(reverse("api-download", args=[project.pk]) + "?step=1")
    names = zipfile.ZipFile(io.BytesIO(b"".join(first.streaming_content))).namelist()
    assert names == ["shop/README.md"]


def test_branch_from_a_step_and_edit_it(auth_api_client, project):
    _put(auth_api_client, project, "a.txt", "main 1")
    _put(auth_api_client, project, "a.txt", "main 2")

    created = auth_api_client.post(
        reverse("api-branches", args=[project.pk]),
        {"name": "experiment", "step": 1},
        format="json",
    )
    assert created.status_code == 201
    assert created.json()["parent"] == "main"
    _put(auth_api_client, project, "a.txt", "fork 2", branch="experiment")

    url = reverse("api-file", args=[project.pk, "a.txt"])
    assert auth_api_client.get(url + "?branch=experiment").json()["content"] == "fork 2"
    assert auth_api_client.get(url).json()["content"] == "main 2"
    names = [
        b["name"] for b in auth_api_client.get(reverse("api-branches", args=[project.pk])).json()
    ]
    assert names == ["main", "experiment"]

    bad = auth_api_client.post(
        reverse("api-branches", args=[project.pk]), {"name": "late", "step": 99}, format="json"
    )
    assert bad.status_code == 400 and set(bad.json()) == {"step"}


def test_options_on_a_file_describes_it_instead_of_failing(auth_api_client, project):
    # Found by the schema fuzzing run: DRF's OPTIONS metadata calls get_object().
    _put(auth_api_client, project, "a.txt", "x")
    response = auth_api_client.options(reverse("api-file", args=[project.pk, "a.txt"]))
    assert response.status_code == 200


@pytest.mark.parametrize(
    "url_name, args, query",
    [
        ("api-states", [], "?branch=%00"),
        ("api-files", [], "?branch=ma%00in"),
        ("api-file-history", ["a%00b.txt"], ""),
    ],
)
def test_nul_in_a_branch_or_path_is_404_not_a_database_error(
    auth_api_client, project, url_name, args, query
):
    # Found by the schema fuzzing run: PostgreSQL refuses NUL in text parameters.
    url = reverse(url_name, args=[project.pk, *args]).replace("%2500", "%00") + query
    assert auth_api_client.get(url).status_code == 404
