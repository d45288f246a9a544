"""The files a sandbox sees, materialised from the database and synced back.

``LocalFileSystem`` is the VFS: a folder per project on this machine (object storage
can take its place behind the same four methods). Every path goes through
``files.paths``: nothing is written outside the folder, and on the way back a symlink
or a path that would escape is refused and reported, never followed.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from files.paths import UnsafePathError, path_normalise, path_within

# Generated trees that are rebuilt, not versioned (dependencies, caches).
NOT_SYNCED = {"node_modules", ".venv", "venv", "__pycache__", ".pytest_cache", ".git", ".cache"}


@dataclass
class SyncReport:
    """What came back from a command: changes to commit and what was refused, and why."""

    changes: dict[str, str | None] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)


class LocalFileSystem:
    def __init__(self, root: Path) -> None:
        self.root = root

    def write_text(self, path: str, text: str) -> None:
        target = path_within(self.root, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")

    def read_text(self, path: str) -> str:
        return path_within(self.root, path).read_text(encoding="utf-8")

    def remove(self, path: str) -> None:
        path_within(self.root, path).unlink(missing_ok=True)

    def walk(self):
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


def hand_over(workspace: Path) -> None:
    """Give the workspace to the sandbox uid, which must own it to write in it."""
    if os.geteuid() != 0:
        return
    uid = settings.SAMOKODER_SANDBOX_UID
    for path in [workspace, *workspace.rglob("*")]:
        os.lchown(path, uid, uid)


def workspace_materialize(fs: LocalFileSystem, files: dict[str, str]) -> None:
    """Make the folder hold exactly ``files`` (path -> text), leaving ignored trees alone."""
    fs.root.mkdir(parents=True, exist_ok=True)
    for relative, _entry in list(fs.walk()):
        if relative not in files:
            Path(fs.root, relative).unlink()
    for path, text in files.items():
        fs.write_text(path, text)


def workspace_collect(fs: LocalFileSystem, before: dict[str, str], max_bytes: int) -> SyncReport:
    """Compare the folder with ``before`` (path -> text) after a command ran."""
    report = SyncReport()
    seen: set[str] = set()
    for relative, entry in fs.walk():
        reason = _refusal(relative, entry, max_bytes)
        if reason:
            report.refused[relative] = reason
            continue
        seen.add(relative)
        text = _text(Path(entry.path))
        if text is None:
            report.refused[relative] = "not UTF-8 text"
        elif before.get(relative) != text:
            report.changes[relative] = text
    for path in before.keys() - seen:
        report.changes[path] = None
    return report


def _refusal(relative: str, entry: os.DirEntry, max_bytes: int) -> str:
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


def _text(path: Path) -> str | None:
    # O_NOFOLLOW: the file may have been swapped for a symlink since it was listed.
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as handle:
        data = handle.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if "\x00" in text else text
