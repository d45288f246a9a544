"""When the step previewed needs an install the branch cannot give it as it stands, the
preview says so instead of installing into a workspace that holds other files."""

import pytest
from django.utils import translation

from generation.models import GenerationRun
from preview import reasons, services
from preview.models import Preview
from projects.services import project_create
from tests.preview.apps import TODO_APP, server_step
from tests.preview.conftest import supervise, wait_status

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.parametrize("sandbox", ["bubblewrap"], indirect=True),
]


@pytest.fixture
def two_manifests(user, preview_settings):
    project = project_create(owner=user, name="Deps")
    branch = project.branches.get()
    first = server_step(branch, files={"app.py": TODO_APP, "requirements.txt": "flask\n"},
                        run_command="python3 app.py", port=5000)  # fmt: skip
    server_step(branch, files={"app.py": TODO_APP, "requirements.txt": "flask\nrequests\n"},
                run_command="python3 app.py", port=5000)  # fmt: skip
    return project, branch, first


def test_an_older_step_with_another_manifest_is_refused_with_the_way_out(user, two_manifests):
    project, branch, first = two_manifests
    preview = services.preview_start(project=project, user=user, branch=branch,
                                     step=first.step_index)  # fmt: skip
    supervise(preview).join(timeout=60)

    preview = wait_status(preview, Preview.Status.FAILED)
    assert preview.reason_code == reasons.OTHER_DEPENDENCIES
    with translation.override("en"):
        text = reasons.reason_text(preview.reason_code, preview.reason_params)
    assert f"Step {first.step_index}" in text and "requirements.txt" in text


def test_no_install_while_a_run_is_at_work_on_the_project(user, two_manifests):
    project, branch, _first = two_manifests
    GenerationRun.objects.create(
        project=project, branch=branch, user=user, provider="openai",
        status=GenerationRun.Status.RUNNING, max_cost=1, max_llm_calls=10,
    )  # fmt: skip
    preview = services.preview_start(project=project, user=user, branch=branch)
    supervise(preview).join(timeout=60)

    preview = wait_status(preview, Preview.Status.FAILED)
    assert preview.reason_code == reasons.RUN_AT_WORK
