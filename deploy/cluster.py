"""Several processes of each kind on one machine, as production runs them.

N web processes (deploy/web.py) on Unix sockets behind nginx (WebSocket upgrades passed
through, static files served by nginx itself), M Celery workers each with its own node
name, and one beat, all on the database and Redis the environment names; with
``previews``, also the preview origin (`python -m preview.serve` on the port of
SAMOKODER_PREVIEW_ORIGIN) and the Celery worker that runs previews, as the Procfile's
``preview`` and ``previews`` lines. Used by
`make scale` and by the scale test; no Django import here, so it starts before Django is
set up.

Every process runs in its own process group with its output in ``workdir/<name>.log``;
``stop()`` ends them all, whatever state they are in.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from deploy.web import web_command
from preview.serve import listener_port

ROOT = Path(__file__).resolve().parents[1]
NGINX_TEMPLATE = Path(__file__).with_name("nginx.conf.template")


@dataclass
class Service:
    """One process of the cluster, restartable, in its own process group."""

    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    ready: Path | None = None  # a Unix socket that exists once the process listens
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, timeout: float = 60) -> Service:
        if self.ready is not None:
            self.ready.unlink(missing_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 - our own fixed commands
                self.command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        if self.ready is not None:
            self._wait_listening(self.process, self.ready, timeout)
        return self

    def _wait_listening(
        self, process: subprocess.Popen[bytes], ready: Path, timeout: float
    ) -> None:
        deadline = time.monotonic() + timeout
        while not _socket_answers(ready):
            if process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = self.log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{self.name} did not start listening:\n{tail}")
            time.sleep(0.1)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def _running(self) -> subprocess.Popen[bytes] | None:
        process = self.process
        return process if process is not None and process.poll() is None else None

    def alive(self) -> bool:
        return self._running() is not None

    def kill(self) -> None:
        """SIGKILL to the whole group (a Celery worker and its pool children alike)."""
        process = self._running()
        if process is not None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def stop(self, timeout: float = 20) -> None:
        process = self._running()
        if process is None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()


class Cluster:
    """`web` web processes + `workers` Celery workers + beat + nginx on ``port``, and
    with ``previews`` the preview origin and its worker."""

    def __init__(
        self,
        *,
        web: int,
        workers: int,
        port: int,
        env: dict[str, str],
        workdir: Path,
        server: str = "uvicorn",
        previews: bool = False,
    ) -> None:
        self.port, self.workdir = port, workdir
        self.url = f"http://127.0.0.1:{port}"
        workdir.mkdir(parents=True, exist_ok=True)
        python = sys.executable
        # The queues settings.py routes to, named by the same variables.
        named = {env.get("SAMOKODER_QUEUE_DEFAULT") or "default",
                 env.get("SAMOKODER_QUEUE_GENERATION") or "generation",
                 env.get("SAMOKODER_QUEUE_BEAT") or "beat"}  # fmt: skip
        queues = ",".join(sorted(named))
        self.env = {**env, "SAMOKODER_TRUSTED_PROXIES": env.get("SAMOKODER_TRUSTED_PROXIES", "1")}
        if previews:  # its own front folder: `make run`'s may be in use (var/preview)
            self.env.setdefault("SAMOKODER_PREVIEW_FRONT_DIR", str(workdir / "preview"))
        self.web = [
            Service(
                f"web-{i}",
                # nginx logs every request; the web log keeps the rest (sockets, errors).
                web_command(
                    unix_socket=str(workdir / f"web-{i}.sock"), access_log=False, server=server
                ),
                self.env,
                workdir / f"web-{i}.log",
                ready=workdir / f"web-{i}.sock",
            )
            for i in range(1, web + 1)
        ]
        self.workers = [
            Service(
                f"worker-{i}",
                [
                    python,
                    "-m",
                    "celery",
                    "--app",
                    "samokoder_site",
                    "worker",
                    "--hostname",
                    f"worker-{i}@%h",
                    "--queues",
                    queues,
                    "--concurrency",
                    "1",
                    "--pool",
                    "prefork",
                    "--without-gossip",
                    "--without-mingle",
                    "--loglevel",
                    "INFO",
                ],
                self.env,
                workdir / f"worker-{i}.log",
            )
            for i in range(1, workers + 1)
        ]
        self.beat = Service(
            "beat",
            [python, "-m", "celery", "--app", "samokoder_site", "beat", "--loglevel", "INFO",
             "--schedule", str(workdir / "celerybeat-schedule")],
            self.env, workdir / "beat.log",
        )  # fmt: skip
        self.preview_port: int | None = None
        self.previews = self._previews(workdir) if previews else []
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.balancer = Service(
            "nginx",
            [nginx, "-c", str(workdir / "nginx.conf"), "-p", str(workdir),
             "-g", "daemon off;"],
            self.env, workdir / "nginx.log",
        )  # fmt: skip

    def _previews(self, workdir: Path) -> list[Service]:
        """The Procfile's ``preview`` and ``previews`` lines, with settings.py's defaults
        (read here without Django, which the cluster starts before it is set up)."""
        origin = self.env.get("SAMOKODER_PREVIEW_ORIGIN") or "http://preview.localhost:8001"
        self.preview_port = listener_port(origin, self.env)
        queue = self.env.get("SAMOKODER_QUEUE_PREVIEW") or "previews"
        total = self.env.get("SAMOKODER_PREVIEW_TOTAL") or "8"
        python = sys.executable
        return [
            Service("preview", [python, "-m", "preview.serve"], self.env, workdir / "preview.log"),
            Service(
                "previews",
                [python, "-m", "celery", "--app", "samokoder_site", "worker", "--queues", queue,
                 "--pool", "threads", "--concurrency", total, "--hostname", "previews@%h",
                 "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
                self.env, workdir / "previews.log",
            ),
        ]  # fmt: skip

    def start(self) -> Cluster:
        """Migrate, collect static files, then start every process; nginx last."""
        try:
            for step in (["migrate", "--no-input", "-v", "0"],
                         ["collectstatic", "--no-input", "-v", "0"]):  # fmt: skip
                subprocess.run(  # noqa: S603 - manage.py with fixed arguments
                    [sys.executable, "manage.py", *step], cwd=ROOT, env=self.env, check=True
                )
            for service in [*self.web, *self.workers, self.beat, *self.previews]:
                service.start()
            if self.preview_port is not None:
                _wait_port(self.preview_port, self.previews[0])
            self._write_nginx_conf()
            self.balancer.start()
            _wait_port(self.port, self.balancer)
        except BaseException:
            self.stop()
            raise
        return self

    def _write_nginx_conf(self) -> None:
        static_root = self.env.get("SAMOKODER_STATIC_ROOT") or str(ROOT / "var" / "static")
        text = nginx_conf(
            user=getpass.getuser(), workdir=self.workdir, listen=f"127.0.0.1:{self.port}",
            upstreams=[f"unix:{s.ready}" for s in self.web], static_root=static_root,
        )  # fmt: skip
        (self.workdir / "nginx.conf").write_text(text)

    def restart_web(self, index: int) -> None:
        """Stop one web process (its sockets close) and start it again on the same socket."""
        service = self.web[index]
        service.stop()
        service.start()

    def stop(self) -> None:
        for service in [self.balancer, *self.web, *self.workers, self.beat, *self.previews]:
            service.stop()


def nginx_conf(
    *, user: str, workdir: Path, listen: str, upstreams: list[str], static_root: str
) -> str:
    """nginx.conf.template filled in: ``listen`` (``address:port``), one upstream server
    per entry of ``upstreams`` (``unix:/path`` or ``host:port``), the static files'
    folder, and ``workdir`` for its pid, logs and temporary files."""
    servers = "\n".join(f"    server {upstream} max_fails=0;" for upstream in upstreams)
    return (
        NGINX_TEMPLATE.read_text()
        .replace("@USER@", user)
        .replace("@WORKDIR@", str(workdir))
        .replace("@LISTEN@", listen)
        .replace("@UPSTREAMS@", servers)
        .replace("@STATIC_ROOT@", static_root.rstrip("/") + "/")
    )


def _socket_answers(path: Path) -> bool:
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX) as probe:
        return probe.connect_ex(str(path)) == 0


def _wait_port(port: int, service: Service, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        if not service.alive():
            break
        time.sleep(0.1)
    tail = service.log.read_text(errors="replace")[-3000:] if service.log.exists() else ""
    raise RuntimeError(f"{service.name} did not listen on {port}:\n{tail}")
