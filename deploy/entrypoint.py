"""The app image's entrypoint: a Procfile process by name, or any command as given.

    entrypoint.py web | worker | housekeeping | beat   the Procfile's line, through /bin/sh
    entrypoint.py python manage.py migrate            anything else

The Procfile is the one list of processes: `make run` starts it under honcho, the compose
file names its processes, and both run the same lines. The shell is replaced (``exec``), so
the process gets the container's signals (compose runs an init as PID 1 in front of it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PROCFILE = Path(__file__).resolve().parents[1] / "Procfile"


def procfile_commands(text: str) -> dict[str, str]:
    """``name -> command line`` of every ``name: command`` line (comments and blanks skipped)."""
    commands = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, command = line.partition(":")
            commands[name.strip()] = command.strip()
    return commands


def main(argv: list[str]) -> None:
    if not argv:
        sys.exit(__doc__)
    commands = procfile_commands(PROCFILE.read_text())
    if len(argv) == 1 and argv[0] in commands:
        os.execv("/bin/sh", ["/bin/sh", "-c", f"exec {commands[argv[0]]}"])  # noqa: S606
    os.execvp(argv[0], argv)  # noqa: S606


if __name__ == "__main__":
    main(sys.argv[1:])
