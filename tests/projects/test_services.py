import pytest
from django.apps import apps
from django.core.exceptions import ValidationError

from files import services as file_services
from files.models import FileContent
from projects import services
from projects.models import Branch, Project, ProjectEvent, ProjectState

pytestmark = pytest.mark.django_db


def test_create_makes_main_branch_state_zero_and_event(user):
    project = services.project_create(owner=user, name="Todo App", description="A list")

    branch = Branch.objects.get(project=project)
    state = ProjectState.objects.get(branch=branch)
    assert (branch.name, state.step_index, state.is_checkpoint) == ("main", 0, True)
    assert state.data == {"iterations": [], "epics": [], "tasks": [], "steps": []}
    event = ProjectEvent.objects.get(project=project)
    assert event.name == "ProjectCreated"
    assert event.payload == {"project_id": str(project.pk), "user_id": user.pk}


def test_folder_name_is_a_slug_unique_per_owner(user, other_user):
    names = [services.project_create(owner=user, name="Мой проект").folder_name for _ in range(3)]
    other = services.project_create(owner=other_user, name="Мой проект").folder_name

    assert names == ["moj-proekt", "moj-proekt-2", "moj-proekt-3"]
    assert other == "moj-proekt"


def test_rename_keeps_the_folder_name(user):
    project = services.project_create(owner=user, name="First name")
    services.project_rename(project=project, name="  Second   name ")

    project.refresh_from_db()
    assert (project.name, project.folder_name) == ("Second name", "first-name")


def test_rename_is_logged_as_project_renamed_with_the_new_name(user):
    project = services.project_create(owner=user, name="First name")
    services.project_rename(project=project, name="Second name")

    event = ProjectEvent.objects.filter(project=project).latest("id")
    assert event.name == "ProjectRenamed"
    assert event.payload == {"project_id": str(project.pk), "new_name": "Second name"}


@pytest.mark.parametrize(
    ("name", "description", "field"),
    [("   ", "", "name"), ("x" * 101, "", "name"), ("ok", "d" * 20_001, "description")],
)
def test_bad_project_input_is_refused_with_the_field(user, name, description, field):
    with pytest.raises(ValidationError) as caught:
        services.project_create(owner=user, name=name, description=description)
    assert field in caught.value.message_dict
    assert not Project.objects.exists()


def test_a_state_cannot_be_changed_or_deleted_alone(user):
    project = services.project_create(owner=user, name="Immutable")
    state = ProjectState.objects.get(branch__project=project)

    state.data = {"tampered": True}
    with pytest.raises(ValueError, match="immutable"):
        state.save()
    with pytest.raises(ValueError, match="cannot be deleted"):
        state.delete()
    assert ProjectState.objects.get(pk=state.pk).data != {"tampered": True}


def _row_counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


def test_delete_cascades_to_every_table_in_one_go(user):
    keep = services.project_create(owner=user, name="Keep me")
    file_services.file_save(branch=keep.branches.get(), path="keep.txt", text="kept")
    before = _row_counts()

    doomed = services.project_create(owner=user, name="Delete me")
    branch = doomed.branches.get()
    file_services.file_save(branch=branch, path="src/app.py", text="print(1)\n")
    file_services.file_save(branch=branch, path="src/app.py", text="print(2)\n")
    file_services.file_delete(branch=branch, path="src/app.py")
    services.project_delete(project=doomed)

    after = _row_counts()
    # Contents are shared by every project's history (content-addressed), so the two
    # new texts stay; every other table is back where it was.
    assert after.pop("files.FileContent") == before.pop("files.FileContent") + 2
    assert after == before
    assert FileContent.objects.filter(text="kept").exists()
