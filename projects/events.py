"""Events of the Project Management context (domain model, section 2)."""

import dataclasses

from core.events import ProjectScopedEvent


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProjectCreated(ProjectScopedEvent):
    user_id: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProjectRenamed(ProjectScopedEvent):
    new_name: str  # not "name": that is the event's own name (DomainEvent.name)


@dataclasses.dataclass(frozen=True, kw_only=True)
class BranchCreated(ProjectScopedEvent):
    branch: str
    parent: str | None
    forked_at_step: int | None
