import contextlib
from datetime import timedelta

import pytest
from django.utils import timezone

from execution.backends.base import SandboxUnavailable
from execution.models import Container, ExecutionLog
from execution.services import command_execute, containers_cleanup
from execution.tasks import cleanup_containers_task
from projects.models import ProjectEvent
from projects.services import project_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(user):
    return project_create(owner=user, name="Sandboxed")


def test_without_bwrap_a_command_is_refused_never_run_unsandboxed(project, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap to be found
    marker = tmp_path / "ran"

    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
        command_execute(branch=project.branches.get(), command=f"touch {marker}")

    assert not marker.exists()
    assert not ExecutionLog.objects.exists()


def test_cleanup_stops_sandboxes_older_than_a_day_only(project, settings):
    settings.SAMOKODER_SANDBOX_BACKEND = "bubblewrap"
    old = Container.objects.create(project=project, backend="bubblewrap", backend_id="old")
    fresh = Container.objects.create(project=project, backend="bubblewrap", backend_id="fresh")
    Container.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=25))

    assert cleanup_containers_task() == 1

    old.refresh_from_db()
    fresh.refresh_from_db()
    assert (old.status, fresh.status) == ("stopped", "running")
    assert old.stopped_at is not None
    assert ProjectEvent.objects.filter(name="ContainerStopped").count() == 1
    assert containers_cleanup() == 0


def test_cleanup_runs_hourly_from_beat(settings):
    schedule = settings.CELERY_BEAT_SCHEDULE["cleanup-containers"]
    assert schedule["task"] == "execution.cleanup_containers"
    assert schedule["schedule"] == 3600.0


def test_admin_lists_sandboxes_and_logs_and_stops_a_container(admin_client, project):
    container = Container.objects.create(project=project, backend="bubblewrap", backend_id="x")
    ExecutionLog.objects.create(project=project, container=container, command="ls", exit_code=0)

    assert admin_client.get("/admin/execution/container/").status_code == 200
    assert admin_client.get("/admin/execution/executionlog/").status_code == 200
    admin_client.post(
        "/admin/execution/container/", {"action": "stop", "_selected_action": [container.pk]}
    )

    container.refresh_from_db()
    assert container.status == "stopped"
    log = ExecutionLog.objects.get()
    log.exit_code = 1
    with pytest.raises(ValueError, match="append-only"):
        log.save()


def test_cleanup_removes_labelled_docker_containers_the_database_forgot(settings):
    import time

    import docker

    from execution.services import process_manager

    settings.SAMOKODER_SANDBOX_BACKEND = "docker"
    try:
        process_manager()
    except SandboxUnavailable as exc:  # a failure in CI, where skips are not allowed
        pytest.skip(str(exc))
    client = docker.from_env()
    day_old = str(int(time.time()) - 25 * 3600)
    labels = {"managed-by": "samokoder", "project_id": "gone", "creation_timestamp": day_old}
    orphan = client.containers.create(
        settings.SAMOKODER_SANDBOX_IMAGE, ["sleep", "60"], labels=labels, network_mode="none"
    )
    recent = client.containers.create(
        settings.SAMOKODER_SANDBOX_IMAGE,
        ["sleep", "60"],
        labels={**labels, "creation_timestamp": str(int(time.time()))},
        network_mode="none",
    )
    orphan.start()
    recent.start()
    try:
        assert containers_cleanup() == 1
        ids = {c.id for c in client.containers.list(all=True)}
        assert orphan.id not in ids and recent.id in ids
    finally:
        for container in (orphan, recent):
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)
