"""A command's output kept while it runs (real Redis), and kept for good as the interrupted
attempt when its worker dies: by the run's next worker, or by a Stop while nobody drives."""

import time
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from accounts.services import key_store
from execution.models import ExecutionLog
from generation.models import GenerationRun
from generation.publish import OutputRelay, outputs_unfinished_take, unfinished_key
from generation.services import run_cancel, run_start
from generation.services.lease import run_claim
from generation.services.outputs import outputs_interrupted_keep
from projects.services import project_create
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _running(user, name: str = "Killed") -> GenerationRun:
    """A run whose worker stopped beating long ago, in the middle of a command."""
    key_store(user=user, provider="openai", api_key="sk-outputs-test-000000000001")
    project = project_create(owner=user, name=name, description="d")
    run = run_start(project=project, user=user, provider="openai")
    long_ago = timezone.now() - timedelta(hours=1)
    GenerationRun.objects.filter(pk=run.pk).update(status="running", heartbeat_at=long_ago)
    run.refresh_from_db()
    return run


def _relayed(run: GenerationRun, *chunks: bytes, limit: int = 64_000) -> OutputRelay:
    """Output relayed and kept, as a worker that then dies leaves it (never closed)."""
    relay = OutputRelay(run.project_id, run.pk, "sleep 2; echo done", every=0, limit=limit)
    for chunk in chunks:
        relay(chunk)
    relay.batch.flush()
    _until_kept(run)
    return relay


def _kept(run: GenerationRun) -> bool:
    with redis.Redis.from_url(settings.REDIS_URL) as client:
        return bool(client.exists(unfinished_key(run.pk)))


def _until_kept(run: GenerationRun, kept: bool = True) -> None:
    """Until the relay's writes, sent without waiting, have reached Redis."""
    deadline = time.monotonic() + 5
    while _kept(run) != kept:
        assert time.monotonic() < deadline, f"the output never became kept={kept}"
        time.sleep(0.02)


def test_a_command_that_ends_leaves_nothing_kept(user):
    run = _running(user)
    relay = _relayed(run, b"one\n")
    relay.close()
    _until_kept(run, False)  # the removal follows the close's last message, in order
    assert outputs_unfinished_take(run_id=run.pk) == []


def test_the_next_worker_keeps_the_killed_commands_output_as_interrupted(user):
    run = _running(user)
    _relayed(run, b"one\n", "ёж\n".encode())

    claim = run_claim(project_id=str(run.project_id), user_id=user.pk)

    assert claim is not None and claim.after_crash
    log = ExecutionLog.objects.get(run_id=run.pk)
    assert log.interrupted and log.exit_code is None and not log.truncated
    assert (log.project_id, log.command, log.stdout) == (run.project_id, "sleep 2; echo done",
                                                         "one\nёж\n")  # fmt: skip
    assert outputs_unfinished_take(run_id=run.pk) == []  # taken: kept once


def test_the_kept_output_is_bounded_by_the_relays_limit(user):
    run = _running(user)
    _relayed(run, b"0123456789" * 3, limit=12)

    (log,) = outputs_interrupted_keep(run=run)

    assert log.stdout == "012345678901" and log.truncated


def test_a_stop_while_nobody_drives_the_run_keeps_it_too(user):
    run = _running(user)
    _relayed(run, b"half\n")

    run_cancel(run=run)

    log = ExecutionLog.objects.get(run_id=run.pk)
    assert log.interrupted and log.stdout == "half\n"
    run.refresh_from_db()
    assert run.status == "cancelled"


def test_a_command_that_ended_before_its_worker_died_is_not_kept_twice(user):
    run = _running(user)
    _relayed(run, b"all\n")  # its close never removed it
    ExecutionLog.objects.create(project=run.project, run_id=run.pk, command="sleep 2; echo done",
                                stdout="all\n", exit_code=0)  # fmt: skip

    assert outputs_interrupted_keep(run=run) == []
    assert not ExecutionLog.objects.filter(interrupted=True).exists()


def test_another_users_run_takes_none_of_it(user):
    mine = _running(user)
    _relayed(mine, b"secret\n")
    other_user = UserFactory(email="other-outputs@example.com")
    theirs = _running(other_user, name="Theirs")

    assert outputs_interrupted_keep(run=theirs) == []
    run_claim(project_id=str(theirs.project_id), user_id=other_user.pk)

    assert not ExecutionLog.objects.filter(project=theirs.project).exists()
    (log,) = outputs_interrupted_keep(run=mine)
    assert log.project_id == mine.project_id and log.stdout == "secret\n"


def test_a_page_loaded_while_a_command_runs_shows_its_output_so_far_once(user, client):
    run = _running(user)
    relay = _relayed(run, b"one\n", "ёж <b>\n".encode())
    client.force_login(user)
    panel = f"/projects/{run.project_id}/generation/"

    shown = client.get(panel).content.decode()

    # Its own section, named as the live messages name it, so they go on from there.
    length = len("one\nёж <b>\n")  # in characters, as the live messages' offsets count
    section = f'<span data-unfinished="{relay.field}" data-length="{length}">one\nёж &lt;b&gt;\n'
    assert f"$ sleep 2; echo done\n{section}</span></pre>" in shown
    assert "No command has run yet." not in shown and "data-empty" not in shown
    assert _kept(run)  # read, not taken: the run's next worker may still need it
    ExecutionLog.objects.create(
        project_id=run.project_id, run_id=run.pk, command="sleep 2; echo done",
        stdout="one\nёж <b>\ndone\n", exit_code=0,
    )  # fmt: skip
    ended = client.get(panel).content.decode()  # its log is in, its relay not yet closed
    assert "data-unfinished" not in ended and ended.count("$ sleep 2; echo done") == 1
    GenerationRun.objects.filter(pk=run.pk).update(status="awaiting_input")
    assert "data-unfinished" not in client.get(panel).content.decode()
    other = UserFactory()
    client.force_login(other)
    assert client.get(panel).status_code == 404
