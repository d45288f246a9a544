"""Reads of the File Management context: any file at any step, history and diffs."""

import difflib
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import QuerySet

from accounts.models import User
from files.models import FileContent, StateFile
from projects.models import Branch, ProjectState

Manifest = dict[str, str]  # path -> content hash


class FileNotInState(LookupError):
    """The path has no content at that step (never written, or deleted)."""


@dataclass(frozen=True)
class Replay:
    """A state's manifest as read: what its nearest checkpoint (at or before it) holds,
    with the changed-path rows of the steps after that checkpoint replayed on top."""

    manifest: Manifest
    checkpoint_step: int
    replayed: int  # changed-path rows read on top of the checkpoint's own


class _ReplayCache:
    """The last few replays, by state: a state never changes (invariant 8), so neither
    does what it holds, and a worker reads its branch's latest state several times a step
    (the commit, the agents' context, the sandbox). The key has the state's creation time
    as well as its id, since SQLite hands a rolled-back id out again."""

    def __init__(self, size: int) -> None:
        self.size, self.lock = size, threading.Lock()
        self.entries: OrderedDict[tuple[int, object], Replay] = OrderedDict()

    def get(self, state: ProjectState) -> Replay | None:
        with self.lock:
            replay = self.entries.get((state.pk, state.created_at))
            if replay is not None:
                self.entries.move_to_end((state.pk, state.created_at))
            return replay

    def put(self, state: ProjectState, replay: Replay) -> None:
        with self.lock:
            self.entries[(state.pk, state.created_at)] = replay
            self.entries.move_to_end((state.pk, state.created_at))
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


_replays = _ReplayCache(size=64)


def state_manifest(state: ProjectState) -> Manifest:
    """Every path and its content hash at ``state`` (a copy: change it freely)."""
    return dict(state_replay(state).manifest)


def state_replay(state: ProjectState) -> Replay:
    """How ``state``'s manifest is read: from this process's cache, or in two queries
    (the nearest checkpoint at or before the state, then the rows from it to the state,
    which files_commit keeps to at most about the manifest's size)."""
    replay = _replays.get(state)
    if replay is None:
        replay = _replay_read(state)
        _replays.put(state, replay)
    return replay


def state_replay_remember(state: ProjectState, replay: Replay) -> None:
    """Keep what a commit just worked out for its new ``state``, so the next read of it
    (the next step's) needs no query."""
    _replays.put(state, replay)


def state_replays_forget() -> None:
    """Empty this process's cache of replays (a benchmark timing reads from the database)."""
    _replays.clear()


def _replay_read(state: ProjectState) -> Replay:
    checkpoint = (
        ProjectState.objects.filter(
            branch_id=state.branch_id, step_index__lte=state.step_index, is_checkpoint=True
        )
        .order_by("-step_index")
        .values_list("step_index", flat=True)
        .first()
    )
    if checkpoint is None:
        raise ValueError(f"no checkpoint at or before step {state.step_index}")
    rows = (
        StateFile.objects.filter(
            state__branch_id=state.branch_id,
            state__step_index__gte=checkpoint,
            state__step_index__lte=state.step_index,
        )
        .order_by("state__step_index")
        .values_list("state__step_index", "file__path", "content_id")
    )
    manifest: Manifest = {}
    replayed = 0
    for step, path, content_id in rows:
        replayed += step > checkpoint
        if content_id is None:
            manifest.pop(path, None)
        else:
            manifest[path] = content_id
    return Replay(manifest=manifest, checkpoint_step=checkpoint, replayed=replayed)


def state_get_owned(
    *, user: User, project_id: uuid.UUID, branch: str | None, step: int | None
) -> ProjectState:
    """The state at ``step`` (default: the latest) on ``branch`` (default: main) of
    ``user``'s project, in one query, for reading its files: without its pipeline data
    (``data``, read again if touched). DoesNotExist when the project is not the user's
    (invariant 5), or the branch or the step is not there.

    One query for what took three (project, branch, state): the file read and the tree
    are the API's most frequent requests after the project list (bench/api_load.py).
    """
    if branch and "\x00" in branch:
        raise ProjectState.DoesNotExist  # no branch has one; PostgreSQL refuses NUL in a query
    states = ProjectState.objects.filter(
        branch__project_id=project_id, branch__project__owner=user, branch__name=branch or "main"
    ).defer("data")
    if step is None:
        return states.latest("step_index")
    return states.get(step_index=step)


def state_get(*, branch: Branch, step: int | None = None) -> ProjectState:
    """The state at ``step`` on ``branch``, or its latest (DoesNotExist when absent)."""
    states = branch.states.all()
    if step is None:
        return states.latest("step_index")
    return states.get(step_index=step)


def file_read(*, state: ProjectState, path: str) -> FileContent:
    content_id = state_manifest(state).get(path)
    if content_id is None:
        raise FileNotInState(path)
    return FileContent.objects.get(pk=content_id)


def file_version(*, state: ProjectState, path: str) -> FileContent | None:
    """The file at ``state``, or None where it is absent (a side of a diff)."""
    try:
        return file_read(state=state, path=path)
    except FileNotInState:
        return None


def file_history(*, branch: Branch, path: str) -> QuerySet[StateFile]:
    """The steps on ``branch`` where ``path`` changed, oldest first (content None: deleted).

    Checkpoint rows repeat unchanged content; callers that want changes only compare
    each row's content with the one before it.
    """
    if "\x00" in path:
        return StateFile.objects.none()  # never stored, and PostgreSQL refuses NUL in a query
    return (
        StateFile.objects.filter(state__branch=branch, file__path=path)
        .select_related("state")
        .order_by("state__step_index")
    )


def file_diff(*, old: FileContent | None, new: FileContent | None, path: str) -> str:
    """A unified diff of two versions of ``path`` (None for "absent")."""
    before = old.text.splitlines(keepends=True) if old else []
    after = new.text.splitlines(keepends=True) if new else []
    return "".join(difflib.unified_diff(before, after, f"a/{path}", f"b/{path}"))


def state_files(*, state: ProjectState) -> list[tuple[str, str, int]]:
    """``(path, content hash, size)`` of every file at ``state``, sorted by path."""
    manifest = state_manifest(state)
    sizes = dict(
        FileContent.objects.filter(pk__in=set(manifest.values())).values_list("pk", "size")
    )
    return [(path, h, sizes[h]) for path, h in sorted(manifest.items())]


def file_changes(*, branch: Branch, path: str) -> list[StateFile]:
    """The versions of ``path`` on ``branch``: the steps where its content changed."""
    changes: list[StateFile] = []
    for row in file_history(branch=branch, path=path):
        if not changes or changes[-1].content_id != row.content_id:
            changes.append(row)
    return changes


def state_texts(*, state: ProjectState, batch: int = 100) -> Iterator[tuple[str, str]]:
    """``(path, text)`` of every file at ``state``, loading contents a batch at a time."""
    items = sorted(state_manifest(state).items())
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        texts = dict(
            FileContent.objects.filter(pk__in={h for _, h in chunk}).values_list("pk", "text")
        )
        yield from ((path, texts[h]) for path, h in chunk)
