"""The compose file's load balancer: nginx, from the app image, in front of the web containers.

    python -m deploy.balancer --listen 0.0.0.0:8080 --upstream web:8000 [--upstream ...]

Fills in deploy/nginx.conf.template (the one `make scale` uses) in a private folder,
points nginx's logs at the container's stdout and stderr, and replaces itself with
nginx. The static files are the ones collected into this image. nginx resolves each
upstream name once, when it starts: compose's ``web`` with N replicas gives N servers;
after scaling web, restart the balancer.
"""

from __future__ import annotations

import argparse
import getpass
import os
import shutil
import tempfile
from pathlib import Path

from deploy.cluster import ROOT, nginx_conf


def write_config(*, workdir: Path, listen: str, upstreams: list[str], static_root: str) -> Path:
    """nginx.conf in ``workdir``, its logs there linked to stdout and stderr."""
    for name, stream in (("nginx.access.log", "/dev/stdout"), ("nginx.error.log", "/dev/stderr")):
        (workdir / name).unlink(missing_ok=True)
        (workdir / name).symlink_to(stream)
    text = nginx_conf(
        user=getpass.getuser(), workdir=workdir, listen=listen, upstreams=upstreams,
        static_root=static_root,
    )  # fmt: skip
    config = workdir / "nginx.conf"
    config.write_text(text)
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listen", default="0.0.0.0:8080")
    parser.add_argument("--upstream", action="append", required=True)
    parser.add_argument("--static-root", default=str(ROOT / "var" / "static"))
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="nginx-"))
    config = write_config(
        workdir=workdir, listen=args.listen, upstreams=args.upstream, static_root=args.static_root
    )
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    # -e: nginx's own first messages, before the configuration is read, go to stderr too.
    os.execv(nginx, [nginx, "-e", "stderr", "-c", str(config), "-p", str(workdir),  # noqa: S606
                     "-g", "daemon off;"])  # fmt: skip


if __name__ == "__main__":
    main()
