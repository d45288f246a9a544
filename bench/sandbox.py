"""Per-command overhead of each sandbox backend, and what a CPU burner costs a neighbour.

1. The same command (`python3 -c pass`) runs N times bare, in bubblewrap under rlimits
   only (no cgroups: the path before issue 14, and the fallback), in bubblewrap with a
   cgroup per command, and, when a Docker daemon answers, by `docker exec` in an already
   running container, its workspace bind-mounted or copied in and out through the Docker
   API (the mode for a remote DOCKER_HOST); medians side by side from one run.
2. Tenant isolation (issue 14): one project's command keeps busy loops on every core
   while another project's `python3 -c pass` is timed; the ratio to its idle median is
   printed, with how often the burner's cgroup throttled it.

    python bench/sandbox.py
"""

import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from setup import django_on_fresh_database

RUNS = 30
COMMAND = "python3 -c pass"
BURN_SECONDS = 20
COPIED_FILES = 100  # 10 KB each: a small project's workspace


def median_ms(call, runs: int = RUNS) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def run() -> None:
    from django.conf import settings

    from execution.backends.base import Limits
    from execution.backends.bubblewrap import BubblewrapProcessManager

    rows = [
        (
            "bare subprocess",
            median_ms(lambda: subprocess.run(["/usr/bin/python3", "-c", "pass"], check=True)),
        )
    ]
    workspace = Path(tempfile.mkdtemp(prefix="samokoder-bench-", dir="/tmp"))
    workspace.chmod(0o755)
    try:
        manager = BubblewrapProcessManager(Limits())
        handle = manager.create_container(project_id="bench", workspace=workspace / "ws")
        settings.SAMOKODER_SANDBOX_CGROUPS = False
        rows.append(("bubblewrap, rlimits only", bubblewrap_ms(manager, handle)))
        settings.SAMOKODER_SANDBOX_CGROUPS = True
        if manager.cgroups() is not None:
            rows.append(("bubblewrap + cgroup", bubblewrap_ms(manager, handle)))
        rows += docker_rows(workspace)
        print_overhead(rows)
        if manager.cgroups() is not None:
            settings.SAMOKODER_SANDBOX_CGROUPS = False
            neighbour(manager, workspace, "rlimits only")
            settings.SAMOKODER_SANDBOX_CGROUPS = True
            neighbour(manager, workspace, "cgroup")
        else:
            print("tenant isolation: not measured (no writable cgroups here)")
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


def bubblewrap_ms(manager, handle) -> float:
    return median_ms(lambda: manager.execute(handle, COMMAND, timeout=30))


def print_overhead(rows: list[tuple[str, float]]) -> None:
    bare = rows[0][1]
    print(f"`{COMMAND}`, median of {RUNS} runs")
    for name, ms in rows:
        print(f"{name:28} {ms:8.1f} ms   overhead {ms - bare:+7.1f} ms   ({ms / bare:.1f}x)")


def neighbour(manager, workspace: Path, label: str) -> None:
    """Project B's command latency, idle and while project A burns every core."""
    burner = manager.create_container(project_id="burner", workspace=workspace / "burner")
    other = manager.create_container(project_id="other", workspace=workspace / "other")
    idle = bubblewrap_ms(manager, other)
    loops = " ".join(str(n) for n in range(2 * (os.cpu_count() or 1)))
    burn = f"for i in {loops}; do timeout {BURN_SECONDS} sh -c 'while :; do :; done' & done; wait"
    results = []
    thread = threading.Thread(
        target=lambda: results.append(manager.execute(burner, burn, timeout=BURN_SECONDS + 30))
    )
    thread.start()
    time.sleep(2)  # the burner is running on every core by now
    busy = median_ms(lambda: manager.execute(other, COMMAND, timeout=30), runs=15)
    thread.join()
    usage = results[0].usage
    throttled = f"{usage.cpu_throttled} periods" if usage else "not capped"
    print(
        f"{label}: neighbour `{COMMAND}` while another project burns {len(loops.split())} "
        f"loops (share {manager.limits.cpus} CPU): idle {idle:.1f} ms, busy {busy:.1f} ms, "
        f"ratio {busy / idle:.2f}x; burner throttled: {throttled}"
    )


# The Docker rows: the workspace bind-mounted (the local default), then copied in and out
# through the API as for a remote DOCKER_HOST, empty and with files in it.
DOCKER_ROWS = [
    ("docker exec (running)", False, 0),
    ("docker, workspace copied", True, 0),
    (f"docker, copied, {COPIED_FILES} files", True, COPIED_FILES),
]


def docker_rows(workspace: Path) -> list[tuple[str, float]]:
    from django.conf import settings

    try:
        from execution.backends.base import Limits
        from execution.backends.docker import DockerProcessManager

        manager = DockerProcessManager(Limits())
    except Exception as exc:  # no daemon or no backend here: say so, measure the rest
        print(f"docker: not measured ({exc})")
        return []
    rows = []
    for index, (label, copy, files) in enumerate(DOCKER_ROWS):
        settings.SAMOKODER_DOCKER_COPY_WORKSPACE = copy
        folder = workspace / f"docker-{index}"
        for n in range(files):  # 10 KB each, in ten folders
            (folder / f"pkg{n % 10}").mkdir(parents=True, exist_ok=True)
            (folder / f"pkg{n % 10}" / f"module{n}.py").write_text("# padding\n" * 1000)
        handle = manager.create_container(project_id="bench", workspace=folder)
        try:
            ms = median_ms(lambda h=handle: manager.execute(h, COMMAND, timeout=30))
            rows.append((label, ms))
        finally:
            manager.stop(handle)
    return rows


if __name__ == "__main__":
    django_on_fresh_database("sandbox")
    run()
