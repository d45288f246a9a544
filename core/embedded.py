"""Secrets for the embedded mode, generated once and kept under ``var/``.

Only used when DEBUG is on and the variable is unset: a production deployment must
set its secrets explicitly, so settings refuse to start without them.
"""

from collections.abc import Callable
from pathlib import Path


def persistent_secret(path: Path, generate: Callable[[], str]) -> str:
    """Return the secret stored at ``path``, creating it (mode 0600) on first use."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = generate()
    # O_EXCL: two processes starting at once must not write two different secrets.
    try:
        with path.open("x") as handle:
            path.chmod(0o600)
            handle.write(secret)
    except FileExistsError:
        return path.read_text().strip()
    return secret
