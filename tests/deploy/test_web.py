"""One web server command: `make run`'s Procfile starts what the cluster and the tests start."""

import shlex
from pathlib import Path

from deploy.web import APP, web_command

ROOT = Path(__file__).resolve().parents[2]


def procfile_web_line() -> list[str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return shlex.split(next(line for line in lines if line.startswith("web:")).removeprefix("web:"))


def test_the_procfile_starts_the_web_process_as_the_cluster_does():
    procfile = procfile_web_line()
    command = web_command(port=8000)
    assert procfile[0] == command[2] == "uvicorn"  # `python -m uvicorn` there
    # The same options, host and port aside (the Procfile's port is honcho's $PORT).
    assert procfile[procfile.index("--port") + 2 :] == command[command.index("--port") + 2 :]
    assert procfile[-1] == APP


def test_behind_the_balancer_the_socket_path_replaces_host_and_port():
    command = web_command(unix_socket="var/scale/web-1.sock", access_log=False)
    assert command[command.index("--uds") + 1] == "var/scale/web-1.sock"
    assert "--host" not in command and "--no-access-log" in command
