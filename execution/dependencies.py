"""Runtimes, their dependency folders, and the two phases a project's commands run in.

``install`` reaches the package registries through the proxy bridge and fills the
runtime's dependency folder; ``run`` (tests, the app) has no network at all. The folders
(``.venv``, ``node_modules``) live per branch beside the workspace (execution/folders.py)
and are mounted over the same names in it for every command, read-write; the sync-back
skips those names, so they are rebuilt from the manifest, never stored.
"""

import enum
import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from execution.backends.base import Mount
from execution.bridge import through_proxy
from execution.folders import (
    BRIDGE_IN_SANDBOX,
    CA_IN_SANDBOX,
    CACHE_IN_SANDBOX,
    bridge_folder,
    cache_folder,
    deps_folder,
    host_owned,
    installed_folder,
    sandbox_owned,
)


class Phase(enum.StrEnum):
    INSTALL = "install"
    RUN = "run"


@dataclass(frozen=True)
class Runtime:
    """A language runtime the sandbox has (Debian's packages on both backends)."""

    name: str
    manifest: str  # must exist for an install; its text decides when to reinstall
    folder: str  # where the dependencies appear in the workspace
    command: str
    lock: str = ""  # hashed with the manifest; when present, ``locked_command`` is used
    locked_command: str = ""
    registry: str = ""  # where its packages come from, as the agents' prompts name it
    usage: str = ""  # how the project's commands use what was installed (for the prompts)

    def install_command(self, paths: set[str] | dict) -> str:
        return self.locked_command if self.lock and self.lock in paths else self.command


# The one table of runtimes: the install step and (later) the Architect's schema read it.
RUNTIMES = {
    "python3": Runtime(
        name="python3", manifest="requirements.txt", folder=".venv",
        command="python3 -m venv .venv && .venv/bin/pip install -r requirements.txt",
        registry="PyPI",
        usage="commands use .venv/bin/python (e.g. .venv/bin/python -m pytest -q) when "
        "requirements.txt exists, and python3 with the standard library only when it does not",
    ),
    "node": Runtime(
        name="node", manifest="package.json", folder="node_modules", lock="package-lock.json",
        command="npm install", locked_command="npm ci", registry="npm",
        usage="require() finds node_modules; tests run with node --test or an npm script",
    ),
}  # fmt: skip
CACHES = {"PIP_CACHE_DIR": "pip", "npm_config_cache": "npm"}


def runtime_get(name: str) -> Runtime:
    try:
        return RUNTIMES[name]
    except KeyError:
        raise ValueError(f"Unknown runtime {name!r}; known: {', '.join(RUNTIMES)}") from None


def phase_command(command: str, *, phase: Phase) -> str:
    """The shell line the sandbox runs: caches under /cache (never in the workspace, where
    npm's and pip's would land through HOME), and for an install the proxy bridge."""
    exports = " ".join(f"{name}={CACHE_IN_SANDBOX}/{sub}" for name, sub in CACHES.items())
    # One retry, not pip's five with back-off: a host the proxy refuses stays refused, and
    # the five took about 15 s to say so (a run out of fixes waited a minute).
    # npm's update notifier would fetch npm's own metadata through the proxy and tell the
    # agents, in the install log, to upgrade an npm they cannot upgrade.
    quiet = (
        "PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off PIP_RETRIES=1 "
        "npm_config_update_notifier=false npm_config_fund=false"
    )
    line = f"export {exports} {quiet}\n{command}"
    return through_proxy(line) if phase == Phase.INSTALL else line


def sandbox_mounts(workspace: Path, *, branch_id: str | None) -> tuple[Mount, ...]:
    """What the project's sandbox sees besides its workspace, folders made as needed:
    the bridge folder, the pip/npm caches, the branch's dependency folders (none when
    ``branch_id`` is None) and, read-only, the host's CA bundle: registries are verified
    against it, and where the egress re-signs TLS only that bundle has the signing CA."""
    host_owned(installed_folder(workspace))
    mounts = [
        Mount(source=host_owned(bridge_folder(workspace)), target=BRIDGE_IN_SANDBOX),
        Mount(source=sandbox_owned(cache_folder(workspace)), target=CACHE_IN_SANDBOX),
    ]
    for runtime in RUNTIMES.values():
        if branch_id is None:  # a sandbox made for no branch mounts no dependencies
            break
        folder = sandbox_owned(deps_folder(workspace, branch_id) / runtime.folder)
        mounts.append(Mount(source=folder, target=f"/workspace/{runtime.folder}"))
    bundle = Path(settings.SAMOKODER_PACKAGE_CA_BUNDLE)
    if bundle.is_file():
        mounts.append(Mount(source=bundle.resolve(), target=CA_IN_SANDBOX, read_only=True))
    return tuple(mounts)


def manifest_digest(runtime: Runtime, files: dict[str, str]) -> str:
    """sha256 over the manifest and lock file texts (absent ones count as absent)."""
    digest = hashlib.sha256(runtime.name.encode())
    for path in (runtime.manifest, runtime.lock):
        if path and path in files:
            digest.update(f"\0{path}\0{files[path]}".encode())
    return digest.hexdigest()


def _marker(workspace: Path, branch_id: str, runtime: Runtime) -> Path:
    return installed_folder(workspace) / f"{branch_id}-{runtime.name}.sha256"


def installed_digest(workspace: Path, *, branch_id: str, runtime: Runtime) -> str:
    """The digest recorded by the branch's last successful install, or ""."""
    marker = _marker(workspace, branch_id, runtime)
    return marker.read_text().strip() if marker.exists() else ""


def installed_record(workspace: Path, *, branch_id: str, runtime: Runtime, digest: str) -> None:
    _marker(workspace, branch_id, runtime).write_text(digest + "\n")


def dependencies_clear(workspace: Path, *, branch_id: str, runtime: Runtime) -> None:
    """Empty the branch's folder for ``runtime`` and forget its install, so a changed
    manifest gives exactly what it lists (a removed package does not linger)."""
    _marker(workspace, branch_id, runtime).unlink(missing_ok=True)
    folder = deps_folder(workspace, branch_id) / runtime.folder
    # Its contents only: the folder itself is a mount point in a running Docker sandbox.
    for entry in folder.iterdir() if folder.exists() else ():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    sandbox_owned(folder)
