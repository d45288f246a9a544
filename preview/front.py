"""The preview origin's front: nginx carries each request between the visitor and the app's
socket, and asks the gateway (preview.gateway, on a Unix socket of its own) only whether
it may, and for the gateway's own pages.

Why nginx: a Python hop that carries every byte cost more than the app itself on a small
page (bench/previews.py: through the gateway 2.0x the direct time, its own 404 alone
0.8 ms), and the issue's goal is 1.5x. Here a request is one ``auth_request`` subrequest
to the gateway (kept a second per host and cookies, so a page's burst asks once) and then
nginx's own proxying to ``http://unix:<link>:``.

The app's socket is reached through a link of ours: nginx connects by path and a Unix
socket's path must fit in 108 bytes, which workspace paths need not, so the gateway keeps
``<front folder>/links/<preview id hex>.sock`` pointing at the socket it checked
(execution.serving.app_socket, a host-made hard link in a folder no sandbox sees). The
link's name comes from the gateway's answer alone, never from the visitor's request.
"""

import contextlib
import getpass
import os
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path

from execution.serving import app_socket

TEMPLATE = Path(__file__).with_name("nginx.conf.template")
# The request to the gateway: over its kept-alive socket, with the visitor's host.
GATEWAY_LINES = """\
            proxy_pass http://samokoder_preview_gateway;
            proxy_set_header Host $http_host;
            proxy_set_header Connection "";
            proxy_set_header Transfer-Encoding "";
            proxy_set_header X-Forwarded-For $remote_addr;"""
# A page of the gateway's own in place of what nginx refused or could not get: asked
# with GET and without the visitor's body (nginx answers HEAD without the page's body).
PAGE_LINES = """\
            proxy_method GET;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Samokoder-Upgrade "";"""


@dataclass(frozen=True)
class FrontPlan:
    """What the front's nginx.conf says: where it listens and the limits it keeps."""

    workdir: Path
    listen: str  # address:port
    gateway_socket: Path
    proto: str  # the scheme visitors use (X-Forwarded-Proto)
    body_bytes: int
    read_seconds: float
    requests: int  # open at once per preview
    sockets: int


def front_conf(plan: FrontPlan) -> str:
    """nginx.conf.template filled in with ``plan``."""
    names = {
        "@USER@": getpass.getuser(),
        "@WORKDIR@": str(plan.workdir),
        "@LISTEN@": plan.listen,
        "@GATEWAY_SOCKET@": str(plan.gateway_socket),
        "@PROTO@": plan.proto,
        "@BODY_BYTES@": str(plan.body_bytes),
        "@READ_SECONDS@": str(max(1, round(plan.read_seconds))),
        "@REQUESTS@": str(plan.requests),
        "@SOCKETS@": str(plan.sockets),
        "@GATEWAY@": GATEWAY_LINES,
        "@PAGE@": PAGE_LINES,
    }
    text = TEMPLATE.read_text()
    for name, value in names.items():
        text = text.replace(name, value)
    return text


def front_write(plan: FrontPlan) -> Path:
    """The front's folder made (links, cache) and its nginx.conf written; its path."""
    (plan.workdir / "links").mkdir(parents=True, exist_ok=True)
    conf = plan.workdir / "nginx.conf"
    conf.write_text(front_conf(plan))
    return conf


def socket_link(links: Path, project_id: str, preview_id: uuid.UUID) -> str | None:
    """The path nginx connects to for this preview's app: a link of ours to its socket,
    made or mended now; None when there is no socket there (never started, or stopped)."""
    target = str(app_socket(project_id, preview_id.hex))
    try:
        if not stat.S_ISSOCK(os.stat(target).st_mode):
            return None
    except OSError:
        return None
    link = links / f"{preview_id.hex}.sock"
    try:
        current = os.readlink(link)
    except OSError:
        current = None
    if current != target:
        fresh = links / f".{preview_id.hex}.{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            fresh.unlink()
        fresh.symlink_to(target)
        fresh.replace(link)  # atomic: a connecting nginx sees the old link or the new
    return str(link)


def socket_unlink(links: Path, preview_id: uuid.UUID) -> None:
    with contextlib.suppress(FileNotFoundError):
        (links / f"{preview_id.hex}.sock").unlink()
