"""`make run`: the Procfile's processes under honcho, and the URL once it answers.

honcho gives each Procfile line a PORT counting up from the base port; the web line is
first, so it gets PORT itself. Ctrl-C makes honcho stop every process it started.
"""

import os
import socket
import sys
import threading
import time

from with_redis import run


def announce_when_listening(host: str, port: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
        except OSError:
            time.sleep(0.2)
            continue
        print(f"\n  Samokoder is running at http://{host}:{port}/  (Ctrl-C stops it)", flush=True)
        preview = os.environ.get("SAMOKODER_PREVIEW_ORIGIN", "http://preview.localhost:8001")
        print(f"  Previews of generated apps are served apart, on {preview}\n", flush=True)
        return


def main() -> int:
    port = int(os.environ.get("PORT", "8000"))
    # The Procfile names daphne and celery; they live beside this interpreter (.venv/bin).
    bin_dir = os.path.dirname(sys.executable)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    threading.Thread(target=announce_when_listening, args=("127.0.0.1", port), daemon=True).start()
    return run([sys.executable, "-m", "honcho", "start", "--port", str(port), "-f", "Procfile"])


if __name__ == "__main__":
    sys.exit(main())
