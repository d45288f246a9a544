"""The Unix-socket bridge: how an install reaches the package proxy without a network.

On the host, ``proxy_bridge`` runs ``socat`` listening on ``proxy.sock`` in the project's
bridge folder and forwarding each connection to the package proxy's loopback port, for
the length of one install only. Inside the sandbox (its own network namespace, only
``lo``), ``through_proxy`` starts a second ``socat`` on 127.0.0.1:3128 that forwards to
that socket, and points pip and npm at it. Every other phase finds no socket at all.
"""

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from execution.backends.base import SandboxUnavailable
from execution.folders import BRIDGE_IN_SANDBOX, CA_IN_SANDBOX
from execution.proxy import proxy_refusals

PROXY_SOCKET = "proxy.sock"
PROXY_PORT_IN_SANDBOX = 3128
PROXY_IN_SANDBOX = f"http://127.0.0.1:{PROXY_PORT_IN_SANDBOX}"
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy",
                   "npm_config_proxy", "npm_config_https_proxy")  # fmt: skip
# pip (its vendored certifi would not know a re-signing egress CA), requests, OpenSSL, node, npm.
CA_VARIABLES = ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS",
                "npm_config_cafile")  # fmt: skip


@dataclass(frozen=True)
class Bridge:
    socket: Path
    # The loopback address this bridge connects to the proxy from: the proxy's log names
    # it as the client, so what one install was refused is told apart from another's.
    source: str


@contextlib.contextmanager
def proxy_bridge(*, folder: Path, proxy_url: str, socket_uid: int | None) -> Iterator[Bridge]:
    """``folder/proxy.sock`` forwards to the package proxy while the block runs.

    ``socket_uid``: owner of the socket (the sandbox uid, when running as root; else the
    socket is left open to all, as the proxy's loopback port is). Raises
    SandboxUnavailable when no proxy is configured or socat is missing."""
    if not proxy_url:
        raise SandboxUnavailable(
            "No package proxy is running, so dependencies cannot be installed. `make run` "
            "starts one; otherwise set SAMOKODER_PACKAGE_PROXY (see scripts/with_proxy.py)."
        )
    target = urlsplit(proxy_url)
    path = folder / PROXY_SOCKET
    path.unlink(missing_ok=True)
    owner = f"user={socket_uid},mode=600" if socket_uid is not None else "mode=666"
    listen = f"UNIX-LISTEN:{path},fork,unlink-early,{owner}"
    source = "127." + ".".join(str(secrets.randbelow(254) + 1) for _ in range(3))
    # pdeathsig: a worker killed outright takes its bridge with it.
    process = subprocess.Popen(  # noqa: S603 - fixed arguments, no shell
        [_tool("setpriv"), "--pdeathsig", "TERM", _tool("socat"), listen,
         f"TCP:{target.hostname}:{target.port},bind={source}"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,  # one group: socat's per-connection children stop with it
    )  # fmt: skip
    try:
        _wait_for(path, process)
        yield Bridge(socket=path, source=source)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
        path.unlink(missing_ok=True)


def _wait_for(path: Path, process: subprocess.Popen, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SandboxUnavailable(f"The package proxy bridge did not start ({path}).")
        time.sleep(0.01)


def _tool(name: str) -> str:
    found = shutil.which(name, path="/usr/bin:/bin")
    if found is None:
        raise SandboxUnavailable(f"{name} is missing: apt-get install {name}.")
    return found


def through_proxy(command: str) -> str:
    """A shell line running ``command`` in the sandbox with the proxy on 127.0.0.1:3128.

    socat is waited for by reading the listening sockets from /proc/net/tcp (no probe
    connection that the proxy would log); the command's exit status is kept."""
    port_hex = f"{PROXY_PORT_IN_SANDBOX:04X}"
    exports = " ".join(
        [f"{name}={PROXY_IN_SANDBOX}" for name in PROXY_VARIABLES]
        + [f"{name}={CA_IN_SANDBOX}" for name in CA_VARIABLES]
    )
    return (
        f"socat TCP-LISTEN:{PROXY_PORT_IN_SANDBOX},bind=127.0.0.1,fork,reuseaddr "
        f"UNIX-CONNECT:{BRIDGE_IN_SANDBOX}/{PROXY_SOCKET} & samokoder_bridge=$!\n"
        f"for _ in $(seq 100); do grep -q ':{port_hex} 00000000:0000 0A' /proc/net/tcp && break; "
        "sleep 0.05; done\n"
        f"export {exports}\n"
        f"(\n{command}\n)\n"
        "samokoder_status=$?\nkill $samokoder_bridge 2>/dev/null\nexit $samokoder_status"
    )


def refusal_notice(*, access_log: Path, source: str, hosts: list[str]) -> str:
    """A line for the install's output naming what the proxy refused it, or ""."""
    refused = proxy_refusals(access_log, client=source) if access_log.is_file() else []
    if not refused:
        return ""
    return (
        f"\n[samokoder] The package proxy refused: {', '.join(refused)}. Installs may reach "
        f"only {', '.join(hosts)} over HTTPS (SAMOKODER_PACKAGE_HOSTS).\n"
    )
