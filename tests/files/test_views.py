import html

import pytest
from django.urls import reverse

from files import services
from projects.models import Project
from projects.services import project_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(user, client):
    client.force_login(user)
    return project_create(owner=user, name="Pages")


def test_dashboard_creates_a_project_and_opens_it(client, user):
    client.force_login(user)
    response = client.post(reverse("projects:create"), {"name": "From page", "description": "x"})

    project = Project.objects.get(owner=user)
    assert response["Location"] == reverse("files:project", args=[project.pk])
    assert "From page" in client.get(reverse("projects:dashboard")).content.decode()


def test_dashboard_bad_project_keeps_the_input_and_names_the_field(client, user):
    client.force_login(user)
    response = client.post(reverse("projects:create"), {"name": " ", "description": "kept text"})

    assert response.status_code == 400
    assert "name" in response.context["form"].errors
    assert "kept text" in response.content.decode()


def test_a_blank_description_is_refused_on_its_field_and_the_name_kept(client, user):
    client.force_login(user)
    response = client.post(
        reverse("projects:create"), {"name": "Blank", "description": " \n\t "},
        HTTP_ACCEPT_LANGUAGE="en",
    )  # fmt: skip

    assert response.status_code == 400
    assert response.context["form"].errors["description"] == [
        "A project needs a description: say what the app should do."
    ]
    assert 'value="Blank"' in response.content.decode()
    assert not Project.objects.exists()


def test_eleventh_project_from_the_page_gets_a_429_page(client, user):
    client.force_login(user)
    for n in range(10):
        client.post(reverse("projects:create"), {"name": f"P{n}", "description": "x"})
    response = client.post(reverse("projects:create"), {"name": "one too many", "description": "x"})

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert Project.objects.filter(owner=user).count() == 10


def test_delete_asks_then_deletes(client, project):
    url = reverse("projects:delete", args=[project.pk])
    assert "Pages" in client.get(url).content.decode()
    assert Project.objects.filter(pk=project.pk).exists()

    client.post(url)
    assert not Project.objects.filter(pk=project.pk).exists()


def test_new_file_edit_and_diff_pages(client, project):
    client.post(
        reverse("files:project", args=[project.pk]), {"path": "app.py", "content": "a = 1\n"}
    )
    file_url = reverse("files:file", args=[project.pk, "app.py"])
    client.post(file_url, {"content": "a = 2\n"})

    page = client.get(file_url).content.decode()
    assert 'class="highlight"' in page
    diff = client.get(reverse("files:diff", args=[project.pk, "app.py"]) + "?from=1&to=2")
    text = diff.content.decode()
    assert "a = 1" in text and "a = 2" in text
    assert client.get(file_url + "?step=1").context["content"].text == "a = 1\n"


def test_new_file_with_a_hostile_path_is_a_form_error(client, project):
    response = client.post(
        reverse("files:project", args=[project.pk]), {"path": "../evil", "content": "x"}
    )
    assert response.status_code == 400
    assert response.context["new_form"].errors
    assert project.branches.get().states.count() == 1


def test_file_text_is_escaped_in_the_page(client, project):
    services.file_save(
        branch=project.branches.get(), path="x.html", text="<script>alert(1)</script>"
    )
    page = client.get(reverse("files:file", args=[project.pk, "x.html"])).content.decode()
    assert "<script>alert(1)</script>" not in page


def test_branch_from_a_step_in_the_page(client, project):
    branch = project.branches.get()
    services.file_save(branch=branch, path="a.txt", text="1")
    services.file_save(branch=branch, path="a.txt", text="2")

    response = client.post(
        reverse("files:fork", args=[project.pk]) + "?branch=main&step=1", {"name": "retry"}
    )
    assert response["Location"].endswith("?branch=retry")
    fork = project.branches.get(name="retry")
    assert (fork.forked_at_step, fork.parent.name) == (1, "main")


def test_a_refused_branch_name_comes_back_beside_the_form_at_the_same_step(client, project):
    branch = project.branches.get()
    services.file_save(branch=branch, path="a.txt", text="1")
    services.file_save(branch=branch, path="a.txt", text="2")
    url = reverse("files:fork", args=[project.pk]) + "?branch=main&step=1"

    response = client.post(url, {"name": "with space!"}, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400
    assert response.context["state"].step_index == 1  # not the latest step
    page = response.content.decode()
    assert '<details id="fork-card" class="pane-block" open>' in page
    assert 'value="with space!"' in page and 'class="field invalid"' in page
    assert not project.branches.filter(name="with space!").exists()
    # A reload or the language switch asks for the same address with GET: the page.
    assert client.get(url)["Location"].endswith("?branch=main&step=1")


@pytest.mark.parametrize("step", ["²", "\u0661", "-1"])
def test_a_step_that_is_not_ascii_digits_shows_the_latest(client, project, step):
    client.force_login(project.owner)
    response = client.get(reverse("files:project", args=[project.pk]), {"step": step})
    assert response.status_code == 200
    latest = project.branches.get(name="main").states.latest("step_index")
    assert response.context["state"] == latest


@pytest.mark.parametrize(
    ("language", "edit", "count", "empty"),
    [("en", "Your edit of app.py", "The branch will start with 1 file.", "no files yet"),
     ("ru", "Ваша правка app.py", "Ветка начнётся с 1 файлом.", "ещё нет файлов")],  # noqa: RUF001
)  # fmt: skip
def test_steps_are_named_and_a_branch_form_says_what_the_branch_will_hold(
    client, project, language, edit, count, empty
):
    main = project.branches.get(name="main")
    services.file_save(branch=main, path="app.py", text="print(1)\n")
    client.cookies["django_language"] = language
    page = reverse("files:project", args=[project.pk])

    latest = html.unescape(client.get(page).content.decode())
    first = html.unescape(client.get(f"{page}?branch=main&step=0").content.decode())
    history = html.unescape(
        client.get(reverse("files:file", args=[project.pk, "app.py"])).content.decode()
    )

    assert f"1 · {edit} ·" in latest  # the step picker
    assert count in latest and empty not in latest
    assert empty in first  # step 0 holds no file yet: the form warns
    assert edit in history
