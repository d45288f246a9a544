"""Writes of the Project Management context: projects, branches and states."""

from typing import Any

from celery import current_app
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from core.rows import rows_insert
from projects.events import ProjectCreated, ProjectRenamed
from projects.labels import CREATED, StepLabel
from projects.models import Branch, Project, ProjectEvent, ProjectState
from projects.naming import folder_slug

DEFAULT_BRANCH = "main"
NAME_MAX_LENGTH = 100
DESCRIPTION_MAX_LENGTH = 20_000
# A project is made to be generated, and generation starts from its description: one made
# without it is a dead end (its page has nowhere to write one, and Start generation asks
# for it). The domain's CreateProject(user_id, name, description) takes one. The page's
# form and the API refuse a blank one with this; callers in code (tests, benches) may
# still make a project with none, as projects made before this rule have.
DESCRIPTION_REQUIRED = gettext_lazy("A project needs a description: say what the app should do.")


def initial_state_data() -> dict[str, Any]:
    """The typed pipeline state of step 0: nothing planned or done yet."""
    return {"iterations": [], "epics": [], "tasks": [], "steps": []}


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise ValidationError({"name": [_("A project needs a name.")]})
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationError(
            {"name": [_("At most %(limit)d characters.") % {"limit": NAME_MAX_LENGTH}]}
        )
    return name


def _unique_folder_name(*, owner: User, name: str) -> str:
    base = folder_slug(name)
    taken = set(
        Project.objects.filter(owner=owner, folder_name__startswith=base).values_list(
            "folder_name", flat=True
        )
    )
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def project_create(*, owner: User, name: str, description: str = "") -> Project:
    """Create the project, its main branch and state 0 in one transaction.

    Raises ``ValidationError`` keyed by field. Records ProjectCreated.
    """
    name = _clean_name(name)
    if len(description) > DESCRIPTION_MAX_LENGTH:
        limit = {"limit": DESCRIPTION_MAX_LENGTH}
        raise ValidationError({"description": [_("At most %(limit)d characters.") % limit]})
    with transaction.atomic():
        project = Project.objects.create(
            owner=owner,
            name=name,
            description=description,
            folder_name=_unique_folder_name(owner=owner, name=name),
        )
        branch = Branch.objects.create(project=project, name=DEFAULT_BRANCH)
        ProjectState.objects.create(
            branch=branch, step_index=0, data=initial_state_data(), is_checkpoint=True,
            label_code=CREATED,
        )  # fmt: skip
        ProjectEvent.record(
            ProjectCreated(project_id=str(project.pk), user_id=owner.pk), project=project
        )
    return project


def project_rename(*, project: Project, name: str) -> Project:
    """Rename; the folder_name stays what it was (invariant 6)."""
    project.name = _clean_name(name)
    with transaction.atomic():
        project.save(update_fields=["name"])
        ProjectEvent.record(
            ProjectRenamed(project_id=str(project.pk), new_name=project.name), project=project
        )
    return project


PROJECT_REMOVE_TASK = "execution.project_remove"  # sent by name: projects imports no execution


def project_delete(*, project: Project) -> None:
    """Delete the project and everything under it in one transaction (invariant 7).

    Once committed, what it left outside the database (sandboxes, workspace, dependency
    folders) is removed by a task; file contents no other project shares are pruned by
    the hourly ``files.prune_contents``."""
    project_id = str(project.pk)
    with transaction.atomic():
        project.delete()
        transaction.on_commit(
            lambda: current_app.send_task(
                PROJECT_REMOVE_TASK, args=[project_id], queue=settings.CELERY_TASK_DEFAULT_QUEUE
            )
        )


def state_latest_locked(*, branch: Branch) -> ProjectState:
    """The branch's latest state, read while the caller holds the branch's lock
    (``branch_lock``) in its transaction: writers that lock it append one after the
    other (the unique step index decides against one that does not). Then
    ``state_append_unless_taken``."""
    return branch.states.latest("step_index")


def branch_lock(*, branch: Branch) -> None:
    """Lock the branch's row until the transaction ends: its writers append one at a time.

    FOR NO KEY UPDATE: a step appended with no lock (``state_append_unless_taken``)
    checks its foreign key to the branch at its commit, with a key-share lock this does
    not block; FOR UPDATE would, while that step's index blocks this writer: a deadlock."""
    Branch.objects.select_for_update(no_key=True).filter(pk=branch.pk).first()


def state_append_unless_taken(
    *,
    previous: ProjectState,
    data: dict[str, Any] | None,
    is_checkpoint: bool,
    label: StepLabel | None = None,
) -> ProjectState | None:
    """The step after ``previous``, named by ``label``; ``data`` None keeps the previous
    step's; whether it is a checkpoint (holds every path, not only the changed ones) is
    the file store's choice (files.services). None, and nothing written, when another
    writer took that step index first: the caller then reads the latest and tries after
    it. A writer that knows which state it follows (the pipeline's step: the one its
    previous step committed) need neither read the latest nor lock the branch first.

    One statement: an insert that yields to the branch's unique step index, returning
    the new id (what ``state_latest_locked`` and a plain insert took two for).
    """
    state = ProjectState(
        branch_id=previous.branch_id,
        step_index=previous.step_index + 1,
        data=previous.data if data is None else data,
        is_checkpoint=is_checkpoint,
        label_code=label.code if label else "",
        label_params=label.params if label else {},
    )
    inserted = rows_insert([state], skip_taken=True)  # RETURNING id: none when yielded
    return inserted[0] if inserted else None
