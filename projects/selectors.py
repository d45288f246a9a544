"""Reads of the Project Management context. Every read is scoped to its owner (invariant 5)."""

import uuid

from django.db.models import QuerySet
from django.http import Http404

from accounts.models import User
from projects.models import Branch, Project, ProjectState


def project_list(*, user: User) -> QuerySet[Project]:
    return Project.objects.filter(owner=user).order_by("-created_at")


def project_get(*, user: User, project_id: uuid.UUID | str) -> Project:
    """The user's project, or Http404: another user's project does not exist for them."""
    try:
        return Project.objects.get(pk=project_id, owner=user)
    except (Project.DoesNotExist, ValueError) as exc:
        raise Http404 from exc


def branch_get(*, project: Project, name: str | None) -> Branch:
    if name and "\x00" in name:
        raise Http404  # no branch has one, and PostgreSQL refuses NUL in a query
    try:
        return project.branches.get(name=name or "main")
    except Branch.DoesNotExist as exc:
        raise Http404 from exc


def state_list(*, branch: Branch) -> QuerySet[ProjectState]:
    return branch.states.order_by("step_index")
