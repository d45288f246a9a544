"""The one path check for everything that writes project files: API, pipeline, sandbox sync.

Invariants 17 and 18: a file path is relative, and path traversal is forbidden. The rules
refuse and never repair, so what gets stored is exactly what was asked for, with one
spelling per file. Each refusal has a language-neutral ``code`` and a translated message.
Why each rule exists:

- ``not_text``, ``empty``: there is nothing safe to guess from bytes, None or "".
- ``control_character``: NUL cuts a path short in C; newlines break logs and shell
  commands; bidi overrides and zero-width characters (Unicode Cc, Cf, Zl, Zp) hide a name's
  real spelling from the person reviewing it; lone surrogates (Cs) are not UTF-8 at all.
- ``backslash``: a separator on Windows, so ``a\\..\\b`` climbs on a Windows checkout.
- ``not_normalised``: NFD and NFC spellings are two files on Linux and one on macOS.
- ``confusable``: fullwidth or leader dots and slashes that NFKC folds into ``.``, ``..``,
  ``/`` or ``\\``; some tools fold them, and the result climbs out.
- ``absolute``, ``drive`` (``/x``, ``C:``, ``//server``): they name a place outside.
- ``home``: shells and many tools expand a leading ``~`` to somebody's home folder.
- ``colon``: on Windows ``name:stream`` writes an NTFS data stream (``.git::$INDEX_ALLOCATION``
  reaches the ``.git`` folder that way).
- ``traversal`` (``..``); ``dot_segment`` (``.``), ``empty_segment``, ``trailing_slash``: the
  first climbs out; the others are harmless spellings of another path, refused so that one
  file never has two names.
- ``whitespace``, ``trailing_dot``: invisible to a reader, and Windows drops trailing dots and
  spaces, so ``a.`` and ``a`` would be one file there and two here.
- ``reserved_name``: Windows device names (CON, aux.py, COM1...) open a device, not a file;
  ``.git`` (and its short name ``GIT~1``) holds hooks and config that run code, and belongs
  to the workspace, never to a user or the model.
- ``too_long``, ``too_deep``: file systems cap a name at 255 bytes, and unbounded paths are
  a cheap way to exhaust the disk or the sandbox.
"""

from __future__ import annotations

import pathlib
import re
import unicodedata

from django.conf import settings
from django.utils.translation import gettext as _

SEGMENT_MAX_CHARACTERS = 100
SEGMENT_MAX_BYTES = 255  # NAME_MAX of ext4, xfs and btrfs, counted in UTF-8 bytes.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
DRIVE = re.compile(r"[A-Za-z]:")
# The names Windows maps to devices, as in CPython's ntpath.isreserved (3.12+).
WINDOWS_DEVICE_NAMES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{port}{digit}" for port in ("COM", "LPT") for digit in "123456789\xb9\xb2\xb3"}
)
GIT_NAMES = frozenset({".git", "git~1"})


class UnsafePathError(ValueError):
    """A file path that must not be written: ``code`` for machines, the message for people.

    ``path`` is the input exactly as given (any type); ``repr()`` of the error shows it
    escaped and shortened, so logging the error never prints a bidi override or a NUL.
    """

    def __init__(self, path: object, code: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        shown = repr(self.path)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        return f"{type(self).__name__}(code={self.code!r}, path={shown})"


def path_normalise(raw: str) -> str:
    """Return ``raw`` as the canonical relative POSIX path, or raise UnsafePathError.

    Nothing is repaired: the only path returned is ``raw`` itself, unchanged. Limits come
    from ``SAMOKODER_MAX_PATH_LENGTH`` (default 255) and ``SAMOKODER_MAX_PATH_DEPTH``
    (default 12), read on each call.
    """
    _check_text(raw)
    _check_characters(raw)
    _check_start_and_end(raw)
    _check_size(raw)
    for segment in raw.split("/"):
        _check_segment_form(raw, segment)
        _check_segment_edges(raw, segment)
        _check_segment_name(raw, segment)
        _check_segment_length(raw, segment)
    return raw


def path_within(root: pathlib.Path, relative: str) -> pathlib.Path:
    """Return ``root.resolve() / path_normalise(relative)``, refusing any symlink on the way.

    A symlink that leads outside is ``symlink_escape``; any other symlink under ``root`` is
    ``symlink``, so one planted in the workspace cannot redirect a write even inside it.
    The file system is read once, now: a writer sharing the folder with processes it does
    not trust must still open with ``O_NOFOLLOW``. Nothing is created.
    """
    clean = path_normalise(relative)
    base = root.resolve()
    target = base / clean
    if not _resolves_inside(target, base):
        message = _("The path leads outside the project through a symbolic link.")
        raise UnsafePathError(relative, "symlink_escape", message)
    if _has_symlink(base, clean):
        message = _("The path goes through a symbolic link, and files are never written there.")
        raise UnsafePathError(relative, "symlink", message)
    return target


def _check_text(raw: object) -> None:
    if not isinstance(raw, str):
        raise UnsafePathError(raw, "not_text", _("The path must be text."))
    if not raw:
        raise UnsafePathError(raw, "empty", _("The path is empty."))


def _check_characters(raw: str) -> None:
    for char in raw:
        if unicodedata.category(char) in REFUSED_CATEGORIES:
            message = _("The path contains a control or invisible character.")
            raise UnsafePathError(raw, "control_character", message)
        if char == "\\":
            message = _("The path contains a backslash; use / to separate folders.")
            raise UnsafePathError(raw, "backslash", message)
    if not unicodedata.is_normalized("NFC", raw):
        message = _("The path is not in Unicode normal form C (NFC).")
        raise UnsafePathError(raw, "not_normalised", message)


def _check_start_and_end(raw: str) -> None:
    if raw.startswith("//") or DRIVE.match(raw):
        message = _("The path must not name a drive or a network share.")
        raise UnsafePathError(raw, "drive", message)
    if raw.startswith("/"):
        raise UnsafePathError(raw, "absolute", _("The path must be relative, not start with /."))
    if raw.startswith("~"):
        raise UnsafePathError(raw, "home", _("The path must not start with ~."))
    if ":" in raw:
        raise UnsafePathError(raw, "colon", _("The path must not contain a colon."))
    if raw.endswith("/"):
        raise UnsafePathError(raw, "trailing_slash", _("The path must not end with /."))


def _check_size(raw: str) -> None:
    length = getattr(settings, "SAMOKODER_MAX_PATH_LENGTH", 255)
    depth = getattr(settings, "SAMOKODER_MAX_PATH_DEPTH", 12)
    if len(raw) > length:
        message = _("The path is longer than %(limit)s characters.") % {"limit": length}
        raise UnsafePathError(raw, "too_long", message)
    if raw.count("/") + 1 > depth:
        message = _("The path is nested deeper than %(limit)s levels.") % {"limit": depth}
        raise UnsafePathError(raw, "too_deep", message)


def _check_segment_form(raw: str, segment: str) -> None:
    if not segment:
        raise UnsafePathError(raw, "empty_segment", _("The path contains an empty name (//)."))
    if segment == "..":
        message = _("The path must not go up a folder with “..”.")
        raise UnsafePathError(raw, "traversal", message)
    if segment == ".":
        raise UnsafePathError(raw, "dot_segment", _("The path must not contain “.” as a name."))
    folded = unicodedata.normalize("NFKC", segment)
    if folded in {".", ".."} or "/" in folded or "\\" in folded:
        message = _("The path contains a character that imitates a dot or a slash.")
        raise UnsafePathError(raw, "confusable", message)


def _check_segment_edges(raw: str, segment: str) -> None:
    if segment[0].isspace() or segment[-1].isspace():
        message = _("A name in the path starts or ends with a space.")
        raise UnsafePathError(raw, "whitespace", message)
    if segment.endswith("."):
        raise UnsafePathError(raw, "trailing_dot", _("A name in the path ends with a dot."))


def _check_segment_name(raw: str, segment: str) -> None:
    if segment.casefold() in GIT_NAMES:
        message = _("The path must not reach into the .git folder.")
        raise UnsafePathError(raw, "reserved_name", message)
    # Windows ignores the extension and spaces before it: "aux.py" and "con .txt" are devices.
    if segment.partition(".")[0].rstrip(" ").upper() in WINDOWS_DEVICE_NAMES:
        message = _("“%(name)s” is a reserved device name on Windows.") % {"name": segment}
        raise UnsafePathError(raw, "reserved_name", message)


def _check_segment_length(raw: str, segment: str) -> None:
    too_many_bytes = len(segment.encode("utf-8")) > SEGMENT_MAX_BYTES
    if len(segment) > SEGMENT_MAX_CHARACTERS or too_many_bytes:
        message = _("A name in the path is longer than %(limit)s characters.") % {
            "limit": SEGMENT_MAX_CHARACTERS
        }
        raise UnsafePathError(raw, "too_long", message)


def _resolves_inside(target: pathlib.Path, base: pathlib.Path) -> bool:
    try:
        return target.resolve(strict=False).is_relative_to(base)
    except (OSError, RuntimeError):
        # A symlink loop (RuntimeError on Python 3.11) leads nowhere, so not outside
        # either; _has_symlink refuses it next.
        return True


def _has_symlink(base: pathlib.Path, clean: str) -> bool:
    current = base
    for part in clean.split("/"):
        current = current / part
        if current.is_symlink():
            return True
    return False
