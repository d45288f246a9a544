"""The package proxy: Squid, allowed to tunnel only to the registry hosts of the settings.

One proxy serves the whole deployment. `make run` starts it (scripts/with_proxy.py), the
test session starts its own (tests/execution/conftest.py); both stop it when they end,
Ctrl-C included. Sandboxes never reach its port directly: during a dependency install a
per-project Unix socket is bridged to it (execution/bridge.py).

Its configuration is generated from ``squid.conf.template`` beside this module into a
run folder that also holds the access log, where every refused host appears as
``TCP_DENIED/403``. No Django import here: the launcher script uses it before setup.
"""

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from string import Template
from urllib.parse import urlsplit

TEMPLATE = Path(__file__).with_name("squid.conf.template")
HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$"
)
# The user Debian's squid package creates; Squid refuses to keep running as root.
SQUID_USER = "proxy"


class ProxyUnavailable(Exception):
    """Squid is missing or would not start; the message says what to do."""


def squid_config(*, port: int, hosts: list[str], run_dir: Path, upstream: str = "") -> str:
    """The Squid configuration: CONNECT to ``hosts`` on 443 only, all else 403 and logged.

    ``upstream`` (``http://host:port``) chains every request through a parent proxy, for
    hosts that reach the registries only through one. Raises ValueError for a host name
    that is not a plain DNS name (it would otherwise be read as Squid syntax)."""
    bad = [host for host in hosts if not HOST_NAME.match(host)]
    if bad or not hosts:
        raise ValueError(f"Not registry host names: {bad or 'none given'}")
    return Template(TEMPLATE.read_text()).substitute(
        port=port,
        hosts=" ".join(hosts),
        run_dir=run_dir,
        user_line=f"cache_effective_user {SQUID_USER}" if os.geteuid() == 0 else "",
        upstream=_upstream_lines(upstream),
    )


def _upstream_lines(upstream: str) -> str:
    if not upstream:
        return ""
    parts = urlsplit(upstream if "://" in upstream else f"http://{upstream}")
    if not parts.hostname or not parts.port:
        raise ValueError(f"The upstream proxy must be http://host:port, not {upstream!r}")
    return (
        f"cache_peer {parts.hostname} parent {parts.port} 0 no-query no-digest default\n"
        "never_direct allow all"
    )


class PackageProxy:
    """A Squid process on a free loopback port, in its own process group.

    Use as a context manager, or ``start()`` then ``stop()``. ``url`` is what the bridge
    forwards to; ``access_log`` is where refusals are recorded."""

    def __init__(self, *, hosts: list[str], run_dir: Path, upstream: str = "") -> None:
        self.hosts, self.run_dir, self.upstream = hosts, run_dir, upstream
        self.port = 0
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def access_log(self) -> Path:
        return self.run_dir / "access.log"

    def start(self, timeout: float = 30) -> "PackageProxy":
        squid = shutil.which("squid") or shutil.which("squid", path="/usr/sbin:/usr/local/sbin")
        if squid is None:
            raise ProxyUnavailable(
                "Squid is not installed, so dependency installs cannot reach the registries. "
                "Install it with: sudo apt-get install squid"
            )
        self._prepare_run_dir()
        self.port = _free_port()
        config = self.run_dir / "squid.conf"
        config.write_text(
            squid_config(
                port=self.port, hosts=self.hosts, run_dir=self.run_dir, upstream=self.upstream
            )
        )
        # -N: stay in the foreground, one process, so stopping it stops everything.
        self.process = subprocess.Popen(  # noqa: S603 - our own binary and generated config
            [squid, "-N", "-f", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=(self.run_dir / "squid.stderr").open("wb"),
            start_new_session=True,  # Ctrl-C reaches the app first; the proxy is stopped after
        )
        self._wait_listening(timeout)
        return self

    def _prepare_run_dir(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for name in ("access.log", "cache.log", "squid.pid"):
            (self.run_dir / name).unlink(missing_ok=True)
        if os.geteuid() == 0:  # Squid writes its logs after dropping to its own user
            user = pwd.getpwnam(SQUID_USER)
            os.chown(self.run_dir, user.pw_uid, user.pw_gid)

    def _wait_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        assert self.process is not None  # started just before
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ProxyUnavailable(f"Squid exited at start:\n{self._log_tail()}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        self.stop()
        raise ProxyUnavailable(f"Squid did not listen within {timeout:.0f} s:\n{self._log_tail()}")

    def _log_tail(self) -> str:
        text = ""
        for name in ("squid.stderr", "cache.log"):
            path = self.run_dir / name
            if path.exists():
                text += path.read_text(errors="replace")[-2000:]
        return text

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)  # shutdown_lifetime is 1 s
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def __enter__(self) -> "PackageProxy":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def proxy_refusals(access_log: Path, *, client: str) -> list[str]:
    """What the proxy refused ``client`` (a loopback address), in order, each once: the
    ``host:port`` of a CONNECT or the URL of a plain request (Squid's native log format:
    time, elapsed, client, result/status, bytes, method, URL, ...)."""
    refused: dict[str, None] = {}
    for line in access_log.read_text(errors="replace").splitlines():
        fields = line.split()
        if len(fields) > 6 and fields[2] == client and fields[3].startswith("TCP_DENIED/"):
            refused[fields[6]] = None
    return list(refused)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
