"""Materialise and sync-back on a real folder: what a command leaves behind cannot block,
redirect or flood the worker that reads it next."""

import os
import socket

import pytest

from execution.workspace import (
    LocalFileSystem,
    SyncLimits,
    workspace_collect,
    workspace_materialize,
)

LIMITS = SyncLimits(max_files=2000, max_bytes=50_000_000, max_file_bytes=1_000_000)


@pytest.fixture
def fs(tmp_path):
    return LocalFileSystem(tmp_path / "workspace")


# A FIFO opened for writing blocks until a reader comes: the signal timeout turns a hang
# into a failure instead of a suite that never ends.
@pytest.mark.timeout(10, method="signal")
def test_a_fifo_where_a_file_belongs_is_replaced_without_blocking(fs):
    workspace_materialize(fs, {"main.py": "old\n"})
    (fs.root / "main.py").unlink()
    os.mkfifo(fs.root / "main.py")

    workspace_materialize(fs, {"main.py": "print(1)\n"})

    assert (fs.root / "main.py").read_text() == "print(1)\n"


@pytest.mark.timeout(10, method="signal")
def test_a_socket_where_a_file_belongs_is_replaced(fs):
    workspace_materialize(fs, {"app.sock": "text\n"})
    (fs.root / "app.sock").unlink()
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(fs.root / "app.sock"))

    workspace_materialize(fs, {"app.sock": "text\n"})

    assert (fs.root / "app.sock").read_text() == "text\n"


def test_a_symlinked_parent_folder_is_replaced_and_nothing_is_written_through_it(fs, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    workspace_materialize(fs, {"src/app.py": "v1\n"})
    (fs.root / "src" / "app.py").unlink()
    (fs.root / "src").rmdir()
    (fs.root / "src").symlink_to(outside)

    workspace_materialize(fs, {"src/app.py": "v2\n"})

    assert not (fs.root / "src").is_symlink()
    assert (fs.root / "src" / "app.py").read_text() == "v2\n"
    assert list(outside.iterdir()) == []


def test_a_symlink_where_a_file_belongs_is_replaced_not_followed(fs, tmp_path):
    target = tmp_path / "target.txt"
    target.write_text("untouched\n")
    workspace_materialize(fs, {})
    (fs.root / "notes.txt").symlink_to(target)

    workspace_materialize(fs, {"notes.txt": "mine\n"})

    assert target.read_text() == "untouched\n"
    assert (fs.root / "notes.txt").read_text() == "mine\n"


@pytest.mark.timeout(10, method="signal")
def test_collect_reports_a_fifo_and_a_socket_without_opening_them(fs):
    workspace_materialize(fs, {"main.py": "x\n"})
    os.mkfifo(fs.root / "pipe")
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(fs.root / "sock"))

        report = workspace_collect(fs, {"main.py": "x\n"}, LIMITS)

    assert report.refused == {"pipe": "not a regular file", "sock": "not a regular file"}
    assert report.changes == {}


def test_more_new_files_than_allowed_refuse_the_whole_change(fs):
    workspace_materialize(fs, {"keep.txt": "k\n"})
    for number in range(6):
        (fs.root / f"new{number}.txt").write_text("n\n")
    (fs.root / "keep.txt").write_text("changed\n")

    report = workspace_collect(fs, {"keep.txt": "k\n"}, SyncLimits(5, 10_000, 1_000))

    assert report.changes == {} and report.refused == {}
    assert report.over_limit == ("files", 5)


def test_more_new_bytes_than_allowed_refuse_the_whole_change(fs):
    workspace_materialize(fs, {})
    for number in range(3):
        (fs.root / f"part{number}.txt").write_text("x" * 400)

    report = workspace_collect(fs, {}, SyncLimits(100, 1_000, 1_000))

    assert report.changes == {}
    assert report.over_limit == ("bytes", 1_000)


def test_a_change_within_the_limits_comes_back_whole(fs):
    workspace_materialize(fs, {"keep.txt": "k\n"})
    for number in range(5):
        (fs.root / f"new{number}.txt").write_text("n\n")

    report = workspace_collect(fs, {"keep.txt": "k\n"}, SyncLimits(5, 10_000, 1_000))

    assert report.over_limit is None
    assert set(report.changes) == {f"new{number}.txt" for number in range(5)}


def test_a_file_name_that_is_not_utf8_is_reported_readably(fs):
    workspace_materialize(fs, {})
    with open(os.path.join(os.fsencode(fs.root), b"bad\xffname.txt"), "w") as handle:
        handle.write("x")

    report = workspace_collect(fs, {}, LIMITS)

    assert report.changes == {}
    [(path, reason)] = report.refused.items()
    assert path == "bad\ufffdname.txt" and path.encode("utf-8")  # storable as text
    assert reason == "file name is not UTF-8"


@pytest.mark.timeout(10, method="signal")
def test_reading_back_never_follows_a_link_or_waits_on_a_fifo_swapped_in_after_listing(tmp_path):
    from execution.workspace import _read

    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "link").symlink_to("/etc/passwd")
    (tmp_path / "text").write_text("kept\n")

    assert _read(tmp_path / "fifo") == ("", "not a regular file")
    assert _read(tmp_path / "link") == ("", "changed while being read")
    assert _read(tmp_path / "text") == ("kept\n", "")
