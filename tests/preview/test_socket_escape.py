"""Generated code tries to turn the preview's socket into a way onto the host: it leaves a
symbolic link named app.sock pointing at a Unix socket of the host (the Docker daemon's,
say). The platform never connects through it: the preview fails, saying why, and the
host's socket sees no connection. Each backend."""

import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest

from preview import reasons, services
from preview.models import Preview
from projects.services import project_create
from tests.preview.apps import server_step
from tests.preview.conftest import supervise

pytestmark = pytest.mark.django_db(transaction=True)


class HostSocket:
    """A Unix socket on the host standing for one the sandbox must never reach."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="samokoder-host-"))
        self.path = self.folder / "daemon.sock"
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(self.path))
        self.server.listen()
        self.server.settimeout(0.2)
        self.accepted = 0
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.running:
            try:
                connection, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            connection.close()

    def close(self) -> None:
        self.running = False
        self.server.close()


@pytest.mark.parametrize("trick", ["symlink", "regular file"])
def test_an_app_sock_that_is_not_the_apps_socket_is_never_connected_to(
    user,
    preview_settings,
    trick,
):
    host = HostSocket()
    make = (f"os.symlink({str(host.path)!r}, '/serve/app.sock')" if trick == "symlink"
            else "open('/serve/app.sock', 'w').write('x')")  # fmt: skip
    app = f"import os, time\n{make}\nprint('left it', flush=True)\ntime.sleep(120)\n"
    project = project_create(owner=user, name="Escape")
    branch = project.branches.get()
    server_step(branch, files={"app.py": app}, run_command="python3 app.py", port=5000)
    preview = services.preview_start(project=project, user=user, branch=branch)

    thread = supervise(preview)
    thread.join(timeout=60)
    try:
        assert not thread.is_alive()
        preview.refresh_from_db()
        assert (preview.status, preview.reason_code) == (
            Preview.Status.FAILED,
            reasons.NOT_A_SOCKET,
        ), preview.output_tail
        assert "left it" in preview.output_tail
        time.sleep(0.5)
        assert host.accepted == 0
    finally:
        host.close()
