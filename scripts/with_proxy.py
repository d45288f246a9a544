"""Run a command with the package proxy available, starting one when none is configured.

    python scripts/with_proxy.py COMMAND [ARGS...]

With SAMOKODER_PACKAGE_PROXY set, the command simply runs. Otherwise Squid is started on
a free loopback port with the allow-list of SAMOKODER_PACKAGE_HOSTS (config and access
log in var/proxy/), SAMOKODER_PACKAGE_PROXY points at it for the command, and it is
stopped when the command ends, however it ends (Ctrl-C included). Without Squid the
command still runs, and dependency installs are refused with the instruction.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from with_redis import run, run_then  # noqa: E402 - the script's folder is on sys.path when run

from execution.proxy import PackageProxy, ProxyUnavailable  # noqa: E402


def proxy_settings():
    """The settings module's values (one place for their defaults); no app is set up."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "samokoder_site.settings")
    from django.conf import settings

    return settings


def main() -> int:
    command = sys.argv[1:] or sys.exit(__doc__)
    if os.environ.get("SAMOKODER_PACKAGE_PROXY"):
        return run(command)
    settings = proxy_settings()
    proxy = PackageProxy(
        hosts=settings.SAMOKODER_PACKAGE_HOSTS,
        run_dir=settings.VAR_DIR / "proxy",
        upstream=settings.SAMOKODER_PACKAGE_UPSTREAM_PROXY,
    )
    try:
        proxy.start()
    except ProxyUnavailable as exc:
        print(f"WARNING: {exc}", flush=True)
        return run(command)
    os.environ["SAMOKODER_PACKAGE_PROXY"] = proxy.url
    os.environ["SAMOKODER_PACKAGE_PROXY_LOG"] = str(proxy.access_log)
    hosts = ", ".join(settings.SAMOKODER_PACKAGE_HOSTS)
    print(f"Started the package proxy at {proxy.url} (allowed: {hosts})", flush=True)
    return run_then(command, proxy.stop)


if __name__ == "__main__":
    sys.exit(main())
