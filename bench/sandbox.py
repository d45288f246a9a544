"""Per-command overhead of each sandbox backend, against a bare subprocess (issue 5).

The same command (`python3 -c pass`) runs N times bare, in bubblewrap, and, when a
Docker daemon answers, by `docker exec` in an already running container; medians
are printed side by side from one run.

    python bench/sandbox.py
"""

import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from setup import django_on_fresh_database

RUNS = 30
COMMAND = "python3 -c pass"


def median_ms(call) -> float:
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def run() -> None:
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
        rows.append(("bubblewrap", median_ms(lambda: manager.execute(handle, COMMAND, timeout=30))))
        rows += docker_rows(workspace)
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    bare = rows[0][1]
    print(f"`{COMMAND}`, median of {RUNS} runs")
    for name, ms in rows:
        print(f"{name:28} {ms:8.1f} ms   overhead {ms - bare:+7.1f} ms   ({ms / bare:.1f}x)")


def docker_rows(workspace: Path) -> list[tuple[str, float]]:
    try:
        from execution.backends.base import Limits
        from execution.backends.docker import DockerProcessManager

        manager = DockerProcessManager(Limits())
        handle = manager.create_container(project_id="bench", workspace=workspace / "docker")
    except Exception as exc:  # no daemon or no backend here: say so, measure the rest
        print(f"docker: not measured ({exc})")
        return []
    try:
        return [
            (
                "docker exec (running)",
                median_ms(lambda: manager.execute(handle, COMMAND, timeout=30)),
            )
        ]
    finally:
        manager.stop(handle)


if __name__ == "__main__":
    django_on_fresh_database("sandbox")
    run()
