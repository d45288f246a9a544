"""The Docker sandbox's workspace copied in and out through the Docker API.

For a daemon that cannot see this machine's folders (a remote DOCKER_HOST), the
sandbox's /workspace is a volume of its own on the daemon's host, and the project's
folder here is its mirror: ``copy_in`` before each command makes /workspace hold what the
mirror holds (services.py has just materialised it from the database), ``copy_out``
after it makes the mirror hold what the command left, which services.py then collects as
it does from a bind mount. Trees that are never synced (``NOT_SYNCED``: node_modules,
.venv, caches) stay in the sandbox and are neither sent nor fetched.

Both directions run in the sandbox itself as its user, with its limits (the image's
python3, as the reaper does). What comes back is read as untrusted: only folders, regular
files, symlinks and FIFOs are made here, never through a symlink, never outside the
mirror; FIFOs, sockets and unreadable files come back as empty FIFOs, so they are
reported as "not a regular file" as from a bind mount.
"""

import contextlib
import io
import os
import stat
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO

from docker import DockerClient
from docker.errors import DockerException, NotFound

from execution.backends.base import SandboxError, WorkspaceWatch
from execution.folders import CACHE_IN_SANDBOX
from execution.workspace import NOT_SYNCED, LocalFileSystem, workspace_clear

IN_SANDBOX = "/workspace"
CANNOT_EXEC = 126  # the runtime could not start the process (no fork left, for one)
EXEC_WAIT = 10.0

# Empties /workspace but the never-synced trees (argv), folders the mirror may not have
# included: what the command left must not outlive the copy in.
CLEAR = """
import os, sys
keep = set(sys.argv[1:])
def clear(folder):
    with os.scandir(folder) as entries:
        for entry in entries:
            if not entry.is_dir(follow_symlinks=False):
                os.unlink(entry.path)
            elif entry.name not in keep:
                os.chmod(entry.path, 0o755)
                clear(entry.path)
                try:
                    os.rmdir(entry.path)
                except OSError:
                    pass  # holds a kept tree
clear("/workspace")
"""

# /workspace as a tar on stdout (GNU format, names as bytes), skipping the never-synced
# trees (argv). Anything but a folder, file or symlink, and a file it cannot open, is sent
# as an empty FIFO: never read, refused on the way back.
PACK = """
import os, stat, sys, tarfile
skip = set(sys.argv[1:])
out = tarfile.open(fileobj=sys.stdout.buffer, mode="w|", format=tarfile.GNU_FORMAT,
                   encoding="utf-8", errors="surrogateescape")
def add(folder, prefix):
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            st = entry.stat(follow_symlinks=False)
            info = tarfile.TarInfo(prefix + entry.name)
            info.mode, info.mtime = stat.S_IMODE(st.st_mode), int(st.st_mtime)
            if stat.S_ISDIR(st.st_mode):
                if entry.name in skip:
                    continue
                os.chmod(entry.path, info.mode | 0o700)
                info.type = tarfile.DIRTYPE
                out.addfile(info)
                add(entry.path, info.name + "/")
                continue
            if stat.S_ISLNK(st.st_mode):
                info.type, info.linkname = tarfile.SYMTYPE, os.readlink(entry.path)
                out.addfile(info)
                continue
            handle = None
            if stat.S_ISREG(st.st_mode):
                try:
                    os.chmod(entry.path, info.mode | 0o400)
                    fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
                    handle = os.fdopen(fd, "rb")
                except OSError:
                    pass
            if handle is None:
                info.type = tarfile.FIFOTYPE
                out.addfile(info)
                continue
            with handle:
                info.size = os.fstat(handle.fileno()).st_size
                out.addfile(info, handle)
add("/workspace", "")
out.close()
"""


def copy_in(client: DockerClient, container_id: str, mirror: Path, *, uid: int) -> None:
    """Make the sandbox's /workspace hold the mirror's files (owned by ``uid``)."""
    _run(client, container_id, ["python3", "-c", CLEAR, *sorted(NOT_SYNCED)])
    archive = _pack(mirror, uid=uid)
    try:
        client.api.put_archive(container_id, IN_SANDBOX, archive)
    except DockerException as exc:
        raise SandboxError(f"Could not copy the workspace into the sandbox: {exc}") from exc


def copy_out(client: DockerClient, container_id: str, mirror: Path) -> None:
    """Make the mirror hold what the sandbox's /workspace holds (never-synced trees aside)."""
    with tempfile.TemporaryFile() as spool:
        _run(client, container_id, ["python3", "-c", PACK, *sorted(NOT_SYNCED)], out=spool)
        spool.seek(0)
        workspace_clear(LocalFileSystem(mirror))
        # Names as bytes, whatever bytes: one that is not UTF-8 is reported, not lost.
        with tarfile.open(
            fileobj=spool, mode="r|", encoding="utf-8", errors="surrogateescape"
        ) as archive:
            unpack(archive, mirror)


def _pack(mirror: Path, *, uid: int) -> bytes:
    """The mirror's folders and regular files as a tar owned by ``uid``."""
    buffer = io.BytesIO()
    folders: set[str] = set()
    with tarfile.open(
        fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT, encoding="utf-8",
        errors="surrogateescape",
    ) as tar:  # fmt: skip
        for relative, entry in LocalFileSystem(mirror).walk():
            if not entry.is_file(follow_symlinks=False):
                continue
            for parent in reversed(PurePosixPath(relative).parents[:-1]):
                if str(parent) not in folders:
                    folders.add(str(parent))
                    tar.addfile(_owned(tarfile.TarInfo(str(parent)), uid, tarfile.DIRTYPE, 0o755))
            info = _owned(tarfile.TarInfo(relative), uid, tarfile.REGTYPE, 0o644)
            with open(entry.path, "rb") as handle:
                info.size = os.fstat(handle.fileno()).st_size
                tar.addfile(info, handle)
    return buffer.getvalue()


def _owned(info: tarfile.TarInfo, uid: int, kind: bytes, mode: int) -> tarfile.TarInfo:
    info.uid = info.gid = uid
    info.type, info.mode = kind, mode
    return info


def unpack(archive: tarfile.TarFile, root: Path) -> None:
    """Make the archive's folders, regular files, symlinks and FIFOs below ``root``.

    A member whose name leaves ``root``, or whose folder is not a real folder made here
    (a symlink, a file), is skipped: nothing is ever written through a link."""
    for member in archive:
        parts = _parts(member.name)
        if parts is None or not _real_folder(root, parts[:-1]):
            continue
        path = root.joinpath(*parts)
        with contextlib.suppress(FileExistsError):
            if member.isdir():
                path.mkdir(mode=0o755)
            elif member.isreg():
                _write(path, archive, member)
            elif member.issym():
                os.symlink(member.linkname, path)
            else:  # FIFOs, and whatever else stands where a file could be
                os.mkfifo(path, 0o644)


def _parts(name: str) -> list[str] | None:
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if not parts or name.startswith("/") or ".." in parts:
        return None
    return parts


def _real_folder(root: Path, parts: list[str]) -> bool:
    folder = root
    for part in parts:
        folder = folder / part
        try:
            if not stat.S_ISDIR(folder.lstat().st_mode):
                return False
        except FileNotFoundError:
            return False
    return True


def _write(path: Path, archive: tarfile.TarFile, member: tarfile.TarInfo) -> None:
    source = archive.extractfile(member)
    if source is None:
        return
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    with source, open(os.open(path, flags, 0o644), "wb") as target:
        while chunk := source.read(1 << 20):
            target.write(chunk)


def _run(
    client: DockerClient, container_id: str, command: list[str], *, out: IO[bytes] | None = None
) -> None:
    """Run ``command`` in the sandbox; its stdout into ``out``. SandboxError when it fails.

    Right after a command was killed its processes may still count against the sandbox's
    process limit until the reaper has collected them, and no exec can start (exit 126):
    that is waited out, for up to ``EXEC_WAIT`` seconds."""
    deadline = time.monotonic() + EXEC_WAIT
    while True:
        exit_code, errors = _exec(client, container_id, command, out)
        if exit_code != CANNOT_EXEC or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if exit_code != 0:
        message = errors.decode("utf-8", "replace").strip()[-2000:]
        raise SandboxError(f"Could not copy the workspace (exit {exit_code}): {message}")


def _exec(
    client: DockerClient, container_id: str, command: list[str], out: IO[bytes] | None
) -> tuple[int, bytes]:
    api = client.api
    errors = bytearray()
    try:
        exec_id = api.exec_create(container_id, command, workdir=IN_SANDBOX)["Id"]
        stream: Iterator[tuple[bytes | None, bytes | None]] = api.exec_start(
            exec_id, stream=True, demux=True
        )
        for stdout, stderr in stream:
            if stdout and out is not None:
                out.write(stdout)
            if stderr and len(errors) < 4000:
                errors += stderr
        exit_code: int = api.exec_inspect(exec_id)["ExitCode"]
    except NotFound as exc:
        raise SandboxError(
            "The project's sandbox container is gone; it will be recreated."
        ) from exc
    except DockerException as exc:
        raise SandboxError(f"Could not copy the workspace: {exc}") from exc
    return exit_code, bytes(errors)


class ContainerDiskWatch(WorkspaceWatch):
    """The disk limit for a sandbox whose workspace is not on this machine: the size of
    /workspace (with the dependency folders mounted in it) and /cache, measured with
    ``du`` in the sandbox itself every ``DISK_POLL`` seconds."""

    def __init__(self, client: DockerClient, container_id: str, limit_mb: int) -> None:
        super().__init__([], limit_mb)
        self.client, self.container_id = client, container_id

    def used(self) -> int:
        buffer = io.BytesIO()
        try:
            # du says "total" even when it cannot read some folder (and then exits 1).
            du = f"du -sck {IN_SANDBOX} {CACHE_IN_SANDBOX} 2>/dev/null; true"
            _run(self.client, self.container_id, ["/bin/sh", "-c", du], out=buffer)
        except SandboxError:  # a folder vanished while measured: look again next time
            return 0
        last = buffer.getvalue().decode().strip().splitlines()[-1]
        return int(last.split()[0]) * 1024
