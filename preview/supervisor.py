"""The task that keeps one preview's app running for as long as the preview lasts.

It installs the dependencies the step's manifest needs (when the branch's last install saw
another manifest), starts the app (execution.serving), and then looks twice a second:
ready (its socket appeared: the preview is "running"), never listened within
SAMOKODER_PREVIEW_START_SECONDS, exited by itself, stopped by its owner or a newer
preview, idle for SAMOKODER_PREVIEW_IDLE_SECONDS, or — for a preview that follows its
branch — new files committed with no run at work, when it restarts on them. The app's
output goes to the project's page live; its last lines are kept on the preview.
"""

import codecs
import logging
import os
import socket
import threading
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from execution.backends.base import SandboxError
from execution.installs import install_pending, install_run
from execution.serving import AppServer, NotASocket
from files.selectors import state_get, state_manifest, state_texts
from generation.publish import LiveBatch, publish_transient
from generation.selectors import run_active
from preview import reasons
from preview.models import Preview
from preview.services import (
    ANSI_SEQUENCE,
    architecture_of,
    preview_end,
    printable,
    server_of,
)

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5
BEAT_SECONDS = 5.0
RESTART = "restart"
# Set when the worker is shutting down: its previews end (a warm shutdown would otherwise
# wait for them for hours).
SHUTDOWN = threading.Event()


def preview_announce(preview: Preview | Any) -> None:
    """Tell the project's page that the preview changed (it fetches the panel again)."""
    publish_transient(
        preview.project_id,
        {"type": "preview.status", "preview": str(preview.pk), "status": preview.status},
    )


class AppOutput:
    """The app's output to the project's page as it comes, in batches (live only: the
    last lines are kept on the preview when it ends). For as long as the app runs, so
    each batch is cut to its last BATCH_CHARS rather than the whole to a total."""

    BATCH_CHARS = 16_000

    def __init__(self, preview: Preview) -> None:
        message = {"type": "preview.output", "preview": str(preview.pk)}
        self.batch = LiveBatch(preview.project_id, message)
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.lock = threading.Lock()
        self.held = ""

    def __call__(self, chunk: bytes) -> None:
        with self.lock:
            text = self.held + self.decoder.decode(chunk)
            # A control sequence cut between chunks waits for its end, or its tail would
            # show as "[31m" once the escape character before it was taken out.
            cut = text.rfind("\x1b")
            unfinished = cut >= 0 and len(text) - cut < 32 and not ANSI_SEQUENCE.match(text, cut)
            text, self.held = (text[:cut], text[cut:]) if unfinished else (text, "")
            self.batch.add(printable(text))
            self.batch.pending = self.batch.pending[-self.BATCH_CHARS :]

    def flush(self) -> None:
        with self.lock:
            self.batch.flush()

    def close(self) -> None:
        with self.lock:
            self.batch.add(printable(self.held + self.decoder.decode(b"", final=True)))
            self.held = ""
            self.batch.close()


def preview_supervise(preview_id: str) -> None:
    """Run the preview until it ends; returns when it has (the task's whole life)."""
    try:
        preview = Preview.objects.select_related("project", "branch", "state").get(pk=preview_id)
    except Preview.DoesNotExist:
        return
    if not preview.active:
        return
    worker = f"{socket.gethostname()}:{os.getpid()}"
    Preview.objects.filter(pk=preview.pk).update(worker=worker, heartbeat_at=timezone.now())
    beat = Heartbeat(preview.pk)
    beat.start()
    try:
        while _run_once(preview, beat.ended) == RESTART:
            preview.refresh_from_db()
            preview_announce(preview)
    finally:
        beat.stop()


class Heartbeat(threading.Thread):
    """The preview's heartbeat every BEAT_SECONDS for as long as its task lives, an
    install included (the hourly sweep ends previews that stop beating); ``ended`` is set
    as soon as the preview is no longer active, which also stops an install at work."""

    def __init__(self, preview_id: Any) -> None:
        super().__init__(name=f"preview-beat-{preview_id}", daemon=True)
        self.preview_id = preview_id
        self.ended = threading.Event()
        self.done = threading.Event()

    def run(self) -> None:
        try:
            while not self.done.wait(BEAT_SECONDS):
                beating = Preview.objects.filter(pk=self.preview_id, status__in=Preview.ACTIVE)
                if not beating.update(heartbeat_at=timezone.now()):
                    self.ended.set()
        finally:
            connection.close()  # this thread's own

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=BEAT_SECONDS + 5)


def _run_once(preview: Preview, ended: threading.Event) -> str:
    relay = AppOutput(preview)
    runtime = _runtime(preview)
    try:
        refused = _install(preview, runtime, relay, ended)
        if refused is not None:
            code, params, exit_code, tail = refused
            _finish(preview, Preview.Status.FAILED, code, params, exit_code, tail)
            return ""
        files = dict(state_texts(state=preview.state))
        server = AppServer(
            branch=preview.branch, key=preview.pk.hex, files=files,
            run_command=preview.run_command, port=preview.port or 0, on_output=relay,
        )  # fmt: skip
        server.start()
    except SandboxError as exc:
        _finish(preview, Preview.Status.FAILED, reasons.SANDBOX, {"detail": str(exc)}, None, "")
        return ""
    try:
        return _watch(preview, server, relay)
    finally:
        server.stop()
        relay.close()


def _watch(preview: Preview, server: AppServer, relay: AppOutput) -> str:
    started = time.monotonic()
    beat = 0.0
    ready = False
    while True:
        time.sleep(POLL_SECONDS)
        # Output held back by the batching goes out now, before any tail is kept: text
        # sent after the page fetched a tail holding it would show twice.
        relay.flush()
        now = time.monotonic()
        if server.finished():
            return _exited(preview, server, ready)
        try:
            now_ready = not ready and server.ready()
        except NotASocket as exc:
            _finish(preview, Preview.Status.FAILED, reasons.NOT_A_SOCKET, {"detail": str(exc)},
                    None, server.tail())  # fmt: skip
            return ""
        if now_ready:
            ready = True
            relay.flush()
            Preview.objects.filter(pk=preview.pk, status=Preview.Status.STARTING).update(
                status=Preview.Status.RUNNING, ready_at=timezone.now(),
                output_tail=printable(server.tail()),  # the page fetches it on the news
            )  # fmt: skip
            preview.status = Preview.Status.RUNNING
            preview_announce(preview)
        if not ready and now - started > settings.SAMOKODER_PREVIEW_START_SECONDS:
            params = {"port": preview.port,
                      "seconds": int(settings.SAMOKODER_PREVIEW_START_SECONDS)}  # fmt: skip
            _finish(preview, Preview.Status.FAILED, reasons.NEVER_LISTENED, params, None,
                    server.tail())  # fmt: skip
            return ""
        if SHUTDOWN.is_set():
            _finish(preview, Preview.Status.STOPPED, reasons.LOST, {}, None, server.tail())
            return ""
        if now - beat >= BEAT_SECONDS:  # the last lines so far, for a page fetched now
            beat = now
            Preview.objects.filter(pk=preview.pk).update(output_tail=printable(server.tail()))
        close_old_connections()
        current = Preview.objects.filter(pk=preview.pk).values(
            "status", "last_request_at", "ready_at"
        ).first()  # fmt: skip
        if current is None or current["status"] not in Preview.ACTIVE:
            _keep_output(preview, server)  # stopped by its owner or replaced
            return ""
        if ready and _idle(current):
            minutes = max(round(settings.SAMOKODER_PREVIEW_IDLE_SECONDS / 60), 1)
            _finish(preview, Preview.Status.STOPPED, reasons.IDLE, {"minutes": minutes}, None,
                    server.tail())  # fmt: skip
            return ""
        if preview.follows_branch and _moved_on(preview):
            return RESTART


def _exited(preview: Preview, server: AppServer, ready: bool) -> str:
    if server.error is not None:
        detail = str(server.error)
        _finish(preview, Preview.Status.FAILED, reasons.SANDBOX, {"detail": detail}, None,
                server.tail())  # fmt: skip
        return ""
    result = server.result
    exit_code = result.exit_code if result is not None else None
    if result is not None and result.timed_out:
        hours = round(settings.SAMOKODER_PREVIEW_MAX_SECONDS / 3600, 1)
        _finish(preview, Preview.Status.STOPPED, reasons.LIFETIME, {"hours": hours}, None,
                server.tail())  # fmt: skip
        return ""
    _finish(preview, Preview.Status.FAILED, reasons.CRASHED, {"exit_code": exit_code},
            exit_code, server.tail())  # fmt: skip
    return ""


def _idle(current: Mapping[str, Any]) -> bool:
    seen = current["last_request_at"] or current["ready_at"]
    idle = timedelta(seconds=settings.SAMOKODER_PREVIEW_IDLE_SECONDS)
    return seen is not None and timezone.now() - seen > idle


def _moved_on(preview: Preview) -> bool:
    """New files on the branch and no run at work on them: restart on the latest step."""
    latest = state_get(branch=preview.branch)
    if latest.pk == preview.state_id:
        return False
    server = server_of(latest)
    if server is None or run_active(project=preview.project) is not None:
        return False
    if state_manifest(latest) == state_manifest(preview.state) and server == (
        preview.run_command,
        preview.port,
    ):  # a step of bookkeeping only: the same files, nothing to restart
        Preview.objects.filter(pk=preview.pk).update(state=latest)
        preview.state = latest
        return False
    # Only while still active: stopped or replaced since the loop looked, it stays so.
    moved = Preview.objects.filter(pk=preview.pk, status__in=Preview.ACTIVE).update(
        state=latest, run_command=server[0], port=server[1], restarts=preview.restarts + 1,
        status=Preview.Status.STARTING, ready_at=None,
    )  # fmt: skip
    return bool(moved)


def _runtime(preview: Preview) -> str:
    architecture = architecture_of(preview.state)
    return architecture.runtime if architecture is not None else ""


Refusal = tuple[str, dict[str, Any], int | None, str]  # reason code, params, exit code, tail


def _install(
    preview: Preview, runtime: str, relay: "AppOutput", ended: threading.Event
) -> Refusal | None:
    """Make the branch's dependencies what the step's manifest asks for, or say why not.

    The app uses the branch's installed dependencies. An install runs in the branch's
    workspace on its latest files, as the pipeline's do: so only when the latest step
    has the same manifest as the previewed one, and never while a run is at work there
    (it installs what it needs itself)."""
    if not runtime:
        return None
    branch = preview.branch
    pending = install_pending(branch=branch, runtime=runtime, state=preview.state)
    if pending is None:
        return None
    latest = install_pending(branch=branch, runtime=runtime, state=state_get(branch=branch))
    if latest is None or latest.files != pending.files:
        params = {"step": preview.state.step_index, "manifest": pending.runtime.manifest}
        return reasons.OTHER_DEPENDENCIES, params, None, ""
    if run_active(project=preview.project) is not None:
        return reasons.RUN_AT_WORK, {}, None, ""
    ran = install_run(branch=branch, pending=pending, cancel=ended, on_output=relay)
    if ran.result.exit_code == 0:
        return None
    code = ran.result.exit_code if ran.result.exit_code is not None else -1
    tail = (ran.result.stdout + ran.result.stderr)[-4000:]
    return reasons.INSTALL_FAILED, {"exit_code": code}, code, tail


def _keep_output(preview: Preview, server: AppServer) -> None:
    """Keep the last lines of an app stopped from outside, and show them."""
    Preview.objects.filter(pk=preview.pk).update(output_tail=printable(server.tail()))
    preview_announce(preview)


def _finish(
    preview: Preview, status: str, code: str, params: dict, exit_code: int | None, tail: str
) -> None:
    if preview_end(preview_id=preview.pk, status=status, code=code, params=params,
                   exit_code=exit_code, tail=tail):  # fmt: skip
        preview.status = status
        preview_announce(preview)
