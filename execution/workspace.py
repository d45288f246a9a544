"""The files a sandbox sees, materialised from the database and synced back.

``LocalFileSystem`` is the VFS: a folder per project on this machine (object storage
can take its place behind the same four methods). Every path goes through
``files.paths``: nothing is written outside the folder, and on the way back a symlink
or a path that would escape is refused and reported, never followed.
"""

import errno
import os
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from files.paths import UnsafePathError, path_normalise, path_within

# Generated trees that are rebuilt, not versioned (dependencies, caches).
NOT_SYNCED = {"node_modules", ".venv", "venv", "__pycache__", ".pytest_cache", ".git", ".cache"}
# Never follow a link, never wait for a peer (a FIFO or socket opened for I/O would).
NO_SURPRISES = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


@dataclass(frozen=True)
class SyncLimits:
    """What one command may create: files new to the workspace, and bytes of new or
    resized files. Over either, nothing it changed is kept."""

    max_files: int
    max_bytes: int
    max_file_bytes: int  # one file larger than this is refused on its own

    @classmethod
    def from_settings(cls) -> "SyncLimits":
        return cls(
            max_files=settings.SAMOKODER_SYNC_MAX_FILES,
            max_bytes=settings.SAMOKODER_SYNC_MAX_BYTES,
            max_file_bytes=settings.SAMOKODER_MAX_FILE_BYTES,
        )


@dataclass
class SyncReport:
    """What came back from a command: changes to commit and what was refused, and why.

    ``over_limit`` is ``(kind, limit)`` ("files" or "bytes") when the command created
    more than it may: then ``changes`` and ``refused`` are empty, the whole change is
    refused."""

    changes: dict[str, str | None] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    over_limit: tuple[str, int] | None = None


class LocalFileSystem:
    def __init__(self, root: Path) -> None:
        self.root = root

    def write_text(self, path: str, text: str) -> None:
        """Write ``path`` as a new regular file, whatever the last command left there.

        Each folder on the way is opened without following links; a link, FIFO or file
        where a folder belongs, or anything where the file belongs, is removed first
        (the database holds the truth). The file is created afresh (``O_EXCL``), so
        neither a hard link nor a device is ever written through."""
        parts = path_normalise(path).split("/")
        folder = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for name in parts[:-1]:
                folder = _enter(folder, name)
            _clear(folder, parts[-1])
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | NO_SURPRISES
            with open(os.open(parts[-1], flags, 0o644, dir_fd=folder), "wb") as handle:
                handle.write(text.encode("utf-8"))
        finally:
            os.close(folder)

    def read_text(self, path: str) -> str:
        return path_within(self.root, path).read_text(encoding="utf-8")

    def remove(self, path: str) -> None:
        path_within(self.root, path).unlink(missing_ok=True)

    def walk(self) -> Iterator[tuple[str, os.DirEntry]]:
        """``(relative path, os.DirEntry)`` of every entry below the root, symlinks included."""
        stack = [self.root]
        while stack:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    relative = Path(entry.path).relative_to(self.root).as_posix()
                    if entry.is_dir(follow_symlinks=False) and entry.name not in NOT_SYNCED:
                        stack.append(Path(entry.path))
                    elif not entry.is_dir(follow_symlinks=False):
                        yield relative, entry


def _enter(parent: int, name: str) -> int:
    """Open folder ``name`` in ``parent`` (closing ``parent``), replacing what is not one."""
    flags = os.O_RDONLY | os.O_DIRECTORY | NO_SURPRISES
    try:
        child = os.open(name, flags, dir_fd=parent)
    except FileNotFoundError:
        os.mkdir(name, 0o755, dir_fd=parent)
        child = os.open(name, flags, dir_fd=parent)
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        os.unlink(name, dir_fd=parent)  # a symlink, FIFO, socket or file: never followed
        os.mkdir(name, 0o755, dir_fd=parent)
        child = os.open(name, flags, dir_fd=parent)
    os.close(parent)
    return child


def _clear(folder: int, name: str) -> None:
    try:
        found = os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(found.st_mode):
        shutil.rmtree(name, dir_fd=folder)
    else:
        os.unlink(name, dir_fd=folder)


def hand_over(workspace: Path, *, uid: int | None = None) -> None:
    """Give the workspace to ``uid`` (the sandbox uid by default), which must own it to
    write in it. Only root can; otherwise the sandbox runs as us and owns it already.

    Only entries owned by someone else change hands: a look (lstat) costs less than a
    change, which also writes the inode (20,000 files: 220 ms against 300 ms on ext4,
    2026-11-30), and a workspace mostly goes back to the uid that had it last."""
    if os.geteuid() != 0:
        return
    uid = settings.SAMOKODER_SANDBOX_UID if uid is None else uid
    os.lchown(workspace, uid, uid)
    stack = [workspace]
    while stack:  # lazily, links not followed: a command may have left 100,000 files
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                found = entry.stat(follow_symlinks=False)
                if (found.st_uid, found.st_gid) != (uid, uid):
                    os.lchown(entry.path, uid, uid)
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))


def workspace_materialize(fs: LocalFileSystem, files: dict[str, str]) -> None:
    """Make the folder hold exactly ``files`` (path -> text), leaving ignored trees alone.

    Nothing a command left is opened: entries not in ``files`` are unlinked, the rest
    are written afresh (see ``LocalFileSystem.write_text``)."""
    fs.root.mkdir(parents=True, exist_ok=True)
    stale = [entry.path for relative, entry in fs.walk() if relative not in files]
    for path in stale:
        os.unlink(path)
    for path, text in files.items():
        fs.write_text(path, text)


def workspace_clear(fs: LocalFileSystem) -> None:
    """Empty the folder, generated trees included (without following links)."""
    for entry in os.scandir(fs.root):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)
        else:
            os.unlink(entry.path)


def workspace_collect(
    fs: LocalFileSystem, before: dict[str, str], limits: SyncLimits
) -> SyncReport:
    """Compare the folder with ``before`` (path -> text) after a command ran.

    First a walk that only looks (lstat) and stops as soon as the command created more
    than ``limits`` allow; only within them is anything read. Only regular files are
    opened, without following links and without blocking."""
    listed, over_limit = _listing(fs, before, limits)
    if over_limit is not None:
        return SyncReport(over_limit=over_limit)
    report = SyncReport()
    seen: set[str] = set()
    for relative, entry in listed:
        reason = _refusal(relative, entry, limits.max_file_bytes)
        if reason:
            report.refused[_readable(relative)] = reason
            continue
        seen.add(relative)
        text, unkept = _read(Path(entry.path))
        if unkept:
            report.refused[relative] = unkept
        elif before.get(relative) != text:
            report.changes[relative] = text
    for path in before.keys() - seen:
        report.changes[path] = None
    return report


def _listing(
    fs: LocalFileSystem, before: dict[str, str], limits: SyncLimits
) -> tuple[list[tuple[str, os.DirEntry]], tuple[str, int] | None]:
    listed, new_files, new_bytes = [], 0, 0
    for relative, entry in fs.walk():
        regular = entry.is_file(follow_symlinks=False)
        size = entry.stat(follow_symlinks=False).st_size if regular else 0
        old = before.get(relative)
        new_files += old is None
        if old is None or len(old.encode("utf-8")) != size:
            new_bytes += size
        if new_files > limits.max_files:
            return [], ("files", limits.max_files)
        if new_bytes > limits.max_bytes:
            return [], ("bytes", limits.max_bytes)
        listed.append((relative, entry))
    return listed, None


def _readable(relative: str) -> str:
    """The name as storable text: bytes that are not UTF-8 shown as U+FFFD."""
    return relative.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _refusal(relative: str, entry: os.DirEntry, max_bytes: int) -> str:
    if _readable(relative) != relative:
        return "file name is not UTF-8"
    if entry.is_symlink():
        return "symlink (not followed)"
    if not entry.is_file(follow_symlinks=False):
        return "not a regular file"
    try:
        path_normalise(relative)
    except UnsafePathError as exc:
        return f"unsafe path ({exc.code})"
    if entry.stat(follow_symlinks=False).st_size > max_bytes:
        return "larger than the file size limit"
    return ""


def _read(path: Path) -> tuple[str, str]:
    """The file's text and "", or "" and why it cannot be kept.

    The listing may be stale: open without following a link or waiting on a FIFO, and
    read only what is (still) a regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | NO_SURPRISES)
    except OSError:
        return "", "changed while being read"
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return "", "not a regular file"
        data = handle.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "", "not UTF-8 text"
    return ("", "not UTF-8 text") if "\x00" in text else (text, "")
