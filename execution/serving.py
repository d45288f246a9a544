"""Serving an app: a long-running command in the sandbox, reachable only through a socket.

The app keeps the sandbox's own network namespace and listens on its loopback port as it
was written to. Inside, ``socat`` waits until that port is listening (read from
/proc/net/tcp, no probe connection) and then offers it as ``app.sock`` in a folder of
this app's own, mounted at /serve; the platform connects to that socket from the host.
So the socket's existence means "ready", and nothing else of the host is reachable.

The sandbox can write in that folder, so what it leaves there is never connected to as
it is: a symbolic link named app.sock would send the platform's connections to whatever
it points at on the host (the Docker daemon's socket, say). Once something appears, the
host makes a hard link to that entry itself (not following links) in a folder of its own
that no sandbox sees, and connects only there, only if that is a socket. A socket the
app bound is the only kind of socket it can make; links cannot cross its mounts.

The app runs with its own copy of the files (a preview of an older step must not race the
pipeline's workspace), the branch's installed dependencies, and the limits every command
has. ``AppServer`` runs it on a thread of its caller; ``stop`` ends it and removes its
folder (and, on Docker, its container).
"""

import collections
import contextlib
import os
import shutil
import stat
import threading
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from execution.backends.base import ExecutionResult, Mount, SandboxHandle
from execution.dependencies import sandbox_mounts
from execution.folders import (
    BRIDGE_IN_SANDBOX,
    SERVE_IN_SANDBOX,
    host_owned,
    sandbox_owned,
    serve_folder,
    workspace_folder,
)
from execution.services import process_manager, workspace_path
from execution.workspace import LocalFileSystem, workspace_materialize
from projects.models import Branch

APP_SOCKET = "app.sock"
TAIL_BYTES = 8_000  # the last output kept to say why an app stopped


def app_socket(project_id: str, key: str) -> Path:
    """Where the host reaches the app served under ``key`` for the project: the hard link
    ``AppServer.ready`` made, in a folder the sandbox does not see."""
    return serve_folder(workspace_folder(project_id), key) / "host" / APP_SOCKET


class NotASocket(Exception):
    """What the app left as app.sock is not a socket it listens on (a link, a file…)."""


def serve_script(run_command: str, port: int) -> str:
    """The shell line run in the sandbox: the bridge once the port listens, then the app.

    PORT and HOST are set for apps that read them. The app's exit status is the line's."""
    port_hex = f"{port:04X}"
    listening = (
        'awk \'FNR > 1 && $4 == "0A" { split($2, a, ":"); '
        f'if (a[2] == "{port_hex}") found = 1 }} END {{ exit !found }}\' '
        "/proc/net/tcp /proc/net/tcp6 2>/dev/null"
    )
    socket = f"{SERVE_IN_SANDBOX}/{APP_SOCKET}"
    bridge = f"socat UNIX-LISTEN:{socket},fork,mode=666,unlink-early TCP:127.0.0.1:{port}"
    return (
        f"export PORT={port} HOST=127.0.0.1\n"
        f"(while ! {listening}; do sleep 0.1; done; exec {bridge}) & samokoder_bridge=$!\n"
        f"(\n{run_command}\n)\n"
        "samokoder_status=$?\nkill $samokoder_bridge 2>/dev/null\nexit $samokoder_status"
    )


class AppServer:
    """One app started in the project's sandbox from ``files`` (path -> text)."""

    def __init__(
        self,
        *,
        branch: Branch,
        key: str,
        files: dict[str, str],
        run_command: str,
        port: int,
        on_output: Callable[[bytes], None] | None = None,
    ) -> None:
        self.branch, self.key, self.files = branch, key, files
        self.run_command, self.port = run_command, port
        self.on_output = on_output
        self.folder = serve_folder(workspace_path(branch.project), key)
        self.socket = app_socket(str(branch.project_id), key)
        self.cancel = threading.Event()
        self.result: ExecutionResult | None = None
        self.error: Exception | None = None
        self._tail: collections.deque[bytes] = collections.deque()
        self._tail_size = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._handle: SandboxHandle | None = None
        self._manager = process_manager()

    def start(self) -> None:
        """Materialise the files and start the app; returns at once. Raises SandboxError
        when the sandbox cannot be made."""
        files_dir = self.folder / "files"
        shutil.rmtree(self.folder, ignore_errors=True)
        workspace_materialize(LocalFileSystem(files_dir), self.files)
        socket_dir = sandbox_owned(self.folder / "socket")
        # The branch's dependencies and caches; not the bridge folder, where an install's
        # socket to the package proxy appears: a served app has no way out.
        project_mounts = sandbox_mounts(
            workspace_path(self.branch.project), branch_id=str(self.branch.pk)
        )
        mounts = (
            *(m for m in project_mounts if m.target != BRIDGE_IN_SANDBOX),
            Mount(source=socket_dir, target=SERVE_IN_SANDBOX),
        )
        self._handle = self._manager.create_container(
            project_id=str(self.branch.project_id), workspace=files_dir, mounts=mounts
        )
        self._thread = threading.Thread(target=self._run, name=f"serve-{self.key}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        assert self._handle is not None  # started
        try:
            self.result = self._manager.execute(
                self._handle, serve_script(self.run_command, self.port),
                timeout=settings.SAMOKODER_PREVIEW_MAX_SECONDS, cancel=self.cancel,
                on_output=self._output,
            )  # fmt: skip
        except Exception as exc:  # the sandbox failed, not the app: the caller says so
            self.error = exc

    def _output(self, chunk: bytes) -> None:
        with self._lock:
            self._tail.append(chunk)
            self._tail_size += len(chunk)
            while self._tail_size > TAIL_BYTES and len(self._tail) > 1:
                self._tail_size -= len(self._tail.popleft())
        if self.on_output is not None:
            self.on_output(chunk)

    def tail(self) -> str:
        """The app's last output (both streams, as it came), at most TAIL_BYTES."""
        with self._lock:
            data = b"".join(self._tail)[-TAIL_BYTES:]
        return data.decode("utf-8", errors="replace")

    def ready(self) -> bool:
        """True once the app's socket is there and linked for the host; raises NotASocket
        when something else stands in its place."""
        if os.path.lexists(self.socket):
            return True
        offered = self.folder / "socket" / APP_SOCKET
        try:
            os.lstat(offered)
        except FileNotFoundError:
            return False
        host_owned(self.socket.parent)
        self.socket.parent.chmod(0o700)
        try:
            os.link(offered, self.socket, follow_symlinks=False)
        except OSError as exc:
            raise NotASocket(str(exc)) from exc
        if not stat.S_ISSOCK(os.lstat(self.socket).st_mode):
            self.socket.unlink()
            raise NotASocket(f"{APP_SOCKET} is not a socket")
        return True

    def finished(self) -> bool:
        return self._thread is not None and not self._thread.is_alive()

    def stop(self) -> None:
        """Kill the app (if running), wait for it, remove its sandbox and folder."""
        self.cancel.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._handle is not None:
            with contextlib.suppress(Exception):  # gone already: nothing left to stop
                self._manager.stop(self._handle)
        shutil.rmtree(self.folder, ignore_errors=True)
