"""Events of the Project Management context (domain model, section 2)."""

import dataclasses

from samokoder_site.events import DomainEvent


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProjectCreated(DomainEvent):
    project_id: str
    user_id: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProjectRenamed(DomainEvent):
    project_id: str
    name: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class BranchCreated(DomainEvent):
    project_id: str
    branch: str
    parent: str | None
    forked_at_step: int | None
