"""Writes of the File Management context: every file change is a new step.

``files_commit`` is the one writer: the API, the pipeline and the sandbox sync all go
through it, so path validation (invariants 17-18), text limits and immutability of
contents (19) hold for all of them.
"""

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, TypedDict

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from files.events import FileCreated, FileDeleted, FileUpdated
from files.models import File, FileContent, StateFile, content_hash
from files.paths import UnsafePathError, path_normalise
from files.selectors import (
    Manifest,
    Replay,
    state_manifest,
    state_replay,
    state_replay_remember,
)
from projects import labels
from projects.events import BranchCreated
from projects.labels import StepLabel
from projects.models import Branch, ProjectEvent, ProjectState
from projects.services import (
    branch_lock,
    state_append_unless_taken,
    state_latest_locked,
)

Changes = Mapping[str, str | None]  # path -> new text, or None to delete
BRANCH_NAME = re.compile(r"[\w.-]{1,64}")
# A small project checkpoints by steps alone: replaying a few dozen rows costs nothing.
CHECKPOINT_MIN_ROWS = 64
# Why a commit was refused, by code: the messages are rendered when shown, so a refusal
# kept for later (a run's stop reason) reads in its reader's language.
REFUSALS = {
    "binary": gettext_lazy("%(path)s looks binary; only text files are stored."),
    "too_large": gettext_lazy("%(path)s is larger than %(limit)d bytes."),
    "missing": gettext_lazy("%(path)s does not exist."),
    "project_too_large": gettext_lazy("The project would be larger than %(limit)d bytes."),
}


def _refused(field: str, code: str, **params: Any) -> ValidationError:
    """A refusal keyed by ``field`` whose message Django renders from code and params."""
    return ValidationError({field: [ValidationError(REFUSALS[code], code=code, params=params)]})


def refusals(exc: ValidationError) -> list[dict[str, Any]]:
    """The refusals in ``exc`` as codes and parameters, to be rendered later."""
    found = exc.error_list if not hasattr(exc, "error_dict") else exc.error_dict.values()
    flat = [e for errors in found for e in (errors if isinstance(errors, list) else [errors])]
    return [{"code": e.code or "", "params": dict(e.params or {})} for e in flat]


def refusal_text(code: str, params: dict[str, Any]) -> str:
    """A stored refusal in the active language (an unsafe path is checked again)."""
    if code in REFUSALS:
        return str(REFUSALS[code] % params)
    try:
        path_normalise(params.get("path", ""))
    except UnsafePathError as exc:
        return exc.message
    return code


def _validated(changes: Changes) -> dict[str, str | None]:
    clean: dict[str, str | None] = {}
    for raw_path, text in changes.items():
        try:
            path = path_normalise(raw_path)
        except UnsafePathError as exc:
            refused = ValidationError(str(exc), code=exc.code, params={"path": raw_path})
            raise ValidationError({"path": [refused]}) from exc
        if text is not None:
            _check_text(path, text)
        clean[path] = text
    return clean


def _check_text(path: str, text: str) -> None:
    if "\x00" in text:
        raise _refused("content", "binary", path=path)
    limit = settings.SAMOKODER_MAX_FILE_BYTES
    if len(text.encode()) > limit:
        raise _refused("content", "too_large", path=path, limit=limit)


def _store_contents(texts: list[str]) -> None:
    rows = [FileContent(hash=content_hash(t), text=t, size=len(t.encode())) for t in texts]
    FileContent.objects.bulk_create(rows, ignore_conflicts=True)


def _project_bytes(manifest: Manifest) -> int:
    sizes = FileContent.objects.filter(pk__in=set(manifest.values())).values_list("pk", "size")
    size_of = dict(sizes)
    return sum(size_of[h] for h in manifest.values())


def files_commit(
    *,
    branch: Branch,
    changes: Changes,
    data: dict[str, Any] | None = None,
    label: StepLabel | None = None,
    savepoint: bool = True,
    branch_locked: bool = False,
    follows: ProjectState | None = None,
) -> ProjectState:
    """Commit ``changes`` (and the pipeline ``data``) as the branch's next step, named by
    ``label`` (what the step did, shown in the step picker and the history).

    One transaction: the new state, its file rows and the FileCreated / FileUpdated /
    FileDeleted events land together or not at all. Raises ``ValidationError`` (nothing
    written) for an unsafe path, binary or oversize text, deleting a missing file, or a
    project that text would take over its size limit. ``savepoint=False`` inside the
    caller's transaction spares two round trips when a refusal ends that transaction
    anyway (the pipeline's step): the caller cannot go on in it after one.
    ``branch_locked``: the caller holds the branch's row lock in its transaction already
    (the pipeline's step takes it with the run's), one round trip fewer. ``follows``: the
    state the caller expects to be the branch's latest (the pipeline's previous step); the
    new one is appended after it without reading the latest or locking the branch, unless
    another writer took that step meanwhile: then after the latest, under the branch's
    lock, as without it. Every append yields to a step index taken first, so a writer
    without the lock never makes one with it fail.
    """
    clean = _validated(changes)
    with transaction.atomic(savepoint=savepoint):
        state = None
        if follows is not None:  # no lock: the branch's unique step index decides
            state = _append(branch, follows, clean, data, label)
        if state is None and not branch_locked:
            branch_lock(branch=branch)
        while state is None:  # after the latest; a writer without the lock may take it
            previous = state_latest_locked(branch=branch)
            state = _append(branch, previous, clean, data, label)
    return state


def _append(
    branch: Branch, previous: ProjectState, clean: dict[str, str | None],
    data: dict[str, Any] | None, label: StepLabel | None,
) -> ProjectState | None:  # fmt: skip
    """The state after ``previous`` with ``clean`` applied, its file rows and events;
    None, nothing written, when another writer took its step index first."""
    before = state_replay(previous)
    after = _apply(before.manifest, clean)
    if any(text is not None for text in clean.values()):  # only a write can grow it
        _check_project_size(after)
    delta = _delta(before.manifest, after)
    replay = _next_replay(previous.step_index + 1, before, delta, after)
    checkpoint = replay.checkpoint_step == previous.step_index + 1
    state = state_append_unless_taken(
        previous=previous, data=data, is_checkpoint=checkpoint, label=label
    )
    if state is None:
        return None
    rows = after if checkpoint else delta
    files = _files_for(branch, set(rows))
    StateFile.objects.bulk_create(
        StateFile(state=state, file=files[path], content_id=h) for path, h in rows.items()
    )
    _record_events(branch, state, before.manifest, after)
    state_replay_remember(state, replay)
    return state


def _next_replay(
    step: int, before: Replay, delta: Mapping[str, str | None], after: Manifest
) -> Replay:
    """How step ``step`` will be read: as a checkpoint (a row for every path) once the
    changed-path rows since the last one would outnumber the manifest's paths (so a read
    never replays more rows than a checkpoint holds, and the checkpoints cost at most as
    many rows as the changes), or SAMOKODER_CHECKPOINT_EVERY steps after it; otherwise
    as the changed paths on top of the previous step's checkpoint."""
    replayed = before.replayed + len(delta)
    too_many_rows = replayed > max(len(after), CHECKPOINT_MIN_ROWS)
    too_many_steps = step - before.checkpoint_step >= settings.SAMOKODER_CHECKPOINT_EVERY
    if too_many_rows or too_many_steps:
        return Replay(manifest=after, checkpoint_step=step, replayed=0)
    return Replay(manifest=after, checkpoint_step=before.checkpoint_step, replayed=replayed)


def state_data_commit(
    *, branch: Branch, data: dict[str, Any], label: StepLabel | None = None,
    follows: ProjectState | None = None,
) -> ProjectState:  # fmt: skip
    """A step that changes only the pipeline ``data``: the files stay as they were
    (``follows`` as for files_commit). Nothing in it can be refused (refusals are about
    files), so it needs no savepoint of its own inside the caller's transaction."""
    return files_commit(branch=branch, changes={}, data=data, label=label, follows=follows,
                        savepoint=False)  # fmt: skip


def _apply(before: Manifest, changes: dict[str, str | None]) -> Manifest:
    after = dict(before)
    new_texts = [text for text in changes.values() if text is not None]
    _store_contents(new_texts)
    for path, text in changes.items():
        if text is None:
            if path not in after:
                raise _refused("path", "missing", path=path)
            del after[path]
        else:
            after[path] = content_hash(text)
    return after


def _check_project_size(manifest: Manifest) -> None:
    limit = settings.SAMOKODER_MAX_PROJECT_BYTES
    if _project_bytes(manifest) > limit:
        raise _refused("content", "project_too_large", limit=limit)


def _delta(before: Manifest, after: Manifest) -> dict[str, str | None]:
    changed: dict[str, str | None] = {p: h for p, h in after.items() if before.get(p) != h}
    changed.update({p: None for p in before.keys() - after.keys()})
    return changed


def _files_for(branch: Branch, paths: set[str]) -> dict[str, File]:
    if not paths:
        return {}
    project_id = branch.project_id
    existing = {f.path: f for f in File.objects.filter(project_id=project_id, path__in=paths)}
    missing = [File(project_id=project_id, path=p) for p in paths - existing.keys()]
    File.objects.bulk_create(missing, ignore_conflicts=True)
    if missing:
        found = File.objects.filter(project_id=project_id, path__in=paths)
        existing = {f.path: f for f in found}
    return existing


class _Where(TypedDict):
    project_id: str
    branch: str
    step_index: int


def _record_events(branch: Branch, state: ProjectState, before: Manifest, after: Manifest) -> None:
    common = _Where(
        project_id=str(branch.project_id),
        branch=branch.name,
        step_index=state.step_index,
    )
    events: list[FileCreated | FileUpdated | FileDeleted] = [
        FileCreated(path=p, content_id=h, **common)
        if p not in before
        else FileUpdated(path=p, old_content_id=before[p], new_content_id=h, **common)
        for p, h in sorted(after.items())
        if before.get(p) != h
    ]
    events += [
        FileDeleted(path=p, old_content_id=before[p], **common)
        for p in sorted(before.keys() - after.keys())
    ]
    ProjectEvent.record_many(events, project_id=branch.project_id)


def file_save(*, branch: Branch, path: str, text: str) -> ProjectState:
    """SaveFile: one file's new text as the branch's next step."""
    edited = StepLabel(labels.EDIT, {"path": path})
    return files_commit(branch=branch, changes={path: text}, label=edited)


def file_delete(*, branch: Branch, path: str) -> ProjectState:
    """DeleteFile: remove one file as the branch's next step."""
    deleted = StepLabel(labels.DELETE, {"path": path})
    return files_commit(branch=branch, changes={path: None}, label=deleted)


def branch_fork(*, source: Branch, step: int, name: str) -> Branch:
    """A new branch starting as ``source`` was at ``step`` (BranchCreated).

    Its first state has the same step index, pipeline data and files as the source's,
    stored as a checkpoint so the new branch never reads through its parent.
    """
    name = _branch_name(source, name)
    origin = ProjectState.objects.get(branch=source, step_index=step)
    manifest = state_manifest(origin)
    with transaction.atomic():
        branch = Branch.objects.create(
            project=source.project, name=name, parent=source, forked_at_step=step
        )
        state = ProjectState.objects.create(
            branch=branch, step_index=step, data=origin.data, is_checkpoint=True,
            label_code=labels.FORK, label_params={"branch": source.name, "step": step},
        )  # fmt: skip
        files = _files_for(branch, set(manifest))
        StateFile.objects.bulk_create(
            StateFile(state=state, file=files[p], content_id=h) for p, h in manifest.items()
        )
        event = BranchCreated(
            project_id=str(branch.project_id), branch=name, parent=source.name, forked_at_step=step
        )
        ProjectEvent.record(event, project_id=branch.project_id)
    return branch


def _branch_name(source: Branch, name: str) -> str:
    name = name.strip()
    if not BRANCH_NAME.fullmatch(name):
        message = _("Use 1 to 64 letters, digits, dots, dashes or underscores.")
        raise ValidationError({"name": [message]}, code="invalid")
    if Branch.objects.filter(project_id=source.project_id, name=name).exists():
        raise ValidationError({"name": [_("A branch with this name exists.")]}, code="unique")
    return name


def contents_prune(*, older_than: timedelta = timedelta(hours=1)) -> int:
    """Delete the file contents no state refers to any more (a deleted project's own ones;
    those other projects share stay). Only rows older than ``older_than``: a commit that
    is storing one right now, before its state refers to it, is never raced."""
    cutoff = timezone.now() - older_than
    unused = FileContent.objects.filter(created_at__lt=cutoff, statefile__isnull=True)
    count, _ = unused.delete()
    return count
