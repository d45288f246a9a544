"""`python -m preview.serve`: the preview origin's listener (the Procfile's `preview` line).

Two processes that start and stop together: nginx on the port SAMOKODER_PREVIEW_ORIGIN
names (8001 by default; SAMOKODER_PREVIEW_PORT when set, behind a TLS terminator in
production), on the loopback unless SAMOKODER_PREVIEW_BIND says otherwise, carrying
requests to the apps' sockets; and uvicorn serving the gateway (preview.asgi) on a Unix
socket only nginx uses, which admits each request and draws the origin's own pages
(preview.front says why the split). Both live in SAMOKODER_PREVIEW_FRONT_DIR. When
either exits, or this process is told to stop, the other is stopped too.

nginx is the Debian package `make system-deps` installs (and the image carries)."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

GATEWAY = "preview.asgi:application"
NGINX_MISSING = (
    "nginx is not installed: the preview origin's front needs it "
    "(`make system-deps` installs the Debian package nginx)."
)


class NginxMissing(RuntimeError):
    pass


def listener_port(origin: str, environ: Mapping[str, str] = os.environ) -> int:
    parts = urlsplit(origin)
    default = parts.port or (443 if parts.scheme == "https" else 80)
    return int(environ.get("SAMOKODER_PREVIEW_PORT") or default)


def listen_address(bind: str, port: int) -> str:
    return f"[{bind}]:{port}" if ":" in bind else f"{bind}:{port}"


def nginx_command(conf: Path, workdir: Path) -> list[str]:
    """nginx in the foreground on ``conf``; NginxMissing when it is not installed."""
    nginx = shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx",) if os.access(path, os.X_OK)), None
    )
    if nginx is None:
        raise NginxMissing(NGINX_MISSING)
    return [nginx, "-c", str(conf), "-p", str(workdir), "-g", "daemon off;"]


def front_plan(*, workdir: Path, listen: str):  # -> preview.front.FrontPlan (Django set up)
    """The front's plan from the settings: the limits the gateway itself keeps."""
    from django.conf import settings

    from preview import gateway
    from preview.front import FrontPlan

    return FrontPlan(
        workdir=workdir, listen=listen, gateway_socket=workdir / "gateway.sock",
        proto=urlsplit(settings.SAMOKODER_PREVIEW_ORIGIN).scheme,
        body_bytes=settings.SAMOKODER_PREVIEW_BODY_BYTES,
        read_seconds=settings.SAMOKODER_PREVIEW_UPSTREAM_SECONDS,
        requests=gateway.REQUESTS_PER_PREVIEW, sockets=gateway.SOCKETS_PER_PREVIEW,
    )  # fmt: skip


def run_together(commands: list[list[str]], *, ready: Path | None = None) -> int:
    """Start every command; when one exits (or SIGTERM/SIGINT arrives), stop the rest.
    The exit status of the first to end (0 when told to stop). With ``ready``, the first
    command is started alone and the rest only once that Unix socket accepts a connection:
    nginx listening before the gateway answers would turn each request into nginx's 500."""
    processes = [subprocess.Popen(commands[0])]  # noqa: S603
    if ready is not None and not _accepts(ready, processes[0]):
        processes[0].terminate()
        return processes[0].wait() or 1
    processes += [subprocess.Popen(command) for command in commands[1:]]  # noqa: S603
    stopping: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        stopping.append(signum)
        for process in processes:
            if process.poll() is None:
                process.terminate()

    before = {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        _pid, status = os.wait()
        told = bool(stopping)
        stop(0, None)
        for process in processes:
            process.wait()
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
    return 0 if told else (os.waitstatus_to_exitcode(status) or 1)


def _accepts(path: Path, process: subprocess.Popen[bytes], patience: float = 60) -> bool:
    """Whether ``process`` comes to accept connections on ``path`` within ``patience``
    seconds (False as soon as it exits)."""
    deadline = time.monotonic() + patience
    while process.poll() is None and time.monotonic() < deadline:
        with socket.socket(socket.AF_UNIX) as probe:
            if probe.connect_ex(str(path)) == 0:
                return True
        time.sleep(0.05)
    return False


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "samokoder_site.settings")
    import django
    from django.conf import settings

    django.setup()
    from deploy.web import web_command
    from preview.front import front_write

    workdir = Path(settings.SAMOKODER_PREVIEW_FRONT_DIR).resolve()
    bind = os.environ.get("SAMOKODER_PREVIEW_BIND", "127.0.0.1")
    listen = listen_address(bind, listener_port(settings.SAMOKODER_PREVIEW_ORIGIN))
    plan = front_plan(workdir=workdir, listen=listen)
    conf = front_write(plan)
    try:
        nginx = nginx_command(conf, workdir)
    except NginxMissing as exc:
        sys.exit(str(exc))
    plan.gateway_socket.unlink(missing_ok=True)
    gateway = web_command(unix_socket=str(plan.gateway_socket), app=GATEWAY, access_log=False)
    sys.exit(run_together([gateway, nginx], ready=plan.gateway_socket))


if __name__ == "__main__":
    main()
