"""A deleted project leaves nothing behind: its sandboxes, workspace and dependency
folders go (issue 14, item 7), on both backends, through the task sent by name."""

import base64
import json
from pathlib import Path

import pytest
import redis
from django.conf import settings as django_settings

from execution.folders import sandbox_folder
from execution.services import command_execute, process_manager, workspace_path
from execution.tasks import project_remove_task
from files.services import file_save
from projects.services import PROJECT_REMOVE_TASK, project_create, project_delete

pytestmark = pytest.mark.django_db


def test_a_deleted_projects_sandboxes_workspace_and_dependencies_go(user, sandbox):
    project = project_create(owner=user, name="Short-lived")
    branch = project.branches.get()
    file_save(branch=branch, path="main.py", text="print(1)\n")
    assert command_execute(branch=branch, command="python3 main.py").log.exit_code == 0
    workspace = workspace_path(project)
    beside = sandbox_folder(workspace)
    assert workspace.is_dir() and beside.is_dir()  # the bridge and dependency folders
    manager = process_manager()
    project_id = str(project.pk)
    running = manager.sandboxes_of(project_id)
    assert bool(running) == (sandbox == "docker")  # bubblewrap's end with their command

    project_delete(project=project)
    project_remove_task(project_id)  # what the worker runs for the message below

    assert not workspace.exists() and not beside.exists()
    assert manager.sandboxes_of(project_id) == []


def test_deleting_a_project_sends_the_removal_by_name_once_committed(
    user, settings, django_capture_on_commit_callbacks
):
    queue = f"{django_settings.CACHES['default']['KEY_PREFIX']}-removals"
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    project = project_create(owner=user, name="Gone")
    project_id = str(project.pk)
    client = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            project_delete(project=project)
        assert client.llen(queue) == 0  # nothing before the commit
        for callback in callbacks:
            callback()
        messages = [json.loads(raw) for raw in client.lrange(queue, 0, -1)]
    finally:
        client.delete(queue)
        client.close()
    assert [m["headers"]["task"] for m in messages] == [PROJECT_REMOVE_TASK]
    assert json.loads(base64.b64decode(messages[0]["body"]))[0] == [project_id]


def test_removal_of_a_project_with_no_folders_is_quiet(settings, tmp_path):
    settings.SAMOKODER_WORKSPACES_DIR = str(tmp_path)
    project_remove_task("00000000-0000-0000-0000-000000000000")
    assert list(Path(tmp_path).iterdir()) == []
