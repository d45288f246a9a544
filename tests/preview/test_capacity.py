"""The server's own limit: no more previews at once than the previews worker has threads."""

import pytest
from rest_framework.test import APIClient

from preview.models import Preview
from projects.services import project_create
from tests.accounts.factories import UserFactory
from tests.preview.apps import TODO_APP, server_step

pytestmark = pytest.mark.django_db


def project_with_server(owner, name):
    project = project_create(owner=owner, name=name)
    server_step(project.branches.get(), files={"app.py": TODO_APP}, run_command="python3 app.py",
                port=5000)  # fmt: skip
    return project


def test_the_next_preview_over_the_servers_limit_is_refused_for_anyone(settings):
    settings.SAMOKODER_PREVIEW_TOTAL = 2
    users = [UserFactory() for _ in range(3)]
    clients = []
    for user in users:
        client = APIClient()
        client.force_authenticate(user)
        clients.append((client, project_with_server(user, f"App of {user.email}")))

    for client, project in clients[:2]:
        assert client.post(f"/api/v1/projects/{project.pk}/preview", {}).status_code == 201
    client, project = clients[2]
    refused = client.post(f"/api/v1/projects/{project.pk}/preview", {},
                          HTTP_ACCEPT_LANGUAGE="en")  # fmt: skip

    assert refused.status_code == 429
    assert refused.json()["code"] == "preview_capacity"
    assert "as many previews as it can (2)" in refused.json()["detail"]
    assert not Preview.objects.filter(project=project).exists()
    # A preview replacing one of the same project does not count against the limit.
    client, project = clients[0]
    assert client.post(f"/api/v1/projects/{project.pk}/preview", {}).status_code == 201
    assert Preview.objects.filter(status__in=Preview.ACTIVE).count() == 2
