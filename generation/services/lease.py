"""The worker's lease on a run: claiming it, beating for it, and finding runs nobody drives.

A worker drives a run only while it holds the run's lease (a fresh uuid per claim) and
keeps its heartbeat fresh. A run whose heartbeat went stale, or whose worker process on
this machine is gone, is claimed again by the next worker; the previous one then loses
every write (``LeaseLost``).
"""

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from core.rows import row_save
from generation import events
from generation.models import GenerationRun
from generation.selectors import runs_ahead
from generation.services.eventlog import events_append
from generation.services.outputs import outputs_interrupted_keep
from llm.selectors import SystemUsage, run_usage_both


class LeaseLost(Exception):
    """Another worker drives this run now; this one must stop without writing."""


@dataclass(frozen=True)
class Claim:
    """A run this worker now drives (with its branch and project loaded, as saved), its
    lease, what the run asked of the platform's keys so far (read with its totals), and
    whether its previous worker died (the runner's resume guard reads the log then)."""

    run: GenerationRun
    lease: uuid.UUID
    system_usage: SystemUsage
    after_crash: bool


def run_claim(*, project_id: str, user_id: int) -> Claim | None:
    """Take the project's active run for this worker: a queued one, or a running one whose
    heartbeat is stale (its worker died); None when there is none to take."""
    with transaction.atomic():
        active = GenerationRun.objects.select_related("branch__project").select_for_update(
            of=("self",)
        )
        try:  # at most one (generation_one_active_run_per_project): no ordering to pay for
            run = active.get(project_id=project_id, user_id=user_id,
                             status__in=GenerationRun.ACTIVE)  # fmt: skip
        except GenerationRun.DoesNotExist:
            return None
        if run.status == GenerationRun.Status.AWAITING_INPUT:
            return None
        resumed = run.status == GenerationRun.Status.RUNNING
        if resumed and heartbeat_fresh(run) and not _gone_from_here(run.worker):
            return None  # alive elsewhere
        if not resumed and not _slot_free(run):
            return None  # waits, queued; the end of one of its user's runs sends it again
        if resumed:  # the command its worker died in, as far as the page saw it
            outputs_interrupted_keep(run=run)
        lease = uuid.uuid4()
        system_usage = _take(run, lease)
        project = str(run.project_id)
        started = events.GenerationStarted(project_id=project, iteration=run.iteration)
        after = "crash" if resumed else "answer"
        first = run.last_seq == 0
        claimed = started if first else events.GenerationResumed(project_id=project, after=after)
        events_append(run, [claimed], saved_by_caller=True)  # read locked above
        row_save(run)
    return Claim(run=run, lease=lease, system_usage=system_usage, after_crash=resumed)


def _slot_free(run: GenerationRun) -> bool:
    """Whether the run's user may start one more run (SAMOKODER_RUNS_PER_USER) and no
    older queued run of theirs goes first.

    The user's row is locked so that two workers claiming two of their runs at once
    count one after the other (SQLite's IMMEDIATE transactions serialise them anyway).
    """
    User.objects.select_for_update().filter(pk=run.user_id).values_list("pk").get()
    return bool(runs_ahead(run=run) < settings.SAMOKODER_RUNS_PER_USER)


def _take(run: GenerationRun, lease: uuid.UUID) -> SystemUsage:
    """The run's fields as this worker takes it (the caller saves them); its usage on the
    platform's keys, read with its totals. A run never claimed before (no event in its
    log yet) has asked nothing: requests are made only under a claim's lease."""
    now = timezone.now()
    run.status, run.lease, run.heartbeat_at = GenerationRun.Status.RUNNING, lease, now
    run.worker = worker_id()
    system_usage = SystemUsage(calls=0, unpriced_model=None)
    if run.last_seq:
        usage, system_usage = run_usage_both(run_id=run.pk)
        run.add_usage(**usage)
    run.cancel_requested = False
    run.started_at = run.started_at or now
    run.clock_started_at = run.clock_started_at or now
    return system_usage


def heartbeat_fresh(run: GenerationRun) -> bool:
    """Whether the run's worker beat within the stale limit."""
    stale = timezone.now() - timedelta(seconds=settings.SAMOKODER_RUN_STALE_SECONDS)
    return run.heartbeat_at is not None and run.heartbeat_at > stale


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _gone_from_here(worker: str) -> bool:
    """Whether the run's worker was a process on this machine that no longer exists.

    A pool child killed mid-run has its message redelivered at once (acks late); its
    heartbeat still looks fresh, but its process is gone: take the run over now rather
    than after the stale-heartbeat sweep.
    """
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdecimal():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def run_heartbeat(*, run_id: uuid.UUID, lease: uuid.UUID) -> bool | None:
    """Beat for the run; True when a cancel was asked, None when the lease is lost."""
    runs = GenerationRun.objects.filter(pk=run_id, lease=lease)
    if not runs.update(heartbeat_at=timezone.now()):
        return None
    return runs.values_list("cancel_requested", flat=True).first()


def run_locked(run: GenerationRun, lease: uuid.UUID, *, with_branch: bool = False) -> GenerationRun:
    """The run's row, locked, if ``lease`` still holds it and it is as this worker last
    saved it (``run``, its log's last event); LeaseLost otherwise. A worker whose last
    commit a crash of the database server lost (core.durability) so stops instead of
    building on a step that is not there; the run resumes from the last one that is.

    ``with_branch``: its branch's row is locked by the same query (run first, then branch,
    the order every writer takes them in), for a caller about to append a state to it.
    """
    if with_branch:
        runs = GenerationRun.objects.select_related("branch")
        # NO KEY: rows that refer to these (a step's state and events, appended with no
        # lock) check that at their commit, and must not wait for this lock (branch_lock).
        locked = runs.select_for_update(of=("self", "branch"), no_key=True).get(pk=run.pk)
    else:
        locked = GenerationRun.objects.select_for_update().get(pk=run.pk)
    if locked.lease != lease or locked.last_seq != run.last_seq:
        raise LeaseLost(str(run.pk))
    return locked


def runs_stale() -> list[GenerationRun]:
    """Runs nobody drives: running ones whose worker stopped beating (killed, or the
    machine went away), and queued ones whose message never reached a worker, or that
    wait for a slot of their user (should the hand-off at a run's end have been lost)."""
    stale = timezone.now() - timedelta(seconds=settings.SAMOKODER_RUN_STALE_SECONDS)
    running = Q(status=GenerationRun.Status.RUNNING, heartbeat_at__lt=stale)
    queued = Q(status=GenerationRun.Status.QUEUED, created_at__lt=stale) & (
        Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=stale)
    )
    return list(GenerationRun.objects.filter(running | queued))
