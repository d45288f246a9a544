"""The per-project folder beside the workspace: what a sandbox sees besides its files.

    WORKSPACES/<project>/                      the workspace (synced with the database)
    WORKSPACES/<project>.sandbox/bridge/       Unix sockets crossing in      -> /bridge
    WORKSPACES/<project>.sandbox/deps/<branch>/.venv, node_modules   -> /workspace/.venv, …
    WORKSPACES/<project>.sandbox/cache/        pip's and npm's caches        -> /cache
    WORKSPACES/<project>.sandbox/installed/    manifest hash per branch and runtime (host only)
    WORKSPACES/<project>.sandbox/serve/<key>/files/   a served app's own copy of its files
    WORKSPACES/<project>.sandbox/serve/<key>/socket/  its HTTP port as app.sock   -> /serve

The sandbox keeps its own network namespace; the bridge folder is the only way out and
holds a socket only while something is meant to cross: the package proxy's during an
install, listened on by the host. The sandbox cannot write there; a socket it must listen
on itself (a preview's HTTP port) goes in a folder of that app's own, owned by the
sandbox uid (``sandbox_owned``), seen at /serve (execution/serving.py).

Dependencies are mounted over their folders in the workspace, which the sync-back never
walks (execution/workspace.py NOT_SYNCED), so they are never in the database or the zip.
"""

import os
from pathlib import Path

from django.conf import settings

BRIDGE_IN_SANDBOX = "/bridge"
CACHE_IN_SANDBOX = "/cache"
SERVE_IN_SANDBOX = "/serve"
CA_IN_SANDBOX = "/etc/ssl/certs/ca-certificates.crt"


def workspace_folder(project_id: str) -> Path:
    """The project's workspace on this host (WORKSPACES/<project>)."""
    return Path(settings.SAMOKODER_WORKSPACES_DIR) / project_id


def sandbox_folder(workspace: Path) -> Path:
    return workspace.with_name(f"{workspace.name}.sandbox")


def bridge_folder(workspace: Path) -> Path:
    return sandbox_folder(workspace) / "bridge"


def deps_folder(workspace: Path, branch_id: str) -> Path:
    return sandbox_folder(workspace) / "deps" / branch_id


def cache_folder(workspace: Path) -> Path:
    return sandbox_folder(workspace) / "cache"


def installed_folder(workspace: Path) -> Path:
    return sandbox_folder(workspace) / "installed"


def serve_folder(workspace: Path, key: str) -> Path:
    return sandbox_folder(workspace) / "serve" / key


def host_owned(folder: Path) -> Path:
    """Make ``folder`` (0755): the sandbox can read it, not write in it."""
    folder.mkdir(mode=0o755, parents=True, exist_ok=True)
    return folder


def sandbox_owned(folder: Path) -> Path:
    """Make ``folder``, owned by the sandbox uid when running as root (it writes there)."""
    host_owned(folder)
    if os.geteuid() == 0:
        uid = settings.SAMOKODER_SANDBOX_UID
        os.chown(folder, uid, uid)
    return folder
