"""Dependency installs through the package proxy (issue 15): what a reinstall costs, and
what the proxy and its socket bridge add to a download.

1. `pip install flask pytest` and `npm install express` in the bubblewrap sandbox: the
   first install against the second with the same manifest (skipped), as a ratio.
2. A ~20 MB wheel (numpy's, from PyPI) fetched on the host directly, on the host through
   Squid, and inside the sandbox through the Unix-socket bridge and Squid; medians of
   ROUNDS alternating fetches, each as a ratio to the direct one.

    python bench/packages.py
"""

import json
import shutil
import ssl
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

from setup import django_on_fresh_database

ROUNDS = 3
WHEEL_INDEX = "https://pypi.org/simple/numpy/"  # the simple API's JSON form (PEP 691)
WHEEL_NAME = "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64"


def wheel_url(context: ssl.SSLContext) -> tuple[str, int]:
    request = urllib.request.Request(
        WHEEL_INDEX, headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=30, context=context) as answer:  # noqa: S310
        files = json.load(answer)["files"]
    wheel = next(f for f in files if f["filename"].startswith(WHEEL_NAME))
    return wheel["url"], wheel["size"]


def fetch_seconds(url: str, context: ssl.SSLContext, proxy: str = "") -> float:
    handlers: list[urllib.request.BaseHandler] = [urllib.request.HTTPSHandler(context=context)]
    handlers.append(urllib.request.ProxyHandler({"https": proxy} if proxy else {}))
    opener = urllib.request.build_opener(*handlers)
    started = time.perf_counter()
    with opener.open(url, timeout=120) as answer:
        while answer.read(1 << 20):
            pass
    return time.perf_counter() - started


SANDBOX_FETCH = (
    "import time, urllib.request as u\n"
    "s = time.perf_counter(); r = u.urlopen('{url}', timeout=120)\n"
    "while r.read(1 << 20): pass\n"
    "print(time.perf_counter() - s)"
)


def sandbox_fetch_seconds(branch, url: str) -> float:
    from execution.dependencies import Phase
    from execution.services import command_execute
    from files.services import file_save

    file_save(branch=branch, path="fetch.py", text=SANDBOX_FETCH.format(url=url))
    outcome = command_execute(branch=branch, command="python3 fetch.py", phase=Phase.INSTALL)
    if outcome.log.exit_code != 0:
        raise RuntimeError(outcome.log.stderr[-2000:])
    return float(outcome.log.stdout.split()[-1])


def install_rows(project) -> list[tuple[str, float, float]]:
    from execution.installs import dependencies_install
    from files.services import file_save

    rows = []
    for runtime, manifest, text in (
        ("python3", "requirements.txt", "flask\npytest\n"),
        (
            "node",
            "package.json",
            '{"name": "b", "version": "1.0.0", "dependencies": {"express": "^4"}}',
        ),
    ):
        branch = project.branches.get()
        file_save(branch=branch, path=manifest, text=text)
        first = dependencies_install(branch=branch, runtime=runtime)
        assert first.command is not None  # a new manifest is always installed
        if first.command.log.exit_code != 0:
            raise RuntimeError(first.command.log.stderr[-2000:])
        second = dependencies_install(branch=branch, runtime=runtime)
        assert second.skipped
        rows.append((runtime, first.seconds, second.seconds))
    return rows


def run(proxy) -> None:
    from django.conf import settings

    from accounts.models import User
    from projects.services import project_create

    settings.SAMOKODER_PACKAGE_PROXY = proxy.url
    user = User.objects.create_user(email="bench@example.com", password="bench-password-1")
    project = project_create(owner=user, name="Bench packages")

    print("Install, first vs second with the same manifest (bubblewrap)")
    for runtime, first, second in install_rows(project):
        ratio = second / first
        print(f"  {runtime:8} first {first:6.1f} s   second {second:7.3f} s   ratio {ratio:.4f}")

    context = ssl.create_default_context(cafile=settings.SAMOKODER_PACKAGE_CA_BUNDLE)
    url, size = wheel_url(context)
    timings: dict[str, list[float]] = {
        "direct (host)": [],
        "Squid (host)": [],
        "bridge + Squid (sandbox)": [],
    }
    branch = project.branches.get()
    for _ in range(ROUNDS):
        timings["direct (host)"].append(fetch_seconds(url, context))
        timings["Squid (host)"].append(fetch_seconds(url, context, proxy=proxy.url))
        timings["bridge + Squid (sandbox)"].append(sandbox_fetch_seconds(branch, url))
    direct = statistics.median(timings["direct (host)"])
    print(f"\n{url.rsplit('/', 1)[-1]} ({size / 1e6:.1f} MB), median of {ROUNDS}")
    for name, seconds in timings.items():
        median = statistics.median(seconds)
        rate, ratio = size / median / 1e6, median / direct
        print(f"  {name:26} {median:6.2f} s  {rate:6.1f} MB/s  ratio {ratio:.2f}")


def main() -> None:
    django_on_fresh_database("packages")
    from django.conf import settings

    from execution.proxy import PackageProxy

    folder = Path(tempfile.mkdtemp(prefix="samokoder-bench-", dir="/tmp"))
    folder.chmod(0o755)
    settings.SAMOKODER_WORKSPACES_DIR = str(folder / "workspaces")
    settings.SAMOKODER_SANDBOX_BACKEND = "bubblewrap"
    proxy = PackageProxy(
        hosts=settings.SAMOKODER_PACKAGE_HOSTS,
        run_dir=folder / "proxy",
        upstream=settings.SAMOKODER_PACKAGE_UPSTREAM_PROXY,
    )
    try:
        with proxy:
            run(proxy)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
