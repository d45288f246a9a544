import pytest
from django.urls import reverse

from files.models import File, FileContent
from files.services import file_save
from projects.models import ProjectState
from projects.services import project_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(user):
    project = project_create(owner=user, name="Admin view")
    file_save(branch=project.branches.get(), path="a.py", text="print('admin')\n")
    return project


def test_admin_lists_projects_states_files_and_contents(admin_client, project):
    state = ProjectState.objects.filter(branch__project=project).last()
    pages = {
        "admin:projects_project_change": [project.pk],
        "admin:projects_projectstate_change": [state.pk],
        "admin:files_file_change": [File.objects.get(project=project).pk],
        "admin:files_filecontent_change": [FileContent.objects.get(text="print('admin')\n").pk],
    }
    for name, args in pages.items():
        assert admin_client.get(reverse(name, args=args)).status_code == 200, name


def test_admin_cannot_change_or_delete_history(admin_client, project):
    state = ProjectState.objects.filter(branch__project=project).last()
    url = reverse("admin:projects_projectstate_change", args=[state.pk])
    admin_client.post(url, {"step_index": 99})
    delete = admin_client.post(
        reverse("admin:projects_projectstate_delete", args=[state.pk]), {"post": "yes"}
    )

    assert delete.status_code == 403
    assert ProjectState.objects.get(pk=state.pk).step_index == state.step_index
    assert admin_client.get(reverse("admin:files_filecontent_add")).status_code == 403
